import { stringify } from 'csv-stringify/sync';

/** Output of a command: JSON for scripts (--json), a plain table for people. */
export interface Output {
  json: boolean;
  write(text: string): void;
}

export function print(out: Output, value: unknown, table?: () => string): void {
  if (out.json || !table) out.write(`${JSON.stringify(value, null, 2)}\n`);
  else out.write(table());
}

/** A table with a header row, columns padded to their widest cell; empty cells as "-". */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((row) => row.map((cell) => (cell === null || cell === undefined || cell === '' ? '-' : String(cell))));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return `${[line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n`;
}

/** Key: value lines for one object. */
export function details(entries: [string, unknown][]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return `${entries
    .map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value === null || value === undefined ? '-' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join('\n')}\n`;
}

export function csv(headers: string[], rows: unknown[][]): string {
  return stringify(rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell)))), { header: true, columns: headers, escape_formulas: true });
}

/** "1 guest", "2 guests"; the plural given when it is not the singular plus "s". */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
