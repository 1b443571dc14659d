import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { fail } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { escapeOData, isStatus } from '../storage/tables.js';
import { resolveTenant, type TenantContext } from '../tenants/tenants.js';

/*
 * Who is calling a management route. Management routes are anonymous at the Functions
 * host (its function keys administer every route alike and cannot be scoped to a
 * tenant); the app checks the `x-functions-key` header on every call itself:
 *
 * - the deployment operator's credential (OPERATOR_KEY, a Key Vault reference in Azure;
 *   LOCAL_FUNCTION_KEY in development) manages every tenant;
 * - a tenant admin key `gpa_<keyId>_<secret>` manages the one tenant it was made for.
 *
 * Admin keys are rows of the partition `adminkeys` of the tenants table (RowKey = key id),
 * holding the SHA-256 of the secret (the secret is 32 random bytes, so a plain hash is
 * as good as a slow one), the tenant, the name and the times. Every call reads the row
 * (one point read, no cache), so a revocation holds on every instance at once.
 */
export type Actor =
  | { kind: 'operator'; name: 'operator' }
  | { kind: 'tenantAdmin'; tenantId: string; keyId: string; name: string };

export const OPERATOR: Actor = { kind: 'operator', name: 'operator' };

const KEY_PARTITION = 'adminkeys';
const KEY_FORMAT = /^gpa_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
/** lastUsedAt is written at most this often per key, so reading a key stays one transaction most of the time. */
const LAST_USED_GRANULARITY_MS = 60_000;

