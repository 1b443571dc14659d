import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { generateSigningKey, generateSigningKeys, parseSigningKeys, retireSigningKeys, rotateSigningKeys } from '../lib/signin/keys.js';
import { issueSession, verifySessionToken } from '../lib/signin/sessions.js';
import { testRuntime } from './helpers.js';

const KEYS_SCRIPT = join(resolve(__dirname, '..'), 'dist', 'scripts', 'keys.js');

async function runKeys(...args: string[]): Promise<{ values: Record<string, string>; notes: string }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [KEYS_SCRIPT, ...args]);
  const values = Object.fromEntries(stdout.trim().split('\n').map((line) => {
    const match = /^([A-Z_]+)='([^']*)'$/.exec(line);
    if (!match) throw new Error(`not a shell assignment: ${line}`);
    return [match[1], match[2]];
  }));
  return { values, notes: stderr };
}

const TENANT = '0f8fad5b-d9cb-469f-a165-70867728950e';
const USER = { id: 'guest-1', email: 'ada@example.test', displayName: 'Ada', source: 'OTP' as const };

describe('npm run keys', () => {
  it('prints a fresh SIGNING_KEYS (an ES256 and an RS256 key, each with a kid) and a CODE_PEPPER that a production app accepts', async () => {
    const { values, notes } = await runKeys();
    expect(Object.keys(values)).toEqual(['SIGNING_KEYS', 'CODE_PEPPER', 'OPERATOR_KEY', 'ACS_EVENTS_SECRET']);
    const [ec, rsa, ...others] = parseSigningKeys(values.SIGNING_KEYS!);
    expect(others).toEqual([]);
    for (const key of [ec!, rsa!]) {
      expect(key.kid).toMatch(/^\d{8}-[0-9a-f]{8}$/);
      expect(key.privateKey).toBeDefined();
    }
    expect(ec!.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(rsa!.publicJwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(rsa!.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const config = loadConfig(
      {
        AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
        TABLES_ENDPOINT: 'https://stsample.table.core.windows.net/',
        AzureWebJobsStorage__accountName: 'stsample',
        SENDGRID_API_KEY: 'SG.sample',
        ...values,
      },
      () => undefined,
    );
    expect(config.code.pepper).toBe(values.CODE_PEPPER);
    expect(notes).toContain('az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name signing-keys');
    expect(notes).toContain('--name code-pepper');
    expect(notes).toContain('--name acs-events-secret');
    // Two runs never print the same secrets.
    const again = await runKeys();
    expect(again.values.CODE_PEPPER).not.toBe(values.CODE_PEPPER);
    expect(again.values.SIGNING_KEYS).not.toBe(values.SIGNING_KEYS);
  });

  it('--rotate puts a new key of each kind first and keeps the current ones as public keys that still verify', async () => {
    const current = generateSigningKeys();
    const { values, notes } = await runKeys('--rotate', current);
    const rotated = JSON.parse(values.SIGNING_KEYS!) as { kid: string; kty: string; d?: string }[];
    const old = JSON.parse(current) as { kid: string; kty: string; d?: string }[];
    expect(rotated.map((key) => key.kty)).toEqual(['EC', 'RSA', 'EC', 'RSA']);
    expect(rotated.slice(0, 2).every((key) => key.d !== undefined && !old.some((o) => o.kid === key.kid))).toBe(true);
    expect(rotated[2]).toEqual({ kty: 'EC', crv: 'P-256', x: (old[0] as never as { x: string }).x, y: (old[0] as never as { y: string }).y, kid: old[0]!.kid });
    expect(rotated[3]).toEqual({ kty: 'RSA', n: (old[1] as never as { n: string }).n, e: 'AQAB', kid: old[1]!.kid });
    expect(notes).toContain('--retire');
  });

  it('--rotate gives a SIGNING_KEYS from before RS256 (one EC key, which a new app refuses, naming it) its RSA key', async () => {
    const ecOnly = JSON.stringify([generateSigningKey('EC')]);
    expect(() => parseSigningKeys(ecOnly)).toThrow(/has no RSA key, which RS256 tokens need \(npm run --silent keys -- --rotate/);
    const { values } = await runKeys('--rotate', ecOnly);
    expect(parseSigningKeys(values.SIGNING_KEYS!).map((key) => key.alg)).toEqual(['ES256', 'RS256', 'ES256']);
  });

  it('refuses an RSA key shorter than 2048 bits', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const short = { kid: 'short', ...privateKey.export({ format: 'jwk' }) };
    expect(() => parseSigningKeys(JSON.stringify([generateSigningKey('EC'), short]))).toThrow(/key 1 \(RSA\) is shorter than 2048 bits/);
  });

  it('refuses a SIGNING_KEYS it cannot read, naming it', async () => {
    const failed = await promisify(execFile)(process.execPath, [KEYS_SCRIPT, '--rotate', '[{"kty":"RSA","kid":"k"}]']).catch((error) => error);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('SIGNING_KEYS given to --rotate is invalid');
  });
});

describe('signing key rotation', () => {
  it('signs no one out: sessions signed before the rotation still verify, new ones use the new key', async () => {
    const before = generateSigningKeys();
    const oldApp = await testRuntime({ SIGNING_KEYS: before });
    const { session: oldSession } = issueSession(oldApp, TENANT, USER);

    const rotated = rotateSigningKeys(before);
    const newApp = await testRuntime({ SIGNING_KEYS: rotated });
    expect(verifySessionToken(newApp, TENANT, oldSession.token).guestId).toBe(USER.id);
    const { session: newSession } = issueSession(newApp, TENANT, USER);
    const kid = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
    expect(kid(newSession.token)).toBe(parseSigningKeys(rotated)[0]!.kid);
    expect(kid(newSession.token)).not.toBe(kid(oldSession.token));

    // Once the old sessions have expired, --retire drops the old key: its tokens stop verifying.
    expect(parseSigningKeys(retireSigningKeys(rotated)).map((key) => key.kid)).toEqual(parseSigningKeys(rotated).slice(0, 2).map((key) => key.kid));
    const retiredApp = await testRuntime({ SIGNING_KEYS: retireSigningKeys(rotated) });
    expect(verifySessionToken(retiredApp, TENANT, newSession.token).guestId).toBe(USER.id);
    expect(() => verifySessionToken(retiredApp, TENANT, oldSession.token)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });
});
