import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '..');

/** Every test name written in the suites, quotes unescaped, white space folded. */
function testSource(): string {
  return readdirSync(join(REPO, 'test'))
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(join(REPO, 'test', file), 'utf8'))
    .join('\n')
    .replace(/\\'/g, "'")
    .replace(/\s+/g, ' ');
}

describe('SECURITY.md', () => {
  it('each row of the ASVS map names tests that exist', () => {
    const map = readFileSync(join(REPO, 'SECURITY.md'), 'utf8');
    const rows = map.split('\n').filter((line) => /^\| \d+\.\d+\.\d+ \|/.test(line));
    expect(rows.length).toBeGreaterThanOrEqual(20);
    const source = testSource();
    const missing: string[] = [];
    // A requirement met by documentation alone says so, and one met like another says "as <id>".
    for (const row of rows.filter((line) => !line.includes('(documentation)') && !/\| as \d+\.\d+\.\d+ \|\s*$/.test(line))) {
      const names = [...row.matchAll(/"([^"]{8,})"/g)].map((match) => match[1]!.replace(/\s+/g, ' '));
      expect(names.length, `row without a named test: ${row}`).toBeGreaterThan(0);
      // A name may be shortened with "…" or "...": each written part must be in a test.
      for (const name of names) {
        for (const part of name.split(/…|\.\.\./).map((p) => p.trim()).filter((p) => p.length >= 8)) {
          if (!source.includes(part)) missing.push(part);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
