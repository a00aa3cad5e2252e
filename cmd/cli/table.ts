/** Plain-text tables for the CLI's human output: columns padded to their widest cell, no trailing blanks. */
export function table(rows: readonly (readonly string[])[], indent: string): string[] {
  const header = rows[0];
  if (header === undefined) return [];
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
  );
}
