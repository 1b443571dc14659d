import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config.js';
import { processWebhookMessage, UnreadableWebhookMessage } from '../lib/events/queue.js';
import { createTenant, inviteGuest, latestCode, postJson, sendCode, startHost, stopAllHosts, testRuntime, testSettings, until } from './helpers.js';
import { startTopic, type CloudEventSent } from './eventGridTopic.js';
import { localhostCertificate } from './tls.js';

afterAll(() => stopAllHosts());

describe('Event Grid settings', () => {
  const load = (settings: Record<string, string>) => () => loadConfig(testSettings(settings), () => undefined);

  it('is off without EVENT_GRID_TOPIC_ENDPOINT, and takes the topic endpoint Azure shows with the managed identity', () => {
    expect(load({})().eventGrid).toBeUndefined();
    const config = load({ EVENT_GRID_TOPIC_ENDPOINT: 'https://egt-guestpass.westeurope-1.eventgrid.azure.net/api/events', AZURE_CLIENT_ID: 'client-1' })();
    expect(config.eventGrid).toEqual({ endpoint: 'https://egt-guestpass.westeurope-1.eventgrid.azure.net/api/events', managedIdentityClientId: 'client-1' });
  });

  it('refuses, naming the setting in one line, an endpoint that is not https (even in development), not the /api/events endpoint, or a key without an endpoint', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ EVENT_GRID_TOPIC_ENDPOINT: 'http://127.0.0.1:9/api/events', EVENT_GRID_TOPIC_KEY: 'k' }, 'EVENT_GRID_TOPIC_ENDPOINT', /must be an https URL/],
      [{ EVENT_GRID_TOPIC_ENDPOINT: 'https://egt.westeurope-1.eventgrid.azure.net/' }, 'EVENT_GRID_TOPIC_ENDPOINT', /ending in \/api\/events/],
      [{ EVENT_GRID_TOPIC_ENDPOINT: 'ftp://egt.westeurope-1.eventgrid.azure.net/api/events' }, 'EVENT_GRID_TOPIC_ENDPOINT', /must be an https URL/],
      [{ EVENT_GRID_TOPIC_ENDPOINT: 'not a url' }, 'EVENT_GRID_TOPIC_ENDPOINT', /is invalid/],
      [{ EVENT_GRID_TOPIC_KEY: 'k' }, 'EVENT_GRID_TOPIC_KEY', /EVENT_GRID_TOPIC_ENDPOINT is not/],
    ];
    for (const [settings, setting, problem] of cases) {
      let error: unknown;
      try {
        load(settings)();
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(settings)).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).setting).toBe(setting);
      expect((error as ConfigError).message).toMatch(problem);
      expect((error as ConfigError).message).not.toContain('\n');
    }
  });
});

describe('Event Grid messages on the webhook queue', () => {
  const message = (tenantId: string) => ({ v: 1, target: 'eventGrid', tenantId, event: { id: 'msg_0123456789abcdef0123456789abcdef', type: 'guest.deleted', timestamp: new Date().toISOString(), data: { tenantId, guestId: 'g-1' } } });

  it('skips a message queued while a topic was configured and read after it was removed', async () => {
    const rt = await testRuntime();
    expect(rt.eventGrid).toBeUndefined();
    expect(await processWebhookMessage(rt, message('t-1'))).toEqual({ outcome: 'skipped', reason: 'no Event Grid topic is configured (EVENT_GRID_TOPIC_ENDPOINT)' });
  });

  it('throws a message it cannot read, so the host moves it to the poison queue', async () => {
    const rt = await testRuntime();
    await expect(processWebhookMessage(rt, { ...message('t-1'), event: { type: 'guest.teleported' } })).rejects.toBeInstanceOf(UnreadableWebhookMessage);
  });
});

