import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { generateSigningKeys, parseSigningKeys, retireSigningKeys, rotateSigningKeys } from '../lib/signin/keys.js';
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
  it('prints a fresh ES256 SIGNING_KEYS with a kid and a CODE_PEPPER that a production app accepts', async () => {
    const { values, notes } = await runKeys();
    expect(Object.keys(values)).toEqual(['SIGNING_KEYS', 'CODE_PEPPER', 'OPERATOR_KEY']);
    const [key, ...others] = parseSigningKeys(values.SIGNING_KEYS!);
    expect(others).toEqual([]);
    expect(key!.kid).toMatch(/^\d{8}-[0-9a-f]{8}$/);
    expect(key!.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(key!.privateKey).toBeDefined();
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
    // Two runs never print the same secrets.
    const again = await runKeys();
    expect(again.values.CODE_PEPPER).not.toBe(values.CODE_PEPPER);
    expect(again.values.SIGNING_KEYS).not.toBe(values.SIGNING_KEYS);
  });

  it('--rotate puts a new signing key first and keeps the current one as a public key that still verifies', async () => {
    const current = generateSigningKeys();
    const { values, notes } = await runKeys('--rotate', current);
    const rotated = JSON.parse(values.SIGNING_KEYS!) as { kid: string; d?: string }[];
    const [old] = JSON.parse(current) as { kid: string }[];
    expect(rotated).toHaveLength(2);
    expect(rotated[0]!.kid).not.toBe(old!.kid);
    expect(rotated[0]!.d).toBeDefined();
    expect(rotated[1]).toEqual({ ...JSON.parse(current)[0], d: undefined, kid: old!.kid });
    expect(notes).toContain('--retire');
  });

  it('refuses a SIGNING_KEYS it cannot read, naming it', async () => {
    const failed = await promisify(execFile)(process.execPath, [KEYS_SCRIPT, '--rotate', '[{"kty":"RSA"}]']).catch((error) => error);
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
    const retiredApp = await testRuntime({ SIGNING_KEYS: retireSigningKeys(rotated) });
    expect(verifySessionToken(retiredApp, TENANT, newSession.token).guestId).toBe(USER.id);
    expect(() => verifySessionToken(retiredApp, TENANT, oldSession.token)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });
});
