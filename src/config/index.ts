/**
 * L2 config: the node's typed configuration, parsed from flags, TESSERA_* environment variables or a
 * JSON config file, fully defaulted and validated once at start.
 */
import { loadRawConfig, type ConfigSources } from './load';
import type { NodeConfig } from './types';
import { validateNodeConfig } from './validate';

export type {
  HostPort,
  LimitsConfig,
  LogLevel,
  NodeConfig,
  ProfileName,
  QueuesConfig,
  RaftTuning,
  TimingConfig,
  TlsFiles,
} from './types';
export type { ConfigSources, RawConfig, RawValue } from './load';
export { DEFAULTS, MEMORY_BUDGET_MIB_MAX, MEMORY_BUDGET_MIB_MIN, PROFILES, SESSION_TTL_MS_MIN } from './defaults';
export { OPTIONS, envName, flagName, optionUsage } from './options';
export {
  formatHostPort,
  isUnspecifiedHost,
  parseHostPort,
  parsePeers,
  peerAddressOf,
  validateNodeConfig,
} from './validate';
export { loadRawConfig } from './load';

/** Parse and validate the node configuration; throws TesseraError('CONFIG') with a clear message. */
export function loadNodeConfig(sources: ConfigSources): NodeConfig {
  return validateNodeConfig(loadRawConfig(sources));
}
