import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS } from '../lib/telemetry/metrics.js';
import { startTopic } from './eventGridTopic.js';
import { localhostCertificate } from './tls.js';
import { FUNCTION_KEY, inviteGuest, latestCode, postJson, sendCode, startHost, stopAllHosts, createTenant, until } from './helpers.js';

afterAll(() => stopAllHosts());

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}

/**
 * A real OTLP/HTTP receiver: what a collector listens on (POST /v1/traces and
 * /v1/metrics, JSON as the exporters send it by default), keeping every body as
 * received and decoded.
 */
async function startOtlpReceiver() {
  const bodies: { path: string; text: string; json: any }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      expect(request.headers['content-type']).toMatch(/^application\/json/);
      bodies.push({ path: request.url ?? '', text, json: JSON.parse(text) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const spans = (): OtlpSpan[] =>
    bodies.filter((b) => b.path === '/v1/traces').flatMap((b) => b.json.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
  const metrics = (): { name: string; points: { attributes: OtlpAttribute[]; asInt?: string | number; asDouble?: number }[] }[] =>
    bodies
      .filter((b) => b.path === '/v1/metrics')
      .flatMap((b) => b.json.resourceMetrics.flatMap((r: any) => r.scopeMetrics.flatMap((s: any) => s.metrics)))
      .map((m: any) => ({ name: m.name, points: (m.sum ?? m.gauge)?.dataPoints ?? [] }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    spans,
    metrics,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const attr = (attributes: OtlpAttribute[], key: string) => {
  const value = attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : value?.boolValue ?? value?.doubleValue);
};

/** What the exporters send arrives in batches: polled every 200 ms, for 20 s unless a test says otherwise. */
const untilExported = <T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> => until(what, probe, timeoutMs, 200);

describe('OpenTelemetry over OTLP/HTTP', () => {
  it('sends a span per request with its outcome, dependency spans in its trace, and the sign-in metrics, with no address, code or key in any of it', async () => {
    const receiver = await startOtlpReceiver();
    const host = await startHost({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '300', OTEL_BSP_SCHEDULE_DELAY: '100' });
    try {
      const tenant = await createTenant(host);
      const email = 'otel.guest@fabrikam.example';
      const guest = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
      expect((await sendCode(host, tenant.id, email)).status).toBe(202);
      const code = await latestCode(host, email);
      const wrong = code === '00000000' ? '11111111' : '00000000';
      expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code: wrong }))).status).toBe(401);
      const verified = await host.api(`/${tenant.id}/verify-code`, postJson({ email, code }));
      expect(verified.status).toBe(200);
      const { token } = (await verified.json()) as { token: string };

      const refused = await untilExported('refused verify-code span', () =>
        receiver.spans().find((s) => s.name === 'POST /api/{tenant}/verify-code' && attr(s.attributes, 'http.response.status_code') === 401),
      );
      expect(refused.kind).toBe(2); // SERVER
      expect(attr(refused.attributes, 'guestpass.outcome')).toBe('invalid_code');
      expect(attr(refused.attributes, 'tenant.id')).toBe(tenant.id);
      const succeeded = await untilExported('signed-in verify-code span', () =>
        receiver.spans().find((s) => s.name === 'POST /api/{tenant}/verify-code' && attr(s.attributes, 'http.response.status_code') === 200),
      );
      expect(attr(succeeded.attributes, 'guest.id')).toBe(guest.invitedUser.id);
      expect(attr(succeeded.attributes, 'guestpass.outcome')).toBe('ok');
      // Table Storage calls are dependency spans (CLIENT) in the request's trace, naming the table only.
      const tableSpans = receiver.spans().filter((s) => s.traceId === succeeded.traceId && s.kind === 3);
      expect(tableSpans.length).toBeGreaterThan(0);
      expect(tableSpans.every((s) => /^Table (GET|POST|PUT|PATCH|MERGE|DELETE) [A-Za-z0-9]*$/.test(s.name))).toBe(true);
      expect(tableSpans.some((s) => s.parentSpanId === succeeded.spanId)).toBe(true);
      // The outbox is the mail provider in development: its send is a dependency span too.
      await untilExported('mail span', () => receiver.spans().find((s) => s.name === 'mail send outbox'));

      const metricNamed = (name: string) => receiver.metrics().filter((m) => m.name === name).flatMap((m) => m.points);
      await untilExported('sign-in metrics', () => (metricNamed(METRICS.signIns.name).length >= 2 && metricNamed(METRICS.codesCompared.name).length >= 2 ? true : undefined));
      const signIns = metricNamed(METRICS.signIns.name);
      expect(signIns.some((p) => attr(p.attributes, 'outcome') === 'succeeded' && attr(p.attributes, 'tenant.id') === tenant.id)).toBe(true);
      expect(signIns.some((p) => attr(p.attributes, 'outcome') === 'refused')).toBe(true);
      const compared = metricNamed(METRICS.codesCompared.name);
      expect(compared.some((p) => attr(p.attributes, 'result') === 'wrong')).toBe(true);
      expect(compared.some((p) => attr(p.attributes, 'result') === 'match')).toBe(true);
      expect(metricNamed(METRICS.refusals.name).some((p) => attr(p.attributes, 'reason') === 'invalid_code')).toBe(true);
      expect(metricNamed(METRICS.mails.name).some((p) => attr(p.attributes, 'fate') === 'sent')).toBe(true);

      // Nothing that identifies or authenticates anyone left the process.
      const everything = receiver.bodies.map((b) => b.text).join('\n');
      for (const secret of [email, 'fabrikam.example', code, token, token.split('.')[2]!, FUNCTION_KEY]) expect(everything).not.toContain(secret);
    } finally {
      await host.stop();
      await receiver.close();
    }
  });
});

