import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { listAudit } from '../lib/admin/audit.js';
import { deliverWebhook, MAX_ATTEMPTS, newEventId, RETRY_DELAYS_SECONDS, WEBHOOK_MESSAGE_VERSION, type WebhookMessage } from '../lib/events/delivery.js';
import { checkWebhookUrl, isPublicAddress } from '../lib/events/webhookUrl.js';
import { emitEventOncePerHour } from '../lib/events/emit.js';
import { createWebhook, getWebhook, rotateWebhookSecret } from '../lib/events/webhooks.js';
import { dayTable } from '../lib/storage/dayTables.js';
import { createTenant as createTenantRow } from '../lib/tenants/tenants.js';
import { newMailId, recordMailFate } from '../lib/mail/delivery.js';
import { applyDeliveryEvents } from '../lib/mail/events.js';
import { createTenant, expectError, inviteGuest, latestCode, postJson, sendCode, startHost, stopAllHosts, testRuntime, uniquePrefix, until, type TestHost } from './helpers.js';

afterAll(() => stopAllHosts());

type Mode = 'fail' | 'hang' | 'redirect' | 'ok';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** What standardwebhooks' Webhook.verify said of it under each secret the test knows. */
  verifiedWith: string[];
}

/**
 * A webhook receiver on loopback that checks every request with the specification's own
 * library (standardwebhooks' Webhook.verify) and answers as `mode` says: 500, never,
 * a redirect to /elsewhere, or 204.
 */
