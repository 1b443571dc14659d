// The browser builds of csv-parse/csv-stringify: they carry their own Buffer shim, so this
// one file serves the CLI (Node) and the operator console (bundled with platform 'browser').
import { parse } from 'csv-parse/browser/esm/sync';
import { stringify } from 'csv-stringify/browser/esm/sync';

/**
 * Entra's bulk-invite CSV template, as the portal offers it (Users > Bulk operations >
 * Bulk invite > Download): a first row `version:v1.0`, a second row of headers of the form
 * `<Item name> [propertyName] <Required or blank>`, then one row per guest. Columns are
 * found by the bracketed property name, so older templates' wording ("Name of invitee
 * [inviteeName]"), reordered and extra columns all work. The template's example row
 * (first cell starting `Example:`) is skipped, as the portal asks users to remove it.
 *
 * Row numbers are spreadsheet rows: the version row is 1, the headers row 2, the first
 * guest row 3 — what a user sees in Excel next to the row to fix.
 */

export const BULK_INVITE_VERSION = 'v1.0';

export const BULK_INVITE_HEADERS = [
  'Email address to invite [inviteeEmail] Required',
  'Redirection url [inviteRedirectURL] Required',
  'Send invitation message (true or false) [sendEmail]',
  'Customized invitation message [customizedMessageBody]',
] as const;

/** The properties guestpass reads; any other bracketed or unbracketed column is ignored. */
const PROPERTIES = ['inviteeEmail', 'inviteRedirectURL', 'sendEmail', 'customizedMessageBody', 'inviteeName'] as const;
type Property = (typeof PROPERTIES)[number];

export interface BulkInviteRow {
  /** The spreadsheet row (1 = the version row). */
  row: number;
  email: string;
  redirectUrl: string;
  sendEmail: boolean;
  message?: string;
  displayName?: string;
}

export interface BulkInviteRowError {
  row: number;
  email: string;
  error: string;
}

export interface BulkInviteFile {
  rows: BulkInviteRow[];
  errors: BulkInviteRowError[];
}

/** The file as a whole cannot be read as the template (a missing version row or required column). */
export class BulkInviteCsvError extends Error {
  override name = 'BulkInviteCsvError';
}

const MAX_MESSAGE = 4000;
const MAX_NAME = 256;

