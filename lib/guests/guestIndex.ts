import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { GUEST_ROW, type GuestEntity, type GuestState, type SignInSource } from './guests.js';
import type { Runtime } from '../runtime.js';
import { escapeOData, guestPartition, isStatus, type Tables } from '../storage/tables.js';

/*
 * The guest index: how a tenant's guest listing (and the lifecycle) finds its guests
 * without reading the rows anonymous requests write. A tenant's guest partitions
 * (`<tenantId>_<digest>`) also hold the attempt, per-address, code and log rows that
 * send-code writes for any address, so a scan of that range costs what strangers wrote.
 *
 * Where: the guests table, partition `<tenantId>` (the tenant id alone). It sorts just
 * before `<tenantId>_`, so no query over a tenant's guest partitions (`<tenantId>_` ..
 * `<tenantId>\``: sign-in logs, their summary) ever reads it, no expiry note ever names
 * it (cleanup never visits it), and it needs no table of its own; a tenant copied to
 * another account by its id prefix takes it along. Tenant ids are GUIDs, so one
 * tenant's index partition is never inside another tenant's range.
 *
 * What: one row per way the listing filters, each keyed so a filtered listing is one
 * key-range query that reads only matching rows, in address order:
 *   all_<address>, state_<state>_<address>, and when the guest has a source
 *   source_<source>_<address> and both_<state>_<source>_<address>,
 * where <address> is the normalised address with each character moved up by U+0100 (`a`,
 * U+0061, becomes U+0161). A key may hold none of `/ \ # ?`, which a local part may, and
 * at most 1 KiB (512 UTF-16 characters; hex would take 538 for a 254-character address);
 * the move keeps the addresses' order and their prefixes, one character for one, so
 * `search` (an address prefix) is a key range too. Each row names the guest's partition;
 * the listing point-reads the guest rows of its page, so it shows current data, and skips
 * a row whose guest is gone or no longer matches. Nothing that changes at every sign-in
 * (lastSignInAt) is kept here: verify-code writes the index only when the guest's state or
 * source changes (its first redemption: two transactions), send-code only when it stores a
 * guest's source (one; a stranger's first resolution writes once more to cost the same).
 *
 * Write order: the rows of the guest's new state go in before the guest row changes (one
 * entity-group transaction in the index partition), and the rows only its old state had
 * come out after it changed, each under the ETag the first step wrote (a racing change
 * that wrote one again keeps it). A crash in between leaves a stale row, read and skipped,
 * never a guest missing from a listing.
 *
 * Existing deployments: a tenant's index is built the first time it is needed (a listing,
 * the lifecycle), from one scan of the tenant's guest rows; a marker row records how far
 * the build got (so an interrupted build resumes) and then that it is done. Writers keep
 * the index whether or not it is built yet.
 */

/** What decides a guest's index rows. */
export type IndexedGuest = Pick<GuestEntity, 'email' | 'state' | 'source'>;

export interface GuestIndexFilter {
  state?: GuestState;
  source?: SignInSource;
  /** An address prefix (normalised); an exact address is its own prefix. */
  search?: string;
}

interface IndexEntity {
  guestPartition: string;
}

/** The build marker: `after` is the last guest partition indexed; `done` once the whole range was. */
interface BuildMarker {
  after?: string;
  done: boolean;
}

const BUILD_MARKER_ROW = 'built';
const MAX_ACTIONS_PER_TRANSACTION = 100;
/** Index queries one listing call makes to fill a page when index rows are skipped or the service answers short. */
const MAX_QUERIES_PER_PAGE = 5;

/** The index partition of a tenant. */
export function indexPartition(tenantId: string): string {
  return tenantId;
}

/** Normalised addresses are printable ASCII; moved up by KEY_SHIFT they are Latin Extended-A, none of it barred from keys. */
const KEY_SHIFT = 0x100;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const ADDRESS_KEY = /^[\u0120-\u017e]*$/;
/** Sorts after every address key character. */
const PAST_ADDRESS_KEYS = '\u017f';

/** The address as it appears in index keys, or undefined for a string no normalised address starts with. */
function addressKey(address: string): string | undefined {
  if (!PRINTABLE_ASCII.test(address)) return undefined;
  return String.fromCharCode(...Array.from(address, (c) => c.charCodeAt(0) + KEY_SHIFT));
}

function guestAddressKey(guest: IndexedGuest): string {
  const key = addressKey(guest.email);
  if (key === undefined) throw new Error('a guest address is not normalised');
  return key;
}

/** The key prefix of the index rows a filter reads (without the address). */
function keyBase(filter: Pick<GuestIndexFilter, 'state' | 'source'>): string {
  if (filter.state && filter.source) return `both_${filter.state}_${filter.source}_`;
  if (filter.state) return `state_${filter.state}_`;
  if (filter.source) return `source_${filter.source}_`;
  return 'all_';
}

