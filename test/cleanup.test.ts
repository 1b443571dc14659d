import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import type { Timer } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanupExpired, deleteExpiredRows, MAX_BATCH } from '../lib/storage/cleanup.js';
import { sendCode } from '../lib/signin/sendCode.js';
import { verifyCode } from '../lib/signin/verifyCode.js';
import { GUEST_ROW, LOG_PREFIX, OTP_ROW, SESSION_PREFIX } from '../lib/guests/guests.js';
import { indexPartition } from '../lib/guests/guestIndex.js';
import { inviteGuest } from '../lib/guests/invitations.js';
import { listOutbox } from '../lib/mail/outbox.js';
import { createTenantBody, invitationBody } from '../lib/schemas.js';
import type { Runtime } from '../lib/runtime.js';
import { countingTransactions, newestFirstKey, tableOpener } from '../lib/storage/tables.js';
import { dayTable } from '../lib/storage/dayTables.js';
import { noteExpiry } from '../lib/storage/expiryIndex.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { everyNMinutes, startTimers } from '../scripts/localHost.js';
import { REDIRECT_URI, sendQueuedMails, testRuntime } from './helpers.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A runtime on the shared Azurite whose clock the test moves. */
async function clockedRuntime() {
  const clock = { now: T0 };
  const rt = await testRuntime({}, { now: () => clock.now });
  return { rt, clock };
}

async function insertAll(table: TableClient, rows: TableEntity[]): Promise<void> {
  const byPartition = new Map<string, TableEntity[]>();
  for (const row of rows) byPartition.set(row.partitionKey, [...(byPartition.get(row.partitionKey) ?? []), row]);
  const batches: TableEntity[][] = [];
  for (const group of byPartition.values()) {
    for (let i = 0; i < group.length; i += MAX_BATCH) batches.push(group.slice(i, i + MAX_BATCH));
  }
  for (let i = 0; i < batches.length; i += 16) {
    await Promise.all(batches.slice(i, i + 16).map((batch) => table.submitTransaction(batch.map((row): TransactionAction => ['create', row]))));
  }
}

async function allRows(table: TableClient): Promise<(TableEntity & { expiresAt?: Date })[]> {
  const rows: (TableEntity & { expiresAt?: Date })[] = [];
  for await (const row of table.listEntities<{ expiresAt?: Date }>()) rows.push(row as TableEntity & { expiresAt?: Date });
  return rows;
}

const at = (ms: number) => new Date(ms);

/** Inserts rows into guest partitions as the app does: each partition noted in the expiry index for its earliest expiry. */
async function insertNoted(rt: Runtime, rows: TableEntity[]): Promise<void> {
  await insertAll(rt.tables.guests, rows);
  const earliest = new Map<string, number>();
  for (const row of rows) {
    const expiresAt = (row as { expiresAt?: Date }).expiresAt;
    if (expiresAt) earliest.set(row.partitionKey, Math.min(earliest.get(row.partitionKey) ?? Infinity, expiresAt.getTime()));
  }
  const notes = [...earliest].map(([partitionKey, expiresAt]) => () => noteExpiry(rt, partitionKey, expiresAt));
  for (let i = 0; i < notes.length; i += 32) await Promise.all(notes.slice(i, i + 32).map((note) => note()));
}

/** The names of this runtime's day tables of one kind. */
async function dayTables(rt: Runtime, kind: string): Promise<string[]> {
  const { prefix, service } = tableOpener(rt.tables);
  const names: string[] = [];
  for await (const table of service().listTables()) if (table.name?.startsWith(`${prefix}${kind}`) && /\d{8}$/.test(table.name)) names.push(table.name);
  return names.sort();
}

