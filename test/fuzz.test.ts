import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractErrorProblem, guestRows } from './attackHelpers.js';
import {
  APP_ORIGIN, createTenant, FUNCTION_KEY, inviteGuest, REDIRECT_URI, sessionCheck, signIn, startHost, testRuntime, uniquePrefix,
  type TestHost, type TestTenant,
} from './helpers.js';

/*
 * Property-based fuzzing of every HTTP endpoint: for each, REQUESTS_PER_ENDPOINT
 * generated requests (fixed seed, so a failure repeats), ten at a time in parallel.
 * Properties: never a 5xx; every error carries the contract's body; and no request
 * changes the state of a bystander guest (one in the fuzzed tenant, one in another
 * tenant), checked row by row (ETags included) and by signing in afterwards.
 *
 * To fuzz a new endpoint, add one line to `endpoints` below.
 */
const SEED = 20_250_601;
const REQUESTS_PER_ENDPOINT = 1000;
const PARALLEL = 10;

interface World {
  tenant: TestTenant;
  /** A guest the fuzzer may target: signed in, with a token it may use (and sign out). */
  target: { email: string; token: string };
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Endpoint {
  name: string;
  methods: string[];
  /** The route under /api, given a tenant reference the fuzzer picked. */
  path: (tenantRef: string) => fc.Arbitrary<string>;
  body?: fc.Arbitrary<unknown>;
  /** The body goes form-encoded (OAuth), mostly with that content type. */
  form?: boolean;
  managed?: boolean;
}

let world: World;

// Values that have broken parsers before: odd strings, numbers, nesting.
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', "' or '1'='1", "a'b", '%00', '\\', '/#?', '${7*7}', '<script>', '__proto__', 'constructor', '𝕏'.repeat(5)),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const email = fc.oneof(
  { arbitrary: fc.constantFrom('target@example.com', ' TARGET@Example.com ', 'stranger@example.com', 'x@gmail.com', 'anna@bücher.example', 'a/b#c?d@example.com'), weight: 5 },
  { arbitrary: fc.emailAddress(), weight: 3 },
  { arbitrary: fc.constantFrom('"quoted"@example.com', 'a\\b@example.com', 'ann@exa/mple.com'), weight: 1 },
  { arbitrary: fc.string({ maxLength: 300 }).map((s) => `${s}@example.com`), weight: 1 },
  { arbitrary: nasty, weight: 1 },
);
const code = fc.oneof(fc.stringMatching(/^[0-9]{8}$/), fc.stringMatching(/^[0-9]{0,14}$/), nasty);
const url = fc.oneof({ arbitrary: fc.constant(REDIRECT_URI), weight: 4 }, fc.webUrl(), fc.constantFrom(`${REDIRECT_URI}?x=1`, 'javascript:alert(1)', '//evil.example'), nasty);
const domain = fc.oneof(fc.domain(), nasty);

/** An object with the given fields (each mostly generated, sometimes nasty), sometimes missing some or with extra keys. */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const withNasty = Object.fromEntries(Object.entries(fields).map(([key, arb]) => [key, fc.oneof({ arbitrary: arb, weight: 6 }, { arbitrary: nasty, weight: 1 })]));
  return fc.oneof(
    { arbitrary: fc.record(withNasty), weight: 6 },
    { arbitrary: fc.record(withNasty, { requiredKeys: [] }), weight: 2 },
    { arbitrary: fc.tuple(fc.record(withNasty, { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 10 }), nasty, { maxKeys: 2 })).map(([a, b]) => ({ ...b, ...a })), weight: 1 },
    { arbitrary: fc.jsonValue(), weight: 1 },
  );
}

const tenantBody = shaped({
  displayName: fc.string({ maxLength: 300 }),
  domains: fc.array(domain, { maxLength: 4 }),
  allowedOrigins: fc.array(fc.oneof(fc.webUrl(), fc.constant(APP_ORIGIN)), { maxLength: 3 }),
  redirectUris: fc.array(url, { maxLength: 3 }),
  googleFederation: fc.boolean(),
  mail: shaped({
    codeInSubject: fc.boolean(),
    branding: shaped({ displayName: fc.string({ maxLength: 300 }), logoUrl: url, accentColor: fc.constantFrom('#0f6cbd', 'red', '#12345'), supportContact: fc.oneof(email, url) }),
    templates: shaped({ en: shaped({ codeSubject: fc.constantFrom('{code} at {tenant}', 'no code', '{nope}'), codeIntro: fc.string({ maxLength: 1200 }) }) }),
    dailyCap: fc.integer({ min: -5, max: 20_000_000 }),
  }),
});

