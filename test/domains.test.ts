import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackDns, type LoopbackDns } from './dnsServer.js';
import { createTenant, expectError, postJson, startHost, stopAllHosts, uniquePrefix, type TestHost } from './helpers.js';

let dns: LoopbackDns;
let host: TestHost;

beforeAll(async () => {
  dns = await startLoopbackDns();
  // Domains verified by DNS only: DEV_TRUST_DOMAINS off, the resolver at the loopback server.
  host = await startHost({ DEV_TRUST_DOMAINS: 'false', DNS_SERVERS: dns.server });
});
afterAll(async () => {
  await stopAllHosts();
  await dns.close();
});

interface Domain {
  name: string;
  state: 'Pending' | 'Verified';
  txtRecord: { name: string; value: string };
}

async function domainsOf(tenantId: string): Promise<Domain[]> {
  return ((await (await host.manage(`/tenants/${tenantId}/domains`)).json()) as { value: Domain[] }).value;
}

const verify = (tenantId: string, name: string) => host.manage(`/tenants/${tenantId}/domains/${name}/verify`, { method: 'POST' });

describe('verified domains (DNS TXT on a loopback DNS server)', () => {
  it('a domain stays Pending and does not route until its TXT record is published, then verifies and routes', async () => {
    const domain = `${uniquePrefix()}.contoso.example`;
    const tenant = await createTenant(host, { domains: [domain] });
    const [pending] = await domainsOf(tenant.id);
    expect(pending).toMatchObject({ name: domain, state: 'Pending', txtRecord: { name: domain, value: expect.stringMatching(/^guestpass-verification=[0-9a-f]{32}$/) } });
    await expectError(await host.api(`/${domain}/send-code`, postJson({ email: 'ada@fabrikam.example' })), 404, 'tenant_not_found');
    await expectError(await host.manage(`/tenants/${domain}`), 404, 'tenant_not_found');

    // Nothing published yet (NXDOMAIN), then only unrelated TXT records: not verified, and the message names the record.
    const missing = await expectError(await verify(tenant.id, domain), 400, 'domain_not_verified');
    expect(missing.message).toContain(pending!.txtRecord.value);
    dns.setTxt(domain, ['v=spf1 -all']);
    await expectError(await verify(tenant.id, domain), 400, 'domain_not_verified');

    dns.setTxt(domain, ['v=spf1 -all', pending!.txtRecord.value]);
    const verified = await verify(tenant.id, domain);
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ name: domain, state: 'Verified', verifiedAt: expect.any(String) });
    expect(dns.asked.get(domain)).toBeGreaterThanOrEqual(3);

    expect((await host.api(`/${domain}/send-code`, postJson({ email: 'ada@fabrikam.example' }))).status).toBe(202);
    expect(((await (await host.manage(`/tenants/${domain}`)).json()) as { id: string }).id).toBe(tenant.id);

    const audit = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; before?: Domain; after?: Domain }[] };
    const entry = audit.value.find((e) => e.action === 'domain.verify')!;
    expect([entry.before!.state, entry.after!.state]).toEqual(['Pending', 'Verified']);
  });

  it('asking first claims nothing: a pending domain neither routes nor blocks its real owner, who verifies it', async () => {
    const domain = `${uniquePrefix()}.fabrikam.example`;
    const squatter = await createTenant(host, { domains: [domain] });
    const owner = await createTenant(host, { domains: [] });
    const added = await host.manage(`/tenants/${owner.id}/domains`, postJson({ name: domain }));
    expect(added.status).toBe(201);
    const ownerRecord = (await added.json()) as Domain;
    const squatterRecord = (await domainsOf(squatter.id))[0]!;
    expect(ownerRecord.txtRecord.value).not.toBe(squatterRecord.txtRecord.value);

    // The owner publishes its own token: the squatter's token is not there, so the squatter cannot verify.
    dns.setTxt(domain, [ownerRecord.txtRecord.value]);
    await expectError(await verify(squatter.id, domain), 400, 'domain_not_verified');
    expect((await verify(owner.id, domain)).status).toBe(200);

    // Now it is taken: the squatter can neither verify (even with its token published) nor add it anew.
    dns.setTxt(domain, [ownerRecord.txtRecord.value, squatterRecord.txtRecord.value]);
    await expectError(await verify(squatter.id, domain), 409, 'domain_taken');
    const third = await createTenant(host, { domains: [] });
    await expectError(await host.manage(`/tenants/${third.id}/domains`, postJson({ name: domain })), 409, 'domain_taken');
    await expectError(await host.manage('/tenants', postJson({ displayName: 'Late', domains: [domain] })), 409, 'domain_taken');
    expect(((await (await host.manage(`/tenants/${domain}`)).json()) as { id: string }).id).toBe(owner.id);
  });

  it('removing a verified domain stops it routing and frees it; unknown domains answer 404', async () => {
    const domain = `${uniquePrefix()}.northwind.example`;
    const tenant = await createTenant(host, { domains: [domain] });
    dns.setTxt(domain, [(await domainsOf(tenant.id))[0]!.txtRecord.value]);
    expect((await verify(tenant.id, domain)).status).toBe(200);
    expect((await host.manage(`/tenants/${tenant.id}/domains/${domain}`, { method: 'DELETE' })).status).toBe(204);
    await expectError(await host.manage(`/tenants/${domain}`), 404, 'tenant_not_found');
    expect(await domainsOf(tenant.id)).toEqual([]);
    await expectError(await verify(tenant.id, domain), 404, 'domain_not_found');
    await expectError(await host.manage(`/tenants/${tenant.id}/domains/${domain}`, { method: 'DELETE' }), 404, 'domain_not_found');
    await expectError(await host.manage(`/tenants/${tenant.id}/domains`, postJson({ name: 'not a domain' })), 400, 'invalid_request');
    const other = await createTenant(host, { domains: [] });
    expect((await host.manage(`/tenants/${other.id}/domains`, postJson({ name: domain }))).status).toBe(201);
  });
});

describe('DEV_TRUST_DOMAINS (development only)', () => {
  it('marks a new domain Verified without asking DNS, so the demo tenant and local runs route by domain at once', async () => {
    const trusting = await startHost({ DEV_TRUST_DOMAINS: 'true', DNS_SERVERS: dns.server });
    const domain = `${uniquePrefix()}.demo.example`;
    const tenant = await createTenant(trusting, { domains: [domain] });
    const listed = ((await (await trusting.manage(`/tenants/${tenant.id}/domains`)).json()) as { value: Domain[] }).value;
    expect(listed.map((d) => d.state)).toEqual(['Verified']);
    expect((await trusting.api(`/${domain}/send-code`, postJson({ email: 'ada@fabrikam.example' }))).status).toBe(202);
    expect(dns.asked.has(domain)).toBe(false);
  });
});