describe('cleanup timer', () => {
  it('deletes thousands of expired rows in pages and batches, and every live row survives', async () => {
    const { rt } = await clockedRuntime();
    const expired = at(T0 - MINUTE);
    const live = at(T0 + DAY);

    // 20 busy guests with 150 expired and 5 live sign-in log rows each, and their guest rows (which never expire).
    const busy: TableEntity[] = [];
    for (let g = 0; g < 20; g += 1) {
      const partitionKey = `tenant_busy${g}`;
      busy.push({ partitionKey, rowKey: GUEST_ROW, email: `busy${g}@example.test` });
      for (let i = 0; i < 150; i += 1) busy.push({ partitionKey, rowKey: LOG_PREFIX + newestFirstKey(T0 - DAY - i, `old${i}`), expiresAt: expired });
      for (let i = 0; i < 5; i += 1) busy.push({ partitionKey, rowKey: LOG_PREFIX + newestFirstKey(T0 - i, `new${i}`), expiresAt: live });
    }
    // 200 quiet guests, each with an expired and a live session and an expired guest-wide row.
    const quiet: TableEntity[] = [];
    for (let g = 0; g < 200; g += 1) {
      const partitionKey = `tenant_quiet${g}`;
      quiet.push({ partitionKey, rowKey: GUEST_ROW, email: `quiet${g}@example.test` });
      quiet.push({ partitionKey, rowKey: `${SESSION_PREFIX}old`, expiresAt: expired });
      quiet.push({ partitionKey, rowKey: `${SESSION_PREFIX}new`, expiresAt: live });
      quiet.push({ partitionKey, rowKey: OTP_ROW, strangerTimes: '[]', expiresAt: expired });
    }
    await insertNoted(rt, [...busy, ...quiet]);
    // Rate-limit rows and mail of two days ago, and of today, in their day tables.
    for (const day of [T0 - 2 * DAY, T0]) {
      const limits = await dayTable(rt, 'limits', day);
      await limits.createEntity({ partitionKey: 'ip_x', rowKey: `send-code_${day}`, expiresAt: at(day + HOUR) });
      const outbox = await dayTable(rt, 'outbox', day);
      await outbox.createEntity({ partitionKey: 'outbox', rowKey: newestFirstKey(day, 'm'), subject: 'Your code', expiresAt: at(day + DAY) });
    }

    const { result } = await countingTransactions(() => cleanupExpired(rt));

    expect(result).toMatchObject({ deleted: 20 * 150 + 200 * 2, skipped: 0, partitions: 220, complete: true });
    const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
    expect(result.droppedTables.sort()).toEqual(
      expect.arrayContaining([`${rt.config.storage.tablePrefix}limits${stamp(T0 - 2 * DAY)}`, `${rt.config.storage.tablePrefix}outbox${stamp(T0 - 2 * DAY)}`]),
    );
    expect(await dayTables(rt, 'limits')).toEqual([`${rt.config.storage.tablePrefix}limits${stamp(T0)}`]);

    const guests = await allRows(rt.tables.guests);
    expect(guests).toHaveLength(20 * (1 + 5) + 200 * 2);
    expect(guests.every((row) => row.expiresAt === undefined || row.expiresAt.getTime() > T0)).toBe(true);

    // A second run finds nothing left to do, and starts where the first stopped.
    const again = await cleanupExpired(rt);
    expect({ deleted: again.deleted, hours: again.hours }).toEqual({ deleted: 0, hours: 0 });
  });

  it('costs the same transactions over 10,000 stored rows as over 1,000 when the same 100 rows expired', async () => {
    const cost = async (stored: number) => {
      const { rt } = await clockedRuntime();
      const live = at(T0 + 7 * DAY);
      const rows: TableEntity[] = [];
      // The live rows: guests with sign-in log rows that expire next week.
      for (let i = 0; i < stored - 100; i += 1) rows.push({ partitionKey: `tenant_live${i % 500}`, rowKey: LOG_PREFIX + newestFirstKey(T0 - i, `l${i}`), expiresAt: live });
      // The 100 rows that expired: 10 guests' logs and sessions.
      for (let i = 0; i < 100; i += 1) rows.push({ partitionKey: `tenant_gone${i % 10}`, rowKey: `${i % 2 ? SESSION_PREFIX : LOG_PREFIX}${i}`, expiresAt: at(T0 - 2 * HOUR) });
      await insertNoted(rt, rows);
      // The live rows were noted for next week; a run now reads only the hours that passed.
      const { result, transactions } = await countingTransactions(() => cleanupExpired(rt));
      expect(result.deleted).toBe(100);
      return transactions;
    };
    const small = await cost(1_000);
    const large = await cost(10_000);
    expect(large).toBe(small);
    // About one transaction per expired row at most: 10 partitions read, batches of their rows deleted.
    expect(small).toBeLessThanOrEqual(100);
  }, 120_000);

  it('deletes a row whose expiry has just passed and keeps one that expires now or later', async () => {
    const { rt, clock } = await clockedRuntime();
    await insertNoted(rt, [
      { partitionKey: 'edge', rowKey: `${SESSION_PREFIX}past`, expiresAt: at(T0 - 1) },
      { partitionKey: 'edge', rowKey: `${SESSION_PREFIX}now`, expiresAt: at(T0 + HOUR) },
      { partitionKey: 'edge', rowKey: `${SESSION_PREFIX}later`, expiresAt: at(T0 + HOUR + 1) },
    ]);
    clock.now = T0 + HOUR;
    const report = await cleanupExpired(rt);
    expect(report.deleted).toBe(1);
    expect((await allRows(rt.tables.guests)).map((row) => row.rowKey).sort()).toEqual([`${SESSION_PREFIX}later`, `${SESSION_PREFIX}now`]);
  });

  it('leaves a code row alone when it was rewritten after it was found expired', async () => {
    const { rt } = await clockedRuntime();
    const table = rt.tables.guests;
    await table.createEntity({ partitionKey: 'race', rowKey: OTP_ROW, codeAttempts: 0, expiresAt: at(T0 - HOUR) });
    const found = await table.getEntity('race', OTP_ROW);
    // send-code writes a fresh code between the cleanup's read and its delete.
    await table.updateEntity({ partitionKey: 'race', rowKey: OTP_ROW, codeHash: 'fresh', expiresAt: at(T0 + 30 * MINUTE) }, 'Merge', { etag: found.etag });

    const outcome = await deleteExpiredRows(table, [{ partitionKey: 'race', rowKey: OTP_ROW, etag: found.etag }]);

    expect(outcome).toEqual({ deleted: 0, skipped: 1 });
    expect((await table.getEntity<{ codeHash: string }>('race', OTP_ROW)).codeHash).toBe('fresh');
  });

  it('still deletes the rest of a batch when one of its rows was deleted meanwhile', async () => {
    const { rt } = await clockedRuntime();
    const table = rt.tables.guests;
    const rows = Array.from({ length: 5 }, (_, i) => ({ partitionKey: 'gone', rowKey: `${SESSION_PREFIX}${i}`, expiresAt: at(T0 - HOUR) }));
    await insertAll(table, rows);
    const found = await allRows(table);
    await table.deleteEntity('gone', `${SESSION_PREFIX}2`); // a sign-out

    const outcome = await deleteExpiredRows(
      table,
      found.map((row) => ({ partitionKey: row.partitionKey, rowKey: row.rowKey, etag: row.etag as string })),
      () => true,
    );

    expect(outcome).toEqual({ deleted: 4, skipped: 1 });
    expect(await allRows(table)).toHaveLength(0);
  });

  it('removes what a real sign-in leaves behind, each kind of row when its time has passed', async () => {
    const { rt, clock } = await clockedRuntime();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Contoso', redirectUris: [REDIRECT_URI] }));
    const email = 'ada@example.test';
    await inviteGuest(rt, tenant.id, invitationBody.parse({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI }));
    const { attempt } = await sendCode(rt, { tenant: tenant.id, email, clientIp: '203.0.113.7' });
    await sendQueuedMails(rt);
    const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 }, clock.now);
    const code = /\b(\d{8})\b/.exec(mail!.text)![1]!;
    await verifyCode(rt, { tenant: tenant.id, email, code, attempt, clientIp: '203.0.113.7' });

    const kinds = async () => {
      // The guest's partition; the tenant's guest index (a partition of its own) lives as long as its guests.
      const keys = (await allRows(rt.tables.guests)).filter((row) => row.partitionKey !== indexPartition(tenant.id)).map((row) => row.rowKey.replace(/_.*/, '_'));
      return {
        guests: [...new Set(keys)].sort(),
        limits: (await dayTables(rt, 'limits')).length,
        outbox: (await dayTables(rt, 'outbox')).length,
        mail: (await dayTables(rt, 'mail')).length,
      };
    };
    // limits: the day's table (per-address rows and the tenant's mail count); mail: the day's table with the code mail's delivery row.
    expect(await kinds()).toEqual({ guests: ['address_', 'attempt_', GUEST_ROW, LOG_PREFIX, OTP_ROW, SESSION_PREFIX], limits: 1, outbox: 1, mail: 1 });

    clock.now = T0 + 2 * HOUR; // the attempt and the per-address row are past their time
    await cleanupExpired(rt);
    // The guest-wide row counts the day's compared codes of callers that are not the guest's own: it lasts the UTC day.
    expect(await kinds()).toEqual({ guests: [GUEST_ROW, LOG_PREFIX, OTP_ROW, SESSION_PREFIX], limits: 1, outbox: 1, mail: 1 });

    clock.now = T0 + 2 * DAY; // the guest-wide row, the 24-hour session; the day tables of rate limits (with the day's mail count) and of the outbox
    await cleanupExpired(rt);
    expect(await kinds()).toEqual({ guests: [GUEST_ROW, LOG_PREFIX], limits: 0, outbox: 0, mail: 1 });

    clock.now = T0 + rt.config.signInLogRetentionDays * DAY + HOUR; // SIGN_IN_LOG_RETENTION_DAYS, for the log
    await cleanupExpired(rt);
    expect(await kinds()).toEqual({ guests: [GUEST_ROW], limits: 0, outbox: 0, mail: 1 });

    // The mail's delivery row goes with its day's table, once the whole day is past SIGN_IN_LOG_RETENTION_DAYS.
    clock.now = T0 + (rt.config.signInLogRetentionDays + 1) * DAY;
    await cleanupExpired(rt);
    expect(await kinds()).toEqual({ guests: [GUEST_ROW], limits: 0, outbox: 0, mail: 0 });
  });
});

describe('the local host runs timers on their schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads the schedules the app uses and no others', () => {
    expect(everyNMinutes('0 */15 * * * *')).toBe(15);
    expect(everyNMinutes('0 */5 * * * *')).toBe(5);
    expect(everyNMinutes('0 0 3 * * *')).toBeUndefined();
  });

  it('fires the cleanup schedule on the quarter hours', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-03-01T12:07:00Z') });
    const firedAt: string[] = [];
    const lines: string[] = [];
    const stop = startTimers(
      [
        { name: 'cleanup', options: { schedule: '0 */15 * * * *', handler: (_timer: Timer) => void firedAt.push(new Date().toISOString()) } },
        { name: 'nightly', options: { schedule: '0 0 3 * * *', handler: () => void firedAt.push('nightly') } },
      ],
      (line) => lines.push(line),
    );
    await vi.advanceTimersByTimeAsync(37 * MINUTE); // to 12:44
    stop();
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(firedAt).toEqual(['2026-03-01T12:15:00.000Z', '2026-03-01T12:30:00.000Z']);
    expect(lines).toEqual(['[nightly] schedule 0 0 3 * * * is not one the local host runs; skipped']);
  });
});
