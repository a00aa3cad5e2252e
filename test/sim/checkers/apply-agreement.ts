/**
 * State machine safety: every node applies the same entry at each index, in order, with no gaps, and
 * only committed ones; a node's state after installing a snapshot equals the canonical state at the
 * snapshot's index. The first application of each index extends the canonical model.
 */
import type { Entry } from '../../../src/raft';
import type { SimCommand } from '../command-codec';
import type { KvState } from '../kv-model';
import { SimFailure } from '../sim-failure';
import type { CanonicalModel } from './canonical-model';

const decoder = new TextDecoder();

export function entryIdentity(entry: Entry): string {
  switch (entry.kind) {
    case 'normal':
      return `n/${entry.term}/${decoder.decode(entry.data)}`;
    case 'empty':
      return `e/${entry.term}`;
    case 'config':
      return `c/${entry.term}/${entry.change.type}/${entry.change.node}`;
  }
}

export class ApplyAgreementChecker {
  constructor(private readonly model: CanonicalModel) {}

  onApply(nodeId: number, entry: Entry, command: SimCommand | null, commit: number): void {
    if (entry.index > commit) {
      throw new SimFailure(
        'apply-agreement',
        `node ${nodeId} applied index ${entry.index} above the commit index it reported (${commit})`,
      );
    }
    const identity = entryIdentity(entry);
    if (entry.index <= this.model.length) {
      const canonical = this.model.identity[entry.index]!;
      if (canonical !== identity) {
        throw new SimFailure(
          'apply-agreement',
          `node ${nodeId} applied ${identity} at index ${entry.index}, but ${canonical} was applied there before`,
        );
      }
      return;
    }
    if (entry.index !== this.model.length + 1) {
      throw new SimFailure(
        'apply-agreement',
        `node ${nodeId} applied index ${entry.index} but the canonical log ends at ${this.model.length}`,
      );
    }
    this.model.append(identity, command);
  }

  onSnapshotInstalled(nodeId: number, index: number, state: KvState): void {
    if (state.applied !== index) {
      throw new SimFailure(
        'apply-agreement',
        `node ${nodeId} installed a snapshot for index ${index} whose data is at ${state.applied}`,
      );
    }
    if (index > this.model.length) {
      throw new SimFailure(
        'apply-agreement',
        `node ${nodeId} installed a snapshot at ${index} beyond anything applied (${this.model.length})`,
      );
    }
    const expected = this.model.fingerprintAt(index);
    const got = state.fingerprint();
    if (expected !== got) {
      throw new SimFailure(
        'apply-agreement',
        `node ${nodeId} snapshot at ${index} holds ${got}, canonical state is ${expected}`,
      );
    }
  }
}