async function startReceiver(): Promise<{ url: string; received: Received[]; secrets: string[]; mode: Mode; close(): Promise<void> }> {
  const state = { received: [] as Received[], secrets: [] as string[], mode: 'ok' as Mode };
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      const verifiedWith = state.secrets.filter((secret) => {
        try {
          new Webhook(secret).verify(body, headers);
          return true;
        } catch {
          return false;
        }
      });
      state.received.push({ path: request.url ?? '', headers, body, verifiedWith });
      if (state.mode === 'hang') return void hanging.push(response);
      if (state.mode === 'fail') return void response.writeHead(500, { 'content-type': 'text/plain' }).end('receiver is down');
      if (state.mode === 'redirect') return void response.writeHead(302, { location: '/elsewhere' }).end();
      response.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/hooks`,
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      server.close();
    },
  });
}

function message(tenantId: string, endpointId: string, attempt = 1): WebhookMessage {
  return {
    v: WEBHOOK_MESSAGE_VERSION,
    tenantId,
    endpointId,
    attempt,
    event: { id: newEventId(), type: 'guest.invited', timestamp: new Date().toISOString(), data: { tenantId, guestId: 'g-1' } },
  };
}

describe('webhook registration', () => {
  let host: TestHost;

  it('creates an endpoint with a whsec_ secret shown once, lists it without the secret, rotates and deletes it', async () => {
    host = await startHost({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    const tenant = await createTenant(host);
    const created = await host.manage(`/tenants/${tenant.id}/webhooks`, {
      method: 'POST',
      body: JSON.stringify({ url: 'http://127.0.0.1:9/hooks', events: ['guest.invited', 'signin.refused'], description: 'CRM sync' }),
    });
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string; url: string; events: string[]; secret: string; enabled: boolean };
    expect(endpoint).toMatchObject({ url: 'http://127.0.0.1:9/hooks', events: ['guest.invited', 'signin.refused'], enabled: true });
    expect(endpoint.id).toMatch(/^ep_[0-9a-f]{32}$/);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);

    const listed = (await (await host.manage(`/tenants/${tenant.id}/webhooks`)).json()) as { value: Record<string, unknown>[] };
    expect(listed.value).toHaveLength(1);
    expect(listed.value[0]).toMatchObject({ id: endpoint.id, description: 'CRM sync', recentDeliveries: [] });
    expect(JSON.stringify(listed)).not.toContain(endpoint.secret.slice(6));

    const rotated = await host.manage(`/tenants/${tenant.id}/webhooks/${endpoint.id}/rotate-secret`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    const { secret } = (await rotated.json()) as { secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(endpoint.secret);

    const changed = await host.manage(`/tenants/${tenant.id}/webhooks/${endpoint.id}`, { method: 'PATCH', body: JSON.stringify({ events: null }) });
    expect(((await changed.json()) as { events: string[] }).events).toEqual([]);

    expect((await host.manage(`/tenants/${tenant.id}/webhooks/${endpoint.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectError(await host.manage(`/tenants/${tenant.id}/webhooks/${endpoint.id}`), 404, 'webhook_not_found');
    await expectError(await host.manage(`/tenants/${tenant.id}/webhooks/${endpoint.id}/rotate-secret`, { method: 'POST' }), 404, 'webhook_not_found');

    const audit = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; after?: unknown }[] };
    expect(audit.value.map((entry) => entry.action)).toEqual(['webhook.delete', 'webhook.update', 'webhook.rotateSecret', 'webhook.create', 'tenant.create']);
    expect(JSON.stringify(audit)).not.toContain(secret.slice(6));
  });

  it('refuses bad bodies and ids with 400 and writes nothing', async () => {
    const tenant = await createTenant(host);
    const post = (body: unknown) => host.manage(`/tenants/${tenant.id}/webhooks`, { method: 'POST', body: JSON.stringify(body) });
    await expectError(await post({}), 400, 'invalid_request');
    await expectError(await post({ url: 'https://example.com/', events: ['guest.teleported'] }), 400, 'invalid_request');
    await expectError(await post({ url: 'https://example.com/', events: [] }), 400, 'invalid_request');
    await expectError(await post({ url: 'https://example.com/', secret: 'mine' }), 400, 'invalid_request');
    await expectError(await post({ url: 'not a url' }), 400, 'invalid_webhook_url');
    await expectError(await post({ url: 'ftp://example.com/' }), 400, 'invalid_webhook_url');
    await expectError(await post({ url: 'https://user:pw@example.com/' }), 400, 'invalid_webhook_url');
    await expectError(await host.manage(`/tenants/${tenant.id}/webhooks/not-an-id`), 400, 'invalid_request');
    const listed = (await (await host.manage(`/tenants/${tenant.id}/webhooks`)).json()) as { value: unknown[] };
    expect(listed.value).toEqual([]);
  });

  it('refuses a url on a loopback, private or link-local address, by literal or by name, unless the development setting allows it', async () => {
    const strict = await startHost();
    const tenant = await createTenant(strict);
    const post = (url: string) => strict.manage(`/tenants/${tenant.id}/webhooks`, { method: 'POST', body: JSON.stringify({ url }) });
    for (const url of ['http://127.0.0.1:8080/', 'https://10.1.2.3/', 'https://192.168.0.10/', 'https://169.254.169.254/latest/meta-data', 'https://[::1]/', 'https://[fe80::1]/', 'https://[::ffff:10.0.0.1]/', 'https://100.64.0.1/', 'http://localhost:7071/api/manage/tenants']) {
      const body = await expectError(await post(url), 400, 'invalid_webhook_url');
      expect(body.message).toMatch(/resolves to .*(loopback|private|link-local|reserved)/);
    }
    await expectError(await post('https://no-such-host.invalid/'), 400, 'invalid_webhook_url');
    await strict.stop();
  });

  it('accepts only https outside development', async () => {
    const production = { development: false, dnsServers: [], webhooks: { allowPrivateAddresses: false } };
    await expect(checkWebhookUrl(production, 'http://203.0.113.10/hooks')).rejects.toMatchObject({ code: 'invalid_webhook_url', message: 'The webhook url must start with https://.' });
    await expect(checkWebhookUrl(production, 'https://93.184.215.14/hooks')).resolves.toBeInstanceOf(URL);
    expect(isPublicAddress('8.8.8.8')).toBe(true);
    expect(isPublicAddress('2606:4700:4700::1111')).toBe(true);
    for (const address of ['127.0.0.1', '10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '224.0.0.1']) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });
});

describe('webhook delivery', () => {
  it('signs each attempt so standardwebhooks verifies it, and retries a failing, hanging or redirecting receiver on the schedule until it recovers', async () => {
    const rt = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WEBHOOK_TIMEOUT_SECONDS: '1' });
    const tenant = await createTenantRow(rt, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const receiver = await startReceiver();
    try {
      const endpoint = await createWebhook(rt, tenant.id, { url: receiver.url });
      receiver.secrets.push(endpoint.secret);
      const first = message(tenant.id, endpoint.id);

      receiver.mode = 'fail';
      const failed = await deliverWebhook(rt, first);
      expect(failed).toMatchObject({ outcome: 'failed', status: 500, error: 'the receiver answered 500', retry: { delaySeconds: RETRY_DELAYS_SECONDS[0] } });

      receiver.mode = 'hang';
      const started = Date.now();
      const hung = await deliverWebhook(rt, (failed as { retry: { message: WebhookMessage } }).retry.message);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(hung).toMatchObject({ outcome: 'failed', error: 'no answer within 1 s', retry: { delaySeconds: RETRY_DELAYS_SECONDS[1] } });

      receiver.mode = 'redirect';
      const redirected = await deliverWebhook(rt, (hung as { retry: { message: WebhookMessage } }).retry.message);
      expect(redirected).toMatchObject({ outcome: 'failed', status: 302, retry: { delaySeconds: RETRY_DELAYS_SECONDS[2] } });
      expect((redirected as { error: string }).error).toMatch(/^redirect refused/);

      receiver.mode = 'ok';
      const delivered = await deliverWebhook(rt, (redirected as { retry: { message: WebhookMessage } }).retry.message);
      expect(delivered).toEqual({ outcome: 'delivered', status: 204 });

      // Four attempts of one event, each verified by the specification's library, never the redirect's target.
      expect(receiver.received.map((r) => r.path)).toEqual(['/hooks', '/hooks', '/hooks', '/hooks']);
      expect(receiver.received.every((r) => r.verifiedWith.length === 1)).toBe(true);
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([first.event.id]));
      expect(JSON.parse(receiver.received[3]!.body)).toEqual({ type: 'guest.invited', timestamp: first.event.timestamp, data: { tenantId: tenant.id, guestId: 'g-1' } });
      expect(receiver.received[0]!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);

      const view = await getWebhook(rt, tenant.id, endpoint.id);
      expect(view.failingSince).toBeUndefined();
      expect(view.recentDeliveries!.map((d) => [d.attempt, d.outcome, d.status ?? null])).toEqual([
        [4, 'delivered', 204],
        [3, 'failed', 302],
        [2, 'failed', null],
        [1, 'failed', 500],
      ]);
      expect(view.recentDeliveries![3]).toMatchObject({ response: 'receiver is down', eventType: 'guest.invited' });
      expect(view.recentDeliveries![3]!.nextAttemptAt).toBeDefined();
    } finally {
      await receiver.close();
    }
  });

  it('signs with the new and the previous secret for a day after a rotation', async () => {
    const rt = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    const tenant = await createTenantRow(rt, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const receiver = await startReceiver();
    try {
      const endpoint = await createWebhook(rt, tenant.id, { url: receiver.url });
      const rotated = await rotateWebhookSecret(rt, tenant.id, endpoint.id);
      receiver.secrets.push(endpoint.secret, rotated.secret);
      expect(await deliverWebhook(rt, message(tenant.id, endpoint.id))).toMatchObject({ outcome: 'delivered' });
      expect(receiver.received[0]!.verifiedWith).toEqual([endpoint.secret, rotated.secret]);
      expect(receiver.received[0]!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    } finally {
      await receiver.close();
    }
  });

  it('gives up after the last attempt of the schedule', async () => {
    const rt = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    const tenant = await createTenantRow(rt, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const receiver = await startReceiver();
    try {
      const endpoint = await createWebhook(rt, tenant.id, { url: receiver.url });
      receiver.mode = 'fail';
      const last = await deliverWebhook(rt, message(tenant.id, endpoint.id, MAX_ATTEMPTS));
      expect(last).toMatchObject({ outcome: 'failed', status: 500 });
      expect('retry' in last && last.retry).toBeFalsy();
      expect(MAX_ATTEMPTS).toBe(8);
    } finally {
      await receiver.close();
    }
  });

  it('disables an endpoint still failing days after its first failure, and says so in the audit log', async () => {
    let now = Date.now();
    const rt = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WEBHOOK_DISABLE_AFTER_DAYS: '5' }, { now: () => now });
    const tenant = await createTenantRow(rt, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const receiver = await startReceiver();
    try {
      const endpoint = await createWebhook(rt, tenant.id, { url: receiver.url });
      receiver.mode = 'fail';
      await deliverWebhook(rt, message(tenant.id, endpoint.id));
      expect((await getWebhook(rt, tenant.id, endpoint.id)).failingSince).toBe(new Date(now).toISOString());
      now += 4 * 86_400_000;
      expect(await deliverWebhook(rt, message(tenant.id, endpoint.id))).toMatchObject({ outcome: 'failed', retry: { delaySeconds: 5 } });
      now += 86_400_000;
      expect(await deliverWebhook(rt, message(tenant.id, endpoint.id))).toMatchObject({ outcome: 'failed', disabled: true });
      const view = await getWebhook(rt, tenant.id, endpoint.id);
      expect(view.enabled).toBe(false);
      expect(view.disabledReason).toMatch(/^disabled after failing for 5 days; last error: the receiver answered 500/);
      const audit = await listAudit(rt, tenant.id, { $top: 10 });
      expect(audit.value[0]).toMatchObject({ action: 'webhook.disable', actor: { name: 'webhook delivery' }, target: { type: 'webhook', id: endpoint.id } });
      // A disabled endpoint gets nothing until an administrator turns it back on.
      const sent = receiver.received.length;
      expect(await deliverWebhook(rt, message(tenant.id, endpoint.id))).toEqual({ outcome: 'skipped', reason: 'the endpoint is disabled' });
      expect(receiver.received.length).toBe(sent);
    } finally {
      await receiver.close();
    }
  });

  it('refuses at connection time an address that is not public, by literal and by name', async () => {
    const open = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    const tenant = await createTenantRow(open, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const receiver = await startReceiver();
    try {
      const byLiteral = await createWebhook(open, tenant.id, { url: receiver.url });
      const byName = await createWebhook(open, tenant.id, { url: receiver.url.replace('127.0.0.1', 'localhost') });
      // The same storage, read by an instance where the development setting is off (as after a name starts resolving inward).
      const strict = await testRuntime({ TABLE_PREFIX: open.config.storage.tablePrefix });
      for (const endpoint of [byLiteral, byName]) {
        const outcome = await deliverWebhook(strict, message(tenant.id, endpoint.id));
        expect(outcome).toMatchObject({ outcome: 'failed' });
        expect((outcome as { error: string }).error).toMatch(/^address not allowed: (127\.0\.0\.1|localhost) resolved to (127\.0\.0\.1|::1)/);
      }
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});

describe('webhook events through the queue', () => {
  it('delivers the events of invitations, sign-ins, refusals and keys through the deliver-webhook trigger, retries a receiver that hangs then fails, and never makes a request wait for it', async () => {
    const receiver = await startReceiver();
    const host = await startHost({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WEBHOOK_TIMEOUT_SECONDS: '4' });
    try {
      const tenant = await createTenant(host);
      const created = (await (await host.manage(`/tenants/${tenant.id}/webhooks`, { method: 'POST', body: JSON.stringify({ url: receiver.url }) })).json()) as { id: string; secret: string };
      const blockedOnly = (await (await host.manage(`/tenants/${tenant.id}/webhooks`, { method: 'POST', body: JSON.stringify({ url: receiver.url.replace('/hooks', '/blocked'), events: ['guest.blocked'] }) })).json()) as { secret: string };
      receiver.secrets.push(created.secret, blockedOnly.secret);
      const events = () => receiver.received.filter((r) => r.path === '/hooks' && r.verifiedWith.length > 0).map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });

      receiver.mode = 'hang';
      const email = 'hook.guest@fabrikam.example';
      const started = Date.now();
      const guest = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
      // The receiver hangs for the whole WEBHOOK_TIMEOUT_SECONDS; the invitation does not wait for it.
      expect(Date.now() - started).toBeLessThan(4000);
      const first = await until('the first attempt', () => receiver.received.find((r) => r.path === '/hooks'));
      receiver.mode = 'fail';
      await until('the second attempt (5 s later)', () => (receiver.received.filter((r) => r.path === '/hooks').length >= 2 ? true : undefined));
      // The third attempt waits 5 minutes in the queue; the receiver is fine again for what follows.
      receiver.mode = 'ok';
      const attempts = receiver.received.filter((r) => r.headers['webhook-id'] === first.headers['webhook-id']);
      expect(attempts.length).toBe(2);
      expect(attempts.every((r) => r.verifiedWith.includes(created.secret))).toBe(true);
      expect(JSON.parse(first.body)).toMatchObject({ type: 'guest.invited', data: { tenantId: tenant.id, guestId: guest.invitedUser.id } });
      const listed = (await (await host.manage(`/tenants/${tenant.id}/webhooks/${created.id}`)).json()) as { failingSince?: string; recentDeliveries: { outcome: string; error?: string; attempt: number; nextAttemptAt?: string }[] };
      expect(listed.recentDeliveries.map((d) => [d.attempt, d.outcome])).toEqual([[2, 'failed'], [1, 'failed']]);
      expect(listed.recentDeliveries[1]!.error).toBe('no answer within 4 s');
      expect(listed.recentDeliveries[0]!.nextAttemptAt).toBeDefined();
      expect(listed.failingSince).toBeDefined();

      // Sign-in: a wrong code three times is one signin.refused; the right one signs in and redeems.
      expect((await sendCode(host, tenant.id, email)).status).toBe(202);
      const code = await latestCode(host, email);
      const wrong = code === '00000000' ? '11111111' : '00000000';
      for (let i = 0; i < 3; i += 1) expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code: wrong }))).status).toBe(401);
      expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code }))).status).toBe(200);
      expect((await host.manage(`/tenants/${tenant.id}/keys`, { method: 'POST', body: JSON.stringify({ name: 'ci' }) })).status).toBe(201);
      await until('the sign-in and key events', () => (events().some((e) => e.type === 'admin.key.created') && events().some((e) => e.type === 'signin.succeeded') ? true : undefined));
      const types = events().map((e) => e.type);
      expect(types.filter((t) => t === 'signin.refused')).toHaveLength(1);
      expect(events().find((e) => e.type === 'signin.refused')!.data).toEqual({ tenantId: tenant.id, reason: 'invalid_code', event: 'verify-code' });
      expect(events().find((e) => e.type === 'signin.succeeded')!.data).toEqual({ tenantId: tenant.id, guestId: guest.invitedUser.id });
      expect(events().find((e) => e.type === 'guest.redeemed')!.data).toEqual({ tenantId: tenant.id, guestId: guest.invitedUser.id });
      // The endpoint that asked for guest.blocked only got none of these.
      expect(receiver.received.filter((r) => r.path === '/blocked')).toEqual([]);
      // No address and no code in anything sent.
      const everything = receiver.received.map((r) => r.body).join('\n');
      expect(everything).not.toContain(email);
      expect(everything).not.toContain(code);
    } finally {
      await host.stop();
      await receiver.close();
    }
  });
});

