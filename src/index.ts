/**
 * The server package's main entry re-exports the SDK package `@tessera/client` (built from src/sdk.ts into
 * packages/client): the Client, its types and the typed error it throws. Re-exporting the package (not
 * compiling the same sources a second time) keeps one copy of each class, so `instanceof TesseraError`
 * holds for an error thrown by a Client whichever of `tessera` and `@tessera/client` each was imported from.
 */
export * from '@tessera/client';
