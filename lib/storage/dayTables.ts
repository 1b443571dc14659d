import type { TableClient } from '@azure/data-tables';
import type { Runtime } from '../runtime.js';
import { isStatus, tableOpener, type Tables } from './tables.js';

/*
 * Short-lived rows written by anonymous requests (rate-limit windows, used step-up
 * challenges, the expiry index, the daily mail cap), mail delivery records and the development outbox live in one table per UTC
 * day, `<prefix><kind><yyyymmdd>`. Retention then drops whole tables: one transaction
 * per day, whatever the day held (DESIGN §5).
 */
export type DayTableKind = 'limits' | 'outbox' | 'expiry' | 'mail' | 'webhooks' | 'refusals';

export const DAY_MS = 86_400_000;

export function dayStamp(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 10).replace(/-/g, '');
}

/** Seconds until the next UTC day begins (at least 1): the Retry-After of a daily limit. */
export function secondsUntilNextDay(atMs: number): number {
  return Math.max(1, Math.ceil(((Math.floor(atMs / DAY_MS) + 1) * DAY_MS - atMs) / 1000));
}

export function dayTableName(prefix: string, kind: DayTableKind, atMs: number): string {
  return `${prefix}${kind}${dayStamp(atMs)}`;
}

const created = new WeakMap<Tables, Map<string, Promise<TableClient>>>();

/** The table of the day holding `atMs`, created on first use in this process. */
export function dayTable(rt: Runtime, kind: DayTableKind, atMs: number): Promise<TableClient> {
  return dayTableOf(rt.tables, kind, atMs);
}

export function dayTableOf(tables: Tables, kind: DayTableKind, atMs: number): Promise<TableClient> {
  const opener = tableOpener(tables);
  const name = dayTableName(opener.prefix, kind, atMs);
  let byName = created.get(tables);
  if (!byName) created.set(tables, (byName = new Map()));
  let ready = byName.get(name);
  if (!ready) {
    const client = opener.open(name);
    ready = client.createTable().then(() => client);
    ready.catch(() => byName!.delete(name));
    byName.set(name, ready);
  }
  return ready;
}

/** The day tables of one kind that a query over [fromMs, toMs] must read, oldest first. */
export function dayTablesCovering(rt: Runtime, kind: DayTableKind, fromMs: number, toMs: number): Promise<TableClient>[] {
  const tables: Promise<TableClient>[] = [];
  for (let day = Math.floor(fromMs / DAY_MS); day <= Math.floor(toMs / DAY_MS); day += 1) {
    tables.push(dayTable(rt, kind, Math.max(fromMs, day * DAY_MS)));
  }
  return tables;
}

/**
 * Drops the day tables of `kind` whose day ended before `keepFromMs`. One listing and
 * one delete per table: the cost does not depend on the rows they held.
 */
export async function dropDayTables(rt: Runtime, kind: DayTableKind, keepFromMs: number): Promise<string[]> {
  const opener = tableOpener(rt.tables);
  const prefix = `${opener.prefix}${kind}`;
  const keepFrom = dayStamp(keepFromMs);
  const dropped: string[] = [];
  const service = opener.service();
  for await (const table of service.listTables({ queryOptions: { filter: `TableName ge '${prefix}0' and TableName le '${prefix}9'` } })) {
    const name = table.name ?? '';
    const stamp = name.slice(prefix.length);
    if (!/^\d{8}$/.test(stamp) || stamp >= keepFrom) continue;
    try {
      await service.deleteTable(name);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    created.get(rt.tables)?.delete(name);
    dropped.push(name);
  }
  return dropped;
}
