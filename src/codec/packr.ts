/**
 * The one msgpackr instance of the codec. Plain MessagePack (no record extension, no shared structures),
 * so every encoded value decodes on its own, across processes and versions. Binary values (Buffer,
 * Uint8Array) encode as `bin` and decode as Buffers that view the input (no copy).
 */
import { Packr } from 'msgpackr';

export const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