describe('signin.refused across instances', () => {
  it('tells a refusal once per address, reason and hour even when the wrong codes reach two instances', async () => {
    const receiver = await startReceiver();
    // Two instances of one deployment: the same tables and queues on the same Azurite.
    const shared = { TABLE_PREFIX: uniquePrefix(), WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' };
    const [first, second] = [await startHost(shared), await startHost(shared)];
    try {
      const tenant = await createTenant(first);
      const created = (await (await first.manage(`/tenants/${tenant.id}/webhooks`, { method: 'POST', body: JSON.stringify({ url: receiver.url, events: ['signin.refused'] }) })).json()) as { secret: string };
      receiver.secrets.push(created.secret);
      const refusals = () => receiver.received.filter((r) => r.verifiedWith.length > 0).map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });

      const email = 'twice.refused@fabrikam.example';
      await inviteGuest(first, tenant.id, email, { sendInvitationMessage: false });
      expect((await sendCode(first, tenant.id, email)).status).toBe(202);
      const code = await latestCode(first, email);
      const wrong = code === '00000000' ? '11111111' : '00000000';
      for (const host of [first, second, first, second]) expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code: wrong }))).status).toBe(401);
      // Another address is told on its own.
      expect((await second.api(`/${tenant.id}/verify-code`, postJson({ email: 'someone.else@fabrikam.example', code: wrong }))).status).toBe(401);

      await until('two refusals', () => (refusals().length >= 2 ? true : undefined));
      // Both instances poll the queue; give a wrongly queued third event time to arrive.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(refusals().map((e) => [e.type, e.data.reason])).toEqual([
        ['signin.refused', 'invalid_code'],
        ['signin.refused', 'invalid_code'],
      ]);
    } finally {
      await first.stop();
      await second.stop();
      await receiver.close();
    }
  });
});

