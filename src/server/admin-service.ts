/**
 * The public Admin service (proto/admin.proto): node and group status, membership changes and
 * leadership transfer. Membership changes and transfers must reach the group's leader; elsewhere they
 * answer NOT_LEADER with the leader hint, like KV writes.
 */
import type * as grpc from '@grpc/grpc-js';
import { TesseraError, isNodeId } from '../base';
import { parseHostPort, type NodeConfig } from '../config';
import { WHOLE_KEYSPACE_GROUP, type MemberInfo, type NodeHost } from '../node';
import type { NodeMetrics } from '../obs';
import { unary } from './unary';

export const TESSERA_VERSION = '0.1.0';

interface AddNodeWire {
  id: number;
  address: string;
  learner: boolean;
}
interface RemoveNodeWire {
  id: number;
}
interface TransferLeaderWire {
  groupId: number;
  to: number;
}

function checkNodeId(id: unknown): number {
  if (!isNodeId(id)) throw new TesseraError('INVALID_ARGUMENT', `node id must be a positive integer, got ${String(id)}`, { limit: 'nodeId' });
  return id;
}

function members(ms: MemberInfo[]) {
  return ms.map((m) => ({ id: m.id, address: m.address, voter: m.voter, match: m.match }));
}

export function statusResponse(host: NodeHost, config: NodeConfig) {
  return {
    nodeId: config.id,
    address: config.advertiseAddress,
    version: TESSERA_VERSION,
    groups: host.groupIds().map((id) => {
      const s = host.groupStatus(id);
      return {
        groupId: s.groupId,
        leader: s.leader,
        term: s.term,
        role: s.role,
        commit: s.commit,
        applied: s.applied,
        firstIndex: s.firstIndex,
        lastIndex: s.lastIndex,
        members: members(s.members),
        start: s.range.start,
        end: s.range.end ?? Buffer.alloc(0),
      };
    }),
  };
}

export function adminServiceHandlers(host: () => NodeHost, config: NodeConfig, metrics: NodeMetrics): grpc.UntypedServiceImplementation {
  const u = <Req, Res>(method: string, fn: (req: Req, timeoutMs: number) => Promise<Res>) => unary<Req, Res>(method, metrics, config.requestTimeoutMs, fn);
  return {
    status: u('Admin.Status', async () => statusResponse(host(), config)),

    addNode: u('Admin.AddNode', async (req: AddNodeWire, timeoutMs) => {
      const id = checkNodeId(req.id);
      let address: string;
      try {
        const hp = parseHostPort(req.address ?? '', 'address');
        if (hp.port === 0) throw new Error('port 0');
        address = `${hp.host}:${hp.port}`;
      } catch {
        throw new TesseraError('INVALID_ARGUMENT', `address must be HOST:PORT with a real port, got '${req.address}'`, { limit: 'address' });
      }
      return { members: members(await host().addNode(id, address, req.learner, timeoutMs)) };
    }),

    removeNode: u('Admin.RemoveNode', async (req: RemoveNodeWire, timeoutMs) => {
      const id = checkNodeId(req.id);
      return { members: members(await host().removeNode(id, timeoutMs)) };
    }),

    transferLeader: u('Admin.TransferLeader', async (req: TransferLeaderWire, timeoutMs) => {
      const to = checkNodeId(req.to);
      const groupId = req.groupId > 0 ? req.groupId : WHOLE_KEYSPACE_GROUP;
      return { leader: await host().transferLeader(groupId, to, timeoutMs) };
    }),
  };
}
