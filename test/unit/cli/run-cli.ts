/** Runs the tessera CLI in process (cmd/cli/main.ts) and captures its exit code, stdout and stderr. */
import { runCli } from '../../../cmd/cli/main';

export async function runCliCaptured(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
