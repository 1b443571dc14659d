import { randomBytes, randomUUID } from 'node:crypto';
import type { TableEntityResult } from '@azure/data-tables';
import { fail } from '../errors.js';
import { isOtpEnabled, type PolicyRecord } from './policy.js';
import type { Runtime } from '../runtime.js';
import type { CreateTenantInput, UpdateTenantInput } from '../schemas.js';
import { escapeOData, isStatus, type Tables } from '../storage/tables.js';
import type { TenantMailSettings } from '../mail/settings.js';
import { toSubscription, WEBHOOK_ROW_PREFIX, type WebhookEntity, type WebhookSubscription } from '../events/subscriptions.js';

export interface Tenant {
  id: string;
  displayName: string;
  domains: string[];
  allowedOrigins: string[];
  redirectUris: string[];
  googleFederation: boolean;
  /** Guest lifecycle (all null: off, the default); the cleanup timer applies it. */
  lifecycle: LifecycleSettings;
  /** Branding, template overrides, code-in-subject and daily cap of its mails (lib/mail/settings.ts). */
  mail: TenantMailSettings;
  createdAt: string;
  updatedAt: string;
}

export interface LifecycleSettings {
  /** Invitations still pending after this many days are removed. */
  pendingInvitationDays: number | null;
  /** Guests with no sign-in for this many days are disabled. */
  inactiveDisableDays: number | null;
  /** Disabled guests are deleted this many days after being disabled. */
  inactiveDeleteAfterDays: number | null;
}

export const LIFECYCLE_OFF: LifecycleSettings = { pendingInvitationDays: null, inactiveDisableDays: null, inactiveDeleteAfterDays: null };

/**
 * A domain of a tenant. Pending until a DNS TXT record proves control (lib/admin/domains.ts);
 * only Verified domains are claimed in the `domains` partition, so only they resolve
 * `{tenant}` and count for uniqueness.
 */
export interface DomainRecord {
  name: string;
  state: 'Pending' | 'Verified';
  token: string;
  addedAt: string;
  verifiedAt?: string;
}

/** A domain newly added to a tenant: Pending, or Verified at once under DEV_TRUST_DOMAINS (development only). */
export function newDomainRecord(rt: Runtime, name: string): DomainRecord {
  const at = new Date(rt.now()).toISOString();
  const trusted = rt.config.devTrustDomains;
  return { name, state: trusted ? 'Verified' : 'Pending', token: randomBytes(16).toString('hex'), addedAt: at, ...(trusted ? { verifiedAt: at } : {}) };
}

/** A tenant with what guest requests need of it, cached per instance for TENANT_CACHE_SECONDS. */
export interface TenantContext {
  tenant: Tenant;
  policies: PolicyRecord[];
  otpEnabled: boolean;
  /** Its webhook endpoints, as far as emitting an event needs them (lib/events/subscriptions.ts). */
  webhooks: WebhookSubscription[];
}

/*
 * Table layout: the tenants table holds one partition per tenant (PartitionKey =
 * tenant id) with the row `tenant`, its policies (`policy_<id>`) and an index of its
 * guests (`guest_<id>`), so one query loads a tenant with its policies. Verified
 * domains are rows of the partition `domains` (RowKey = domain), which makes a
 * domain unique across tenants.
 */
const TENANT_ROW = 'tenant';
const DOMAIN_PARTITION = 'domains';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TenantEntity {
  displayName: string;
  domains: string;
  /** JSON DomainRecord[]; absent on rows written before domains were verified (their domains were claimed, so Verified). */
  domainRecords?: string;
  allowedOrigins: string;
  redirectUris: string;
  googleFederation: boolean;
  lifecycle?: string;
  mail?: string;
  createdAt: string;
  updatedAt: string;
}

export function domainRecordsOf(row: TenantEntity): DomainRecord[] {
  if (row.domainRecords) return JSON.parse(row.domainRecords) as DomainRecord[];
  return (JSON.parse(row.domains) as string[]).map((name) => ({ name, state: 'Verified', token: '', addedAt: row.createdAt, verifiedAt: row.createdAt }));
}

export interface PolicyEntity {
  policyType: string;
  displayName: string;
  isOrganizationDefault: boolean;
  definition: string;
  createdAt: string;
  updatedAt: string;
}

export interface TenantCache {
  get(key: string): TenantContext | undefined;
  set(keys: string[], value: TenantContext): void;
  invalidate(tenantId: string): void;
  /** Runs `load` for a key unless a load of it is already under way, which is then shared. */
  loadOnce(key: string, load: () => Promise<TenantContext>): Promise<TenantContext>;
}

