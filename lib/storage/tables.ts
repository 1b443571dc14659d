import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RestError, TableClient, TableServiceClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { Config } from '../config.js';
import { GuestpassError } from '../errors.js';
import { telemetry } from '../telemetry/telemetry.js';

export const TABLE_NAMES = ['tenants', 'guests', 'limits', 'outbox', 'audit'] as const;
export type TableName = (typeof TABLE_NAMES)[number];
export type Tables = Record<TableName, TableClient>;

/**
 * Each HTTP request to the Table service is one billable transaction. The policy
 * counts them per guestpass request (through async context), so tests and the
 * benchmark can pin what an endpoint costs; it also notes when each started and
 * ended, so they can pin how many round trips lie one after another.
 */
interface TransactionScope {
  count: number;
  /** Each call's start and end (performance.now()). */
  calls: [number, number][];
}
const transactionScope = new AsyncLocalStorage<TransactionScope>();

/** Runs one storage call, counted (and timed) in the request's scope when there is one. */
export async function countedCall<T>(call: () => Promise<T>): Promise<T> {
  const scope = transactionScope.getStore();
  if (!scope) return call();
  scope.count += 1;
  const span: [number, number] = [performance.now(), Number.POSITIVE_INFINITY];
  scope.calls.push(span);
  try {
    return await call();
  } finally {
    span[1] = performance.now();
  }
}

const countTransactions: PipelinePolicy = {
  name: 'guestpassTransactionCounter',
  sendRequest: (request, next) => countedCall(() => next(request)),
};

/**
 * A dependency span per Table Storage request (when telemetry is on): the operation and
 * the table, never the keys (a guest partition's key is a digest of an address).
 */
const traceTransactions: PipelinePolicy = {
  name: 'guestpassTableSpans',
  sendRequest(request, next) {
    const path = new URL(request.url).pathname.split('/').filter(Boolean).pop() ?? '';
    const table = /^[A-Za-z0-9]+/.exec(path)?.[0] ?? '';
    return telemetry.dependency('Table', `${request.method} ${table}`, { 'db.system': 'azure.table', 'db.collection.name': table, 'http.request.method': request.method }, () => next(request));
  },
};

/**
 * The round trips that lay one after another: the longest chain of calls each of
 * which started only once the one before it had ended. Calls made together count once.
 */
function roundTripsOf(calls: [number, number][]): number {
  const sorted = [...calls].sort((a, b) => a[0] - b[0]);
  const chain: number[] = [];
  sorted.forEach(([start], i) => {
    chain[i] = 1 + Math.max(0, ...sorted.slice(0, i).map(([, end], j) => (end <= start ? chain[j]! : 0)));
  });
  return Math.max(0, ...chain);
}

export async function countingTransactions<T>(work: () => Promise<T>): Promise<{ result: T; transactions: number; roundTrips: number }> {
  const scope: TransactionScope = { count: 0, calls: [] };
  const result = await transactionScope.run(scope, work);
  return { result, transactions: scope.count, roundTrips: roundTripsOf(scope.calls) };
}

export type CredentialFactory = (clientId?: string) => import('@azure/core-auth').TokenCredential;

/**
 * A Table Storage that accepts connections but never answers must not hold a
 * request until the Functions timeout: each try gets STORAGE_TIMEOUT_SECONDS, and a
 * try that runs out becomes a retriable network error (ETIMEDOUT) instead of the
 * pipeline's AbortError. With two retries a request gives up after about
 * 3 x timeout + 1.2 s and answers 503 storage_unavailable.
 */
function timeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'guestpassStorageTimeout',
    async sendRequest(request, next) {
      const oneTry = request.headers.has(ONE_TRY_HEADER);
      request.headers.delete(ONE_TRY_HEADER);
      // A write tried once waits as long as one tried STORAGE_TRIES times would.
      if (!request.timeout) request.timeout = oneTry ? timeoutMs * STORAGE_TRIES : timeoutMs;
      try {
        return await next(request);
      } catch (error) {
        if ((error as Error)?.name === 'AbortError' && !request.abortSignal?.aborted) {
          const timedOut = new RestError(`Table Storage did not answer within ${timeoutMs} ms`, { code: 'ETIMEDOUT', request });
          // Not tried again: a try that timed out may still land later (see ONE_TRY_HEADER).
          if (oneTry) throw new GuestpassError('storage_unavailable', { cause: timedOut });
          throw timedOut;
        }
        throw error;
      }
    },
  };
}

/**
 * Marks a write that must not be tried again after a time-out (pass it in
 * `requestOptions.customHeaders`; it never reaches storage): a try that timed out may
 * still land after the call has given up, and, tried again, after the call has taken
 * its write back; an insert that a refusal takes back (a client address's slot) would
 * then come back. Tried once, with the time all tries would have had, a call that still
 * gets no answer answers 503 and leaves at most that one row.
 */
export const ONE_TRY_HEADER = 'x-guestpass-one-try';
/** How often a storage request is tried at most. */
const STORAGE_TRIES = 3;

