import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import type { Timer } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanupExpired, deleteExpiredRows, MAX_BATCH } from '../lib/cleanup.js';
import { sendCode, verifyCode } from '../lib/codes.js';
import { GUEST_ROW, LOG_PREFIX, OTP_ROW, SESSION_PREFIX } from '../lib/guests.js';
import { inviteGuest } from '../lib/invitations.js';
import { listOutbox } from '../lib/mail.js';
import { createTenantBody, invitationBody } from '../lib/schemas.js';
import { countingTransactions, newestFirstKey } from '../lib/storage.js';
import { createTenant } from '../lib/tenants.js';
import { everyNMinutes, startTimers } from '../scripts/localHost.js';
import { REDIRECT_URI, testRuntime } from './helpers.js';

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

describe('cleanup timer', () => {
  it('deletes thousands of expired rows in pages and batches, and every live row survives', async () => {
    const { rt } = await clockedRuntime();
    const expired = at(T0 - MINUTE);
    const live = at(T0 + MINUTE);

    // 20 busy guests with 150 expired and 5 live sign-in log rows each, and their guest rows (which never expire).
    const busy: TableEntity[] = [];
    for (let g = 0; g < 20; g += 1) {
      const partitionKey = `tenant_busy${g}`;
      busy.push({ partitionKey, rowKey: GUEST_ROW, email: `busy${g}@example.test` });
      for (let i = 0; i < 150; i += 1) busy.push({ partitionKey, rowKey: LOG_PREFIX + newestFirstKey(T0 - DAY - i, `old${i}`), expiresAt: expired });
      for (let i = 0; i < 5; i += 1) busy.push({ partitionKey, rowKey: LOG_PREFIX + newestFirstKey(T0 - i, `new${i}`), expiresAt: live });
    }
    // 200 quiet guests, each with an expired and a live session and an expired code row.
    const quiet: TableEntity[] = [];
    for (let g = 0; g < 200; g += 1) {
      const partitionKey = `tenant_quiet${g}`;
      quiet.push({ partitionKey, rowKey: GUEST_ROW, email: `quiet${g}@example.test` });
      quiet.push({ partitionKey, rowKey: `${SESSION_PREFIX}old`, expiresAt: expired });
      quiet.push({ partitionKey, rowKey: `${SESSION_PREFIX}new`, expiresAt: live });
      quiet.push({ partitionKey, rowKey: OTP_ROW, codeAttempts: 0, sendTimes: '[]', failTimes: '[]', expiresAt: expired });
    }
    const limits: TableEntity[] = [];
    for (let i = 0; i < 120; i += 1) limits.push({ partitionKey: `ip_${i}`, rowKey: 'send-code', times: '[]', expiresAt: i < 100 ? expired : live });
    const outbox: TableEntity[] = [];
    for (let i = 0; i < 60; i += 1) {
      const sentAt = i < 50 ? T0 - 2 * DAY : T0 - HOUR;
      outbox.push({ partitionKey: 'outbox', rowKey: newestFirstKey(sentAt, `m${i}`), subject: 'Your code', expiresAt: at(sentAt + DAY) });
    }
    await insertAll(rt.tables.guests, [...busy, ...quiet]);
    await insertAll(rt.tables.limits, limits);
    await insertAll(rt.tables.outbox, outbox);

    const { result, transactions } = await countingTransactions(() => cleanupExpired(rt, { pageSize: 500 }));

    const expiredCount = { guests: 20 * 150 + 200 * 2, limits: 100, outbox: 50, mail: 0 };
    expect(result).toEqual({
      deleted: expiredCount.guests + expiredCount.limits + expiredCount.outbox,
      skipped: 0,
      deletedByTable: expiredCount,
      complete: true,
    });
    // Batched: 2 transactions per busy guest, one delete per session and code row, one per
    // rate-limit row, one for the outbox — plus the query pages (500 rows each at most).
    const deletes = 20 * 2 + 200 * 2 + 100 + 1;
    const pages = Math.ceil(expiredCount.guests / 500) + 1 + 1 + 1;
    expect(transactions).toBeGreaterThanOrEqual(deletes + pages);
    expect(transactions).toBeLessThanOrEqual(deletes + pages + 10);

    const guests = await allRows(rt.tables.guests);
    expect(guests).toHaveLength(20 * (1 + 5) + 200 * 2);
    expect(guests.every((row) => row.expiresAt === undefined || row.expiresAt.getTime() > T0)).toBe(true);
    expect(guests.filter((row) => row.rowKey === GUEST_ROW)).toHaveLength(220);
    expect((await allRows(rt.tables.limits)).map((row) => row.partitionKey).sort()).toEqual(limits.slice(100).map((row) => row.partitionKey).sort());
    expect(await allRows(rt.tables.outbox)).toHaveLength(10);

    // A second run finds nothing left to do.
    expect((await cleanupExpired(rt)).deleted).toBe(0);
  });

  it('deletes a row whose expiry has just passed and keeps one that expires now or later', async () => {
    const { rt } = await clockedRuntime();
    await insertAll(rt.tables.guests, [
      { partitionKey: 'edge', rowKey: `${SESSION_PREFIX}past`, expiresAt: at(T0 - 1) },
      { partitionKey: 'edge', rowKey: `${SESSION_PREFIX}now`, expiresAt: at(T0) },
      { partitionKey: 'edge', rowKey: `${SESSION_PREFIX}later`, expiresAt: at(T0 + 1) },
    ]);
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
    await sendCode(rt, { tenant: tenant.id, email, clientIp: '203.0.113.7' });
    const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 });
    const code = /\b(\d{8})\b/.exec(mail!.text)![1]!;
    await verifyCode(rt, { tenant: tenant.id, email, code, clientIp: '203.0.113.7' });

    const kinds = async () => {
      const keys = (await allRows(rt.tables.guests)).map((row) => row.rowKey.replace(/_.*/, '_'));
      return {
        guests: [...new Set(keys)].sort(),
        limits: (await allRows(rt.tables.limits)).length,
        outbox: (await allRows(rt.tables.outbox)).length,
        mail: (await allRows(rt.tables.mail)).length,
      };
    };
    // limits: the per-IP row and the day's mail count of the tenant; mail: the code mail's delivery row.
    expect(await kinds()).toEqual({ guests: [GUEST_ROW, LOG_PREFIX, OTP_ROW, SESSION_PREFIX], limits: 2, outbox: 1, mail: 1 });

    clock.now = T0 + 2 * HOUR; // the code row and the per-IP window are an hour past their use
    await cleanupExpired(rt);
    expect(await kinds()).toEqual({ guests: [GUEST_ROW, LOG_PREFIX, SESSION_PREFIX], limits: 1, outbox: 1, mail: 1 });

    clock.now = T0 + DAY + HOUR; // the 24-hour session and the day-old outbox mail
    await cleanupExpired(rt);
    expect(await kinds()).toEqual({ guests: [GUEST_ROW, LOG_PREFIX], limits: 1, outbox: 0, mail: 1 });

    clock.now = T0 + 2 * DAY + HOUR; // the mail count of the day before yesterday
    await cleanupExpired(rt);
    expect(await kinds()).toEqual({ guests: [GUEST_ROW, LOG_PREFIX], limits: 0, outbox: 0, mail: 1 });

    clock.now = T0 + rt.config.signInLogRetentionDays * DAY + HOUR; // SIGN_IN_LOG_RETENTION_DAYS, for the log and the mail's delivery row
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
