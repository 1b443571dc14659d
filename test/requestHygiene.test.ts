import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseEmail } from '../lib/guests/email.js';
import {
  createTenant, expectError, inviteGuest, latestCode, outbox, postJson, REDIRECT_URI, sendCode, signIn, startHost, verifyCode,
  type TestHost, type TestTenant,
} from './helpers.js';

let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', SEND_CODE_PER_IP_PER_HOUR: '100000' });
  tenant = await createTenant(host);
});
afterAll(() => host.stop());

/** A body sent in chunks without Content-Length, so only the bytes themselves can be counted. */
function chunkedPost(path: string, chunks: string[]): Promise<{ status: number; body: string }> {
  const url = new URL(`${host.baseUrl}/api${path}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('request hygiene: JSON only, 16 KiB at most, schema errors as 400 with details', () => {
  it('refuses a body that is not declared JSON with 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', '']) {
      const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
      const response = await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers, body: JSON.stringify({ email: 'a@example.com' }) });
      await expectError(response, 415, 'unsupported_media_type');
    }
    // JSON with a charset, and +json types, are JSON.
    expect((await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ email: 'charset@example.com' }) })).status).toBe(202);
  });

  it('refuses a body over 16 KiB with 413, whether declared or streamed', async () => {
    const big = JSON.stringify({ email: 'big@example.com', locale: 'x'.repeat(16 * 1024) });
    await expectError(await host.api(`/${tenant.id}/send-code`, postJson(JSON.parse(big))), 413, 'payload_too_large');
    const streamed = await chunkedPost(`/${tenant.id}/verify-code`, ['{"email":"big@example.com","code":"', '1'.repeat(9000), '1'.repeat(9000), '"}']);
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ error: 'payload_too_large' });
    // Exactly at the limit is fine as far as size goes (the schema then judges it).
    const atLimit = JSON.stringify({ email: 'edge@example.com', locale: '' }).length;
    const padded = JSON.stringify({ email: 'edge@example.com', locale: 'x'.repeat(16 * 1024 - atLimit) });
    expect(Buffer.byteLength(padded)).toBe(16 * 1024);
    await expectError(await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: padded }), 400, 'invalid_request');
  });

  it('answers schema errors with 400 invalid_request and details naming each field', async () => {
    const wrongTypes = await expectError(await host.api(`/${tenant.id}/verify-code`, postJson({ email: 42, code: 'abc' })), 400, 'invalid_request');
    expect((wrongTypes.details as { field: string }[]).map((d) => d.field).sort()).toEqual(['body.code', 'body.email']);
    const extra = await expectError(await host.api(`/${tenant.id}/send-code`, postJson({ email: 'a@example.com', isAdmin: true })), 400, 'invalid_request');
    expect(JSON.stringify(extra.details)).toContain('isAdmin');
    for (const body of ['null', '[]', '"text"', '{"email":', '\u0000', '{"email":"a@example.com"}{}']) {
      await expectError(await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }), 400, 'invalid_request');
    }
    const badUtf8 = await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
    await expectError(badUtf8, 400, 'invalid_request');
  });
});

describe('email addresses are read one way everywhere', () => {
  it('normaliseEmail: trims and lowercases the whole address, IDN domains become punycode, quoted and odd addresses are refused', () => {
    expect(normaliseEmail('  Ann.Smith+Tag@Example.COM ')).toBe('ann.smith+tag@example.com');
    expect(normaliseEmail('anna@bücher.example')).toBe('anna@xn--bcher-kva.example');
    expect(normaliseEmail('ANNA@BÜCHER.example')).toBe('anna@xn--bcher-kva.example');
    expect(normaliseEmail("o'brien/ops#1?x@example.com")).toBe("o'brien/ops#1?x@example.com");
    for (const refused of ['"ann smith"@example.com', '"ann"@example.com', 'ann\\smith@example.com', 'ann@exa/mple.com', 'ann@exa#mple.com',
      'ann@exa?mple.com', 'ann@exa\\mple.com', 'ann@example', 'ann@@example.com', 'ann@', '@example.com', 'ann smith@example.com',
      'ann..smith@example.com', '.ann@example.com', 'ännä@example.com', 'ann@-example.com', 'ann@example.123', 'ann@[127.0.0.1]', 'ann\u0000@example.com']) {
      expect(normaliseEmail(refused), refused).toBeUndefined();
    }
  });

  it('normaliseEmail: at most 254 characters and a 64-character local part', () => {
    const valid = `${'l'.repeat(64)}@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(57)}.com`;
    expect(valid.length).toBe(254);
    expect(normaliseEmail(valid)).toBe(valid);
    expect(normaliseEmail(`x${valid}`)).toBeUndefined();
    expect(normaliseEmail(`${'l'.repeat(65)}@example.com`)).toBeUndefined();
  });

  it('a plus-addressed guest signs in whatever case and spacing the address is typed in, and is not the plain address', async () => {
    await inviteGuest(host, tenant.id, 'ann+guestpass@example.com');
    expect((await sendCode(host, tenant.id, '  ANN+GuestPass@Example.com ')).status).toBe(202);
    const code = await latestCode(host, 'ann+guestpass@example.com');
    const verified = await verifyCode(host, tenant.id, 'Ann+guestpass@EXAMPLE.COM', code);
    expect(verified.status).toBe(200);
    expect(((await verified.json()) as { user: { email: string } }).user.email).toBe('ann+guestpass@example.com');
    // The plain address is another (uninvited) address: answered 202 but nothing is mailed.
    expect((await sendCode(host, tenant.id, 'ann@example.com')).status).toBe(202);
    expect(await outbox(host, 'ann@example.com')).toEqual([]);
  });

  it('an IDN domain is one guest in Unicode and in punycode', async () => {
    const invitation = await inviteGuest(host, tenant.id, 'Anna@Bücher.example');
    expect(invitation.invitedUser.id).toBe((await inviteGuest(host, tenant.id, 'anna@xn--bcher-kva.example')).invitedUser.id);
    expect((await sendCode(host, tenant.id, 'anna@bücher.example')).status).toBe(202);
    const code = await latestCode(host, 'anna@xn--bcher-kva.example');
    expect((await verifyCode(host, tenant.id, 'anna@xn--bcher-kva.example', code)).status).toBe(200);
  });

  it('an address with / # ? in its local part signs in; they never reach a table key', async () => {
    const odd = "o'brien/ops#1?x@example.com";
    await inviteGuest(host, tenant.id, odd);
    const session = await signIn(host, tenant.id, odd);
    expect(session.user.email).toBe(odd);
  });

  it('quoted local parts, backslashes and characters the domain may not hold are 400 at invitation and at send-code', async () => {
    for (const address of ['"ann smith"@example.com', 'ann\\smith@example.com', 'ann@exa/mple.com', 'ann@exa#mple.com', 'ann@exa?mple.com', 'ännä@example.com']) {
      const invite = await host.manage(`/tenants/${tenant.id}/invitations`, { method: 'POST', body: JSON.stringify({ invitedUserEmailAddress: address, inviteRedirectUrl: REDIRECT_URI }) });
      const body = await expectError(invite, 400, 'invalid_request');
      expect(JSON.stringify(body.details)).toContain('invitedUserEmailAddress');
      await expectError(await sendCode(host, tenant.id, address), 400, 'invalid_request');
    }
  });

  it('a 300-character address is 400 everywhere', async () => {
    const long = `${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(52)}.com`;
    expect(long.length).toBe(300);
    await expectError(await sendCode(host, tenant.id, long), 400, 'invalid_request');
    await expectError(await verifyCode(host, tenant.id, long, '12345678'), 400, 'invalid_request');
    const invite = await host.manage(`/tenants/${tenant.id}/invitations`, { method: 'POST', body: JSON.stringify({ invitedUserEmailAddress: long, inviteRedirectUrl: REDIRECT_URI }) });
    await expectError(invite, 400, 'invalid_request');
    await expectError(await host.api(`/dev/outbox?to=${encodeURIComponent(long)}`), 400, 'invalid_request');
  });

  it('inviteRedirectUrl must be exactly one of the redirectUris (no open redirect)', async () => {
    for (const url of ['https://evil.example/welcome', 'https://app.contoso.test.evil.example/welcome', 'https://app.contoso.test@evil.example/welcome',
      '//evil.example/welcome', 'https://app.contoso.test/welcome/../admin', 'http://app.contoso.test/welcome', 'javascript:alert(1)']) {
      const invite = await host.manage(`/tenants/${tenant.id}/invitations`, { method: 'POST', body: JSON.stringify({ invitedUserEmailAddress: 'redirect@example.com', inviteRedirectUrl: url }) });
      await expectError(invite, 400, 'invalid_redirect_uri');
    }
  });
});
