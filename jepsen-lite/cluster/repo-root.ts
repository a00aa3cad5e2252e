/**
 * Locates the Tessera checkout (the folder with package.json named "tessera") from this module's
 * location, so the harness finds proto/ and dist/ both from source (vitest, tsx) and from dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | null = null;

export function repoRoot(): string {
  if (cached) return cached;
  const starts = [typeof __dirname === 'string' ? __dirname : process.cwd(), process.cwd()];
  for (const start of starts) {
    let dir = start;
    for (let i = 0; i < 8; i++) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg)) {
        try {
          if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tessera') {
            cached = dir;
            return dir;
          }
        } catch {
          // not a readable package.json: keep walking up
        }
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error(`cannot find the tessera checkout above ${starts.join(' or ')}`);
}