export function indexKeys(guest: IndexedGuest): string[] {
  const filters: Pick<GuestIndexFilter, 'state' | 'source'>[] = [{}, { state: guest.state }];
  if (guest.source) filters.push({ source: guest.source }, { state: guest.state, source: guest.source });
  return filters.map((filter) => keyBase(filter) + guestAddressKey(guest));
}

async function commitIndexActions(rt: Runtime, actions: TransactionAction[]): Promise<void> {
  for (let start = 0; start < actions.length; start += MAX_ACTIONS_PER_TRANSACTION) {
    await rt.tables.guests.submitTransaction(actions.slice(start, start + MAX_ACTIONS_PER_TRANSACTION));
  }
}

function upsertActions(tenantId: string, guest: IndexedGuest, keys: string[]): TransactionAction[] {
  const row: IndexEntity = { guestPartition: guestPartition(tenantId, guest.email) };
  return keys.map((rowKey) => ['upsert', { partitionKey: indexPartition(tenantId), rowKey, ...row }, 'Replace']);
}

/** What indexBeforeChange hands to indexAfterChange: the rows only the old state has, each with the ETag it wrote. */
export interface IndexChange {
  tenantId: string;
  stale: { rowKey: string; etag?: string }[];
}

/**
 * Before a guest row is created, changes state or source, or is deleted (no `after`): one
 * transaction writes the index rows its new state has and its old state did not, so a crash
 * after this hides no guest, and writes again the rows only its old state has, to take their
 * ETags: indexAfterChange removes an old row only if nobody wrote it since, so a change that
 * raced this one (a reset while the guest redeems, an invitation while it is deleted) keeps
 * the rows it wrote. Nothing is written when the state and source stay.
 */
export async function indexBeforeChange(rt: Runtime, tenantId: string, before: IndexedGuest | undefined, after: IndexedGuest | undefined): Promise<IndexChange> {
  const oldKeys = before ? indexKeys(before) : [];
  const newKeys = after ? indexKeys(after) : [];
  const added = newKeys.filter((key) => !oldKeys.includes(key));
  const staleKeys = oldKeys.filter((key) => !newKeys.includes(key));
  const written = [...added, ...staleKeys];
  if (written.length === 0) return { tenantId, stale: [] };
  const response = await rt.tables.guests.submitTransaction(upsertActions(tenantId, (after ?? before)!, written));
  // The sub-responses come in the order of the actions.
  const etagOf = (rowKey: string) => response.subResponses[written.indexOf(rowKey)]?.etag;
  return { tenantId, stale: staleKeys.map((rowKey) => ({ rowKey, etag: etagOf(rowKey) })) };
}

/**
 * After the guest row changed or was deleted: takes out the rows only its old state had,
 * each under the ETag indexBeforeChange wrote. A row left behind (written again by a racing
 * change, or a failure here) is read and skipped, never wrong, so this never fails the change
 * that already happened.
 */
export async function indexAfterChange(rt: Runtime, change: IndexChange): Promise<void> {
  const partitionKey = indexPartition(change.tenantId);
  await Promise.all(
    change.stale.map(({ rowKey, etag }) => rt.tables.guests.deleteEntity(partitionKey, rowKey, etag ? { etag } : {}).catch(() => undefined)),
  );
}

/** Runs a change of a guest's state or source (`write`) with the index kept true around it. */
export async function withIndexedChange<T>(rt: Runtime, tenantId: string, before: IndexedGuest | undefined, after: IndexedGuest, write: () => Promise<T>): Promise<T> {
  const change = await indexBeforeChange(rt, tenantId, before, after);
  const result = await write();
  await indexAfterChange(rt, change);
  return result;
}

/* Building the index of a tenant whose guests were written before it existed. */

const builtIndexes = new WeakMap<Tables, Set<string>>();