const query = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record(Object.fromEntries(Object.entries(fields).map(([k, a]) => [k, fc.oneof({ arbitrary: a, weight: 4 }, { arbitrary: nasty, weight: 1 })])), { requiredKeys: [] }).map((q) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) params.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    const text = params.toString();
    return text ? `?${text}` : '';
  });

const plain = (path: string) => () => fc.constant(path);

/** A generated value as a form body: an object's fields as strings, anything else as one text. */
function formEncoded(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return String(value);
  return new URLSearchParams(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])).toString();
}

/** Every endpoint of the app, one line each. */
const endpoints: Endpoint[] = [
  { name: 'send-code', methods: ['POST', 'OPTIONS'], path: (t) => fc.constant(`/${t}/send-code`), body: shaped({ email, locale: fc.constantFrom('en', 'sv-SE', 'de', 'xx-invalid-') }) },
  { name: 'verify-code', methods: ['POST', 'OPTIONS'], path: (t) => fc.constant(`/${t}/verify-code`), body: shaped({ email, code }) },
  { name: 'session-check', methods: ['GET', 'OPTIONS'], path: (t) => fc.constant(`/${t}/session-check`) },
  { name: 'sign-out', methods: ['POST', 'OPTIONS'], path: (t) => fc.constant(`/${t}/sign-out`) },
  { name: 'discovery/keys', methods: ['GET', 'OPTIONS'], path: (t) => fc.constant(`/${t}/discovery/keys`) },
  { name: 'routes without a tenant', methods: ['GET', 'POST'], path: () => fc.constantFrom('/send-code', '/verify-code', '/session-check', '/sign-out'), body: shaped({ email, code }) },
  { name: 'manage: create tenant', methods: ['POST'], path: plain('/manage/tenants'), body: tenantBody, managed: true },
  { name: 'manage: read and change tenant', methods: ['GET', 'PATCH'], path: (t) => fc.constant(`/manage/tenants/${t}`), body: tenantBody, managed: true },
  {
    name: 'manage: invitations', methods: ['POST'], path: (t) => fc.constant(`/manage/tenants/${t}/invitations`), managed: true,
    body: shaped({ invitedUserEmailAddress: email, inviteRedirectUrl: url, invitedUserDisplayName: fc.string(), sendInvitationMessage: fc.boolean(), invitedUserMessageInfo: shaped({ customizedMessageBody: fc.string(), messageLanguage: fc.string() }), resetRedemption: fc.boolean() }),
  },
  { name: 'manage: sign-in logs', methods: ['GET'], path: (t) => query({ $top: fc.integer({ min: 0, max: 250 }), $skiptoken: fc.base64String(), userId: fc.uuid() }).map((q) => `/manage/tenants/${t}/sign-in-logs${q}`), managed: true },
  {
    name: 'oauth2/token', methods: ['POST', 'OPTIONS'], path: (t) => fc.constant(`/${t}/oauth2/token`), form: true,
    body: shaped({ grant_type: fc.constantFrom('authorization_code', 'password', 'refresh_token'), code: fc.string({ maxLength: 200 }), redirect_uri: url, code_verifier: fc.stringMatching(/^[A-Za-z0-9._~-]{0,130}$/), client_id: fc.uuid(), client_secret: fc.string() }),
  },
  { name: 'oauth2/userinfo', methods: ['GET', 'POST', 'OPTIONS'], path: (t) => fc.constant(`/${t}/oauth2/userinfo`) },
  { name: 'oauth2/authorize/complete', methods: ['POST'], path: (t) => fc.constant(`/${t}/oauth2/authorize/complete`), body: shaped({ authorization: fc.oneof(fc.base64String(), fc.string()) }) },
  {
    name: 'manage: applications', methods: ['POST', 'GET'], path: (t) => fc.constant(`/manage/tenants/${t}/applications`), managed: true,
    body: shaped({ displayName: fc.string({ maxLength: 300 }), clientType: fc.constantFrom('public', 'confidential', 'implicit'), redirectUris: fc.array(url, { maxLength: 3 }), postLogoutRedirectUris: fc.array(url, { maxLength: 2 }) }),
  },
  { name: 'dev outbox', methods: ['GET'], path: () => query({ to: email, limit: fc.integer({ min: 0, max: 250 }) }).map((q) => `/dev/outbox${q}`) },
  { name: 'dev outbox mail', methods: ['GET'], path: () => fc.oneof(fc.uuid(), fc.string({ maxLength: 60 }).map(encodeURIComponent)).map((id) => `/dev/outbox/${id}`) },
  {
    name: 'manage: mail preview', methods: ['POST'], path: (t) => fc.constant(`/manage/tenants/${t}/mail-preview`), managed: true,
    body: shaped({ kind: fc.constantFrom('code', 'invitation', 'other'), locale: fc.constantFrom('sv-SE', 'de', 'xx', '') }),
  },
  {
    name: 'mail events: SendGrid', methods: ['POST'], path: plain('/mail-events/sendgrid'),
    body: fc.array(shaped({ event: fc.constantFrom('delivered', 'bounce', 'dropped'), timestamp: fc.integer(), guestpass_mail_id: fc.uuid() }), { maxLength: 3 }),
  },
  {
    name: 'mail events: ACS', methods: ['POST'], path: () => fc.constantFrom('/mail-events/acs', '/mail-events/acs?secret=guess', '/mail-events/acs?secret='),
    body: fc.array(shaped({ eventType: fc.constantFrom('Microsoft.EventGrid.SubscriptionValidationEvent', 'Microsoft.Communication.EmailDeliveryReportReceived'), data: shaped({ validationCode: fc.string(), messageId: fc.uuid(), status: fc.string() }) }), { maxLength: 3 }),
  },
];