describe('Event Grid publishing', () => {
  let certificate: Awaited<ReturnType<typeof localhostCertificate>>;
  beforeAll(async () => {
    certificate = await localhostCertificate();
  });
  it('publishes every event as a CloudEvents 1.0 event through @azure/eventgrid with the topic key, ids only, off the request path', async () => {
    const key = 'topic-access-key-for-the-test';
    const topic = await startTopic({ key, tls: certificate });
    const host = await startHost({ EVENT_GRID_TOPIC_ENDPOINT: topic.endpoint, EVENT_GRID_TOPIC_KEY: key, NODE_EXTRA_CA_CERTS: certificate.caFile });
    try {
      // A tenant without a webhook: Event Grid gets its events all the same.
      const tenant = await createTenant(host);
      const email = 'grid.guest@fabrikam.example';
      const guest = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
      expect((await sendCode(host, tenant.id, email)).status).toBe(202);
      const code = await latestCode(host, email);
      const wrong = code === '00000000' ? '11111111' : '00000000';
      for (let i = 0; i < 2; i += 1) expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code: wrong }))).status).toBe(401);
      expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code }))).status).toBe(200);
      const createdKey = (await (await host.manage(`/tenants/${tenant.id}/keys`, { method: 'POST', body: JSON.stringify({ name: 'ci' }) })).json()) as { id: string };

      const types = ['guestpass.guest.invited', 'guestpass.signin.refused', 'guestpass.signin.succeeded', 'guestpass.guest.redeemed', 'guestpass.admin.key.created'];
      await until('every event at the topic', () => (types.every((type) => topic.events().some((e) => e.type === type)) ? true : undefined));

      // What the SDK sent: one POST per event to the publish API, the CloudEvents batch type, the key in aeg-sas-key.
      for (const request of topic.published) {
        expect(request.method).toBe('POST');
        expect(request.url).toBe('/api/events?api-version=2018-01-01');
        expect(request.headers['content-type']).toBe('application/cloudevents-batch+json; charset=utf-8');
        expect(request.headers['aeg-sas-key']).toBe(key);
        expect(request.headers.authorization).toBeUndefined();
        expect(JSON.parse(request.body)).toHaveLength(1);
      }
      const events = topic.events();
      expect(events.map((e) => e.type).sort()).toEqual([...types].sort());
      const byType = (type: string) => events.find((e) => e.type === `guestpass.${type}`)!;
      const source = `/tenants/${tenant.id}`;
      for (const event of events) {
        expect(event).toMatchObject({ specversion: '1.0', source, datacontenttype: 'application/json' });
        expect(event.id).toMatch(/^msg_[0-9a-f]{32}$/);
        expect(Date.parse(event.time)).toBeGreaterThan(Date.now() - 120_000);
      }
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(byType('guest.invited')).toMatchObject({ subject: `guests/${guest.invitedUser.id}`, data: { tenantId: tenant.id, guestId: guest.invitedUser.id, status: 'PendingAcceptance', reinvited: false } });
      expect(byType('signin.succeeded')).toMatchObject({ subject: `guests/${guest.invitedUser.id}`, data: { tenantId: tenant.id, guestId: guest.invitedUser.id } });
      expect(byType('guest.redeemed').subject).toBe(`guests/${guest.invitedUser.id}`);
      // Two wrong codes are one refusal (once per guest, reason and hour); it names no guest, so it has no subject.
      expect(events.filter((e) => e.type === 'guestpass.signin.refused')).toHaveLength(1);
      expect(byType('signin.refused').data).toEqual({ tenantId: tenant.id, reason: 'invalid_code', event: 'verify-code' });
      expect(byType('signin.refused').subject).toBeUndefined();
      expect(byType('admin.key.created')).toMatchObject({ subject: `keys/${createdKey.id}`, data: { tenantId: tenant.id, keyId: createdKey.id, name: 'ci' } });
      // No address and no code in anything sent, body or header.
      const everything = topic.published.map((p) => `${JSON.stringify(p.headers)}\n${p.body}`).join('\n');
      expect(everything).not.toContain(email);
      expect(everything).not.toContain('fabrikam');
      expect(everything).not.toContain(code);
    } finally {
      await host.stop();
      await topic.close();
    }
  });

  it('publishes an event the topic refused with 500 once it recovers: the SDK retries, then the host retries the queue message', async () => {
    const key = 'topic-access-key-for-the-test';
    const topic = await startTopic({ key, tls: certificate });
    // The host retries a thrown message after host.json's visibilityTimeout (30 s); 1 s here.
    const host = await startHost({
      EVENT_GRID_TOPIC_ENDPOINT: topic.endpoint,
      EVENT_GRID_TOPIC_KEY: key,
      NODE_EXTRA_CA_CERTS: certificate.caFile,
      AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
    });
    try {
      const tenant = await createTenant(host);
      // The SDK's default retry policy makes 4 tries (3 retries) of a 500; all of them fail, so the invocation throws.
      topic.failuresLeft = 4;
      const started = Date.now();
      const guest = await inviteGuest(host, tenant.id, 'retry.guest@fabrikam.example', { sendInvitationMessage: false });
      expect(Date.now() - started).toBeLessThan(3000);
      const event = await until('the event after the retries', () => topic.events().find((e) => e.type === 'guestpass.guest.invited'), 60_000);
      expect(event.subject).toBe(`guests/${guest.invitedUser.id}`);
      // Every try carried the same event, id and all: a subscriber can drop a repeat.
      expect(topic.published.map((p) => p.answered)).toEqual([500, 500, 500, 500, 200]);
      expect(new Set(topic.published.map((p) => (JSON.parse(p.body) as CloudEventSent[])[0]!.id))).toEqual(new Set([event.id]));
      expect(host.output.join('\n')).toMatch(/the Event Grid topic did not take the event: .*the host retries it/);
    } finally {
      await host.stop();
      await topic.close();
    }
  });

  it('signs in to the topic as the managed identity over TLS when no key is set: a bearer token for https://eventgrid.azure.net', async () => {
    const token = 'token-of-the-user-assigned-identity-for-event-grid';
    const clientId = '11111111-2222-3333-4444-555555555555';
    const identityHeader = 'identity-header-from-the-platform';
    // The App Service / Functions managed identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), as the platform serves it on the instance.
    const asked: URL[] = [];
    const identity = createServer((request, response) => {
      asked.push(new URL(request.url ?? '/', 'http://127.0.0.1'));
      if (request.headers['x-identity-header'] !== identityHeader) return void response.writeHead(401).end();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: 'https://eventgrid.azure.net', token_type: 'Bearer', client_id: clientId }));
    });
    identity.listen(0, '127.0.0.1');
    await once(identity, 'listening');
    const topic = await startTopic({ token, tls: certificate });
    const host = await startHost({
      EVENT_GRID_TOPIC_ENDPOINT: topic.endpoint,
      AZURE_CLIENT_ID: clientId,
      IDENTITY_ENDPOINT: `http://127.0.0.1:${(identity.address() as AddressInfo).port}/msi/token`,
      IDENTITY_HEADER: identityHeader,
      NODE_EXTRA_CA_CERTS: certificate.caFile,
    });
    try {
      const tenant = await createTenant(host);
      const guest = await inviteGuest(host, tenant.id, 'identity.guest@fabrikam.example', { sendInvitationMessage: false });
      const event = await until('the event at the topic', () => topic.events().find((e) => e.type === 'guestpass.guest.invited'));
      expect(event).toMatchObject({ specversion: '1.0', source: `/tenants/${tenant.id}`, subject: `guests/${guest.invitedUser.id}` });
      expect(topic.published.at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
      expect(topic.published.at(-1)!.headers['aeg-sas-key']).toBeUndefined();
      expect(asked.at(-1)!.searchParams.get('resource')).toBe('https://eventgrid.azure.net');
      expect(asked.at(-1)!.searchParams.get('client_id')).toBe(clientId);
    } finally {
      await host.stop();
      await topic.close();
      identity.closeAllConnections();
      await new Promise((resolve) => identity.close(resolve));
    }
  });
});
