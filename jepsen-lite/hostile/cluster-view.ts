/**
 * What an attacker learns from the public Admin.Status of every node (no credentials needed): node ids,
 * the group id, the leader, the term and each node's log position. Forgeries use it to look plausible
 * (the leader's id and term, the follower's last index), exactly as someone probing a real cluster would.
 */
import { decode, encode, unary } from './wire';

export interface NodeDoor {
  id: number;
  /** The node's client port (KV, Admin; Raft too when it has no separate peer port). */
  clientAddress: string;
  /** The node's peer port when it has one (--peer-listen); null: the client port serves Raft. */
  peerAddress: string | null;
}

export interface NodeView {
  id: number;
  role: string;
  term: number;
  leader: number;
  commit: number;
  lastIndex: number;
}

export interface ClusterView {
  groupId: number;
  /** The node that reports itself leader at the highest term, or null. */
  leader: number | null;
  /** Highest term any node reported. */
  term: number;
  /** Voter ids as the leader (or any node) reports them. */
  voters: number[];
  members: { id: number; address: string; voter: boolean }[];
  nodes: Map<number, NodeView>;
}

interface StatusWire {
  nodeId: number;
  groups: {
    groupId: number;
    leader: number;
    term: number;
    role: string;
    commit: number;
    lastIndex: number;
    members: { id: number; address: string; voter: boolean }[];
  }[];
}

export async function nodeStatus(door: NodeDoor, timeoutMs = 800): Promise<StatusWire | null> {
  const r = await unary(door.clientAddress, '/tessera.v1.Admin/Status', encode('StatusRequest', {}), timeoutMs);
  return r.response ? decode<StatusWire>('StatusResponse', r.response) : null;
}

export async function learnCluster(doors: readonly NodeDoor[], timeoutMs = 800): Promise<ClusterView> {
  const statuses = await Promise.all(doors.map((d) => nodeStatus(d, timeoutMs).catch(() => null)));
  const view: ClusterView = { groupId: 1, leader: null, term: 0, voters: [], members: [], nodes: new Map() };
  let leaderTerm = -1;
  let groupSeen = false;
  doors.forEach((d, i) => {
    const g = statuses[i]?.groups?.[0];
    if (!g) return;
    if (!groupSeen) view.groupId = g.groupId;
    groupSeen = true;
    view.nodes.set(d.id, {
      id: d.id,
      role: g.role,
      term: g.term,
      leader: g.leader,
      commit: g.commit,
      lastIndex: g.lastIndex,
    });
    view.term = Math.max(view.term, g.term);
    const isLeader = g.role.toLowerCase() === 'leader';
    if (isLeader && g.term > leaderTerm) {
      leaderTerm = g.term;
      view.leader = d.id;
      view.members = g.members;
    }
    if (view.members.length === 0) view.members = g.members;
  });
  view.voters = view.members.filter((m) => m.voter).map((m) => m.id);
  return view;
}