export function createTenantCache(ttlSeconds: number, now: () => number): TenantCache {
  const entries = new Map<string, { value: TenantContext; expiresAt: number }>();
  const loading = new Map<string, Promise<TenantContext>>();
  return {
    loadOnce(key, load) {
      let pending = loading.get(key);
      if (!pending) {
        pending = load().finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      return pending;
    },
    get(key) {
      const entry = entries.get(key);
      if (!entry || entry.expiresAt <= now()) return undefined;
      return entry.value;
    },
    set(keys, value) {
      if (ttlSeconds === 0) return;
      for (const key of keys) entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
    },
    invalidate(tenantId) {
      for (const [key, entry] of entries) if (entry.value.tenant.id === tenantId) entries.delete(key);
    },
  };
}

export function toTenant(id: string, row: TenantEntity): Tenant {
  return {
    id,
    displayName: row.displayName,
    domains: JSON.parse(row.domains) as string[],
    allowedOrigins: JSON.parse(row.allowedOrigins) as string[],
    redirectUris: JSON.parse(row.redirectUris) as string[],
    googleFederation: row.googleFederation,
    lifecycle: row.lifecycle ? { ...LIFECYCLE_OFF, ...(JSON.parse(row.lifecycle) as Partial<LifecycleSettings>) } : LIFECYCLE_OFF,
    mail: row.mail ? (JSON.parse(row.mail) as TenantMailSettings) : {},
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function toPolicy(rowKey: string, row: PolicyEntity): PolicyRecord {
  return {
    id: rowKey.slice('policy_'.length),
    type: row.policyType,
    displayName: row.displayName,
    isOrganizationDefault: row.isOrganizationDefault,
    definition: [row.definition],
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The tenant row; `domains` lists every domain's name, `domainRecords` their states. */
export function tenantEntity(tenant: Tenant, records: DomainRecord[]) {
  return {
    partitionKey: tenant.id,
    rowKey: TENANT_ROW,
    displayName: tenant.displayName,
    domains: JSON.stringify(records.map((record) => record.name)),
    domainRecords: JSON.stringify(records),
    allowedOrigins: JSON.stringify(tenant.allowedOrigins),
    redirectUris: JSON.stringify(tenant.redirectUris),
    googleFederation: tenant.googleFederation,
    lifecycle: JSON.stringify(tenant.lifecycle),
    mail: JSON.stringify(tenant.mail),
    createdAt: tenant.createdAt,
    updatedAt: tenant.updatedAt,
  };
}

export async function readTenantRow(rt: Runtime, tenantId: string): Promise<TableEntityResult<TenantEntity>> {
  try {
    return await rt.tables.tenants.getEntity<TenantEntity>(tenantId, TENANT_ROW);
  } catch (error) {
    if (isStatus(error, 404)) fail('tenant_not_found');
    throw error;
  }
}

/** One query: the tenant row, its policies and its webhook endpoints. */
export async function loadTenantContext(rt: Runtime, tenantId: string): Promise<TenantContext | undefined> {
  let tenant: Tenant | undefined;
  const policies: PolicyRecord[] = [];
  const webhooks: WebhookSubscription[] = [];
  const rows = rt.tables.tenants.listEntities<TenantEntity & PolicyEntity & WebhookEntity>({
    queryOptions: {
      filter:
        `PartitionKey eq '${escapeOData(tenantId)}' and (RowKey eq '${TENANT_ROW}' or (RowKey ge 'policy_' and RowKey lt 'policy\`')` +
        ` or (RowKey ge '${WEBHOOK_ROW_PREFIX}' and RowKey lt 'webhook\`'))`,
    },
  });
  for await (const row of rows) {
    if (row.rowKey === TENANT_ROW) tenant = toTenant(tenantId, row);
    else if (row.rowKey!.startsWith(WEBHOOK_ROW_PREFIX)) webhooks.push(toSubscription(row.rowKey!, row));
    else policies.push(toPolicy(row.rowKey!, row));
  }
  if (!tenant) return undefined;
  return { tenant, policies, otpEnabled: isOtpEnabled(policies, rt.config.otpDefaultEnabled), webhooks };
}

/** The tenant id a verified domain belongs to, if any. */
async function tenantIdForDomain(tables: Tables, domain: string): Promise<string | undefined> {
  try {
    const row = await tables.tenants.getEntity<{ tenantId: string }>(DOMAIN_PARTITION, domain);
    return row.tenantId;
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

function looksLikeTenantRef(ref: string): boolean {
  return GUID.test(ref) || /^[a-z0-9.-]{1,253}$/i.test(ref);
}

/**
 * Resolves `{tenant}` (the id or any verified domain) to the tenant and its policy,
 * or fails with tenant_not_found.
 */
export async function resolveTenant(rt: Runtime, ref: string, options: { fresh?: boolean } = {}): Promise<TenantContext> {
  const key = ref.toLowerCase();
  if (options.fresh) return loadTenant(rt, key);
  // When the cached context has expired, the requests arriving together share one
  // load instead of each reading the tenant again (a burst of 200 sign-ins made up
  // to 200 tenant reads, and send-code's mean cost rose from 4 to 4.5 transactions).
  return rt.tenantCache.get(key) ?? rt.tenantCache.loadOnce(key, () => loadTenant(rt, key));
}

async function loadTenant(rt: Runtime, key: string): Promise<TenantContext> {
  if (!looksLikeTenantRef(key)) fail('tenant_not_found');
  const tenantId = GUID.test(key) ? key : await tenantIdForDomain(rt.tables, key);
  const context = tenantId ? await loadTenantContext(rt, tenantId) : undefined;
  if (!context) fail('tenant_not_found');
  rt.tenantCache.set([key, context.tenant.id], context);
  return context;
}

export async function createTenant(rt: Runtime, input: CreateTenantInput): Promise<Tenant> {
  const at = new Date(rt.now()).toISOString();
  const tenant: Tenant = {
    id: randomUUID(),
    displayName: input.displayName,
    domains: unique(input.domains),
    allowedOrigins: unique(input.allowedOrigins),
    redirectUris: unique(input.redirectUris),
    googleFederation: input.googleFederation,
    lifecycle: { ...LIFECYCLE_OFF, ...input.lifecycle },
    mail: input.mail ?? {},
    createdAt: at,
    updatedAt: at,
  };
  const records = tenant.domains.map((name) => newDomainRecord(rt, name));
  const verified = verifiedNames(records);
  // A domain verified by another tenant cannot be added even as pending.
  for (const record of records) await refuseDomainOfAnotherTenant(rt.tables, tenant.id, record.name);
  await claimDomains(rt.tables, tenant.id, verified);
  try {
    await rt.tables.tenants.createEntity(tenantEntity(tenant, records));
  } catch (error) {
    // No tenant, so no claim: the domains stay free for the retry.
    await releaseDomains(rt.tables, verified).catch(() => undefined);
    throw error;
  }
  return tenant;
}

export async function getTenant(rt: Runtime, ref: string): Promise<Tenant> {
  return (await resolveTenant(rt, ref, { fresh: true })).tenant;
}

export async function updateTenant(rt: Runtime, ref: string, input: UpdateTenantInput): Promise<Tenant> {
  const { tenant } = await resolveTenant(rt, ref, { fresh: true });
  const current = await readTenantRow(rt, tenant.id);
  const previous = toTenant(tenant.id, current);
  const next: Tenant = {
    ...previous,
    ...input,
    domains: unique(input.domains ?? previous.domains),
    allowedOrigins: unique(input.allowedOrigins ?? previous.allowedOrigins),
    redirectUris: unique(input.redirectUris ?? previous.redirectUris),
    lifecycle: { ...previous.lifecycle, ...input.lifecycle },
    updatedAt: new Date(rt.now()).toISOString(),
  };
  const before = domainRecordsOf(current);
  const kept = before.filter((record) => next.domains.includes(record.name));
  const addedRecords = next.domains.filter((name) => !before.some((record) => record.name === name)).map((name) => newDomainRecord(rt, name));
  for (const record of addedRecords) await refuseDomainOfAnotherTenant(rt.tables, tenant.id, record.name);
  const added = verifiedNames(addedRecords);
  const removed = verifiedNames(before.filter((record) => !next.domains.includes(record.name)));
  await claimDomains(rt.tables, tenant.id, added);
  try {
    await rt.tables.tenants.updateEntity(tenantEntity(next, [...kept, ...addedRecords]), 'Replace', { etag: current.etag });
  } catch (error) {
    await releaseDomains(rt.tables, added);
    throw error;
  }
  await releaseDomains(rt.tables, removed);
  rt.tenantCache.invalidate(tenant.id);
  return next;
}

function verifiedNames(records: DomainRecord[]): string[] {
  return records.filter((record) => record.state === 'Verified').map((record) => record.name);
}

export async function refuseDomainOfAnotherTenant(tables: Tables, tenantId: string, domain: string): Promise<void> {
  const owner = await tenantIdForDomain(tables, domain);
  if (owner && owner !== tenantId) fail('domain_taken', { message: `The domain ${domain} is already verified by another tenant.` });
}

/** Claims each domain for the tenant; on a clash, gives back what it took and fails with domain_taken. */
export async function claimDomains(tables: Tables, tenantId: string, domains: string[]): Promise<void> {
  const claimed: string[] = [];
  for (const domain of domains) {
    try {
      await tables.tenants.createEntity({ partitionKey: DOMAIN_PARTITION, rowKey: domain, tenantId });
      claimed.push(domain);
    } catch (error) {
      await releaseDomains(tables, claimed);
      if (isStatus(error, 409)) fail('domain_taken', { message: `The domain ${domain} is already verified by another tenant.` });
      throw error;
    }
  }
}

export async function releaseDomains(tables: Tables, domains: string[]): Promise<void> {
  for (const domain of domains) {
    await tables.tenants.deleteEntity(DOMAIN_PARTITION, domain).catch((error) => {
      if (!isStatus(error, 404)) throw error;
    });
  }
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
