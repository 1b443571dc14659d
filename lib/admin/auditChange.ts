/*
 * An audit entry's change in words, "field: before → after", for the CLI's audit table
 * and the console's audit page (no imports: both bundle it). Only fields that differ are
 * named; a value is shown as text (lists joined, objects as compact JSON, long values cut).
 */

const MAX_VALUE = 80;

function show(value: unknown): string {
  if (value === undefined || value === null || value === '') return '—';
  const text = Array.isArray(value) ? (value.length === 0 ? '[]' : value.map((item) => (typeof item === 'object' ? JSON.stringify(item) : String(item))).join(', ')) : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** Fields that name when a row changed, not what: never listed. */
const BOOKKEEPING = new Set(['updatedAt', 'createdAt', 'id']);

/** Nested objects as dotted fields (`lifecycle.pendingInvitationDays`), so each leaf that changed is named. */
function flatten(value: unknown, prefix = '', into: Record<string, unknown> = {}): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return into;
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) flatten(inner, path, into);
    else into[path] = inner;
  }
  return into;
}

export function describeChange(before: unknown, after: unknown): string[] {
  const b = flatten(before);
  const a = flatten(after);
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((field) => !BOOKKEEPING.has(field));
  const lines: string[] = [];
  for (const field of fields) {
    if (JSON.stringify(b[field]) === JSON.stringify(a[field])) continue;
    if (!(field in b)) lines.push(`${field}: ${show(a[field])}`);
    else if (!(field in a) && after !== undefined) lines.push(`${field}: ${show(b[field])} → —`);
    else if (after === undefined) lines.push(`${field}: ${show(b[field])}`);
    else lines.push(`${field}: ${show(b[field])} → ${show(a[field])}`);
  }
  return lines;
}

/** Who or what an audit entry is about, as a person reads it: a guest's address rather than its id. */
export function describeTarget(entry: { target: { type: string; id: string }; before?: unknown; after?: unknown }): string {
  const pick = (value: unknown, key: string) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined);
  const named = entry.target.type === 'guest' ? (pick(entry.after, 'email') ?? pick(entry.before, 'email')) : entry.target.type === 'key' ? (pick(entry.after, 'name') ?? pick(entry.before, 'name')) : undefined;
  return typeof named === 'string' && named ? `${entry.target.type} ${named}` : `${entry.target.type} ${entry.target.id}`;
}