export function openTables(storage: Config['storage'], credentialFactory?: CredentialFactory): Tables {
  const options: TableServiceClientOptions = {
    additionalPolicies: [
      { policy: countTransactions, position: 'perRetry' },
      { policy: traceTransactions, position: 'perRetry' },
      { policy: timeoutPolicy((storage.timeoutSeconds ?? 5) * 1000), position: 'perRetry' },
    ],
    // Bounded: at most three tries, 200 ms then 400 ms apart (capped at 1 s).
    retryOptions: { maxRetries: STORAGE_TRIES - 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  };
  let open: (tableName: string) => TableClient;
  let service: () => TableServiceClient;
  if (storage.endpoint) {
    if (!credentialFactory) throw new Error('TABLES_ENDPOINT needs a credential factory');
    const endpoint = storage.endpoint;
    // One credential for every table, so they share its token cache.
    const credential = credentialFactory(storage.managedIdentityClientId);
    // The SDK sends a bearer token over TLS only (an http:// endpoint fails every request).
    open = (tableName) => new TableClient(endpoint, tableName, credential, options);
    service = () => new TableServiceClient(endpoint, credential, options);
  } else {
    const insecure = /UseDevelopmentStorage=true|=http:\/\//i.test(storage.connectionString);
    open = (tableName) => TableClient.fromConnectionString(storage.connectionString, tableName, { ...options, allowInsecureConnection: insecure });
    service = () => TableServiceClient.fromConnectionString(storage.connectionString, { ...options, allowInsecureConnection: insecure });
  }
  const tables = Object.fromEntries(TABLE_NAMES.map((name) => [name, open(`${storage.tablePrefix}${name}`)])) as Tables;
  // Under a symbol key, so a copy of the set (`{ ...tables, guests: wrapped }`) still knows how to open more.
  (tables as Tables & { [OPENER]?: TableOpener })[OPENER] = { prefix: storage.tablePrefix, open, service };
  return tables;
}

/** How to open more tables (the tables of a day) beside a set of table clients, with the same credential and policies. */
interface TableOpener {
  prefix: string;
  open: (tableName: string) => TableClient;
  service: () => TableServiceClient;
}

const OPENER = Symbol('guestpass table opener');

/** A copy of a set of table clients with each client mapped (tests wrap their methods), keeping how to open more. */
export function mapTables(tables: Tables, map: (client: TableClient) => TableClient): Tables {
  const copy = Object.fromEntries(Object.entries(tables).map(([name, client]) => [name, map(client)])) as Tables;
  (copy as Tables & { [OPENER]?: TableOpener })[OPENER] = tableOpener(tables);
  return copy;
}

export function tableOpener(tables: Tables): TableOpener {
  const opener = (tables as Tables & { [OPENER]?: TableOpener })[OPENER];
  if (!opener) throw new Error('these tables were not opened by openTables');
  return opener;
}

const tablesReady = new WeakMap<Tables, Promise<void>>();

/**
 * Creates the tables once per set of table clients (the app has one per process;
 * tests open several, with other prefixes); a failed attempt is tried again later.
 */
export function ensureTables(tables: Tables): Promise<void> {
  let ready = tablesReady.get(tables);
  if (!ready) {
    ready = Promise.all(Object.values(tables).map((table) => table.createTable()))
      .then(() => undefined)
      .catch((error) => {
        tablesReady.delete(tables);
        throw error;
      });
    tablesReady.set(tables, ready);
  }
  return ready;
}

/** A stable, key-safe digest (base64url has none of `/ \ # ?`). */
export function keyDigest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** The partition that holds one guest's row, code, sessions and sign-in log, keyed by the normalised email. */
export function guestPartition(tenantId: string, normalisedEmail: string): string {
  return `${tenantId}_${keyDigest(normalisedEmail)}`;
}

/** Row keys that sort newest first, for logs and outboxes. */
export function newestFirstKey(atMs: number, suffix: string): string {
  return `${String(8_640_000_000_000_000 - atMs).padStart(16, '0')}_${suffix}`;
}

/**
 * A JSON list kept in a table property (times, tags, a code's records): the items
 * `isItem` accepts, and an empty list for anything unreadable, so a damaged row never
 * fails a request.
 */
export function parseJsonList<T>(json: string | undefined, isItem: (item: unknown) => item is T): T[] {
  try {
    const parsed = JSON.parse(json ?? '[]') as unknown;
    return Array.isArray(parsed) ? parsed.filter(isItem) : [];
  } catch {
    return [];
  }
}

export const isString = (item: unknown): item is string => typeof item === 'string';

export function isStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof RestError && statuses.includes(error.statusCode ?? -1);
}

/**
 * Turns a failure to reach Table Storage into 503 storage_unavailable; everything
 * else keeps its own meaning.
 */
export function asStorageFailure(error: unknown): unknown {
  if (error instanceof GuestpassError) return error;
  if (error instanceof RestError) {
    const status = error.statusCode;
    if (status === undefined || status === 408 || status === 500 || status === 503 || status === 504) {
      return new GuestpassError('storage_unavailable', { retryAfterSeconds: 5 });
    }
  }
  return error;
}

export function escapeOData(value: string): string {
  return value.replace(/'/g, "''");
}
