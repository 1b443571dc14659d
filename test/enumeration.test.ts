import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRows, requestFrom, sendCodeFrom } from './attackHelpers.js';
import {
  createTenant, expectError, inviteGuest, mailQueueDrained, sendCode, startFakeSendGrid, startHost, stopAllHosts, testRuntime, uniquePrefix, verifyCode,
  type FakeSendGrid, type TestHost, type TestTenant,
} from './helpers.js';

let sendgrid: FakeSendGrid;

beforeAll(async () => {
  sendgrid = await startFakeSendGrid();
});
afterAll(async () => {
  await stopAllHosts();
  await sendgrid.close();
});

/**
 * A host that mails through SendGrid (the production transport), so no mail write shows in its storage count.
 * Tenant state (the tenant, its day's mail count) is cached for a minute: on a slow machine a 5-second cache ran
 * out between the two requests a test compares, and the one after it paid the read.
 */
function sendGridHost(settings: Record<string, string> = {}): Promise<TestHost> {
  return startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl, TENANT_CACHE_SECONDS: '60', ...settings });
}

interface Observed {
  status: number;
  body: string;
  transactions: string | null;
  headerNames: string[];
}

async function observe(response: Response): Promise<Observed> {
  const headerNames: string[] = [];
  response.headers.forEach((_, name) => {
    if (name !== 'date') headerNames.push(name);
  });
  return {
    status: response.status,
    // Each attempt handle is new and random; that it is there is what counts.
    body: (await response.text()).replace(/"attempt":"[A-Za-z0-9_-]{16,64}"/, '"attempt":"<handle>"'),
    transactions: response.headers.get('x-guestpass-storage-transactions'),
    headerNames: headerNames.sort(),
  };
}

function lastMailedCode(): string {
  return /\b(\d{8})\b/.exec(sendgrid.requests.at(-1)!.body.content[0]!.value)![1]!;
}

function codeMailsTo(address: string): number {
  return sendgrid.requests.filter((r) => r.body.personalizations[0]?.to[0]?.email === address).length;
}

