import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { API_OPERATIONS, openApiDocument, openApiPath, undocumentedOperations, unregisteredOperations, type RouteRegistration } from '../lib/openapi.js';
import { answerToMailedCode, createTenant, inviteGuest, latestCode, postJson, REDIRECT_URI, sendCode, sessionCheck, startHost, verifyCode, type TestHost } from './helpers.js';

let host: TestHost;
let document: {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
};
/** The routes the app registers, read from functions/index.ts itself under the host's settings. */
let routes: RouteRegistration[];

beforeAll(async () => {
  host = await startHost();
  const served = await host.api('/openapi.json');
  expect(served.status).toBe(200);
  document = (await served.json()) as typeof document;
  Object.assign(process.env, host.settings);
  await import('../functions/index.js');
  routes = (await import('../functions/openapi.js')).registeredRoutes();
});
afterAll(() => host.stop());

function operationsOf(doc: typeof document): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)).sort();
}

/** Parses a real answer with the schema API_OPERATIONS documents for it; nothing may be stripped. */
function expectDocumented(name: string, method: 'GET' | 'POST' | 'PATCH', status: number, body: unknown): void {
  const doc = API_OPERATIONS[name]?.[method];
  expect(doc, `${name} ${method} is documented`).toBeDefined();
  expect(status).toBe(doc!.success.status);
  const schema = doc!.success.schema as z.ZodType;
  expect(schema.parse(body), `${name} ${method} answers exactly its documented schema`).toEqual(body);
}

describe('the OpenAPI document', () => {
  it('lists every route and method the app registers, none missing and none extra', () => {
    const registered = routes.flatMap((r) => r.methods.map((m) => `${m.toUpperCase()} ${openApiPath(r.route).path}`)).sort();
    expect(registered.length).toBeGreaterThan(10);
    expect(operationsOf(document)).toEqual(registered);
  });

  it('has an API_OPERATIONS entry for every registered function and no stale entry', () => {
    expect(undocumentedOperations(routes), 'registered operations without an entry in API_OPERATIONS (lib/openapi.ts): add one line each').toEqual([]);
    expect(unregisteredOperations(routes), 'API_OPERATIONS entries that no function registers').toEqual([]);
  });

  it('names a newly registered function that has no entry, and still lists its route', () => {
    const withNew = [...routes, { name: 'policies', route: 'manage/tenants/{tenant}/policies', methods: ['GET', 'POST'], authLevel: 'function' }];
    expect(undocumentedOperations(withNew)).toEqual(['policies GET /manage/tenants/{tenant}/policies', 'policies POST /manage/tenants/{tenant}/policies']);
    const generated = openApiDocument(withNew) as typeof document;
    expect(Object.keys(generated.paths['/manage/tenants/{tenant}/policies']!)).toEqual(['get', 'post']);
  });

  it('documents every path parameter of every route and resolves every $ref', () => {
    expect(document).toMatchObject({ openapi: '3.1.0', servers: [{ url: '/api' }] });
    for (const [path, item] of Object.entries(document.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries(item)) {
        const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(pathParams, `${method} ${path}`).toEqual(names);
        expect(Object.keys(operation.responses).length, `${method} ${path} has responses`).toBeGreaterThan(0);
      }
    }
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(document.components.schemas, ref).toHaveProperty(ref);
  });

  it('describes request bodies from the zod schemas the functions validate with', () => {
    const sendCodeRequest = document.components.schemas.SendCodeRequest as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
    expect(sendCodeRequest.required).toEqual(['email']);
    expect(Object.keys(sendCodeRequest.properties)).toEqual(['email', 'locale', 'attempt', 'stepUp', 'device', 'invitation']);
    expect(sendCodeRequest.additionalProperties).toBe(false);
    const verify = document.paths['/{tenant}/verify-code']!.post as { responses: Record<string, { headers?: unknown }> };
    expect(Object.keys(verify.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '404', '429']));
    expect(verify.responses['429']!.headers).toHaveProperty('Retry-After');
  });

  it("documents each endpoint's success answer with the schema it really answers", async () => {
    const tenantCreated = await host.manage('/tenants', postJson({ displayName: 'Schema Check', domains: ['schema-check.test'], redirectUris: [REDIRECT_URI] }));
    const tenant = (await tenantCreated.clone().json()) as { id: string };
    expectDocumented('manageTenants', 'POST', tenantCreated.status, await tenantCreated.json());
    const read = await host.manage(`/tenants/${tenant.id}`);
    expectDocumented('manageTenant', 'GET', read.status, await read.json());
    const changed = await host.manage(`/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ displayName: 'Schema Check 2' }) });
    expectDocumented('manageTenant', 'PATCH', changed.status, await changed.json());
    const invitation = await host.manage(`/tenants/${tenant.id}/invitations`, postJson({ invitedUserEmailAddress: 'schema@example.com', inviteRedirectUrl: REDIRECT_URI }));
    expectDocumented('manageInvitations', 'POST', invitation.status, await invitation.json());

    const sent = await sendCode(host, tenant.id, 'schema@example.com');
    expectDocumented('sendCode', 'POST', sent.status, await sent.json());
    const mail = await host.api('/dev/outbox?to=schema%40example.com');
    expectDocumented('devOutbox', 'GET', mail.status, await mail.json());
    const verified = await verifyCode(host, tenant.id, 'schema@example.com', await latestCode(host, 'schema@example.com'));
    const session = (await verified.clone().json()) as { token: string };
    expectDocumented('verifyCode', 'POST', verified.status, await verified.json());
    const checked = await sessionCheck(host, tenant.id, session.token);
    expectDocumented('sessionCheck', 'GET', checked.status, await checked.json());
    const keys = await host.api(`/${tenant.id}/discovery/keys`);
    expectDocumented('discoveryKeys', 'GET', keys.status, await keys.json());
    const signedOut = await host.api(`/${tenant.id}/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } });
    expect(signedOut.status).toBe(API_OPERATIONS.signOut!.POST!.success.status);
    const withoutTenant = await host.api('/send-code', postJson({ email: 'schema@example.com' }));
    expectDocumented('tenantContextRequired', 'POST', withoutTenant.status, await withoutTenant.json());
  });

  it('documents error answers with the Error schema, including other_method_required with its method', async () => {
    const tenant = await createTenant(host, { googleFederation: true });
    await inviteGuest(host, tenant.id, 'someone@gmail.com');
    const refused = await answerToMailedCode(host, tenant.id, 'someone@gmail.com');
    expect(refused.status).toBe(409);
    const body = await refused.json();
    const errorSchema = API_OPERATIONS.tenantContextRequired!.GET!.success.schema as z.ZodType;
    expect(errorSchema.parse(body)).toEqual(body);
    expect(body).toMatchObject({ error: 'other_method_required', method: 'Google' });
  });

  it('is served without a function key', async () => {
    const response = await host.api('/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
  });
});