/** Builds the tenant's index unless it is built (known to this instance, or marked so), resuming an interrupted build. */
export async function ensureGuestIndex(rt: Runtime, tenantId: string): Promise<void> {
  let built = builtIndexes.get(rt.tables);
  if (!built) builtIndexes.set(rt.tables, (built = new Set()));
  if (built.has(tenantId)) return;
  let marker: BuildMarker | undefined;
  try {
    marker = await rt.tables.guests.getEntity<BuildMarker>(indexPartition(tenantId), BUILD_MARKER_ROW);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  if (!marker?.done) await buildGuestIndex(rt, tenantId, marker?.after);
  built.add(tenantId);
}

/** Forgets which indexes this instance knows to be built (tests that take a marker away use it). */
export function forgetBuiltIndexes(rt: Runtime): void {
  builtIndexes.delete(rt.tables);
}

/**
 * One pass over the tenant's guest rows (from `after`, where an interrupted build
 * stopped): each page's index rows, then the marker with the page's last partition.
 * Upserts only: a guest changed meanwhile leaves at most a stale row, skipped on read.
 */
async function buildGuestIndex(rt: Runtime, tenantId: string, after: string | undefined): Promise<void> {
  const id = escapeOData(tenantId);
  const from = after ? `PartitionKey gt '${escapeOData(after)}'` : `PartitionKey ge '${id}_'`;
  const rows = rt.tables.guests
    .listEntities<IndexedGuest & { deletedAt?: number }>({
      queryOptions: { filter: `${from} and PartitionKey lt '${id}\`' and RowKey eq '${GUEST_ROW}'`, select: ['PartitionKey', 'email', 'state', 'source', 'deletedAt'] },
    })
    .byPage({ maxPageSize: MAX_ACTIONS_PER_TRANSACTION });
  const markerKey = { partitionKey: indexPartition(tenantId), rowKey: BUILD_MARKER_ROW };
  for await (const page of rows) {
    const guests = page.filter((guest) => !guest.deletedAt);
    await commitIndexActions(rt, guests.flatMap((guest) => upsertActions(tenantId, guest, indexKeys(guest))));
    const last = page.at(-1)?.partitionKey;
    if (last) await rt.tables.guests.upsertEntity<BuildMarker>({ ...markerKey, after: last, done: false }, 'Replace');
  }
  await rt.tables.guests.upsertEntity<BuildMarker>({ ...markerKey, done: true }, 'Replace');
}

/* Reading through the index. */

/** A position in a listing: the key of the last index row read. */
export function isIndexPosition(filter: GuestIndexFilter): (value: unknown) => value is string {
  const base = keyBase(filter);
  return (value): value is string => typeof value === 'string' && value.startsWith(base) && ADDRESS_KEY.test(value.slice(base.length));
}

function matches(guest: GuestEntity & { deletedAt?: number }, filter: GuestIndexFilter): boolean {
  if (guest.deletedAt) return false;
  if (filter.state && guest.state !== filter.state) return false;
  if (filter.source && guest.source !== filter.source) return false;
  return !filter.search || guest.email.startsWith(filter.search);
}

export interface IndexedGuestPage {
  /** The guest rows (the selected fields and partitionKey), in address order. */
  guests: (GuestEntity & { partitionKey: string })[];
  /** Where the next page starts, when there may be more. */
  after?: string;
}

/**
 * At most `top` guests matching `filter`, in address order, after position `after`:
 * a key-range query on the index, then a point read of each listed guest (in parallel,
 * `select` fields only). The tenant's index must be built (ensureGuestIndex).
 */
export async function readIndexedGuests(rt: Runtime, tenantId: string, filter: GuestIndexFilter, top: number, after: string | undefined, select: string[]): Promise<IndexedGuestPage> {
  const searched = addressKey(filter.search ?? '');
  // No guest's address starts with anything but printable ASCII.
  if (searched === undefined) return { guests: [] };
  const start = keyBase(filter) + searched;
  const range = `PartitionKey eq '${escapeOData(indexPartition(tenantId))}' and RowKey lt '${escapeOData(start)}${PAST_ADDRESS_KEYS}'`;
  const guests: IndexedGuestPage['guests'] = [];
  let position = after;
  let continuationToken: string | undefined;
  let more = true;
  for (let query = 0; query < MAX_QUERIES_PER_PAGE && guests.length < top && more; query += 1) {
    const from = position && position >= start ? `RowKey gt '${escapeOData(position)}'` : `RowKey ge '${escapeOData(start)}'`;
    const page = await rt.tables.guests
      .listEntities<IndexEntity>({ queryOptions: { filter: `${range} and ${from}`, select: ['RowKey', 'guestPartition'] } })
      .byPage({ maxPageSize: top - guests.length, ...(continuationToken ? { continuationToken } : {}) })
      .next();
    const rows: TableEntityResult<IndexEntity>[] = page.done ? [] : page.value;
    more = !page.done && Boolean(page.value.continuationToken);
    // A short page with nothing in it (the service may answer so) goes on from the service's continuation.
    continuationToken = rows.length === 0 && more ? page.value.continuationToken : undefined;
    const read = await Promise.all(rows.map((row) => readGuestRow(rt, row.guestPartition, select)));
    for (const guest of read) if (guest && matches(guest, filter)) guests.push(guest);
    if (rows.length > 0) position = rows.at(-1)!.rowKey;
  }
  return { guests, ...(more && position ? { after: position } : {}) };
}

async function readGuestRow(rt: Runtime, partitionKey: string, select: string[]): Promise<(GuestEntity & { partitionKey: string; deletedAt?: number }) | undefined> {
  try {
    const row = await rt.tables.guests.getEntity<GuestEntity & { deletedAt?: number }>(partitionKey, GUEST_ROW, { queryOptions: { select: [...select, 'deletedAt'] } });
    return { ...row, partitionKey };
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** Every guest of the tenant (the selected fields and partitionKey), a page of the index at a time. */
export async function* allIndexedGuests(rt: Runtime, tenantId: string, select: string[]): AsyncGenerator<GuestEntity & { partitionKey: string }> {
  await ensureGuestIndex(rt, tenantId);
  let after: string | undefined;
  do {
    const page = await readIndexedGuests(rt, tenantId, {}, MAX_ACTIONS_PER_TRANSACTION, after, select);
    yield* page.guests;
    after = page.after;
  } while (after);
}
