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

export function parseBulkInviteCsv(text: string): BulkInviteFile {
  let records: string[][];
  try {
    records = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: false, trim: false }) as string[][];
  } catch (error) {
    throw new BulkInviteCsvError(`The file is not valid CSV: ${(error as Error).message}`);
  }
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
    { header: true, columns: [...BULK_INVITE_RESULT_COLUMNS] },
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
