/** Test-only entry: runs cmd/start.ts's runStart from source (spawned with `node --import tsx`). */
import { runStart } from '../../../cmd/start';

void runStart(process.argv.slice(2));
