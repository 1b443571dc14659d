import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, GraphError, PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { Agent } from 'undici';
import { FUNCTION_KEY, mailQueueDrained, REDIRECT_URI, startHost, type TestHost } from './helpers.js';
import { localhostCertificate } from './tls.js';

/**
 * Issue 23: Microsoft Graph's own JavaScript SDK (@microsoft/microsoft-graph-client from
 * npm) pointed at a tenant's Graph-shaped base URL invites, lists and pages, blocks and
 * deletes guests. The SDK sends the credential only to https hosts named in customHosts
 * (GraphRequestUtil.isValidEndpoint in node_modules/@microsoft/microsoft-graph-client/lib/src/GraphRequestUtil.js
 * takes the host of an "https://" URL only; AuthenticationHandler strips Authorization
 * otherwise), so the local host serves HTTPS with a certificate made here
 * (LOCAL_TLS_CERT_FILE/LOCAL_TLS_KEY_FILE) that this process trusts through an undici
 * Agent with it as `ca`.
 *
 * Settings passed to the SDK: baseUrl, defaultVersion, authProvider, customHosts, and
 * fetchOptions.dispatcher (the trust of the local certificate); the rest are its defaults.
 */
let host: TestHost;
let origin: string;
let trust: Agent;
let tenantId: string;

/** A call over TLS that this test makes itself (creating the tenant, signing in). */
async function call(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${origin}/api${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    dispatcher: trust,
  } as RequestInit);
}

function graphClient(key: string, tenant = tenantId, base = origin): Client {
  return Client.init({
    baseUrl: `${base}/api/manage/tenants/${tenant}/graph`,
    defaultVersion: 'v1.0',
    authProvider: (done) => done(null, key),
    customHosts: new Set(['localhost']),
    fetchOptions: { dispatcher: trust } as never,
  });
}

async function graphError(request: Promise<unknown>): Promise<GraphError> {
  try {
    await request;
  } catch (error) {
    if (error instanceof GraphError) return error;
    throw error;
  }
  throw new Error('expected a GraphError');
}

beforeAll(async () => {
  const tls = await localhostCertificate();
  trust = new Agent({ connect: { ca: tls.cert } });
  host = await startHost({ LOCAL_TLS_CERT_FILE: tls.caFile, LOCAL_TLS_KEY_FILE: tls.keyFile, RESEND_COOLDOWN_SECONDS: '0' });
  origin = `https://localhost:${new URL(host.baseUrl).port}`;
  const created = await call('/manage/tenants', {
    method: 'POST',
    headers: { 'x-functions-key': FUNCTION_KEY },
    body: { displayName: 'Contoso', domains: [], allowedOrigins: ['https://app.contoso.test'], redirectUris: [REDIRECT_URI] },
  });
  expect(created.status).toBe(201);
  tenantId = ((await created.json()) as { id: string }).id;
});
afterAll(async () => {
  await host.stop();
  await trust.close();
});

