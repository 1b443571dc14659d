import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ORIGIN, createTenant, expectError, postJson, startHost, type TestHost, type TestTenant } from './helpers.js';

let host: TestHost;
let tenant: TestTenant;
let otherTenant: TestTenant;
const OTHER_ORIGIN = 'https://portal.fabrikam.test';

beforeAll(async () => {
  host = await startHost();
  tenant = await createTenant(host);
  otherTenant = await createTenant(host, { allowedOrigins: [OTHER_ORIGIN] });
});
afterAll(() => host.stop());

function preflight(tenantRef: string, route: string, origin: string, method = 'POST'): Promise<Response> {
  return host.api(`/${tenantRef}/${route}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type, authorization' },
  });
}

function expectNoWildcard(response: Response): void {
  response.headers.forEach((value, name) => {
    if (name.startsWith('access-control-')) expect(value, name).not.toBe('*');
  });
  expect(response.headers.get('access-control-allow-credentials')).toBeNull();
}

describe("CORS follows each tenant's allowedOrigins", () => {
  it('answers the preflight of an allowed origin on every guest endpoint, echoing that origin only', async () => {
    for (const [route, method] of [['send-code', 'POST'], ['verify-code', 'POST'], ['session-check', 'GET'], ['sign-out', 'POST'], ['discovery/keys', 'GET']] as const) {
      const response = await preflight(tenant.id, route, APP_ORIGIN, method);
      expect(response.status, route).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
      expect(response.headers.get('access-control-allow-methods')).toContain(method);
      expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(response.headers.get('vary')).toContain('Origin');
      expectNoWildcard(response);
    }
    // By a verified domain too.
    expect((await preflight(tenant.domains[0]!, 'send-code', APP_ORIGIN)).headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  });

  it('refuses the preflight of a foreign origin with 403 origin_not_allowed and no CORS grant', async () => {
    for (const origin of [OTHER_ORIGIN, 'https://evil.example', 'null', `${APP_ORIGIN}.evil.example`, 'http://app.contoso.test', `${APP_ORIGIN}:8443`]) {
      const response = await preflight(tenant.id, 'send-code', origin);
      await expectError(response.clone(), 403, 'origin_not_allowed');
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(response.headers.get('vary')).toContain('Origin');
    }
  });

  it("one tenant's allowed origin is foreign to another tenant", async () => {
    await expectError(await preflight(otherTenant.id, 'send-code', APP_ORIGIN), 403, 'origin_not_allowed');
    expect((await preflight(otherTenant.id, 'send-code', OTHER_ORIGIN)).headers.get('access-control-allow-origin')).toBe(OTHER_ORIGIN);
  });

  it('a preflight for an unknown tenant grants nothing', async () => {
    const response = await preflight('unknown.example', 'send-code', APP_ORIGIN);
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('actual requests: an allowed origin is granted, a foreign one is not, and every answer says Vary: Origin', async () => {
    const allowed = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'cors@example.com' }, { origin: APP_ORIGIN }));
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.headers.get('access-control-expose-headers')).toContain('Retry-After');
    expect(allowed.headers.get('vary')).toContain('Origin');
    expectNoWildcard(allowed);

    const foreign = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'cors2@example.com' }, { origin: 'https://evil.example' }));
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('vary')).toContain('Origin');

    const noOrigin = await host.api(`/${tenant.id}/session-check`);
    expect(noOrigin.headers.get('access-control-allow-origin')).toBeNull();
    expect(noOrigin.headers.get('vary')).toContain('Origin');
  });

  it('errors to an allowed origin carry the grant too, so the app can read them', async () => {
    const response = await host.api(`/${tenant.id}/session-check`, { headers: { origin: APP_ORIGIN } });
    expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    await expectError(response, 401, 'invalid_token');
  });

  it('a change of allowedOrigins takes effect (after the tenant cache)', async () => {
    const changing = await createTenant(host, { allowedOrigins: [] });
    await expectError(await preflight(changing.id, 'send-code', APP_ORIGIN), 403, 'origin_not_allowed');
    const patched = await host.manage(`/tenants/${changing.id}`, { method: 'PATCH', body: JSON.stringify({ allowedOrigins: [APP_ORIGIN] }) });
    expect(patched.status).toBe(200);
    expect((await preflight(changing.id, 'send-code', APP_ORIGIN)).status).toBe(204);
  });
});
