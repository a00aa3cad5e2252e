/**
 * The server package's main entry (src/index.ts) re-exports the SDK package: `Client` is still exported
 * from `tessera`, and it and `TesseraError` are the very classes of `@tessera/client` (the workspace link
 * to packages/client, built by `npm run build`), so an error thrown by one package's Client is an instance
 * of the other package's TesseraError.
 */
import { describe, expect, it } from 'vitest';
import * as sdk from '@tessera/client';
import * as root from '../../src/index';

describe('the tessera main entry', () => {
  it('re-exports Client and TesseraError from @tessera/client (one class each)', () => {
    expect(Object.keys(root).sort()).toEqual(['Client', 'TesseraError', 'isTesseraError']);
    expect(root.Client).toBe(sdk.Client);
    expect(root.TesseraError).toBe(sdk.TesseraError);
    let thrown: unknown;
    try {
      new root.Client({ endpoints: [] });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(sdk.TesseraError);
    expect(sdk.isTesseraError(thrown) && thrown.code).toBe('CONFIG');
  });
});
