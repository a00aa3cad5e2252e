/**
 * The files of the scratch app that uses the installed @tessera/client the way users do: an ESM module, a
 * CommonJS module, TypeScript (ESM and CommonJS flavours under strict nodenext) and a round trip against a
 * live node. Each program prints one JSON line that the test parses; none needs anything but the package.
 */

/** ESM: named imports (Node's detection of the CommonJS build's exports), the typed error, one class. */
export const ESM_CHECK = `import { Client, TesseraError, isTesseraError } from '@tessera/client';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('@tessera/client');
let err;
try { new Client({ endpoints: [] }); } catch (e) { err = e; }
console.log(JSON.stringify({
  client: typeof Client,
  sameAsRequire: cjs.Client === Client && cjs.TesseraError === TesseraError,
  instanceOf: err instanceof TesseraError,
  isTesseraError: isTesseraError(err),
  code: err && err.code,
}));
`;

/** CommonJS: require() of the package, the same checks. */
export const CJS_CHECK = `'use strict';
const { Client, TesseraError, isTesseraError } = require('@tessera/client');
let err;
try { new Client({ endpoints: [] }); } catch (e) { err = e; }
console.log(JSON.stringify({
  client: typeof Client,
  instanceOf: err instanceof TesseraError,
  isTesseraError: isTesseraError(err),
  code: err && err.code,
}));
`;

/** The round trip: put a key through the installed package, read it back, close. argv[2] is host:port. */
export const ROUND_TRIP = `import { Client } from '@tessera/client';
const client = new Client({ endpoints: [process.argv[2]], deadlineMs: 8000 });
try {
  await client.put('greeting', 'hello from the package');
  const value = await client.get('greeting', { consistency: 'linearizable' });
  const missing = await client.get('no-such-key');
  console.log(JSON.stringify({ value: value && value.toString(), missing }));
} finally {
  await client.close();
}
`;

/** Typed usage; every @ts-expect-error proves the types are real (with \`any\` it would be unused: an error). */
const TS_BODY = `const options: ClientOptions = { endpoints: ['127.0.0.1:7001'], deadlineMs: 1000 };
export async function use(): Promise<string | null> {
  const client = new Client(options);
  await client.put('k', 'v');
  const v: Buffer | null = await client.get('k');
  // @ts-expect-error put needs a value
  await client.put('k');
  try {
    await client.delete('k');
  } catch (e) {
    if (e instanceof TesseraError) {
      const code: ErrorCode = e.code;
      return code;
    }
  }
  await client.close();
  return v === null ? null : v.toString();
}
// @ts-expect-error endpoints is required
export const bad: ClientOptions = { deadlineMs: 1 };
`;

export const TS_ESM = `import { Client, TesseraError, type ClientOptions, type ErrorCode } from '@tessera/client';\n${TS_BODY}`;
export const TS_CJS = `import { Client, TesseraError } from '@tessera/client';
import type { ClientOptions, ErrorCode } from '@tessera/client';
${TS_BODY}`;

/**
 * Strict nodenext as a user compiles. skipLibCheck as `tsc --init` sets it (checking all of @types/node
 * too takes 4x longer); the test checks separately that the declarations import only what the package
 * depends on, so no type can silently fall back to `any` for a missing module.
 */
export function tsconfig(typeRoots: string): string {
  const compilerOptions = {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [typeRoots],
  };
  return JSON.stringify({ compilerOptions, files: ['esm.mts', 'cjs.ts'] }, null, 2);
}