describe("Microsoft Graph's JavaScript SDK against a tenant", () => {
  it("invites with api('/invitations').post and answers Graph's invitation; the guest is mailed", async () => {
    const graph = graphClient(FUNCTION_KEY);
    const invitation = await graph.api('/invitations').post({
      invitedUserEmailAddress: 'ann@graph.example',
      inviteRedirectUrl: REDIRECT_URI,
      invitedUserDisplayName: 'Ann',
      invitedUserType: 'Guest',
      sendInvitationMessage: true,
    });
    expect(invitation).toMatchObject({
      '@odata.context': `${origin}/api/manage/tenants/${tenantId}/graph/v1.0/$metadata#invitations/$entity`,
      invitedUserEmailAddress: 'ann@graph.example',
      invitedUserDisplayName: 'Ann',
      invitedUserType: 'Guest',
      inviteRedirectUrl: REDIRECT_URI,
      sendInvitationMessage: true,
      resetRedemption: false,
      status: 'PendingAcceptance',
      invitedUser: { id: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
    expect(new URL(invitation.inviteRedeemUrl).searchParams.get('login_hint')).toBe('ann@graph.example');
    await mailQueueDrained(host);
    const outbox = (await (await call('/dev/outbox?to=ann%40graph.example')).json()) as { value: { kind: string }[] };
    expect(outbox.value.map((mail) => mail.kind)).toEqual(['invitation']);
  });

  it("lists guests with filter, select and top, and PageIterator follows @odata.nextLink to the end", async () => {
    const graph = graphClient(FUNCTION_KEY);
    const addresses = ['p1', 'p2', 'p3', 'p4', 'p5'].map((name) => `${name}@paging.example`);
    for (const address of addresses) await graph.api('/invitations').post({ invitedUserEmailAddress: address, inviteRedirectUrl: REDIRECT_URI });

    const first = (await graph
      .api('/users')
      .filter("userType eq 'Guest' and startswith(mail,'p')")
      .select(['id', 'mail', 'externalUserState'])
      .top(2)
      .get()) as PageCollection;
    expect(first.value).toHaveLength(2);
    for (const user of first.value) expect(Object.keys(user).sort()).toEqual(['externalUserState', 'id', 'mail']);
    expect(first['@odata.nextLink']).toMatch(/^https:\/\/localhost:\d+\/api\/manage\/tenants\/.+\/graph\/v1\.0\/users\?/);

    const seen: string[] = [];
    await new PageIterator(graph, first, (user: { mail: string }) => {
      seen.push(user.mail);
      return true;
    }).iterate();
    expect(seen).toEqual(addresses);
  });

  it("reads a user in Graph's shape, blocks it with patch({accountEnabled:false}) (its session ends) and deletes it", async () => {
    const graph = graphClient(FUNCTION_KEY);
    const email = 'bea@graph.example';
    const { invitedUser } = await graph.api('/invitations').post({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI });
    // Bea signs in with a code.
    expect((await call(`/${tenantId}/send-code`, { method: 'POST', body: { email } })).status).toBe(202);
    await mailQueueDrained(host);
    const mails = (await (await call(`/dev/outbox?to=${encodeURIComponent(email)}`)).json()) as { value: { kind: string; text: string }[] };
    const code = /\b(\d{6,12})\b/.exec(mails.value.find((mail) => mail.kind === 'code')!.text)![1]!;
    const session = (await (await call(`/${tenantId}/verify-code`, { method: 'POST', body: { email, code } })).json()) as { token: string };

    const user = await graph.api(`/users/${invitedUser.id}`).get();
    expect(user).toEqual({
      '@odata.context': `${origin}/api/manage/tenants/${tenantId}/graph/v1.0/$metadata#users/$entity`,
      id: invitedUser.id,
      mail: email,
      displayName: email,
      userType: 'Guest',
      externalUserState: 'Accepted',
      externalUserStateChangeDateTime: expect.any(String),
      creationType: 'Invitation',
      createdDateTime: expect.any(String),
      accountEnabled: true,
      identities: [{ signInType: 'federated', issuer: 'mail', issuerAssignedId: email }],
    });

    await graph.api(`/users/${invitedUser.id}`).patch({ accountEnabled: false });
    expect((await graph.api(`/users/${invitedUser.id}`).select('accountEnabled').get()).accountEnabled).toBe(false);
    const check = await call(`/${tenantId}/session-check`, { headers: { authorization: `Bearer ${session.token}` } });
    expect(check.status).toBe(401);
    expect(((await check.json()) as { error: string }).error).toBe('session_revoked');
    const blocked = (await graph.api('/users').filter('accountEnabled eq false').get()) as PageCollection;
    expect(blocked.value.map((u: { mail: string }) => u.mail)).toEqual([email]);

    await graph.api(`/users/${invitedUser.id}`).delete();
    const gone = await graphError(graph.api(`/users/${invitedUser.id}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('Request_ResourceNotFound');
  });

  it("answers an unsupported $filter or $select, and bad input, in Graph's error shape", async () => {
    const graph = graphClient(FUNCTION_KEY);
    const filter = await graphError(graph.api('/users').filter("department eq 'Sales'").get());
    expect(filter.statusCode).toBe(400);
    expect(filter.code).toBe('Request_UnsupportedQuery');
    expect(filter.message).toContain("department eq 'Sales'");
    const select = await graphError(graph.api('/users').select(['id', 'jobTitle']).get());
    expect(select.statusCode).toBe(400);
    expect(select.code).toBe('Request_UnsupportedQuery');
    expect(select.message).toContain("'jobTitle'");
    const badPatch = await graphError(graph.api('/users/00000000-0000-4000-8000-000000000000').patch({ accountEnabled: 'no' }));
    expect(badPatch.statusCode).toBe(400);
    expect(badPatch.code).toBe('Request_BadRequest');
    const badInvite = await graphError(graph.api('/invitations').post({ invitedUserEmailAddress: 'c@graph.example', inviteRedirectUrl: 'https://evil.example/' }));
    expect(badInvite.statusCode).toBe(400);

    // The raw body, as any Graph client reads it.
    const raw = await call(`/manage/tenants/${tenantId}/graph/v1.0/users?$orderby=mail`, { headers: { authorization: `Bearer ${FUNCTION_KEY}` } });
    expect(raw.status).toBe(400);
    const body = (await raw.json()) as { error: { code: string; message: string; innerError: { code: string } } };
    expect(body.error).toMatchObject({ code: 'Request_BadRequest', message: expect.any(String), innerError: { code: 'invalid_request' } });
  });

  it("takes a tenant admin key as the Bearer credential, for its own tenant only; a wrong key is Graph's 401", async () => {
    const created = await call(`/manage/tenants/${tenantId}/keys`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY }, body: { name: 'graph script' } });
    const { key } = (await created.json()) as { key: string };
    const asAdmin = graphClient(key);
    const page = (await asAdmin.api('/users').top(1).get()) as PageCollection;
    expect(page.value).toHaveLength(1);

    const otherTenant = await graphError(graphClient(key, '00000000-0000-4000-8000-0000000000aa').api('/users').get());
    expect(otherTenant.statusCode).toBe(404);
    expect(otherTenant.code).toBe('Request_ResourceNotFound');
    const wrong = await graphError(graphClient(`${key.slice(0, -4)}AAAA`).api('/users').get());
    expect(wrong.statusCode).toBe(401);
    expect(wrong.code).toBe('InvalidAuthenticationToken');
  });

  it('sends no credential over plain HTTP, even to a host in customHosts: why the local host serves TLS here', async () => {
    // A plain HTTP listener on loopback that records what the SDK sends it.
    const seen: (string | undefined)[] = [];
    const listener = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const port = (listener.address() as AddressInfo).port;
      await graphClient(FUNCTION_KEY, tenantId, `http://localhost:${port}`).api('/users').get();
      await graphClient(FUNCTION_KEY, tenantId, origin).api('/users').top(1).get();
      expect(seen).toEqual([undefined]);
    } finally {
      listener.close();
    }
  });
});
