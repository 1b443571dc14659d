import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import {
  BulkInviteCsvError,
  bulkInviteTemplateCsv,
  decodeBulkInviteCsv,
  parseBulkInviteCsv,
  planBulkInvite,
  skipAlreadyInvited,
  addressKey,
  parseBulkInviteResultsCsv,
  writeBulkInviteResultsCsv,
} from '../lib/admin/bulkInviteCsv.js';

const REPO = resolve(__dirname, '..');
/** The template exactly as the Entra portal's Bulk invite pane downloads it (CRLF line ends). */
const TEMPLATE = readFileSync(join(REPO, 'test/fixtures/entra-bulk-invite-template.csv'), 'utf8');

describe("Entra's bulk-invite CSV template", () => {
  it('reads the portal template filled in the way the tutorial shows, row numbers as in the spreadsheet', () => {
    const file = `${TEMPLATE}ada@fabrikam.com,https://app.contoso.com/,true,Welcome aboard\r\nbob@fabrikam.com,https://app.contoso.com/,false,\r\n`;
    const { rows, errors } = parseBulkInviteCsv(file);
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      { row: 3, email: 'ada@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: true, message: 'Welcome aboard' },
      { row: 4, email: 'bob@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: false },
    ]);
  });

  it('reads rows a script appended with LF line ends after the CRLF template, each as its own row (docs/operating.md does so)', () => {
    const file = `${bulkInviteTemplateCsv()}ada@fabrikam.com,https://app.contoso.com/,true,Welcome\nbob@fabrikam.com,https://app.contoso.com/,true,"Two\nlines"\n`;
    const { rows, errors } = parseBulkInviteCsv(file);
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      { row: 3, email: 'ada@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: true, message: 'Welcome' },
      { row: 4, email: 'bob@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: true, message: 'Two\nlines' },
    ]);
  });

  it('finds columns by the bracketed property name: reordered, reworded, extra columns and Excel padding all work', () => {
    const file = [
      'version:v1.0,,,,',
      'Notes,Send invitation message (true or false) [sendEmail],Redirection URL [inviteRedirectURL],Name of invitee [inviteeName],Email address to invite [inviteeEmail] Required',
      'vip,FALSE,https://app.contoso.com/,Ada Lovelace,ada@fabrikam.com',
    ].join('\n');
    const { rows, errors } = parseBulkInviteCsv(`\uFEFF${file}`);
    expect(errors).toEqual([]);
    expect(rows).toEqual([{ row: 3, email: 'ada@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: false, displayName: 'Ada Lovelace' }]);
  });

  it('an empty sendEmail cell sends the invitation, as Entra does; quoted messages may hold commas and line breaks', () => {
    const file = `${TEMPLATE}ada@fabrikam.com,https://app.contoso.com/,,"Hello, Ada\r\nsee you"\r\nbob@fabrikam.com,https://app.contoso.com/\r\n`;
    const { rows } = parseBulkInviteCsv(file);
    expect(rows.map((r) => [r.row, r.sendEmail, r.message])).toEqual([
      [3, true, 'Hello, Ada\r\nsee you'],
      [4, true, undefined],
    ]);
  });

  it('reports each bad row with its row number and reason and keeps the good rows', () => {
    const file = [
      TEMPLATE.trimEnd(),
      'good@fabrikam.com,https://app.contoso.com/,true,',
      ',https://app.contoso.com/,true,',
      'not-an-address,https://app.contoso.com/,true,',
      'carol@fabrikam.com,,true,',
      'dave@fabrikam.com,app.contoso.com,true,',
      'erin@fabrikam.com,https://app.contoso.com/,maybe,',
      ',,,',
      'frank@fabrikam.com,https://app.contoso.com/,false,',
    ].join('\r\n');
    const { rows, errors } = parseBulkInviteCsv(file);
    expect(rows.map((r) => [r.row, r.email])).toEqual([
      [3, 'good@fabrikam.com'],
      [10, 'frank@fabrikam.com'],
    ]);
    expect(errors).toEqual([
      { row: 4, email: '', error: 'Email address to invite is required' },
      { row: 5, email: 'not-an-address', error: '"not-an-address" is not an email address' },
      { row: 6, email: 'carol@fabrikam.com', error: 'Redirection url is required' },
      { row: 7, email: 'dave@fabrikam.com', error: '"app.contoso.com" is not an absolute http(s) URL' },
      { row: 8, email: 'erin@fabrikam.com', error: 'Send invitation message must be true or false, not "maybe"' },
    ]);
  });

  it("skips the template's example row", () => {
    const file = `${TEMPLATE}Example: example@example.com,https://myapps.microsoft.com,true,Hello\r\nada@fabrikam.com,https://app.contoso.com/\r\n`;
    expect(parseBulkInviteCsv(file).rows.map((r) => r.email)).toEqual(['ada@fabrikam.com']);
  });

  it('refuses a file without the version row, with another version, or without a required column', () => {
    expect(() => parseBulkInviteCsv('Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required\r\na@b.com,https://x.com/')).toThrow(
      /first row must be the template's version row/,
    );
    expect(() => parseBulkInviteCsv('version:v2.0\r\nEmail address to invite [inviteeEmail] Required')).toThrow(/version "v2.0" is not supported/);
    expect(() => parseBulkInviteCsv('version:v1.0\r\nEmail address to invite [inviteeEmail] Required\r\na@b.com')).toThrow(/no \[inviteRedirectURL\] column/);
    expect(() => parseBulkInviteCsv('version:v1.0')).toThrow(BulkInviteCsvError);
    expect(() => parseBulkInviteCsv('version:v1.0\r\n"unterminated')).toThrow(/not valid CSV/);
  });

  it('writes the empty template byte for byte as the portal offers it', () => {
    expect(bulkInviteTemplateCsv()).toBe(TEMPLATE);
  });

  it('writes a results CSV in row order that reads back', () => {
    const csv = writeBulkInviteResultsCsv([
      { row: 4, email: 'x', status: 'Failed', error: 'Redirection url is required, or "quoted"' },
      { row: 3, email: 'ada@fabrikam.com', status: 'Succeeded', invitedUserId: '6f1c0c4e-1111-4222-8333-944455556666' },
    ]);
    expect(csv.split('\n').slice(0, 3)).toEqual([
      'row,email,status,invitedUserId,error',
      '3,ada@fabrikam.com,Succeeded,6f1c0c4e-1111-4222-8333-944455556666,',
      '4,x,Failed,,"Redirection url is required, or ""quoted"""',
    ]);
    expect(parseBulkInviteResultsCsv(csv)).toEqual([
      { row: 3, email: 'ada@fabrikam.com', status: 'Succeeded', invitedUserId: '6f1c0c4e-1111-4222-8333-944455556666' },
      { row: 4, email: 'x', status: 'Failed', error: 'Redirection url is required, or "quoted"' },
    ]);
  });

  it('checks the whole file first: a repeated address (any case, IDN or not) is Skipped as the same as its first row', () => {
    const file = parseBulkInviteCsv(`${TEMPLATE}ada@fabrikam.com,https://app.contoso.com/,true,\r\nbad,https://app.contoso.com/,true,\r\nADA@Fabrikam.COM,https://app.contoso.com/,true,\r\nbo@bücher.example,https://app.contoso.com/,true,\r\nbo@xn--bcher-kva.example,https://app.contoso.com/,false,\r\n`);
    const plan = planBulkInvite(file);
    expect(plan.total).toBe(5);
    expect(plan.todo.map((row) => row.row)).toEqual([3, 6]);
    expect(plan.decided).toEqual([
      { row: 4, email: 'bad', status: 'Failed', error: '"bad" is not an email address' },
      { row: 5, email: 'ADA@Fabrikam.COM', status: 'Skipped', error: 'same as row 3' },
      { row: 7, email: 'bo@xn--bcher-kva.example', status: 'Skipped', error: 'same as row 6' },
    ]);
    const { todo, skipped } = skipAlreadyInvited(plan.todo, new Set([addressKey('Ada@fabrikam.com')]), false);
    expect(todo.map((row) => row.row)).toEqual([6]);
    expect(skipped).toEqual([{ row: 3, email: 'ada@fabrikam.com', status: 'Skipped', error: 'already invited' }]);
    expect(skipAlreadyInvited(plan.todo, new Set([addressKey('ada@fabrikam.com')]), true).todo).toHaveLength(2);
  });

  it('reads UTF-8 with a byte-order mark, UTF-16 from Excel, and ;-separated files from a Swedish or German Excel', () => {
    const body = `${TEMPLATE}jörg@fabrikam.com,https://app.contoso.com/,true,Grüß Gott\r\n`;
    const expected = [{ row: 3, email: 'jörg@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: true, message: 'Grüß Gott' }];
    const utf8Bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body, 'utf8')]);
    const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')]);
    const utf16be = Buffer.from(utf16le.toString('hex').replace(/(..)(..)/g, '$2$1'), 'hex');
    for (const bytes of [Buffer.from(body, 'utf8'), utf8Bom, utf16le, utf16be]) expect(parseBulkInviteCsv(decodeBulkInviteCsv(bytes)).rows).toEqual(expected);

    // Excel with a comma as decimal mark saves semicolons; a message may then hold commas.
    const semicolons = `version:v1.0;;;\r\n${TEMPLATE.split('\r\n')[1]!.replace(/,/g, ';')}\r\nada@fabrikam.com;https://app.contoso.com/;false;Hej, välkommen\r\n`;
    expect(parseBulkInviteCsv(decodeBulkInviteCsv(Buffer.from(semicolons))).rows).toEqual([
      { row: 3, email: 'ada@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: false, message: 'Hej, välkommen' },
    ]);
  });

  it('refuses a file in another encoding (Windows-1252 from Excel) with one line saying how to save it', () => {
    const latin1 = Buffer.from(`${TEMPLATE}jörg@fabrikam.com,https://app.contoso.com/,true,\r\n`, 'latin1');
    expect(() => decodeBulkInviteCsv(latin1)).toThrow(BulkInviteCsvError);
    expect(() => decodeBulkInviteCsv(latin1)).toThrow(/^The file is not UTF-8 or UTF-16 text\. In Excel, save it with "Save as" > "CSV UTF-8 \(Comma delimited\) \(\*\.csv\)", or download the template again\.$/);
  });

  it('writes no live spreadsheet formula: cells an attacker shaped start with a quote when read back by a CSV parser', () => {
    const shaped = ['=HYPERLINK("https://evil.example","x")', '+1+cmd|/c calc', '-2+3', '@SUM(A1)', '\t=1', '\r=1'];
    const csv = writeBulkInviteResultsCsv(shaped.map((cell, i) => ({ row: i + 3, email: cell, status: 'Failed', error: cell })));
    const records = parse(csv, { columns: true }) as Record<string, string>[];
    const cells = records.flatMap((record) => [record.email!, record.error!]);
    expect(cells).toHaveLength(shaped.length * 2);
    for (const cell of cells) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(records.map((record) => record.email)).toEqual(shaped.map((cell) => `'${cell}`));
  });

  it('bundles for the browser (the operator console) and runs there without Node globals', async () => {
    const bundle = await build({
      entryPoints: [join(REPO, 'lib/admin/bulkInviteCsv.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'bulkInvite',
      write: false,
      logLevel: 'silent',
    });
    const code = bundle.outputFiles[0]!.text;
    // A bare context: no Buffer, process or require, as in a browser.
    const sandbox: Record<string, unknown> = { URL, TextEncoder, TextDecoder };
    runInNewContext(`${code};globalThis.result = bulkInvite.parseBulkInviteCsv(${JSON.stringify(`${TEMPLATE}ada@fabrikam.com,https://app.contoso.com/,true,Hi`)});`, sandbox);
    expect(JSON.parse(JSON.stringify(sandbox.result))).toEqual({
      rows: [{ row: 3, email: 'ada@fabrikam.com', redirectUrl: 'https://app.contoso.com/', sendEmail: true, message: 'Hi' }],
      errors: [],
    });
  });
});
