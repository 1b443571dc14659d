import { afterAll, describe, expect, it } from 'vitest';
import { createTenant, expectError, FUNCTION_KEY, hostWithTenant, startHost, stopAllHosts, uniquePrefix, type TestHost } from './helpers.js';

afterAll(() => stopAllHosts());

/** A management call with the given credential (or none). */
function manageAs(host: TestHost, key: string | undefined, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${host.baseUrl}/api/manage${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(key ? { 'x-functions-key': key } : {}), ...(init.headers as Record<string, string>) },
  });
}

async function createKey(host: TestHost, key: string, tenantId: string, name: string): Promise<{ id: string; key: string; name: string }> {
  const response = await manageAs(host, key, `/tenants/${tenantId}/keys`, { method: 'POST', body: JSON.stringify({ name }) });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; key: string; name: string };
}

/** Every management operation of the running app, from its OpenAPI document (generated from the registrations). */
async function managementOperations(host: TestHost): Promise<{ path: string; method: string }[]> {
  const doc = (await (await host.api('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
  const operations: { path: string; method: string }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/manage/')) continue;
    // The console's page and files are public; every call the page makes carries the credential.
    if (path.startsWith('/manage/console/')) continue;
    for (const method of Object.keys(item)) if (method !== 'options') operations.push({ path: `/api${path}`, method: method.toUpperCase() });
  }
  return operations;
}

const OPERATOR_ONLY = new Set(['GET /api/manage/tenants', 'POST /api/manage/tenants']);

/** Microsoft Graph's facade (…/graph/v1.0/…) takes the credential as Graph's SDK sends it, and answers in Graph's error shape. */
const isGraph = (path: string) => path.includes('/graph/');

function credentialHeaders(path: string, key: string): Record<string, string> {
  return isGraph(path) ? { authorization: `Bearer ${key}` } : { 'x-functions-key': key };
}

/** The contract's error body, or for the Graph facade Graph's, with guestpass's code in innerError.code. */
async function expectRefusal(path: string, response: Response, status: number, code: string): Promise<void> {
  if (!isGraph(path)) {
    await expectError(response, status, code);
    return;
  }
  const text = await response.text();
  const body = JSON.parse(text) as { error?: { code?: string; message?: string; innerError?: { code?: string } } };
  if (response.status !== status || body.error?.innerError?.code !== code || !body.error.message) throw new Error(`expected ${status} ${code} in Graph's shape, got ${response.status} ${text}`);
}

describe('tenant admin keys', () => {
  it('every management route refuses a key of another tenant with 404 as if the tenant did not exist, and operator-only routes with 403', async () => {
    const host = await startHost();
    const mine = await createTenant(host);
    const theirs = await createTenant(host);
    const { key } = await createKey(host, FUNCTION_KEY, mine.id, 'ci');
    const operations = await managementOperations(host);
    // The registrations of issue 12 at least: tenants, invitations, users, policies, sign-in logs, keys, audit, domains, lifecycle, me.
    expect(operations.length).toBeGreaterThanOrEqual(24);
    let checked = 0;
    for (const { path, method } of operations) {
      const label = `${method} ${path}`;
      if (path === '/api/manage/me') continue;
      if (OPERATOR_ONLY.has(label)) {
        await expectError(await fetch(`${host.baseUrl}${path}`, { method, headers: { 'x-functions-key': key, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' }), 403, 'forbidden');
        checked += 1;
        continue;
      }
      expect(path, label).toContain('{tenant}');
      for (const tenantRef of [theirs.id, theirs.domains[0]!, '00000000-0000-4000-8000-000000000000']) {
        const concrete = path
          .replace('{tenant}', encodeURIComponent(tenantRef))
          .replace('{id}', '6f1c0c4e-1111-4222-8333-944455556666')
          .replace('{name}', 'fabrikam.example');
        const response = await fetch(`${host.baseUrl}${concrete}`, {
          method,
          headers: { ...credentialHeaders(path, key), 'content-type': 'application/json' },
          body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
        });
        await expectRefusal(path, response, 404, 'tenant_not_found').catch((error: Error) => {
          throw new Error(`${label} as ${tenantRef}: ${error.message}`);
        });
      }
      checked += 1;
    }
    expect(checked).toBe(operations.length - 1);
    // The other tenant is untouched and its guests unseen.
    expect((await manageAs(host, FUNCTION_KEY, `/tenants/${theirs.id}`)).status).toBe(200);
  });

  it('every management route answers 401 without a credential, with a wrong one, and with the key in the URL (?code=) only', async () => {
    const host = await startHost();
    const tenant = await createTenant(host);
    const operations = await managementOperations(host);
    expect(operations.length).toBeGreaterThanOrEqual(24);
    for (const { path, method } of operations) {
      const concrete = path.replace('{tenant}', tenant.id).replace('{id}', '6f1c0c4e-1111-4222-8333-944455556666').replace('{name}', 'x.example');
      for (const init of [{}, { headers: credentialHeaders(path, 'not-the-key-0123456789') }, { headers: credentialHeaders(path, 'gpa_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') }]) {
        await expectRefusal(path, await fetch(`${host.baseUrl}${concrete}`, { method, ...init }), 401, 'unauthorized');
      }
      await expectRefusal(path, await fetch(`${host.baseUrl}${concrete}?code=${FUNCTION_KEY}`, { method }), 401, 'unauthorized');
    }
  });

  it("a tenant admin key manages its own tenant, by id or verified domain, and may make another key for it; the secret is shown once", async () => {
    const host = await startHost();
    const tenant = await createTenant(host);
    const first = await createKey(host, FUNCTION_KEY, tenant.id, 'helpdesk');
    expect(first.key).toMatch(/^gpa_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);

    const me = await manageAs(host, first.key, '/me');
    expect(await me.json()).toEqual({ kind: 'tenantAdmin', tenantId: tenant.id, keyId: first.id, name: 'helpdesk' });
    expect(await (await manageAs(host, FUNCTION_KEY, '/me')).json()).toEqual({ kind: 'operator' });

    expect((await manageAs(host, first.key, `/tenants/${tenant.domains[0]}`)).status).toBe(200);
    const patched = await manageAs(host, first.key, `/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ displayName: 'Contoso Ltd' }) });
    expect(patched.status).toBe(200);
    const second = await createKey(host, first.key, tenant.id, 'automation');

    const listed = (await (await manageAs(host, second.key, `/tenants/${tenant.id}/keys`)).json()) as { value: Record<string, unknown>[] };
    expect(listed.value.map((k) => [k.name, k.createdBy])).toEqual([
      ['helpdesk', 'operator'],
      ['automation', 'helpdesk'],
    ]);
    expect(listed.value[0]!.lastUsedAt).toEqual(expect.any(String));
    const text = JSON.stringify(listed);
    // The secret is everything after gpa_<id>_ (base64url, so it may hold '_' itself).
    expect(text).not.toContain(first.key.slice(first.key.indexOf('_', 4) + 1));
    expect(text).not.toContain('secretHash');

    // The audit log names the key by its name and id, never the secret.
    const audit = await (await manageAs(host, FUNCTION_KEY, `/tenants/${tenant.id}/audit`)).text();
    expect(audit).toContain('"name":"helpdesk"');
    expect(audit).not.toContain(first.key);
    expect(audit).not.toContain(second.key);
  });

  it('a revoked key stops working at once on every instance', async () => {
    const shared = { TABLE_PREFIX: uniquePrefix() };
    const [a, b] = await Promise.all([startHost(shared), startHost(shared)]);
    const tenant = await createTenant(a);
    const { id, key } = await createKey(a, FUNCTION_KEY, tenant.id, 'contractor');
    expect((await manageAs(b, key, `/tenants/${tenant.id}/users`)).status).toBe(200);
    expect((await manageAs(a, key, `/tenants/${tenant.id}/users`)).status).toBe(200);

    const revoked = await manageAs(a, FUNCTION_KEY, `/tenants/${tenant.id}/keys/${id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    await expectError(await manageAs(b, key, `/tenants/${tenant.id}/users`), 401, 'unauthorized');
    await expectError(await manageAs(a, key, `/tenants/${tenant.id}/users`), 401, 'unauthorized');
    const keys = (await (await manageAs(b, FUNCTION_KEY, `/tenants/${tenant.id}/keys`)).json()) as { value: { id: string; revokedAt?: string }[] };
    expect(keys.value.find((k) => k.id === id)!.revokedAt).toEqual(expect.any(String));
    // Revoking a key of another tenant through this tenant's route: not found.
    const other = await createTenant(a);
    const otherKey = await createKey(a, FUNCTION_KEY, other.id, 'other');
    await expectError(await manageAs(a, FUNCTION_KEY, `/tenants/${tenant.id}/keys/${otherKey.id}`, { method: 'DELETE' }), 404, 'key_not_found');
  });

  it('revoking a tenant admin key revokes the keys it made and the keys they made; the operator\'s other keys keep working', async () => {
    const { host, tenant } = await hostWithTenant();
    const parent = await createKey(host, FUNCTION_KEY, tenant.id, 'parent');
    const child = await createKey(host, parent.key, tenant.id, 'child');
    const grandchild = await createKey(host, child.key, tenant.id, 'grandchild');
    const sibling = await createKey(host, FUNCTION_KEY, tenant.id, 'sibling');
    for (const { key } of [parent, child, grandchild, sibling]) expect((await manageAs(host, key, `/tenants/${tenant.id}/users`)).status).toBe(200);

    expect((await manageAs(host, FUNCTION_KEY, `/tenants/${tenant.id}/keys/${parent.id}`, { method: 'DELETE' })).status).toBe(204);
    for (const { key } of [parent, child, grandchild]) await expectError(await manageAs(host, key, `/tenants/${tenant.id}/users`), 401, 'unauthorized');
    expect((await manageAs(host, sibling.key, `/tenants/${tenant.id}/users`)).status).toBe(200);
    const keys = (await (await manageAs(host, FUNCTION_KEY, `/tenants/${tenant.id}/keys`)).json()) as { value: { id: string; revokedAt?: string }[] };
    const revoked = keys.value.filter((k) => k.revokedAt).map((k) => k.id).sort();
    expect(revoked).toEqual([parent.id, child.id, grandchild.id].sort());
  });

  it('with OPERATOR_KEY set, that is the operator credential and LOCAL_FUNCTION_KEY no longer is', async () => {
    const operatorKey = 'operator-key-0123456789-0123456789-abcdef';
    const host = await startHost({ OPERATOR_KEY: operatorKey });
    expect((await manageAs(host, operatorKey, '/tenants')).status).toBe(200);
    await expectError(await manageAs(host, FUNCTION_KEY, '/tenants'), 401, 'unauthorized');
  });
});