function tenantRefs(): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(world.tenant.id, world.tenant.domains[0]!, world.tenant.id.toUpperCase()), weight: 12 },
    { arbitrary: fc.constantFrom('00000000-0000-0000-0000-000000000000', 'unknown.example', 'a'.repeat(300), '%2e%2e', '..', 'x%27y'), weight: 2 },
    { arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{1,40}$/), weight: 1 },
  );
}

function requests(endpoint: Endpoint): fc.Arbitrary<FuzzRequest> {
  const sometimes = <T>(arb: fc.Arbitrary<T>, freq: number) => fc.option(arb, { nil: undefined, freq });
  const headers = fc
    .record({
      'content-type': sometimes(fc.oneof({ arbitrary: fc.constant('application/json'), weight: 8 }, { arbitrary: fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json'), weight: 2 }), 10),
      authorization: sometimes(fc.oneof(fc.constant(`Bearer ${world.target.token}`), fc.string({ maxLength: 50 }).map((s) => `Bearer ${s}`), fc.string({ maxLength: 50 })), 2),
      origin: sometimes(fc.constantFrom(APP_ORIGIN, 'https://evil.example', 'null'), 2),
      'x-functions-key': sometimes(fc.oneof({ arbitrary: fc.constant(FUNCTION_KEY), weight: 8 }, { arbitrary: fc.string({ maxLength: 40 }), weight: 1 }), 10),
      'x-forwarded-for': sometimes(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 30 })), 3),
      'access-control-request-method': sometimes(fc.constantFrom('GET', 'POST', 'DELETE'), 3),
    })
    // An OAuth endpoint mostly gets its own content type.
    .map((h) => (endpoint.form && h['content-type'] === 'application/json' ? { ...h, 'content-type': 'application/x-www-form-urlencoded' } : h))
    // Header values must be visible ASCII to be sent at all.
    .map((h) => Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined && /^[\x20-\x7e]*$/.test(e[1]))));
  const body = fc.oneof(
    { arbitrary: (endpoint.body ?? fc.jsonValue()).map((value) => (endpoint.form ? formEncoded(value) : JSON.stringify(value) ?? '')), weight: 8 },
    { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
    { arbitrary: fc.constant(JSON.stringify({ padding: 'x'.repeat(17 * 1024) })), weight: 1 },
  );
  return fc
    .record({
      method: fc.oneof(
        { arbitrary: fc.constant(endpoint.methods[0]!), weight: 7 },
        { arbitrary: fc.constantFrom(...endpoint.methods), weight: 2 },
        { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), weight: 1 },
      ),
      path: tenantRefs().chain((ref) => endpoint.path(encodeURIComponent(ref))),
      headers,
      body: fc.option(body, { nil: undefined, freq: 10 }),
    })
    .map((r) => ({ ...r, body: r.method === 'GET' || r.method === 'OPTIONS' ? undefined : r.body }));
}

