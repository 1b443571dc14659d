import { sendQueuedMailsNow } from '../lib/mail/queue.js';
import { request as httpRequest, Agent } from 'node:http';
import { randomUUID } from 'node:crypto';
import { TableServiceClient, TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { cleanupExpired } from '../lib/storage/cleanup.js';
import { sendCode } from '../lib/signin/sendCode.js';
import { verifyCode } from '../lib/signin/verifyCode.js';
import { loadConfig } from '../lib/config.js';
import { listGuests } from '../lib/guests/guestLifecycle.js';
import { ADDRESS_PREFIX, ATTEMPT_PREFIX, LOG_PREFIX, OTP_ROW, SESSION_PREFIX } from '../lib/guests/guests.js';
import { inviteGuest } from '../lib/guests/invitations.js';
import { listOutbox } from '../lib/mail/outbox.js';
import { createRuntime, type Runtime } from '../lib/runtime.js';
import { createTenantBody, invitationBody, listGuestsQuery } from '../lib/schemas.js';
import { countingTransactions, ensureTables, guestPartition, newestFirstKey } from '../lib/storage/tables.js';
import { createTenant as createTenantOp } from '../lib/tenants/tenants.js';
import { noteExpiry } from '../lib/storage/expiryIndex.js';
import type { ServerProcess, SlowSendGrid } from './benchHarness.js';

/*
 * The abuse measurements of `npm run bench` (issue 11): what a refused call costs,
 * how many rows an anonymous call leaves, what cleanup costs per expired row as the
 * tables grow, what a filtered guest listing reads beside strangers' rows, and how a
 * real guest fares while many addresses flood the instance.
 * Client addresses are loopback addresses the requests are bound to (the local host
 * takes the socket address as the client's, as Azure's front end does).
 */

export interface AbuseFigures {
  refused: { calls: number; maxTransactions: number; meanTransactions: number; rowsWritten: number };
  anonymous: { calls: number; rowsPerCall: number };
  cleanup: { stored: number; expired: number; transactions: number; perExpiredRow: number }[];
  /** A guest listing filtered by state, with 0 and with many stranger rows in the tenant's range. */
  listing: { strangerRows: number; guests: number; matching: number; rowsRead: number; transactions: number }[];
  /** A flood while the tenant's ceilings still admit it: every flood call is served and writes. */
  flood: FloodFigures;
  /** A flood that has gone on past the tenant's ceilings: what a sustained flood meets. */
  sustainedFlood: FloodFigures;
  /** Each kind of guest address timed beside a never-seen address (DESIGN §4, no oracle). */
  oracle: OracleTiming[];
}

export interface FloodFigures {
  quietP50Ms: number;
  floodP50Ms: number;
  ratio: number;
  floodCalls: number;
  floodCallsPerSecond: number;
  /** Of the flood calls measured, the share held back: 429 (refused by a limit or a ceiling) or 428 (a step-up asked). */
  refusedShare: number;
  hostCpuUsPerFloodCall: number;
  azuriteCpuUsPerFloodCall: number;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  transactions: number;
}

const agents = new Map<string, Agent>();

/** A POST bound to a loopback client address, with keep-alive per address. */
export function postFrom(baseUrl: string, from: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(`${baseUrl}/api${path}`);
  let agent = agents.get(from);
  if (!agent) agents.set(from, (agent = new Agent({ keepAlive: true, localAddress: from, maxSockets: 4 })));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
            transactions: Number(res.headers['x-guestpass-storage-transactions'] ?? Number.NaN),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** 127.0.<10+>.<1..250>: the n-th attacking address. */
export const attackerAddress = (n: number) => `127.0.${10 + Math.floor(n / 250)}.${1 + (n % 250)}`;

/** Every row of every table whose name starts with the prefix (but the tenants table). */
async function rowsUnder(connectionString: string, prefix: string): Promise<number> {
  const service = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  let rows = 0;
  for await (const table of service.listTables()) {
    if (!table.name?.startsWith(prefix) || table.name === `${prefix}tenants`) continue;
    const client = TableClient.fromConnectionString(connectionString, table.name, { allowInsecureConnection: true });
    for await (const _ of client.listEntities({ queryOptions: { select: ['RowKey'] } })) rows += 1;
  }
  return rows;
}

/**
 * On a development host with the default per-address limits: `calls` refused calls
 * from one address (send-code and verify-code in turn, past its limits) — their
 * transactions (the development header) and the rows they left; and `calls`
 * admitted stranger send-codes and wrong verify-codes from as many addresses — rows per call.
 */
export async function refusedAndAnonymousCost(devHost: ServerProcess, tenantId: string, connectionString: string, prefix: string, calls: number) {
  const from = '127.0.9.1';
  for (let i = 0; i < 200 && (await postFrom(devHost.baseUrl, from, `/${tenantId}/send-code`, { email: `fill-${i}@strangers.bench.test` })).status === 202; i += 1);
  for (let i = 0; i < 60 && (await postFrom(devHost.baseUrl, from, `/${tenantId}/verify-code`, { email: `fill-${i}@strangers.bench.test`, code: '12345678' })).status === 401; i += 1);
  const rowsBefore = await rowsUnder(connectionString, prefix);
  const transactions: number[] = [];
  for (let i = 0; i < calls; i += 1) {
    const endpoint = i % 2 ? 'send-code' : 'verify-code';
    const email = `refused-${i}@strangers.bench.test`;
    const answer = await postFrom(devHost.baseUrl, from, `/${tenantId}/${endpoint}`, endpoint === 'send-code' ? { email } : { email, code: '12345678' });
    if (answer.status !== 429) throw new Error(`a call past the limits answered ${answer.status}`);
    transactions.push(answer.transactions);
  }
  const rowsAfterRefused = await rowsUnder(connectionString, prefix);

  // Admitted anonymous calls: each address asks a code for a stranger and sends one wrong code.
  for (let i = 0; i < calls / 2; i += 1) {
    const address = attackerAddress(2000 + i);
    const sent = await postFrom(devHost.baseUrl, address, `/${tenantId}/send-code`, { email: `anon-${i}@strangers.bench.test` });
    await postFrom(devHost.baseUrl, address, `/${tenantId}/verify-code`, { email: `anon-${i}@strangers.bench.test`, code: '12345678', attempt: sent.body.attempt });
  }
  const rowsAfterAnonymous = await rowsUnder(connectionString, prefix);
  return {
    refused: {
      calls,
      maxTransactions: Math.max(...transactions),
      meanTransactions: transactions.reduce((a, b) => a + b, 0) / transactions.length,
      rowsWritten: rowsAfterRefused - rowsBefore,
    },
    anonymous: { calls, rowsPerCall: (rowsAfterAnonymous - rowsAfterRefused) / calls },
  };
}

/** A runtime of its own on the bench's Azurite (tables under a new prefix), its clock stopped at `now`. */
async function benchRuntime(connectionString: string, prefix: string, now: number): Promise<Runtime> {
  const tablePrefix = `${prefix}${Math.floor(Math.random() * 1e6)}`;
  const config = loadConfig({
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    TABLES_CONNECTION_STRING: connectionString,
    TABLE_PREFIX: tablePrefix,
    // Its mail (a sign-in's code) is queued on the bench's Azurite; no trigger sends it.
    AzureWebJobsStorage: connectionString,
    MAIL_QUEUE_NAME: `${tablePrefix.toLowerCase()}-mail`,
    EMAIL_TRANSPORT: 'outbox',
    RESEND_COOLDOWN_SECONDS: '0',
  }, () => undefined);
  const rt = createRuntime(config, { now: () => now });
  await ensureTables(rt.tables);
  return rt;
}

/**
 * Cleanup over `stored` rows of which 100 expired, in a runtime of its own on the
 * bench's Azurite with a clock set past their expiry: the Table transactions of one run.
 */
export async function cleanupCost(connectionString: string, stored: number): Promise<AbuseFigures['cleanup'][number]> {
  const now = Date.now();
  const rt = await benchRuntime(connectionString, `benchclean${stored}`, now);
  const expired = 100;
  const rows: TableEntity[] = [];
  for (let i = 0; i < stored - expired; i += 1) {
    rows.push({ partitionKey: `tenant_live${i % 1000}`, rowKey: LOG_PREFIX + newestFirstKey(now - i, `l${i}`), expiresAt: new Date(now + 7 * 86_400_000) });
  }
  for (let i = 0; i < expired; i += 1) {
    rows.push({ partitionKey: `tenant_gone${i % 10}`, rowKey: `${i % 2 ? SESSION_PREFIX : LOG_PREFIX}${i}`, expiresAt: new Date(now - 2 * 3_600_000) });
  }
  const byPartition = new Map<string, TableEntity[]>();
  for (const row of rows) byPartition.set(row.partitionKey, [...(byPartition.get(row.partitionKey) ?? []), row]);
  const batches: TableEntity[][] = [];
  for (const group of byPartition.values()) for (let i = 0; i < group.length; i += 100) batches.push(group.slice(i, i + 100));
  for (let i = 0; i < batches.length; i += 16) {
    await Promise.all(batches.slice(i, i + 16).map((batch) => rt.tables.guests.submitTransaction(batch.map((row): TransactionAction => ['create', row]))));
  }
  // As the app notes them: each partition for its earliest expiry.
  for (const [partitionKey, group] of byPartition) await noteExpiry(rt, partitionKey, Math.min(...group.map((r) => (r.expiresAt as Date).getTime())));
  const { result, transactions } = await countingTransactions(() => cleanupExpired(rt));
  if (result.deleted !== expired) throw new Error(`cleanup deleted ${result.deleted} of ${expired} expired rows`);
  return { stored, expired, transactions, perExpiredRow: transactions / expired };
}

/** Counts the Table rows (entities) a table client receives from now on: query results and point reads. */
export function countRowsRead(client: TableClient): { rows: number } {
  const counter = { rows: 0 };
  client.pipeline.addPolicy({
    name: 'benchRowsRead',
    async sendRequest(request, next) {
      const response = await next(request);
      if (request.method === 'GET' && response.status === 200 && response.bodyAsText) {
        const body = JSON.parse(response.bodyAsText) as { value?: unknown[] };
        counter.rows += Array.isArray(body.value) ? body.value.length : 1;
      }
      return response;
    },
  });
  return counter;
}

/**
 * What strangers leave in a tenant's guest partitions, written directly: for each address
 * that is no guest, the rows send-code and verify-code write (the guest-wide row, an
 * attempt, the client address's row, a log row), four rows a stranger.
 */
export async function writeStrangerRows(rt: Runtime, tenantId: string, strangers: number): Promise<void> {
  const now = rt.now();
  const expiresAt = new Date(now + 3_600_000);
  const writeOne = async (i: number) => {
    const partitionKey = guestPartition(tenantId, `stranger${i}@flood.example`);
    await rt.tables.guests.submitTransaction([
      ['create', { partitionKey, rowKey: OTP_ROW, strangerTimes: JSON.stringify([now]), expiresAt }],
      ['create', { partitionKey, rowKey: ATTEMPT_PREFIX + randomUUID(), address: 'tag', codes: '[]', usedHashes: '[]', failures: 1, lastSentAt: now, expiresAt }],
      ['create', { partitionKey, rowKey: `${ADDRESS_PREFIX}tag`, sendTimes: JSON.stringify([now]), failTimes: JSON.stringify([now]), expiresAt }],
      ['create', { partitionKey, rowKey: LOG_PREFIX + newestFirstKey(now, randomUUID()), tenantId, guestId: '', event: 'send-code', outcome: 'code_sent', at: new Date(now).toISOString(), expiresAt }],
    ]);
  };
  for (let start = 0; start < strangers; start += 50) {
    await Promise.all(Array.from({ length: Math.min(50, strangers - start) }, (_, offset) => writeOne(start + offset)));
  }
}

/**
 * A guest listing filtered by state (`state=Accepted`, 10 of 20 guests) in a runtime of
 * its own, with `strangerRows` stranger rows in the tenant's range: the Table rows and
 * transactions of one page, once the tenant's index is built.
 */
export async function guestListingCost(connectionString: string, strangerRows: number): Promise<AbuseFigures['listing'][number]> {
  const rt = await benchRuntime(connectionString, 'benchlist', Date.now());
  const tenant = await createTenantOp(rt, createTenantBody.parse({ displayName: 'Listing', redirectUris: ['https://app.contoso.test/'] }));
  const guests = Array.from({ length: 20 }, (_, i) => `listed${String(i).padStart(2, '0')}@example.test`);
  for (const email of guests) await inviteGuest(rt, tenant.id, invitationBody.parse({ invitedUserEmailAddress: email, inviteRedirectUrl: 'https://app.contoso.test/' }));
  const accepted = guests.filter((_, i) => i % 2 === 0);
  for (const [i, email] of accepted.entries()) {
    const clientIp = `203.0.113.${i + 1}`;
    await sendCode(rt, { tenant: tenant.id, email, clientIp });
    await sendQueuedMailsNow(rt);
    const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 }, rt.now());
    await verifyCode(rt, { tenant: tenant.id, email, code: /\b(\d{8})\b/.exec(mail!.text)![1]!, clientIp });
  }
  await writeStrangerRows(rt, tenant.id, strangerRows / 4);
  const query = listGuestsQuery.parse({ state: 'Accepted' });
  // The first listing builds the tenant's index (one scan, once); the second is what every later one costs.
  await listGuests(rt, tenant.id, query);
  const counter = countRowsRead(rt.tables.guests);
  const { result, transactions } = await countingTransactions(() => listGuests(rt, tenant.id, query));
  if (result.value.length !== accepted.length) throw new Error(`the listing found ${result.value.length} of ${accepted.length} guests`);
  return { strangerRows, guests: guests.length, matching: result.value.length, rowsRead: counter.rows, transactions };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * A real guest's sign-in (send-code, then verify-code with its attempt) from its own
 * address, once per guest quiet and once per guest while `attackers` addresses flood
 * the same instance with stranger send-codes and wrong verify-codes. With
 * `pastTheCeilings`, the flood first goes on until the tenant's ceilings
 * (TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR, TENANT_FAILED_VERIFICATIONS_PER_DAY) refuse nearly
 * all of it, the state a flood that lasts meets, and only then is measured.
 */
export async function floodRatio(
  host: ServerProcess,
  tenantId: string,
  guests: string[],
  sendGrid: SlowSendGrid,
  azuriteCpuMs: () => number,
  options: { attackers: number; concurrency: number; pastTheCeilings?: boolean },
): Promise<FloodFigures> {
  const guestAddress = '127.0.8.1';
  const signIn = async (email: string) => {
    const started = performance.now();
    const since = Date.now();
    const sent = await postFrom(host.baseUrl, guestAddress, `/${tenantId}/send-code`, { email });
    if (sent.status !== 202) throw new Error(`guest send-code answered ${sent.status}`);
    const code = await sendGrid.codeSince(email, since);
    const verified = await postFrom(host.baseUrl, guestAddress, `/${tenantId}/verify-code`, { email, code, attempt: sent.body.attempt });
    if (verified.status !== 200) throw new Error(`guest verify-code answered ${verified.status} ${JSON.stringify(verified.body)}`);
    return performance.now() - started;
  };
  // Each guest signs in once from its own address first, as a returning guest would have.
  for (const email of guests) await signIn(email);
  const quiet: number[] = [];
  for (const email of guests) quiet.push(await signIn(email));

  let flooding = true;
  let measuring = !options.pastTheCeilings;
  let floodCalls = 0;
  let refusedCalls = 0;
  let n = 0;
  // The last answers of the warm-up: held back or not. Past the tenant's ceilings a flood's send-codes are
  // refused (429) and its wrong codes asked for a step-up (428, never a refusal: DESIGN §4); both do no work.
  const heldBack = (status: number | undefined) => status === 429 || status === 428;
  const recent: boolean[] = [];
  const call = async (address: string, path: string, body: Record<string, unknown>) => {
    const answer = await postFrom(host.baseUrl, address, path, body).catch(() => undefined);
    if (measuring) {
      floodCalls += 1;
      if (heldBack(answer?.status)) refusedCalls += 1;
    } else {
      recent.push(heldBack(answer?.status));
      if (recent.length > 100) recent.shift();
    }
    return answer;
  };
  const attacker = async () => {
    while (flooding) {
      const i = n++;
      const address = attackerAddress(i % options.attackers);
      const email = `flood-${i}@strangers.bench.test`;
      const sent = await call(address, `/${tenantId}/send-code`, { email });
      await call(address, `/${tenantId}/verify-code`, { email, code: '12345678', attempt: sent?.body.attempt });
    }
  };
  const attackers = Array.from({ length: options.concurrency }, attacker);
  if (options.pastTheCeilings) {
    // On until the tenant's ceilings refuse nearly every flood call (at most a minute).
    const until = performance.now() + 60_000;
    while (performance.now() < until && !(recent.length === 100 && recent.filter(Boolean).length >= 95)) await new Promise((r) => setTimeout(r, 200));
    measuring = true;
  }
  const cpuBefore = { host: host.cpuMs(), azurite: azuriteCpuMs() };
  const floodStarted = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  const loud: number[] = [];
  for (const email of guests) loud.push(await signIn(email));
  const floodMs = performance.now() - floodStarted;
  const cpu = { host: host.cpuMs() - cpuBefore.host, azurite: azuriteCpuMs() - cpuBefore.azurite };
  measuring = false;
  flooding = false;
  await Promise.all(attackers);
  const quietP50Ms = median(quiet);
  const floodP50Ms = median(loud);
  return {
    quietP50Ms,
    floodP50Ms,
    ratio: floodP50Ms / quietP50Ms,
    floodCalls,
    floodCallsPerSecond: floodCalls / (floodMs / 1000),
    refusedShare: refusedCalls / floodCalls,
    hostCpuUsPerFloodCall: (cpu.host * 1000) / floodCalls,
    azuriteCpuUsPerFloodCall: (cpu.azurite * 1000) / floodCalls,
  };
}

/** Long enough for the send-mail trigger to take a queued mail and the fake SendGrid to answer it (polled every 100 ms, answered in 100 ms). */
const MAIL_SETTLES_MS = 300;

/** A kind of address and its timing beside a never-seen address's: median of the differences, per endpoint. */
export interface OracleTiming {
  kind: string;
  tries: number;
  sendMedianMs: number;
  verifyMedianMs: number;
}

/**
 * No oracle by timing (DESIGN §4): from an address none of them signed in from, send-code
 * and a wrong verify-code for an invited, an accepted and an admin-blocked guest, each
 * call timed beside the same call for a never-seen address of its own, interleaved, in a
 * clean environment; the medians of the differences. The host must not hold repeated
 * calls back (no cooldown, roomy ceilings): every call is answered 202, then 401.
 */
export async function oracleTiming(host: ServerProcess, functionKey: string, tenantId: string, sendGrid: SlowSendGrid, tries: number): Promise<OracleTiming[]> {
  const manage = (path: string, method: string, body: unknown) =>
    fetch(`${host.baseUrl}/api/manage${path}`, { method, headers: { 'x-functions-key': functionKey, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const inviteOne = async (email: string) => {
    const answer = await manage(`/tenants/${tenantId}/invitations`, 'POST', { invitedUserEmailAddress: email, inviteRedirectUrl: 'https://app.bench.test/', sendInvitationMessage: false });
    if (answer.status !== 201) throw new Error(`invitation answered ${answer.status}`);
    return ((await answer.json()) as { invitedUser: { id: string } }).invitedUser.id;
  };
  // The accepted and the blocked guest signed in from an address of their own.
  const home = '127.0.5.1';
  const signInFromHome = async (email: string) => {
    const since = Date.now();
    const sent = await postFrom(host.baseUrl, home, `/${tenantId}/send-code`, { email });
    const verified = await postFrom(host.baseUrl, home, `/${tenantId}/verify-code`, { email, code: await sendGrid.codeSince(email, since), attempt: sent.body.attempt });
    if (verified.status !== 200) throw new Error(`a guest's sign-in answered ${verified.status}`);
  };
  await inviteOne('oracle-invited@guests.bench.test');
  await inviteOne('oracle-accepted@guests.bench.test');
  await signInFromHome('oracle-accepted@guests.bench.test');
  const blocked = await inviteOne('oracle-blocked@guests.bench.test');
  await signInFromHome('oracle-blocked@guests.bench.test');
  const patched = await manage(`/tenants/${tenantId}/users/${blocked}`, 'PATCH', { accountEnabled: false });
  if (patched.status !== 200) throw new Error(`blocking sign-in answered ${patched.status}`);

  const probe = '127.0.5.9';
  const kinds = ['invited', 'accepted', 'blocked'].map((kind, i) => ({ kind, email: `oracle-${kind}@guests.bench.test`, beside: `oracle-never-seen-${i}@guests.bench.test` }));
  const call = async (email: string) => {
    let started = performance.now();
    const sent = await postFrom(host.baseUrl, probe, `/${tenantId}/send-code`, { email });
    const send = performance.now() - started;
    // The send-mail trigger takes the queued mail in this host's process (a guest's goes to
    // SendGrid, a stranger's is dropped): no timed call runs beside that work.
    await new Promise((resolve) => setTimeout(resolve, MAIL_SETTLES_MS));
    started = performance.now();
    const verified = await postFrom(host.baseUrl, probe, `/${tenantId}/verify-code`, { email, code: '00000000', attempt: sent.body.attempt });
    const verify = performance.now() - started;
    if (sent.status !== 202 || verified.status !== 401) throw new Error(`an oracle probe answered ${sent.status}, ${verified.status}`);
    return { send, verify };
  };
  const differences = new Map(kinds.map(({ kind }) => [kind, { send: [] as number[], verify: [] as number[] }]));
  // Every path warmed once, then the kinds interleaved in a new order each round, each
  // beside its own never-seen address, which goes first every other round.
  for (const { email, beside } of kinds) {
    await call(email);
    await call(beside);
  }
  for (let round = 0; round < tries; round += 1) {
    for (const { kind, email, beside } of [...kinds].sort(() => Math.random() - 0.5)) {
      const first = await call(round % 2 ? beside : email);
      const second = await call(round % 2 ? email : beside);
      const [own, base] = round % 2 ? [second, first] : [first, second];
      differences.get(kind)!.send.push(own.send - base.send);
      differences.get(kind)!.verify.push(own.verify - base.verify);
    }
  }
  return kinds.map(({ kind }) => ({ kind, tries, sendMedianMs: median(differences.get(kind)!.send), verifyMedianMs: median(differences.get(kind)!.verify) }));
}
