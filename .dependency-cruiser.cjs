/**
 * The dependency rule of DESIGN.md section 1, checked on every `npm run check`:
 * layers import only downwards (or within their own folder), across folders only through index.ts,
 * the pure core (raft/, shard/) imports nothing but base/, the SDK never imports node/ or server/,
 * src/ never imports test/, and there are no import cycles.
 */
const L0 = 'base';
const L1 = 'raft|shard';
const L2 = 'codec|group|storage|kv|meta|transport|obs|config|auth';
const L3 = 'node';
// placement/: the drivers that turn the pure placement plans (shard/placement) into actions on a node.
const L3P = 'placement';
const L4 = 'server|client';
const folder = (names) => `^src/(${names})/`;
const sameOrHigher = {
  [L0]: `${L1}|${L2}|${L3}|${L3P}|${L4}`,
  [L1]: `${L1}|${L2}|${L3}|${L3P}|${L4}`,
  [L2]: `${L2}|${L3}|${L3P}|${L4}`,
  [L3]: `${L3}|${L3P}|${L4}`,
  [L3P]: `${L3P}|${L4}`,
  [L4]: `${L4}`,
};

// Inside L2 there is an order: codec/, group/, obs/ and config/ are below the other L2 folders, and storage/
// is below kv/ and meta/ (the state machines run on the node's store). group/ is the GroupStateMachine
// contract (types over raft/ only) that kv/ and meta/ implement. Nothing in L2 imports meta/ (only node/
// and above use the meta shard's state machine).
const l2Below = {
  codec: [],
  group: [],
  obs: [],
  config: [],
  // auth/: the auth file, tokens and access checks (issue 11); base/ only, used by server/.
  auth: [],
  storage: ['codec', 'obs', 'config'],
  kv: ['codec', 'group', 'storage', 'obs', 'config'],
  meta: ['codec', 'group', 'storage'],
  transport: ['codec', 'obs', 'config'],
};

const layerRules = Object.entries(sameOrHigher).flatMap(([from, to]) => {
  if (from !== L2) {
    return [
      {
        name: `layer-${from.replace(/\|/g, '-')}`,
        comment: `src/(${from}) may only import lower layers or its own folder`,
        severity: 'error',
        from: { path: folder(from) },
        to: { path: folder(to), pathNot: '^src/$1/' },
      },
    ];
  }
  return Object.entries(l2Below).map(([name, below]) => ({
    name: `layer-${from.replace(/\|/g, '-')}`,
    comment: `src/${name} may only import lower layers, its own folder or the L2 folders below it (${below.join(', ') || 'none'})`,
    severity: 'error',
    from: { path: `^src/${name}/` },
    to: { path: folder(to), pathNot: [`^src/${name}/`, ...below.map((b) => `^src/${b}/`)] },
  }));
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'pure-core-imports-only-base',
      comment: 'src/raft and src/shard import nothing but src/base (no node:*, no npm packages)',
      severity: 'error',
      from: { path: '^src/(raft|shard)/' },
      to: { pathNot: ['^src/base/', '^src/$1/'] },
    },
    {
      name: 'cross-folder-only-through-index',
      comment: 'a module imports another folder of src/ only through its index.ts',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/([^/]+)/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'client-is-standalone',
      comment: 'the SDK never imports node/ or server/',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/(node|server)/' },
    },
    {
      name: 'src-never-imports-test',
      severity: 'error',
      from: { path: '^(src|cmd)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