interface AdminKeyEntity {
  tenantId: string;
  name: string;
  secretHash: string;
  createdAt: string;
  createdBy: string;
  /** The tenant admin key that made this one (none: the operator did): revoking it revokes this one too. */
  createdByKeyId?: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export interface AdminKey {
  id: string;
  name: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export interface CreatedAdminKey {
  id: string;
  name: string;
  /** Shown once, here; only its hash is stored. */
  key: string;
  createdAt: string;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function sameSecret(a: string, b: string): boolean {
  // Hashing both first makes the comparison constant-time whatever the lengths.
  return timingSafeEqual(sha256(a), sha256(b));
}

function toAdminKey(id: string, row: AdminKeyEntity): AdminKey {
  return {
    id,
    name: row.name,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    ...(row.lastUsedAt ? { lastUsedAt: row.lastUsedAt } : {}),
    ...(row.revokedAt ? { revokedAt: row.revokedAt } : {}),
  };
}

/** The caller behind a credential, or 401 unauthorized. */
export async function authenticate(rt: Runtime, credential: string | null | undefined): Promise<Actor> {
  const presented = credential?.trim();
  if (!presented) fail('unauthorized');
  const parsed = KEY_FORMAT.exec(presented);
  if (!parsed) {
    if (sameSecret(presented, rt.config.operatorKey)) return OPERATOR;
    fail('unauthorized');
  }
  const [, keyId, secret] = parsed as unknown as [string, string, string];
  let row: AdminKeyEntity & { etag: string };
  try {
    row = await rt.tables.tenants.getEntity<AdminKeyEntity>(KEY_PARTITION, keyId);
  } catch (error) {
    if (isStatus(error, 404)) fail('unauthorized');
    throw error;
  }
  const hashed = createHash('sha256').update(secret).digest('base64url');
  if (!sameSecret(hashed, row.secretHash) || row.revokedAt) fail('unauthorized');
  // A key made by a key that has since been revoked is revoked with it, even one made while
  // the revocation ran (revokeAdminKey marks the descendants it finds; this catches the rest).
  if (row.createdByKeyId && (await keyRevoked(rt, row.createdByKeyId))) fail('unauthorized');
  const now = rt.now();
  if (!row.lastUsedAt || Date.parse(row.lastUsedAt) < now - LAST_USED_GRANULARITY_MS) {
    // Best effort: a lost race with another instance's update says the same thing.
    await rt.tables.tenants
      .updateEntity({ partitionKey: KEY_PARTITION, rowKey: keyId, lastUsedAt: new Date(now).toISOString() }, 'Merge', { etag: row.etag })
      .catch(() => undefined);
  }
  return { kind: 'tenantAdmin', tenantId: row.tenantId, keyId, name: row.name };
}

export function requireOperator(actor: Actor): void {
  if (actor.kind !== 'operator') fail('forbidden');
}

/**
 * The tenant a management route names, as this caller may see it: another tenant than a
 * tenant admin key's own answers tenant_not_found, exactly as a tenant that does not exist.
 */
export async function authorizeTenant(rt: Runtime, actor: Actor, tenantRef: string): Promise<TenantContext> {
  // The instance's tenant cache (TENANT_CACHE_SECONDS) is enough to map a reference to an
  // id; the operation itself reads the tenant fresh.
  const context = await resolveTenant(rt, tenantRef);
  // A domain of the key's own tenant is fine; any other tenant is not found, as if it did not exist.
  if (actor.kind === 'tenantAdmin' && context.tenant.id !== actor.tenantId) fail('tenant_not_found');
  return context;
}

export async function createAdminKey(rt: Runtime, tenantId: string, name: string, actor: Actor): Promise<CreatedAdminKey> {
  const id = randomUUID().replace(/-/g, '');
  const secret = randomBytes(32).toString('base64url');
  const createdAt = new Date(rt.now()).toISOString();
  const entity: AdminKeyEntity = {
    tenantId,
    name,
    secretHash: createHash('sha256').update(secret).digest('base64url'),
    createdAt,
    createdBy: actor.name,
    ...(actor.kind === 'tenantAdmin' ? { createdByKeyId: actor.keyId } : {}),
  };
  await rt.tables.tenants.createEntity({ partitionKey: KEY_PARTITION, rowKey: id, ...entity });
  return { id, name, key: `gpa_${id}_${secret}`, createdAt };
}

export async function listAdminKeys(rt: Runtime, tenantId: string): Promise<AdminKey[]> {
  const keys: AdminKey[] = [];
  const rows = rt.tables.tenants.listEntities<AdminKeyEntity>({
    queryOptions: { filter: `PartitionKey eq '${KEY_PARTITION}' and tenantId eq '${escapeOData(tenantId)}'` },
  });
  for await (const row of rows) keys.push(toAdminKey(row.rowKey!, row));
  return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Whether a key, or any key up the chain that made it, is revoked (or gone). */
async function keyRevoked(rt: Runtime, keyId: string, depth = 0): Promise<boolean> {
  if (depth > 16) return true;
  let row: AdminKeyEntity;
  try {
    row = await rt.tables.tenants.getEntity<AdminKeyEntity>(KEY_PARTITION, keyId);
  } catch (error) {
    if (isStatus(error, 404)) return true;
    throw error;
  }
  if (row.revokedAt) return true;
  return row.createdByKeyId ? keyRevoked(rt, row.createdByKeyId, depth + 1) : false;
}

/** Revokes a key of the tenant (kept, marked revoked, so the list shows when); returns it as it was. */
export async function revokeAdminKey(rt: Runtime, tenantId: string, keyId: string): Promise<AdminKey> {
  let row: AdminKeyEntity & { etag: string };
  try {
    row = /^[0-9a-f]{32}$/.test(keyId) ? await rt.tables.tenants.getEntity<AdminKeyEntity>(KEY_PARTITION, keyId) : fail('key_not_found');
  } catch (error) {
    if (isStatus(error, 404)) fail('key_not_found');
    throw error;
  }
  if (row.tenantId !== tenantId) fail('key_not_found');
  const before = toAdminKey(keyId, row);
  const revokedAt = new Date(rt.now()).toISOString();
  if (!row.revokedAt) {
    await rt.tables.tenants.updateEntity({ partitionKey: KEY_PARTITION, rowKey: keyId, revokedAt }, 'Merge');
  }
  // The keys it made, and the keys they made, go with it: a key cannot outlive its maker.
  const keys = new Map<string, AdminKeyEntity>();
  const rows = rt.tables.tenants.listEntities<AdminKeyEntity>({
    queryOptions: { filter: `PartitionKey eq '${KEY_PARTITION}' and tenantId eq '${escapeOData(tenantId)}'` },
  });
  for await (const key of rows) keys.set(key.rowKey!, key);
  const revoked = new Set([keyId]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [id, key] of keys) {
      if (revoked.has(id) || !key.createdByKeyId || !revoked.has(key.createdByKeyId)) continue;
      revoked.add(id);
      grew = true;
      if (!key.revokedAt) await rt.tables.tenants.updateEntity({ partitionKey: KEY_PARTITION, rowKey: id, revokedAt }, 'Merge');
    }
  }
  return before;
}