let host: TestHost;
const prefix = uniquePrefix();
const bystanders: { tenant: TestTenant; email: string; token: string }[] = [];

async function bystanderState(): Promise<string> {
  const rt = await testRuntime({ TABLE_PREFIX: prefix });
  const rows = await Promise.all(bystanders.map((b) => guestRows(rt, b.tenant.id, b.email)));
  return JSON.stringify(rows);
}

beforeAll(async () => {
  // Every generated request comes from 127.0.0.1, as the bystanders do: the per-address limits must not be what answers.
  host = await startHost({ TABLE_PREFIX: prefix, SEND_CODE_PER_IP_PER_HOUR: '1000000', FAILED_VERIFICATIONS_PER_IP_PER_HOUR: '1000000', RESEND_COOLDOWN_SECONDS: '0' });
  const tenant = await createTenant(host);
  const elsewhere = await createTenant(host);
  await inviteGuest(host, tenant.id, 'target@example.com');
  const target = await signIn(host, tenant.id, 'target@example.com');
  world = { tenant, target: { email: 'target@example.com', token: target.token } };
  for (const [t, address] of [[tenant, 'bystander@example.com'], [elsewhere, 'bystander@example.com']] as const) {
    await inviteGuest(host, t.id, address);
    bystanders.push({ tenant: t, email: address, token: (await signIn(host, t.id, address)).token });
  }
});
afterAll(() => host.stop());

describe('fuzzing every endpoint (fast-check, fixed seed)', () => {
  let before: string;
  beforeAll(async () => {
    before = await bystanderState();
  });

  endpoints.forEach((endpoint, index) => {
    it(`${endpoint.name}: ${REQUESTS_PER_ENDPOINT} generated requests, never a 5xx, every error in the contract's shape`, async () => {
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(requests(endpoint), { minLength: PARALLEL, maxLength: PARALLEL }), async (batch) => {
          const answers = await Promise.all(
            batch.map(async (request) => {
              const response = await host.api(request.path, { method: request.method, headers: request.headers, body: request.body });
              sent += 1;
              return { request, response };
            }),
          );
          for (const { request, response } of answers) {
            const where = `${request.method} ${request.path} ${JSON.stringify(request.headers)} ${request.body?.slice(0, 300)}`;
            expect(response.status, where).toBeLessThan(500);
            if (response.status >= 400) expect(await contractErrorProblem(response), where).toBeUndefined();
            else await response.arrayBuffer();
          }
        }),
        { seed: SEED + index, numRuns: REQUESTS_PER_ENDPOINT / PARALLEL, endOnFailure: true },
      );
      expect(sent).toBeGreaterThanOrEqual(REQUESTS_PER_ENDPOINT);
      // Correctness, not speed: a send-code or a wrong code now costs a few more storage
      // transactions (per-address windows, guess counters, the mail's cap count and delivery row),
      // and shared machines are slow.
    }, 240_000);
  });

  it("no generated request changed a bystander guest's rows, and both bystanders still sign in", async () => {
    expect(await bystanderState()).toBe(before);
    for (const bystander of bystanders) {
      expect((await sessionCheck(host, bystander.tenant.id, bystander.token)).status).toBe(200);
    }
    // Their sign-in still works end to end (after the snapshot, since it changes their rows).
    for (const bystander of bystanders) {
      expect((await signIn(host, bystander.tenant.id, bystander.email)).user.email).toBe(bystander.email);
    }
  });
});
