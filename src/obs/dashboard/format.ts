/**
 * Display strings for hostile values. Keys are arbitrary bytes: formatKey shows printable ASCII as is and
 * every other byte (and the backslash) as an escape, truncated to a bound, so a key can never carry markup
 * or control characters into a page. escapeHtml is for the few values the server puts into HTML itself
 * (the page fills everything else with textContent).
 */

/** Bytes of a key shown before it is cut. */
export const KEY_DISPLAY_BYTES_MAX = 32;

export function formatKey(key: Buffer, maxBytes = KEY_DISPLAY_BYTES_MAX): string {
  let out = '';
  const shown = Math.min(key.length, maxBytes);
  for (let i = 0; i < shown; i++) {
    const b = key[i] as number;
    if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  if (key.length > shown) out += `... (${key.length} bytes)`;
  return out;
}

/** "[start, end)" with "" shown as -inf and a null end as +inf. */
export function formatRange(start: Buffer, end: Buffer | null): string {
  const from = start.length === 0 ? '-inf' : `"${formatKey(start)}"`;
  const to = end === null ? '+inf' : `"${formatKey(end)}"`;
  return `[${from}, ${to})`;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/**
 * JSON safe to serve even if a client sniffs it as HTML: <, > and & become \u escapes (still the same
 * JSON value), as do the line separators U+2028/U+2029.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
