import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { sendGridWebhookKey } from './mail/webhookKey.js';
import { generateCodePepper, generateSigningKeys, parseSigningKeys, type SigningKey } from './keys.js';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * Every setting guestpass reads. The infra test checks main.bicep against this
 * schema, so a setting is added here first and then to the deployment.
 */
export const settingsSchema = z.object({
  AZURE_FUNCTIONS_ENVIRONMENT: z.string().default('Production'),
  TABLES_CONNECTION_STRING: z.string().min(1).default('UseDevelopmentStorage=true'),
  TABLES_ENDPOINT: z.url().optional(),
  AZURE_CLIENT_ID: z.string().optional(),
  TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,39}$/, 'must start with a letter and hold only letters and digits (at most 40)')
    .default('guestpass'),
  PUBLIC_BASE_URL: z.url().default('http://localhost:7071'),
  SESSION_ISSUER: z.string().min(1).optional(),
  CODE_TTL_SECONDS: seconds(1800),
  CODE_LENGTH: z.coerce.number().int().min(6).max(12).default(8),
  CODE_MAX_ATTEMPTS: count(5),
  SESSION_TTL_SECONDS: seconds(86400),
  RESEND_COOLDOWN_SECONDS: z.coerce.number().int().min(0).default(60),
  CODES_PER_GUEST_PER_HOUR: count(5),
  FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR: count(10),
  SEND_CODE_PER_IP_PER_HOUR: count(100),
  OTP_DEFAULT_ENABLED: bool(true),
  CODE_PEPPER: z.string().min(32, 'must be at least 32 characters (npm run keys makes one)').optional(),
  SIGNING_KEYS: z.string().min(1).optional(),
  EMAIL_TRANSPORT: z.enum(['sendgrid', 'acs', 'smtp', 'outbox']).optional(),
  SENDGRID_API_KEY: z.string().min(1).optional(),
  SENDGRID_BASE_URL: z.url().optional(),
  SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().regex(/^[A-Za-z0-9+/=\s]{60,}$/, 'must be the base64 public key SendGrid shows for the signed Event Webhook').optional(),
  ACS_ENDPOINT: z.url().optional(),
  ACS_CONNECTION_STRING: z.string().min(1).optional(),
  ACS_EVENTS_SECRET: z.string().min(32, 'must be at least 32 characters (for example: openssl rand -base64 32)').optional(),
  SMTP_URL: z.url().optional(),
  SMTP_REQUIRE_TLS: bool(true),
  MAIL_DAILY_CAP_PER_TENANT: z.coerce.number().int().min(0).default(5000),
  EMAIL_FROM: z.email().default('no-reply@guestpass.local'),
  EMAIL_FROM_NAME: z.string().default('guestpass'),
  EMAIL_TIMEOUT_SECONDS: seconds(10),
  REALM_DISCOVERY_ENABLED: bool(false),
  REALM_DISCOVERY_URL: z.url().default('https://login.microsoftonline.com/common/userrealm/'),
  REALM_DISCOVERY_TIMEOUT_SECONDS: seconds(3),
  SIGN_IN_LOG_RETENTION_DAYS: count(30),
  TENANT_CACHE_SECONDS: z.coerce.number().int().min(0).default(5),
  LOCAL_FUNCTION_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(7071),
  STORAGE_TIMEOUT_SECONDS: seconds(5),
});

export type Settings = z.infer<typeof settingsSchema>;

export interface Config {
  development: boolean;
  storage: { connectionString: string; endpoint?: string; managedIdentityClientId?: string; tablePrefix: string; timeoutSeconds?: number };
  publicBaseUrl: string;
  issuer: string;
  code: { ttlSeconds: number; length: number; maxAttempts: number; resendCooldownSeconds: number; pepper: string };
  limits: { codesPerGuestPerHour: number; failedVerificationsPerGuestPerHour: number; sendCodePerIpPerHour: number };
  session: { ttlSeconds: number; signingKeys: SigningKey[] };
  otpDefaultEnabled: boolean;
  email: EmailConfig;
  /** How delivery reports reach guestpass; each endpoint answers 401 until its setting is there. */
  mailEvents: { sendGridPublicKey?: string; acsSecret?: string };
  /** Mails one tenant may send per UTC day (0: no cap); a tenant's own mail settings may set a lower or higher one. */
  mailDailyCapPerTenant: number;
  realmDiscovery: { enabled: boolean; url: string; timeoutSeconds: number };
  signInLogRetentionDays: number;
  tenantCacheSeconds: number;
  localFunctionKey?: string;
  port: number;
}

interface EmailBase {
  from: string;
  fromName: string;
  timeoutSeconds: number;
}

