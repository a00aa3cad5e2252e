/** Free ports for tests: the same helpers jepsen-lite uses (jepsen-lite/net/free-ports.ts). */
export { freePort, freePortBlock, freePorts, portIsFree } from '../../jepsen-lite/net/free-ports';
