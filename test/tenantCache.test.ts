import { describe, expect, it } from 'vitest';
import { countingTransactions } from '../lib/storage/tables.js';
import { createTenant, resolveTenant } from '../lib/tenants/tenants.js';
import { testRuntime, uniquePrefix } from './helpers.js';

const TABLE_PREFIX = uniquePrefix();

async function freshTenant() {
  const writer = await testRuntime({ TABLE_PREFIX });
  const domain = `${uniquePrefix()}.cache.test`;
  const tenant = await createTenant(writer, { displayName: 'Cached', domains: [domain], allowedOrigins: [], redirectUris: [], googleFederation: false });
  // A new runtime is a new instance: its tenant cache starts empty.
  return { tenant, domain, reader: await testRuntime({ TABLE_PREFIX }) };
}

describe('the per-instance tenant cache', () => {
  it('requests arriving together share one tenant load', async () => {
    const { tenant, reader } = await freshTenant();
    const { result, transactions } = await countingTransactions(() => Promise.all(Array.from({ length: 20 }, () => resolveTenant(reader, tenant.id))));
    expect(result.every((context) => context.tenant.id === tenant.id)).toBe(true);
    expect(transactions).toBe(1);
  });

  it('by domain, the domain row and the tenant are read once for all of them', async () => {
    const { tenant, domain, reader } = await freshTenant();
    const { result, transactions } = await countingTransactions(() => Promise.all(Array.from({ length: 20 }, () => resolveTenant(reader, domain))));
    expect(result.every((context) => context.tenant.id === tenant.id)).toBe(true);
    expect(transactions).toBe(2);
  });

  it('a cached tenant costs no transaction', async () => {
    const { tenant, reader } = await freshTenant();
    await resolveTenant(reader, tenant.id);
    const { transactions } = await countingTransactions(() => resolveTenant(reader, tenant.id));
    expect(transactions).toBe(0);
  });

  it('a failed shared load fails every waiting request and is not cached', async () => {
    const { reader } = await freshTenant();
    const unknown = `${uniquePrefix()}.nowhere.test`;
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => resolveTenant(reader, unknown)));
    expect(results.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code)).toEqual(Array(5).fill('tenant_not_found'));
    const { transactions } = await countingTransactions(() => resolveTenant(reader, unknown).catch(() => undefined));
    expect(transactions).toBe(1);
  });
});
