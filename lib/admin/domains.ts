import { Resolver } from 'node:dns/promises';
import { fail } from '../errors.js';
import type { Runtime } from '../runtime.js';
import {
  claimDomains,
  domainRecordsOf,
  newDomainRecord,
  readTenantRow,
  refuseDomainOfAnotherTenant,
  releaseDomains,
  tenantEntity,
  toTenant,
  type DomainRecord,
} from '../tenants/tenants.js';

/*
 * Verified domains, as Entra verifies a custom domain: a domain added to a tenant is
 * Pending until a DNS TXT record at the domain holds `guestpass-verification=<token>`.
 * Only then is it claimed in the `domains` partition (unique across tenants), so it
 * resolves `{tenant}` in routes. Nobody can take another organisation's domain by
 * asking first: pending domains claim nothing.
 */
export const TXT_PREFIX = 'guestpass-verification=';

export interface DomainView {
  name: string;
  state: DomainRecord['state'];
  txtRecord: { name: string; value: string };
  addedAt: string;
  verifiedAt?: string;
}

function toView(record: DomainRecord): DomainView {
  return {
    name: record.name,
    state: record.state,
    txtRecord: { name: record.name, value: `${TXT_PREFIX}${record.token}` },
    addedAt: record.addedAt,
    ...(record.verifiedAt ? { verifiedAt: record.verifiedAt } : {}),
  };
}

/** The TXT strings at a name (each record's chunks joined, as RFC 7208 reads them); none when the name has none. */
export async function lookupTxt(rt: Runtime, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (rt.config.dnsServers.length > 0) resolver.setServers(rt.config.dnsServers);
  try {
    const records = await resolver.resolveTxt(name);
    return records.map((chunks) => chunks.join(''));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    fail('domain_not_verified', { message: `The DNS lookup of TXT records at ${name} failed (${code ?? 'error'}). Try again in a moment.` });
  }
}

/** Reads the tenant row, lets `change` rewrite its domain records, writes it back under its ETag. */
async function changeDomains(
  rt: Runtime,
  tenantId: string,
  change: (records: DomainRecord[]) => Promise<{ records: DomainRecord[]; claim?: string; release?: string }>,
): Promise<void> {
  const row = await readTenantRow(rt, tenantId);
  const { records, claim, release } = await change(domainRecordsOf(row));
  if (claim) await claimDomains(rt.tables, tenantId, [claim]);
  const tenant = { ...toTenant(tenantId, row), updatedAt: new Date(rt.now()).toISOString() };
  try {
    await rt.tables.tenants.updateEntity(tenantEntity(tenant, records), 'Replace', { etag: row.etag });
  } catch (error) {
    if (claim) await releaseDomains(rt.tables, [claim]);
    throw error;
  }
  if (release) await releaseDomains(rt.tables, [release]);
  rt.tenantCache.invalidate(tenantId);
}

export async function listDomains(rt: Runtime, tenantId: string): Promise<DomainView[]> {
  return domainRecordsOf(await readTenantRow(rt, tenantId)).map(toView);
}

export async function addDomain(rt: Runtime, tenantId: string, name: string): Promise<{ domain: DomainView; created: boolean }> {
  let result: { domain: DomainView; created: boolean } | undefined;
  await changeDomains(rt, tenantId, async (records) => {
    const existing = records.find((record) => record.name === name);
    if (existing) {
      result = { domain: toView(existing), created: false };
      return { records };
    }
    await refuseDomainOfAnotherTenant(rt.tables, tenantId, name);
    const record = newDomainRecord(rt, name);
    result = { domain: toView(record), created: true };
    return { records: [...records, record], ...(record.state === 'Verified' ? { claim: name } : {}) };
  });
  return result!;
}

function findRecord(records: DomainRecord[], name: string): DomainRecord {
  return records.find((record) => record.name === name) ?? fail('domain_not_found');
}

/** Looks for the TXT record; on success the domain is claimed and Verified. */
export async function verifyDomain(rt: Runtime, tenantId: string, name: string): Promise<{ domain: DomainView; before: DomainView }> {
  const row = await readTenantRow(rt, tenantId);
  const record = findRecord(domainRecordsOf(row), name);
  if (record.state === 'Verified') return { domain: toView(record), before: toView(record) };
  const expected = `${TXT_PREFIX}${record.token}`;
  const found = await lookupTxt(rt, name);
  if (!found.some((value) => value.trim() === expected)) {
    fail('domain_not_verified', {
      message: `No TXT record "${expected}" was found at ${name}. Add it at your DNS provider, wait for it to propagate, and verify again.`,
      details: [{ field: 'txtRecord', message: `name ${name}, value ${expected}` }],
    });
  }
  let verified: DomainRecord | undefined;
  await changeDomains(rt, tenantId, async (records) => {
    const current = findRecord(records, name);
    verified = { ...current, state: 'Verified', verifiedAt: new Date(rt.now()).toISOString() };
    return { records: records.map((r) => (r.name === name ? verified! : r)), claim: name };
  });
  return { domain: toView(verified!), before: toView(record) };
}

export async function removeDomain(rt: Runtime, tenantId: string, name: string): Promise<DomainView> {
  let removed: DomainRecord | undefined;
  await changeDomains(rt, tenantId, async (records) => {
    removed = findRecord(records, name);
    return { records: records.filter((r) => r.name !== name), ...(removed.state === 'Verified' ? { release: name } : {}) };
  });
  return toView(removed!);
}