describe('events told once per hour', () => {
  it('queues an event claimed for a key once per UTC hour, again in the next hour, and not at all when nobody listens', async () => {
    let now = Date.parse('2026-03-01T10:05:00Z');
    const rt = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' }, { now: () => now });
    const tenant = await createTenantRow(rt, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const quiet = await createTenantRow(rt, { displayName: 'Quiet', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    await createWebhook(rt, tenant.id, { url: 'http://127.0.0.1:9/hooks', events: ['signin.refused'] });
    const refused = (tenantId: string, key: string) => emitEventOncePerHour(rt, tenantId, 'signin.refused', { reason: 'invalid_code', event: 'verify-code' }, key);

    await refused(tenant.id, 'address-a|invalid_code');
    now += 50 * 60_000; // 10:55, the same hour
    await refused(tenant.id, 'address-a|invalid_code');
    await refused(tenant.id, 'address-b|invalid_code');
    now += 10 * 60_000; // 11:05, the next hour
    await refused(tenant.id, 'address-a|invalid_code');
    await refused(quiet.id, 'address-a|invalid_code');

    const queue = await rt.queues.webhooks();
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    const messages = receivedMessageItems.map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as WebhookMessage);
    expect(messages.map((m) => [m.tenantId, m.event.timestamp])).toEqual([
      [tenant.id, '2026-03-01T10:05:00.000Z'],
      [tenant.id, '2026-03-01T10:55:00.000Z'],
      [tenant.id, '2026-03-01T11:05:00.000Z'],
    ]);
    // The claims: one row per key and hour, keyed by digests (no address in storage), for the tenant with a listener only.
    const limits = await dayTable(rt, 'limits', now);
    const rows: { rowKey?: string }[] = [];
    for await (const row of limits.listEntities({ queryOptions: { filter: "PartitionKey ge 'once_' and PartitionKey lt 'once`'" } })) rows.push(row);
    expect(rows.map((row) => row.rowKey).sort()).toEqual([String(Date.parse('2026-03-01T10:00:00Z')), String(Date.parse('2026-03-01T10:00:00Z')), String(Date.parse('2026-03-01T11:00:00Z'))]);
    expect(JSON.stringify(rows)).not.toContain('address-a');
  });
});

describe('mail events', () => {
  it('queues mail.refused and mail.bounced for a subscribed endpoint with the mail id and kind, never the provider reason', async () => {
    const rt = await testRuntime({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    const tenant = await createTenantRow(rt, { displayName: 'Fabrikam', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const endpoint = await createWebhook(rt, tenant.id, { url: 'http://127.0.0.1:9/hooks', events: ['mail.refused', 'mail.bounced', 'mail.delivered'] });
    const refused = { id: newMailId(rt.now()), tenantId: tenant.id, kind: 'code' };
    await recordMailFate(rt, refused, 'refused', { reason: '550 5.1.1 <ann@fabrikam.example> unknown' });
    const bounced = { id: newMailId(rt.now()), tenantId: tenant.id, kind: 'invitation' };
    await recordMailFate(rt, bounced, 'sent');
    expect(await applyDeliveryEvents(rt, [{ mailId: bounced.id, status: 'bounced', reason: 'mailbox full: bob@fabrikam.example', at: new Date(rt.now() + 1000) }])).toEqual({ applied: 1, ignored: 0 });
    const queue = await rt.queues.webhooks();
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    const messages = receivedMessageItems.map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as WebhookMessage);
    expect(messages.map((m) => [m.endpointId, m.event.type, m.event.data]).sort()).toEqual([
      [endpoint.id, 'mail.bounced', { tenantId: tenant.id, mailId: bounced.id, kind: 'invitation', status: 'bounced' }],
      [endpoint.id, 'mail.refused', { tenantId: tenant.id, mailId: refused.id, kind: 'code' }],
    ]);
    expect(JSON.stringify(messages)).not.toMatch(/fabrikam\.example/);
  });
});

describe('queue depths', () => {
  it('reports the depth and oldest message age of the mail and webhook queues and their poison queues', async () => {
    const { observeQueues } = await import('../lib/storage/queueDepth.js');
    const rt = await testRuntime();
    const poison = await rt.queues.named(`${rt.config.queue.webhookQueueName}-poison`);
    await poison.sendMessage(Buffer.from('{}').toString('base64'));
    const depths = await observeQueues(rt);
    expect(depths.map((d) => d.queue)).toEqual([rt.config.queue.mailQueueName, `${rt.config.queue.mailQueueName}-poison`, rt.config.queue.webhookQueueName, `${rt.config.queue.webhookQueueName}-poison`]);
    expect(depths[3]).toMatchObject({ depth: 1 });
    expect(depths[3]!.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(depths[0]).toEqual({ queue: rt.config.queue.mailQueueName, depth: 0, oldestAgeSeconds: 0 });
  });
});
