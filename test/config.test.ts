import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config.js';
import { TEST_PEPPER, TEST_SIGNING_KEYS } from './helpers.js';

const production = {
  AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
  CODE_PEPPER: TEST_PEPPER,
  SIGNING_KEYS: TEST_SIGNING_KEYS,
  SENDGRID_API_KEY: 'SG.x',
  TABLES_ENDPOINT: 'https://account.table.core.windows.net',
  AzureWebJobsStorage__accountName: 'account',
  OPERATOR_KEY: 'operator-key-0123456789-0123456789-abcdef',
};

function failureOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, () => undefined);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the settings to be refused');
}

describe('settings', () => {
  it('the defaults are the documented ones', () => {
    const config = loadConfig(production);
    expect(config.code).toMatchObject({ ttlSeconds: 1800, length: 8, maxAttempts: 5, resendCooldownSeconds: 60 });
    expect(config.session.ttlSeconds).toBe(86400);
    expect(config.storage).toMatchObject({ endpoint: 'https://account.table.core.windows.net', tablePrefix: 'guestpass' });
    expect(loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Development' }, () => undefined).storage.connectionString).toBe('UseDevelopmentStorage=true');
    expect(config.otpDefaultEnabled).toBe(true);
    expect(config.email.transport).toBe('sendgrid');
    expect(config.limits).toEqual({
      codesPerGuestPerHour: 5,
      failedVerificationsPerGuestPerHour: 10,
      sendCodePerIpPerHour: 100,
      failedVerificationsPerIpPerHour: 30,
      guestStepUpAfterPerHour: 10,
      guestUnfamiliarGuessesPerDay: 100,
      tenantFailedVerificationsPerDay: 150,
      deploymentFailedVerificationsPerDay: 1500,
      tenantUnfamiliarSendCodesPerHour: 1000,
    });
    expect(config.stepUp).toMatchObject({ provider: 'altcha', maxNumber: 100_000 });
  });

  it('SESSION_ISSUER, retired by per-tenant issuers, stops the app naming the setting and what replaces it', () => {
    const failure = failureOf({ ...production, SESSION_ISSUER: 'https://auth.contoso.com' });
    expect(failure.setting).toBe('SESSION_ISSUER');
    expect(failure.message).toContain('{PUBLIC_BASE_URL}/api/{tenantId}');
  });

  it('DEV_TRUST_DOMAINS (domains verified without DNS) refuses to start outside development', () => {
    const refused = failureOf({ ...production, DEV_TRUST_DOMAINS: 'true' });
    expect(refused.setting).toBe('DEV_TRUST_DOMAINS');
    expect(refused.message).toMatch(/only in development/);
    expect(loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Development', DEV_TRUST_DOMAINS: 'true' }, () => undefined).devTrustDomains).toBe(true);
  });

  it('the operator credential is OPERATOR_KEY, and in development LOCAL_FUNCTION_KEY when it is unset', () => {
    expect(loadConfig(production).operatorKey).toBe(production.OPERATOR_KEY);
    const local = 'local-function-key-0123456789';
    expect(loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Development', LOCAL_FUNCTION_KEY: local }, () => undefined).operatorKey).toBe(local);
    expect(failureOf({ ...production, OPERATOR_KEY: 'short' }).setting).toBe('OPERATOR_KEY');
    expect(failureOf({ ...production, DNS_SERVERS: 'dns.example.com' }).setting).toBe('DNS_SERVERS');
    expect(loadConfig({ ...production, DNS_SERVERS: '127.0.0.1:5353, 1.1.1.1' }).dnsServers).toEqual(['127.0.0.1:5353', '1.1.1.1']);
  });

  it.each(['CODE_PEPPER', 'SIGNING_KEYS', 'OPERATOR_KEY'])('outside development the app refuses to start without %s', (setting) => {
    const env: Record<string, string> = { ...production };
    delete env[setting];
    expect(failureOf(env).setting).toBe(setting);
  });

  it('in development missing secrets are generated with a warning', () => {
    const warnings: string[] = [];
    const config = loadConfig({ AZURE_FUNCTIONS_ENVIRONMENT: 'Development' }, (w) => warnings.push(w));
    expect(config.code.pepper.length).toBeGreaterThanOrEqual(32);
    expect(config.session.signingKeys.map((key) => key.alg)).toEqual(['ES256', 'RS256']);
    expect(warnings.join('\n')).toMatch(/CODE_PEPPER/);
    expect(warnings.join('\n')).toMatch(/SIGNING_KEYS/);
    expect(config.email.transport).toBe('outbox');
  });

  it.each([
    ['CODE_TTL_SECONDS', 'soon'],
    ['CODE_LENGTH', '3'],
    ['TABLE_PREFIX', 'has-dash'],
    ['EMAIL_TRANSPORT', 'pigeon'],
    ['SIGNING_KEYS', '[{"kty":"RSA"}]'],
    ['SIGNING_KEYS', 'not json'],
    ['OTP_DEFAULT_ENABLED', 'maybe'],
    ['PUBLIC_BASE_URL', 'not a url'],
  ])('an invalid %s fails at start naming the setting', (setting, value) => {
    const error = failureOf({ ...production, [setting]: value });
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(setting);
  });

  it('sendgrid mail needs SENDGRID_API_KEY, and the outbox exists only in development', () => {
    const { SENDGRID_API_KEY: _, ...withoutKey } = production;
    expect(failureOf(withoutKey).setting).toBe('SENDGRID_API_KEY');
    const { TABLES_ENDPOINT: __, ...onTheEmulator } = production;
    expect(failureOf(onTheEmulator).setting).toBe('TABLES_ENDPOINT');
    expect(failureOf({ ...production, EMAIL_TRANSPORT: 'outbox' }).setting).toBe('EMAIL_TRANSPORT');
  });
});

describe('mail provider settings', () => {
  it('acs takes ACS_ENDPOINT (managed identity, https only) or ACS_CONNECTION_STRING (an access key)', () => {
    const withEndpoint = loadConfig({ ...production, EMAIL_TRANSPORT: 'acs', ACS_ENDPOINT: 'https://acs.europe.communication.azure.com', AZURE_CLIENT_ID: 'client-id' });
    expect(withEndpoint.email).toMatchObject({ transport: 'acs', endpoint: 'https://acs.europe.communication.azure.com', managedIdentityClientId: 'client-id' });
    const withKey = loadConfig({ ...production, EMAIL_TRANSPORT: 'acs', ACS_CONNECTION_STRING: 'endpoint=https://acs.communication.azure.com/;accesskey=c2VjcmV0' });
    expect(withKey.email).toMatchObject({ transport: 'acs', connectionString: expect.stringContaining('accesskey=') });
    expect(failureOf({ ...production, EMAIL_TRANSPORT: 'acs', ACS_ENDPOINT: 'http://acs.communication.azure.com' }).setting).toBe('ACS_ENDPOINT');
    expect(failureOf({ ...production, EMAIL_TRANSPORT: 'acs', ACS_CONNECTION_STRING: 'accesskey=c2VjcmV0' }).setting).toBe('ACS_CONNECTION_STRING');
  });

  it('smtp takes smtp:// (STARTTLS, required by default) or smtps:// URLs', () => {
    expect(loadConfig({ ...production, EMAIL_TRANSPORT: 'smtp', SMTP_URL: 'smtps://u:p@mail.contoso.com:465' }).email).toMatchObject({ transport: 'smtp', requireTls: true });
    expect(loadConfig({ ...production, EMAIL_TRANSPORT: 'smtp', SMTP_URL: 'smtp://mail.contoso.com:587', SMTP_REQUIRE_TLS: 'false' }).email).toMatchObject({ requireTls: false });
    expect(failureOf({ ...production, EMAIL_TRANSPORT: 'smtp', SMTP_URL: 'ftp://mail.contoso.com' }).setting).toBe('SMTP_URL');
  });

  it('a SENDGRID_WEBHOOK_PUBLIC_KEY that is not an EC P-256 key stops the app naming it', () => {
    expect(failureOf({ ...production, SENDGRID_WEBHOOK_PUBLIC_KEY: 'A'.repeat(88) }).setting).toBe('SENDGRID_WEBHOOK_PUBLIC_KEY');
  });

  it('MAIL_DAILY_CAP_PER_TENANT defaults to 5000 and takes 0 for no cap', () => {
    expect(loadConfig(production).mailDailyCapPerTenant).toBe(5000);
    expect(loadConfig({ ...production, MAIL_DAILY_CAP_PER_TENANT: '0' }).mailDailyCapPerTenant).toBe(0);
    expect(failureOf({ ...production, MAIL_DAILY_CAP_PER_TENANT: '-1' }).setting).toBe('MAIL_DAILY_CAP_PER_TENANT');
  });
});