export type EmailConfig =
  | ({ transport: 'outbox' } & EmailBase)
  | ({ transport: 'sendgrid'; apiKey: string; baseUrl?: string } & EmailBase)
  /** Managed identity with `endpoint` (in Azure), or an access key from `connectionString` (locally). */
  | ({ transport: 'acs'; endpoint?: string; connectionString?: string; managedIdentityClientId?: string } & EmailBase)
  | ({ transport: 'smtp'; url: string; requireTls: boolean } & EmailBase);

export class ConfigError extends Error {
  constructor(readonly setting: string, problem: string) {
    super(`Setting ${setting} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Values from local.settings.json, the way Core Tools would load them; the process environment wins. */
export function readLocalSettings(dir = process.cwd()): Record<string, string> {
  const file = resolve(dir, 'local.settings.json');
  if (!existsSync(file)) return {};
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
  return parsed.Values ?? {};
}

export function loadConfig(env: Record<string, string | undefined>, warn: (message: string) => void = console.warn): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  refuseUnresolvedKeyVaultReferences(cleaned);
  const parsed = settingsSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = String(issue.path[0] ?? 'settings');
    throw new ConfigError(setting, `is invalid: ${issue.message}`);
  }
  const s = parsed.data;
  const development = s.AZURE_FUNCTIONS_ENVIRONMENT.toLowerCase() === 'development';

  const pepper = s.CODE_PEPPER ?? devOnly('CODE_PEPPER', development, warn, generateCodePepper);
  const signingKeysText = s.SIGNING_KEYS ?? devOnly('SIGNING_KEYS', development, warn, generateSigningKeys);
  let signingKeys: SigningKey[];
  try {
    signingKeys = parseSigningKeys(signingKeysText);
  } catch (error) {
    throw new ConfigError('SIGNING_KEYS', `is invalid: ${(error as Error).message}`);
  }

  const transport = s.EMAIL_TRANSPORT ?? (development ? 'outbox' : 'sendgrid');
  if (transport === 'outbox' && !development) {
    throw new ConfigError('EMAIL_TRANSPORT', 'may be "outbox" only in development (AZURE_FUNCTIONS_ENVIRONMENT=Development)');
  }
  const email = emailConfig(s, transport);
  if (s.SENDGRID_WEBHOOK_PUBLIC_KEY) {
    try {
      sendGridWebhookKey(s.SENDGRID_WEBHOOK_PUBLIC_KEY);
    } catch {
      throw new ConfigError('SENDGRID_WEBHOOK_PUBLIC_KEY', 'is invalid: must be the base64 EC P-256 public key of the signed Event Webhook');
    }
  }

  if (!development && !s.TABLES_ENDPOINT && /UseDevelopmentStorage=true/i.test(s.TABLES_CONNECTION_STRING)) {
    throw new ConfigError('TABLES_ENDPOINT', '(or TABLES_CONNECTION_STRING) is required outside development: the default is the local emulator');
  }

  const publicBaseUrl = s.PUBLIC_BASE_URL.replace(/\/+$/, '');
  return {
    development,
    storage: {
      connectionString: s.TABLES_CONNECTION_STRING,
      endpoint: s.TABLES_ENDPOINT,
      managedIdentityClientId: s.AZURE_CLIENT_ID,
      tablePrefix: s.TABLE_PREFIX,
      timeoutSeconds: s.STORAGE_TIMEOUT_SECONDS,
    },
    publicBaseUrl,
    issuer: s.SESSION_ISSUER ?? publicBaseUrl,
    code: {
      ttlSeconds: s.CODE_TTL_SECONDS,
      length: s.CODE_LENGTH,
      maxAttempts: s.CODE_MAX_ATTEMPTS,
      resendCooldownSeconds: s.RESEND_COOLDOWN_SECONDS,
      pepper,
    },
    limits: {
      codesPerGuestPerHour: s.CODES_PER_GUEST_PER_HOUR,
      failedVerificationsPerGuestPerHour: s.FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR,
      sendCodePerIpPerHour: s.SEND_CODE_PER_IP_PER_HOUR,
    },
    session: { ttlSeconds: s.SESSION_TTL_SECONDS, signingKeys },
    otpDefaultEnabled: s.OTP_DEFAULT_ENABLED,
    email,
    mailEvents: { sendGridPublicKey: s.SENDGRID_WEBHOOK_PUBLIC_KEY?.replace(/\s+/g, ''), acsSecret: s.ACS_EVENTS_SECRET },
    mailDailyCapPerTenant: s.MAIL_DAILY_CAP_PER_TENANT,
    realmDiscovery: {
      enabled: s.REALM_DISCOVERY_ENABLED,
      url: s.REALM_DISCOVERY_URL,
      timeoutSeconds: s.REALM_DISCOVERY_TIMEOUT_SECONDS,
    },
    signInLogRetentionDays: s.SIGN_IN_LOG_RETENTION_DAYS,
    tenantCacheSeconds: s.TENANT_CACHE_SECONDS,
    localFunctionKey: development
      ? (s.LOCAL_FUNCTION_KEY ?? devOnly('LOCAL_FUNCTION_KEY', development, warn, generateCodePepper))
      : s.LOCAL_FUNCTION_KEY,
    port: s.PORT,
  };
}

/** Each provider's own settings, checked at start so a misconfigured provider names its setting. */
function emailConfig(s: Settings, transport: EmailConfig['transport']): EmailConfig {
  const base: EmailBase = { from: s.EMAIL_FROM, fromName: s.EMAIL_FROM_NAME, timeoutSeconds: s.EMAIL_TIMEOUT_SECONDS };
  switch (transport) {
    case 'outbox':
      return { transport, ...base };
    case 'sendgrid':
      if (!s.SENDGRID_API_KEY) throw new ConfigError('SENDGRID_API_KEY', 'is required when EMAIL_TRANSPORT is sendgrid');
      return { transport, ...base, apiKey: s.SENDGRID_API_KEY, baseUrl: s.SENDGRID_BASE_URL };
    case 'acs': {
      if (s.ACS_CONNECTION_STRING) {
        // The SDK's own format (communication-common parseConnectionString): endpoint=https://...;accesskey=<base64>
        const endpoint = /(?:^|;)\s*endpoint=([^;]+)/i.exec(s.ACS_CONNECTION_STRING)?.[1];
        const key = /(?:^|;)\s*accesskey=([^;]+)/i.exec(s.ACS_CONNECTION_STRING)?.[1];
        if (!endpoint || !URL.canParse(endpoint) || !key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) {
          throw new ConfigError('ACS_CONNECTION_STRING', 'is invalid: must be endpoint=https://<resource>.communication.azure.com/;accesskey=<base64 key>');
        }
        return { transport, ...base, connectionString: s.ACS_CONNECTION_STRING };
      }
      if (!s.ACS_ENDPOINT) {
        throw new ConfigError('ACS_ENDPOINT', 'is required when EMAIL_TRANSPORT is acs (or ACS_CONNECTION_STRING, for a local run)');
      }
      if (!s.ACS_ENDPOINT.startsWith('https://')) throw new ConfigError('ACS_ENDPOINT', 'must be an https URL: the identity\'s token is sent only over TLS');
      return { transport, ...base, endpoint: s.ACS_ENDPOINT, managedIdentityClientId: s.AZURE_CLIENT_ID };
    }
    case 'smtp': {
      if (!s.SMTP_URL) throw new ConfigError('SMTP_URL', 'is required when EMAIL_TRANSPORT is smtp (smtp://user:password@host:587 or smtps://...:465)');
      const url = new URL(s.SMTP_URL);
      if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
        throw new ConfigError('SMTP_URL', 'is invalid: must start with smtp:// (STARTTLS) or smtps:// (TLS)');
      }
      if (!url.hostname) throw new ConfigError('SMTP_URL', 'is invalid: names no host');
      return { transport, ...base, url: s.SMTP_URL, requireTls: s.SMTP_REQUIRE_TLS };
    }
  }
}

function devOnly(setting: string, development: boolean, warn: (message: string) => void, generate: () => string): string {
  if (!development) {
    throw new ConfigError(setting, 'is required outside development (npm run keys prints a value)');
  }
  warn(`guestpass: ${setting} is not set; generated a throwaway value for this process (development only).`);
  return generate();
}

/**
 * When the platform cannot resolve a Key Vault reference (secret missing, identity
 * without Key Vault Secrets User) it hands the app the reference text itself. That
 * text must never become a pepper or a key, so it stops the app with the setting's name.
 */
function refuseUnresolvedKeyVaultReferences(env: Record<string, string | undefined>): void {
  for (const [setting, value] of Object.entries(env)) {
    if (setting in settingsSchema.shape && value && /^@Microsoft\.KeyVault\(/i.test(value.trim())) {
      throw new ConfigError(
        setting,
        'is a Key Vault reference the platform could not resolve: check that the secret exists and that the app identity has Key Vault Secrets User on the vault',
      );
    }
  }
}

/**
 * Settings a deployment must set although the schema lets them be absent: their
 * defaults suit only a local run (the emulator, localhost, a placeholder sender).
 * test/infra.test.ts checks that infra/main.bicep sets each of them, besides every
 * setting loadConfig itself demands outside development.
 */
export const DEPLOYMENT_SETTINGS = ['TABLES_ENDPOINT', 'AZURE_CLIENT_ID', 'PUBLIC_BASE_URL', 'EMAIL_TRANSPORT', 'EMAIL_FROM'] as const;

let current: Config | undefined;

/** The configuration of this process, parsed once on first use. */
export function getConfig(): Config {
  current ??= loadConfig({ ...readLocalSettings(), ...process.env });
  return current;
}