/** The address's shape only; the server normalises and checks it fully and reports what it refuses per row. */
function looksLikeEmail(value: string): boolean {
  return value.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

function httpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function propertyOf(header: string): Property | undefined {
  const bracketed = /\[\s*([A-Za-z]+)\s*\]/.exec(header);
  if (!bracketed) return undefined;
  const name = bracketed[1]!.toLowerCase();
  return PROPERTIES.find((property) => property.toLowerCase() === name);
}

function parseBoolean(value: string): boolean | undefined {
  const text = value.trim().toLowerCase();
  if (text === '') return true; // Entra sends the invitation unless told not to.
  if (text === 'true' || text === 'yes' || text === '1') return true;
  if (text === 'false' || text === 'no' || text === '0') return false;
  return undefined;
}

const SAVE_AS = 'In Excel, save it with "Save as" > "CSV UTF-8 (Comma delimited) (*.csv)", or download the template again.';

/**
 * The file's bytes as text: UTF-8 (with or without a byte-order mark) or UTF-16 with its
 * byte-order mark (Excel's "Unicode Text"). Anything else (Windows-1252 from Excel's
 * plain "CSV", say) is refused with one line saying how to save it, rather than read
 * with its accented names garbled.
 */
export function decodeBulkInviteCsv(bytes: Uint8Array): string {
  const encoding = bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : 'utf-8';
  try {
    // TextDecoder drops the byte-order mark (ignoreBOM is false by default).
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new BulkInviteCsvError(`The file is not UTF-8 or UTF-16 text. ${SAVE_AS}`);
  }
}

/**
 * The separator of the file: Entra's template uses commas; Excel in Swedish, German and
 * other locales whose decimal mark is a comma saves "CSV" with semicolons (and Excel's
 * "Unicode Text" with tabs). Decided from the headers row, whose cells hold none of them.
 */
function separatorOf(text: string): ',' | ';' | '\t' {
  const headers = text.split(/\r?\n/, 2)[1] ?? '';
  const counts = { ',': headers.split(',').length, ';': headers.split(';').length, '\t': headers.split('\t').length };
  return (Object.entries(counts).sort(([, a], [, b]) => b - a)[0]![0] as ',' | ';' | '\t');
}

export function parseBulkInviteCsv(text: string): BulkInviteFile {
  let records: string[][];
  try {
    // Both line endings in one file: the template is written with CRLF (as Entra's), and rows
    // a script appends on Linux or macOS end in LF; csv-parse otherwise keeps the first it
    // meets and reads every later LF row as part of one field.
    records = parse(text, { bom: true, delimiter: separatorOf(text.replace(/^\uFEFF/, '')), record_delimiter: ['\r\n', '\n'], relax_column_count: true, skip_empty_lines: false, trim: false }) as string[][];
  } catch (error) {
    throw new BulkInviteCsvError(`The file is not valid CSV: ${(error as Error).message}`);
  }
  // Excel's "Unicode Text" and "CSV" exports quote the version cell and may pad it with separators.
  if (records[0]) records[0] = records[0].filter((cell, index) => index === 0 || cell.trim() !== '');
  const versionCell = (records[0]?.[0] ?? '').trim();
  const version = /^version\s*:\s*(\S+)$/i.exec(versionCell);
  if (!version) {
    throw new BulkInviteCsvError('The first row must be the template\'s version row, "version:v1.0" (download the template again if it is missing).');
  }
  if (version[1]!.toLowerCase() !== BULK_INVITE_VERSION) {
    throw new BulkInviteCsvError(`Template version "${version[1]}" is not supported; use version:${BULK_INVITE_VERSION}.`);
  }
  const headers = records[1];
  if (!headers) throw new BulkInviteCsvError('The second row must hold the column headers, e.g. "Email address to invite [inviteeEmail] Required".');
  const columns = new Map<Property, number>();
  headers.forEach((header, index) => {
    const property = propertyOf(header);
    if (property && !columns.has(property)) columns.set(property, index);
  });
  for (const [required, header] of [
    ['inviteeEmail', BULK_INVITE_HEADERS[0]],
    ['inviteRedirectURL', BULK_INVITE_HEADERS[1]],
  ] as const) {
    if (!columns.has(required)) throw new BulkInviteCsvError(`The headers row has no [${required}] column ("${header}").`);
  }

  const cell = (record: string[], property: Property): string => {
    const index = columns.get(property);
    return index === undefined ? '' : (record[index] ?? '').trim();
  };

  const rows: BulkInviteRow[] = [];
  const errors: BulkInviteRowError[] = [];
  records.slice(2).forEach((record, index) => {
    const row = index + 3;
    if (record.every((value) => value.trim() === '')) return;
    if (/^example\s*:/i.test((record[0] ?? '').trim())) return;
    const email = cell(record, 'inviteeEmail');
    const redirectUrl = cell(record, 'inviteRedirectURL');
    const sendEmail = parseBoolean(cell(record, 'sendEmail'));
    const message = cell(record, 'customizedMessageBody');
    const displayName = cell(record, 'inviteeName');
    const problems: string[] = [];
    if (!email) problems.push('Email address to invite is required');
    else if (!looksLikeEmail(email)) problems.push(`"${email}" is not an email address`);
    if (!redirectUrl) problems.push('Redirection url is required');
    else if (!httpUrl(redirectUrl)) problems.push(`"${redirectUrl}" is not an absolute http(s) URL`);
    if (sendEmail === undefined) problems.push(`Send invitation message must be true or false, not "${cell(record, 'sendEmail')}"`);
    if (message.length > MAX_MESSAGE) problems.push(`Customized invitation message is longer than ${MAX_MESSAGE} characters`);
    if (displayName.length > MAX_NAME) problems.push(`Name of invitee is longer than ${MAX_NAME} characters`);
    if (problems.length > 0) {
      errors.push({ row, email, error: problems.join('; ') });
      return;
    }
    rows.push({
      row,
      email,
      redirectUrl,
      sendEmail: sendEmail!,
      ...(message ? { message } : {}),
      ...(displayName ? { displayName } : {}),
    });
  });
  return { rows, errors };
}

/**
 * The key two rows of one guest share: the address trimmed and lowercased, its domain
 * in ASCII (what the server's normaliseEmail makes of it, without Node's url module, so
 * the console runs it too).
 */
export function addressKey(email: string): string {
  const trimmed = email.trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  let domain = trimmed.slice(at + 1);
  try {
    domain = new URL(`http://${domain}`).hostname;
  } catch {
    // Not a host name: the row fails on the server; it is compared as written.
  }
  return `${trimmed.slice(0, at)}@${domain}`;
}

export interface BulkInvitePlan {
  /** Rows to send, in file order, each address once. */
  todo: BulkInviteRow[];
  /** Rows decided without sending: the file's errors (Failed) and repeated addresses (Skipped). */
  decided: BulkInviteResult[];
  /** Every row of the file with a guest in it: todo and decided together. */
  total: number;
}

/**
 * The whole file checked before anything is sent, as Entra's portal does: rows it gets
 * wrong fail with their reason, and an address that appears again is "Skipped (same as
 * row N)", so nobody is invited or mailed twice by one file.
 */
export function planBulkInvite(file: BulkInviteFile): BulkInvitePlan {
  const decided: BulkInviteResult[] = file.errors.map((e) => ({ row: e.row, email: e.email, status: 'Failed', error: e.error }));
  const firstRow = new Map<string, number>();
  const todo: BulkInviteRow[] = [];
  for (const row of file.rows) {
    const key = addressKey(row.email);
    const first = firstRow.get(key);
    if (first !== undefined) decided.push({ row: row.row, email: row.email, status: 'Skipped', error: `same as row ${first}` });
    else {
      firstRow.set(key, row.row);
      todo.push(row);
    }
  }
  return { todo, decided, total: file.rows.length + file.errors.length };
}

/** The reason a row for an existing guest is skipped unless the operator asks to resend. */
export const ALREADY_INVITED = 'already invited';

/**
 * Of the rows to send, those whose address is already a guest of the tenant (`invited`
 * holds their addressKey) are "Skipped (already invited)" and not mailed again, unless
 * `resend` asks for the invitation mail to go out again (Entra's reinvite).
 */
export function skipAlreadyInvited(todo: BulkInviteRow[], invited: Set<string>, resend: boolean): { todo: BulkInviteRow[]; skipped: BulkInviteResult[] } {
  if (resend) return { todo, skipped: [] };
  const skipped: BulkInviteResult[] = [];
  const remaining: BulkInviteRow[] = [];
  for (const row of todo) {
    if (invited.has(addressKey(row.email))) skipped.push({ row: row.row, email: row.email, status: 'Skipped', error: ALREADY_INVITED });
    else remaining.push(row);
  }
  return { todo: remaining, skipped };
}

/** Succeeded / Failed / Skipped / Total of a run, as the portal's bulk operation results count them. */
export function countBulkInvite(results: BulkInviteResult[], total: number): { succeeded: number; failed: number; skipped: number; total: number } {
  const count = (status: BulkInviteStatus) => results.filter((r) => r.status === status).length;
  return { succeeded: count('Succeeded'), failed: count('Failed'), skipped: count('Skipped'), total };
}

/** An empty template (version and header rows), what `guestpass invite --template` writes. */
export function bulkInviteTemplateCsv(): string {
  return stringify([[`version:${BULK_INVITE_VERSION}`], [...BULK_INVITE_HEADERS]], { record_delimiter: 'windows' });
}

export type BulkInviteStatus = 'Succeeded' | 'Failed' | 'Skipped';

export interface BulkInviteResult {
  row: number;
  email: string;
  status: BulkInviteStatus;
  invitedUserId?: string;
  error?: string;
}

export const BULK_INVITE_RESULT_COLUMNS = ['row', 'email', 'status', 'invitedUserId', 'error'] as const;

/** The per-row results, like the portal's "Bulk operation results" download: one row per input row, in row order. */
export function writeBulkInviteResultsCsv(results: BulkInviteResult[]): string {
  const sorted = [...results].sort((a, b) => a.row - b.row);
  return stringify(
    sorted.map((result) => [String(result.row), result.email, result.status, result.invitedUserId ?? '', result.error ?? '']),
    // A cell an attacker shaped (an address or reason starting with = + - @, a tab or a
    // carriage return) opens as text in a spreadsheet, not as a formula (OWASP CSV injection).
    { header: true, columns: [...BULK_INVITE_RESULT_COLUMNS], escape_formulas: true },
  );
}

/** Reads a results file back (for a re-run that skips rows already invited). */
export function parseBulkInviteResultsCsv(text: string): BulkInviteResult[] {
  const records = parse(text, { bom: true, columns: true, skip_empty_lines: true }) as Record<string, string>[];
  return records.map((record) => ({
    row: Number(record.row),
    email: record.email ?? '',
    status: (record.status ?? 'Failed') as BulkInviteStatus,
    ...(record.invitedUserId ? { invitedUserId: record.invitedUserId } : {}),
    ...(record.error ? { error: record.error } : {}),
  }));
}