describe('send-code does not tell who is invited', () => {
  let host: TestHost;
  let tenant: TestTenant;

  beforeAll(async () => {
    host = await sendGridHost();
    tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'invited@example.com');
    await inviteGuest(host, tenant.id, 'redeemed@example.com');
    // Warm the tenant cache so both requests below do the same lookups.
    await sendCode(host, tenant.id, 'warm-up@example.com');
  });

  it('same status, body, headers and storage transactions for an invited and an uninvited address; only the guest gets mail', async () => {
    const invited = await observe(await sendCode(host, tenant.id, 'invited@example.com'));
    const stranger = await observe(await sendCode(host, tenant.id, 'stranger@example.com'));
    expect(invited.status).toBe(202);
    expect(stranger).toEqual(invited);
    expect(Number(invited.transactions)).toBeGreaterThan(0);
    await mailQueueDrained(host);
    expect(codeMailsTo('invited@example.com')).toBe(1);
    expect(codeMailsTo('stranger@example.com')).toBe(0);
  });

  it('the same holds for the 429 of a second request within the cooldown', async () => {
    const invited = await observe(await sendCode(host, tenant.id, 'invited@example.com'));
    const stranger = await observe(await sendCode(host, tenant.id, 'stranger@example.com'));
    expect(invited.status).toBe(429);
    expect({ ...stranger, body: JSON.parse(stranger.body).error }).toEqual({ ...invited, body: JSON.parse(invited.body).error });
  });

  it('the same holds for a guest who already redeemed with OTP', async () => {
    expect((await sendCode(host, tenant.id, 'redeemed@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    expect((await verifyCode(host, tenant.id, 'redeemed@example.com', lastMailedCode())).status).toBe(200);
    const other = await sendGridHost({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, RESEND_COOLDOWN_SECONDS: '0' });
    await sendCode(other, tenant.id, 'warm-up@example.com');
    // Asked from an address the guest never signed in from: its own address and device are not a stranger's to compare with.
    const redeemed = await observe(await sendCodeFrom(other, '127.0.0.21', tenant.id, 'redeemed@example.com'));
    const stranger = await observe(await sendCodeFrom(other, '127.0.0.21', tenant.id, 'stranger-2@example.com'));
    expect(redeemed.status).toBe(202);
    expect(stranger).toEqual(redeemed);
  });

  it('verify-code answers a wrong code for a guest and any code for a stranger alike', async () => {
    const other = await sendGridHost({ TABLE_PREFIX: host.settings.TABLE_PREFIX! });
    await verifyCode(other, tenant.id, 'warm-up@example.com', '00000000');
    const guest = await observe(await verifyCode(other, tenant.id, 'invited@example.com', '00000000'));
    const stranger = await observe(await verifyCode(other, tenant.id, 'stranger@example.com', '00000000'));
    expect(guest.status).toBe(401);
    expect(stranger).toEqual(guest);
  });
});

describe('answers that depend on the sign-in method do not tell who is invited either', () => {
  it('a Gmail address in a tenant with Google federation: the same 202 for a Google guest, a guest who redeemed with OTP before federation, and a stranger', async () => {
    const host = await sendGridHost({ RESEND_COOLDOWN_SECONDS: '0' });
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'before@gmail.com');
    expect((await sendCode(host, tenant.id, 'before@gmail.com')).status).toBe(202);
    await mailQueueDrained(host);
    expect((await verifyCode(host, tenant.id, 'before@gmail.com', lastMailedCode())).status).toBe(200);
    expect((await host.manage(`/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ googleFederation: true }) })).status).toBe(200);
    await inviteGuest(host, tenant.id, 'guest@gmail.com');
    await sendCodeFrom(host, '127.0.0.22', tenant.id, 'warm-up@example.com');
    const ask = (email: string) => sendCodeFrom(host, '127.0.0.22', tenant.id, email).then(observe);
    const google = await ask('guest@gmail.com');
    expect(google.status).toBe(202);
    expect(await ask('stranger@gmail.com')).toEqual(google);
    expect(await ask('before@gmail.com')).toEqual(google);
    // And again, now that the Google guest's source is stored (it gave its code): only a correct code told it.
    await mailQueueDrained(host);
    const mailed = sendgrid.requests.filter((r) => r.body.personalizations[0]?.to[0]?.email === 'guest@gmail.com').at(-1)!;
    const code = /\b(\d{8})\b/.exec(mailed.body.content[0]!.value)![1]!;
    const told = await requestFrom(host, '127.0.0.22', `/${tenant.id}/verify-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'guest@gmail.com', code }) });
    expect((await expectError(told, 409, 'other_method_required')).method).toBe('Google');
    expect(await ask('guest@gmail.com')).toEqual(await ask('stranger@gmail.com'));
  });

  it('with OTP turned off: send-code and verify-code answer a guest who never redeemed and a stranger alike', async () => {
    const host = await sendGridHost({ OTP_DEFAULT_ENABLED: 'false' });
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'guest@example.com');
    await sendCode(host, tenant.id, 'warm-up@example.com');
    const guest = await observe(await sendCode(host, tenant.id, 'guest@example.com'));
    const stranger = await observe(await sendCode(host, tenant.id, 'stranger@example.com'));
    expect(guest.status).toBe(403);
    expect(stranger).toEqual(guest);
    const guestVerify = await verifyCode(host, tenant.id, 'guest@example.com', '12345678');
    const strangerVerify = await verifyCode(host, tenant.id, 'stranger@example.com', '12345678');
    await expectError(guestVerify, 403, 'otp_disabled');
    await expectError(strangerVerify, 403, 'otp_disabled');
  });

  it('an expired code is code_expired for a guest and for a stranger', async () => {
    const host = await sendGridHost({ CODE_TTL_SECONDS: '1' });
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'guest@example.com');
    expect((await sendCode(host, tenant.id, 'guest@example.com')).status).toBe(202);
    expect((await sendCode(host, tenant.id, 'stranger@example.com')).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectError(await verifyCode(host, tenant.id, 'guest@example.com', '12345678'), 401, 'code_expired');
    await expectError(await verifyCode(host, tenant.id, 'stranger@example.com', '12345678'), 401, 'code_expired');
  });

  it('a stranger gets an attempt row like a guest, with a code that was never mailed and cannot be used', async () => {
    const prefix = uniquePrefix();
    const host = await sendGridHost({ TABLE_PREFIX: prefix });
    const tenant = await createTenant(host);
    const { attempt } = (await (await sendCode(host, tenant.id, 'stranger@example.com')).json()) as { attempt: string };
    const rt = await testRuntime({ TABLE_PREFIX: prefix });
    const row = (await guestRows(rt, tenant.id, 'stranger@example.com')).find((r) => r.rowKey === `attempt_${attempt}`)!;
    const [code] = JSON.parse(row.codes as string) as { h: string; x: number }[];
    expect(code!.h.length).toBeGreaterThan(20);
    expect(code!.x).toBeGreaterThan(Date.now());
    await mailQueueDrained(host);
    expect(codeMailsTo('stranger@example.com')).toBe(0);
  });
});