describe('OpenTelemetry and Event Grid', () => {
  it('carries the trace of a request into the Event Grid publish it queues: a dependency span for the topic, and the traceparent in the CloudEvent', async () => {
    const receiver = await startOtlpReceiver();
    const certificate = await localhostCertificate();
    const key = 'topic-access-key-for-the-test';
    const topic = await startTopic({ key, tls: certificate });
    const host = await startHost({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      EVENT_GRID_TOPIC_ENDPOINT: topic.endpoint,
      EVENT_GRID_TOPIC_KEY: key,
      NODE_EXTRA_CA_CERTS: certificate.caFile,
    });
    try {
      const tenant = await createTenant(host);
      const email = 'traced.guest@fabrikam.example';
      await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
      const invitation = await untilExported('invitation span', () => receiver.spans().find((s) => s.name === 'POST /api/manage/tenants/{tenant}/invitations'));
      const published = await untilExported('Event Grid dependency span', () => receiver.spans().find((s) => s.name === 'eventgrid POST' && s.traceId === invitation.traceId));
      expect(published.kind).toBe(3); // CLIENT
      expect(attr(published.attributes, 'tenant.id')).toBe(tenant.id);
      expect(attr(published.attributes, 'server.address')).toBe('localhost');
      expect(attr(published.attributes, 'cloudevents.event_type')).toBe('guestpass.guest.invited');
      const queued = receiver.spans().find((s) => s.spanId === published.parentSpanId)!;
      expect(queued).toMatchObject({ name: 'publish event guest.invited', kind: 2, traceId: invitation.traceId });
      const event = await untilExported('the event at the topic', () => topic.events().find((e) => e.type === 'guestpass.guest.invited'));
      expect(event.traceparent).toMatch(new RegExp(`^00-${invitation.traceId}-[0-9a-f]{16}-0[01]$`));
      const everything = receiver.bodies.map((b) => b.text).join('\n');
      for (const secret of [email, 'fabrikam.example', key]) expect(everything).not.toContain(secret);
    } finally {
      await host.stop();
      await topic.close();
      await receiver.close();
    }
  });
});

/**
 * Application Insights' ingestion API as the distro's exporter calls it: POST
 * <IngestionEndpoint>/v2.1/track with a (gzipped) JSON array of envelopes.
 */
async function startIngestionEndpoint() {
  const { gunzipSync } = await import('node:zlib');
  // The exporter sends only over TLS (it makes an http:// endpoint https): the host trusts this certificate (NODE_EXTRA_CA_CERTS).
  const tls = await localhostCertificate();
  const envelopes: { name: string; data: { baseType: string; baseData: any } }[] = [];
  const texts: string[] = [];
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const text = body.toString('utf8');
      texts.push(text);
      if (request.url?.endsWith('/v2.1/track')) {
        const parsed = JSON.parse(text);
        envelopes.push(...(Array.isArray(parsed) ? parsed : [parsed]));
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ itemsReceived: envelopes.length, itemsAccepted: envelopes.length, errors: [] }));
      } else response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    caFile: tls.caFile,
    envelopes,
    texts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('OpenTelemetry to Azure Monitor', () => {
  it("sends requests, dependencies and guestpass's metrics through Microsoft's distro to the ingestion endpoint of the connection string", async () => {
    const ingestion = await startIngestionEndpoint();
    const host = await startHost({
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000002;IngestionEndpoint=${ingestion.url}`,
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      NODE_EXTRA_CA_CERTS: ingestion.caFile,
    });
    try {
      const tenant = await createTenant(host);
      const email = 'monitor.guest@fabrikam.example';
      await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
      expect((await sendCode(host, tenant.id, email)).status).toBe(202);
      expect((await host.api(`/${tenant.id}/verify-code`, postJson({ email, code: '00000000' }))).status).toBe(401);
      const request = await untilExported('a request envelope', () =>
        ingestion.envelopes.find((e) => e.data.baseType === 'RequestData' && e.data.baseData.name === 'POST /api/{tenant}/verify-code'),
      30_000);
      expect(request.data.baseData.responseCode).toBe('401');
      expect(request.data.baseData.properties['guestpass.outcome']).toBe('invalid_code');
      await untilExported('a dependency envelope', () => ingestion.envelopes.find((e) => e.data.baseType === 'RemoteDependencyData' && /^Table /.test(e.data.baseData.name)), 30_000);
      await untilExported('the code metric', () =>
        ingestion.envelopes.find((e) => e.data.baseType === 'MetricData' && e.data.baseData.metrics?.some((m: { name: string }) => m.name === METRICS.codesCompared.name)),
      30_000);
      const everything = ingestion.texts.join('\n');
      for (const secret of [email, 'fabrikam.example', FUNCTION_KEY]) expect(everything).not.toContain(secret);
    } finally {
      await host.stop();
      await ingestion.close();
    }
  });
});
