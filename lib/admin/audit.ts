import { randomUUID } from 'node:crypto';
import type { Runtime } from '../runtime.js';
import { openSkipToken, sealSkipToken } from '../storage/skipToken.js';
import { escapeOData, newestFirstKey } from '../storage/tables.js';
import type { Actor } from './credentials.js';

/*
 * The audit log: one row per management change in the `audit` table, PartitionKey =
 * tenant id, RowKey newest first, so a tenant's log is one partition read in order and
 * `since` is a RowKey bound. Rows carry expiresAt (AUDIT_LOG_RETENTION_DAYS) and the
 * cleanup timer deletes them like the other expiring rows. The actor is the credential's
 * name (and key id), never its secret.
 */
export type AuditTargetType = 'tenant' | 'guest' | 'policy' | 'key' | 'domain' | 'application' | 'lifecycle' | 'webhook';

export interface AuditEntry {
  id: string;
  at: string;
  actor: { kind: Actor['kind']; name: string; keyId?: string };
  action: string;
  target: { type: AuditTargetType; id: string };
  before?: unknown;
  after?: unknown;
}

export interface AuditChange {
  action: string;
  target: { type: AuditTargetType; id: string };
  before?: unknown;
  after?: unknown;
}

/** The lifecycle timer acts on its own; its entries name it. */
export const LIFECYCLE_ACTOR = { kind: 'operator', name: 'lifecycle timer' } as const;

/** Webhook delivery disables an endpoint that has failed for days; its entry names it. */
export const WEBHOOK_DELIVERY_ACTOR = { kind: 'operator', name: 'webhook delivery' } as const;

interface AuditRow {
  rowKey: string;
  at: string;
  actorKind: Actor['kind'];
  actorName: string;
  actorKeyId?: string;
  action: string;
  targetType: AuditTargetType;
  targetId: string;
  before?: string;
  after?: string;
}

/** Table Storage holds at most 64 KiB per string property; a before/after larger than this is cut. */
const MAX_SNAPSHOT_CHARS = 30_000;

function snapshot(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  return text.length > MAX_SNAPSHOT_CHARS ? JSON.stringify({ truncated: true, preview: text.slice(0, 1000) }) : text;
}

export async function recordAudit(
  rt: Runtime,
  tenantId: string,
  actor: Actor | typeof LIFECYCLE_ACTOR | typeof WEBHOOK_DELIVERY_ACTOR,
  change: AuditChange,
): Promise<void> {
  const now = rt.now();
  await rt.tables.audit.createEntity({
    partitionKey: tenantId,
    rowKey: newestFirstKey(now, randomUUID()),
    at: new Date(now).toISOString(),
    actorKind: actor.kind,
    actorName: actor.name,
    ...('keyId' in actor ? { actorKeyId: actor.keyId } : {}),
    action: change.action,
    targetType: change.target.type,
    targetId: change.target.id,
    ...(change.before !== undefined ? { before: snapshot(change.before) } : {}),
    ...(change.after !== undefined ? { after: snapshot(change.after) } : {}),
    expiresAt: new Date(now + rt.config.auditLogRetentionDays * 86_400_000),
  });
}

export interface AuditQuery {
  since?: string;
  $top: number;
  $skiptoken?: string;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.rowKey,
    at: row.at,
    actor: { kind: row.actorKind, name: row.actorName, ...(row.actorKeyId ? { keyId: row.actorKeyId } : {}) },
    action: row.action,
    target: { type: row.targetType, id: row.targetId },
    ...(row.before !== undefined ? { before: JSON.parse(row.before) as unknown } : {}),
    ...(row.after !== undefined ? { after: JSON.parse(row.after) as unknown } : {}),
  };
}

/** A tenant's audit log, newest first, from `since` on, in pages of $top. */
export async function listAudit(rt: Runtime, tenantId: string, query: AuditQuery): Promise<{ value: AuditEntry[]; skipToken?: string }> {
  const filters = [`PartitionKey eq '${escapeOData(tenantId)}'`, `expiresAt gt datetime'${new Date(rt.now()).toISOString()}'`];
  // Newest-first keys: everything at or after `since` sorts at or before since's key.
  if (query.since) filters.push(`RowKey lt '${newestFirstKey(Date.parse(query.since) - 1, '')}'`);
  if (query.$skiptoken) {
    const after = openSkipToken(query.$skiptoken, tenantId, (value): value is string => typeof value === 'string');
    filters.push(`RowKey gt '${escapeOData(after)}'`);
  }
  const found: AuditRow[] = [];
  const pages = rt.tables.audit.listEntities<AuditRow>({ queryOptions: { filter: filters.join(' and ') } }).byPage({ maxPageSize: query.$top + 1 });
  for await (const page of pages) {
    found.push(...page);
    if (found.length > query.$top) break;
  }
  const value = found.slice(0, query.$top);
  return {
    value: value.map(toEntry),
    ...(found.length > query.$top ? { skipToken: sealSkipToken(tenantId, value[value.length - 1]!.rowKey) } : {}),
  };
}

/**
 * Deletes audit rows older than AUDIT_LOG_RETENTION_DAYS. Keys sort newest first, so a
 * tenant's expired rows are one key range at the end of its partition: one query per
 * tenant plus one batch per 100 expired rows, never a scan of what is kept.
 */
export async function deleteExpiredAudit(rt: Runtime): Promise<number> {
  const olderThan = newestFirstKey(rt.now() - rt.config.auditLogRetentionDays * 86_400_000, '');
  let deleted = 0;
  for await (const tenant of rt.tables.tenants.listEntities({ queryOptions: { filter: `RowKey eq 'tenant'`, select: ['PartitionKey'] } })) {
    const filter = `PartitionKey eq '${escapeOData(tenant.partitionKey!)}' and RowKey gt '${olderThan}'`;
    for await (const page of rt.tables.audit.listEntities({ queryOptions: { filter, select: ['RowKey'] } }).byPage({ maxPageSize: 100 })) {
      if (page.length === 0) continue;
      await rt.tables.audit.submitTransaction(page.map((row) => ['delete', { partitionKey: tenant.partitionKey!, rowKey: row.rowKey! }]));
      deleted += page.length;
    }
  }
  return deleted;
}
