import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { sendGridWebhookKey } from './mail/webhookKey.js';
import type { TelemetrySettings } from './telemetry/telemetry.js';
import { generateCodePepper, generateSigningKeys, parseSigningKeys, type SigningKey } from './signin/keys.js';

/*
 * The settings schema is built at every cold start (the settings are parsed at load), so it uses
 * zod's functional API (zod/mini): the same checks and messages as the classic API the request
 * schemas use, without the dozens of methods the classic API binds to each of the schema's ~200
 * parts, which made building it the larger part of zod's cost at load. zod/mini sets no locale of
 * its own: English, as the classic API sets it.
 */
z.config(en());

const YES_NO = ['true', 'false', '1', '0', 'yes', 'no'] as const;
const bool = (fallback: boolean) =>
  z.pipe(
    z._default(z.enum(YES_NO), fallback ? 'true' : 'false'),
    z.transform((value: (typeof YES_NO)[number]) => value === 'true' || value === '1' || value === 'yes'),
  );

const seconds = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
const count = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
/** An integer setting within bounds (`max` optional). */
const integer = (fallback: number, min: number, max?: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), ...(max === undefined ? [] : [z.maximum(max)])), fallback);
/** A string setting of at least `length` characters. */
const atLeast = (length: number, message?: string) => z.string().check(z.minLength(length, message));
/** A string setting matching `pattern`. */
const matching = (pattern: RegExp, message: string) => z.string().check(z.regex(pattern, message));
/** A queue a queue trigger reads: Azure's queue-name rules, with room for the host's `-poison` suffix. */
const queueName = (fallback: string) =>
  z._default(matching(/^[a-z0-9](?!.*--)[a-z0-9-]{1,55}[a-z0-9]$/, 'must be a queue name: 3-57 lowercase letters, digits and single hyphens (the host adds -poison)'), fallback);

/**
 * Every setting guestpass reads. The infra test checks main.bicep against this
 * schema, so a setting is added here first and then to the deployment.
 */
export const settingsSchema = z.object({
  AZURE_FUNCTIONS_ENVIRONMENT: z._default(z.string(), 'Production'),
  TABLES_CONNECTION_STRING: z._default(atLeast(1), 'UseDevelopmentStorage=true'),
  TABLES_ENDPOINT: z.optional(z.url()),
  AZURE_CLIENT_ID: z.optional(z.string()),
  TABLE_PREFIX: z._default(matching(/^[A-Za-z][A-Za-z0-9]{0,39}$/, 'must start with a letter and hold only letters and digits (at most 40)'), 'guestpass'),
  PUBLIC_BASE_URL: z._default(z.url(), 'http://localhost:7071'),
  CODE_TTL_SECONDS: seconds(1800),
  CODE_LENGTH: integer(8, 6, 12),
  CODE_MAX_ATTEMPTS: count(5),
  SESSION_TTL_SECONDS: seconds(86400),
  RESEND_COOLDOWN_SECONDS: integer(60, 0),
  CODES_PER_GUEST_PER_HOUR: count(5),
  FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR: count(10),
  SEND_CODE_PER_IP_PER_HOUR: count(100),
  FAILED_VERIFICATIONS_PER_IP_PER_HOUR: count(30),
  GUEST_STEP_UP_AFTER_PER_HOUR: count(10),
  GUEST_UNFAMILIAR_GUESSES_PER_DAY: count(100),
  TENANT_FAILED_VERIFICATIONS_PER_DAY: count(150),
  DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY: count(1500),
  TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: count(1000),
  STEP_UP_PROVIDER: z._default(z.enum(['altcha', 'turnstile', 'hcaptcha']), 'altcha'),
  STEP_UP_SECRET: z.optional(atLeast(32, 'must be at least 32 characters (npm run keys makes one)')),
  STEP_UP_POW_MAX_NUMBER: integer(100_000, 1000, 10_000_000),
  CAPTCHA_SITE_KEY: z.optional(atLeast(1)),
  CAPTCHA_SECRET: z.optional(atLeast(1)),
  CAPTCHA_VERIFY_URL: z.optional(z.url()),
  OTP_DEFAULT_ENABLED: bool(true),
  CODE_PEPPER: z.optional(atLeast(32, 'must be at least 32 characters (npm run keys makes one)')),
  SIGNING_KEYS: z.optional(atLeast(1)),
  EMAIL_TRANSPORT: z.optional(z.enum(['sendgrid', 'acs', 'smtp', 'outbox'])),
  SENDGRID_API_KEY: z.optional(atLeast(1)),
  SENDGRID_BASE_URL: z.optional(z.url()),
  SENDGRID_WEBHOOK_PUBLIC_KEY: z.optional(matching(/^[A-Za-z0-9+/=\s]{60,}$/, 'must be the base64 public key SendGrid shows for the signed Event Webhook')),
  ACS_ENDPOINT: z.optional(z.url()),
  ACS_CONNECTION_STRING: z.optional(atLeast(1)),
  ACS_EVENTS_SECRET: z.optional(atLeast(32, 'must be at least 32 characters (for example: openssl rand -base64 32)')),
  SMTP_URL: z.optional(z.url()),
  SMTP_REQUIRE_TLS: bool(true),
  MAIL_DAILY_CAP_PER_TENANT: integer(5000, 0),
  EMAIL_FROM: z._default(z.email(), 'no-reply@guestpass.local'),
  EMAIL_FROM_NAME: z._default(z.string(), 'guestpass'),
  EMAIL_TIMEOUT_SECONDS: seconds(10),
  REALM_DISCOVERY_ENABLED: bool(false),
  REALM_DISCOVERY_URL: z._default(z.url(), 'https://login.microsoftonline.com/common/userrealm/'),
  REALM_DISCOVERY_TIMEOUT_SECONDS: seconds(3),
  SIGN_IN_LOG_RETENTION_DAYS: count(30),
  TENANT_CACHE_SECONDS: integer(5, 0),
  LOCAL_FUNCTION_KEY: z.optional(atLeast(16, 'must be at least 16 characters')),
  OPERATOR_KEY: z.optional(atLeast(32, 'must be at least 32 characters (npm run keys makes one)')),
  AUDIT_LOG_RETENTION_DAYS: count(90),
  DNS_SERVERS: z.optional(matching(/^\s*[0-9a-fA-F.:\[\]]+(\s*,\s*[0-9a-fA-F.:\[\]]+)*\s*$/, 'must be IP addresses (optionally with a port), comma-separated, e.g. 1.1.1.1,8.8.8.8 or 127.0.0.1:5353')),
  DEV_TRUST_DOMAINS: bool(false),
  INVITATION_RESENDS_PER_GUEST_PER_DAY: count(5),
  PORT: integer(7071, 0, 65535),
  /** The local host serves HTTPS with this certificate and key (PEM files) instead of HTTP: for clients that send credentials only over TLS. */
  LOCAL_TLS_CERT_FILE: z.optional(atLeast(1)),
  LOCAL_TLS_KEY_FILE: z.optional(atLeast(1)),
  STORAGE_TIMEOUT_SECONDS: seconds(5),
  // The Functions host's own storage connection, which its queue triggers read
  // (a connection string, or identity-based: the account name or queue URI, the identity's client id).
  AzureWebJobsStorage: z.optional(atLeast(1)),
  AzureWebJobsStorage__accountName: z.optional(matching(/^[a-z0-9]{3,24}$/, 'must be a storage account name (3-24 lowercase letters and digits)')),
  AzureWebJobsStorage__queueServiceUri: z.optional(z.url()),
  AzureWebJobsStorage__clientId: z.optional(z.string()),
  AzureWebJobsStorage__credential: z.optional(z.string()),
  MAIL_QUEUE_NAME: queueName('send-mail'),
  WEBHOOK_QUEUE_NAME: queueName('webhook-deliveries'),
  /** The queue the Event Grid subscription writes ACS delivery reports to (infra/modules/acsEvents.bicep). */
  ACS_EVENTS_QUEUE_NAME: queueName('acs-delivery-reports'),
  WEBHOOK_TIMEOUT_SECONDS: integer(15, 1, 60),
  WEBHOOK_DISABLE_AFTER_DAYS: count(5),
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: bool(false),
  /** An Event Grid custom topic's endpoint (infra/modules/eventGrid.bicep): every event is also published there as a CloudEvent. */
  EVENT_GRID_TOPIC_ENDPOINT: z.optional(z.url()),
  /** The topic's access key instead of the managed identity: for a topic with key access on; Bicep's topic has it off. */
  EVENT_GRID_TOPIC_KEY: z.optional(atLeast(1)),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.optional(matching(/InstrumentationKey=/i, 'must be an Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…)')),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.optional(z.url()),
  OTEL_METRIC_EXPORT_INTERVAL: integer(60_000, 100),
});

export type Settings = z.infer<typeof settingsSchema>;

export type StepUpConfig =
  | { provider: 'altcha'; secret: string; maxNumber: number }
  | { provider: 'turnstile' | 'hcaptcha'; secret: string; siteKey: string; verifyUrl: string };

/** The providers' documented siteverify endpoints. */
export const CAPTCHA_VERIFY_URLS = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
} as const;

export interface Config {
  development: boolean;
  storage: { connectionString: string; endpoint?: string; managedIdentityClientId?: string; tablePrefix: string; timeoutSeconds?: number };
  publicBaseUrl: string;
  code: { ttlSeconds: number; length: number; maxAttempts: number; resendCooldownSeconds: number; pepper: string };
  limits: {
    /** Codes one client address may ask for one guest in an hour. */
    codesPerGuestPerHour: number;
    /** Wrong codes one client address may send for one guest in an hour. */
    failedVerificationsPerGuestPerHour: number;
    sendCodePerIpPerHour: number;
    failedVerificationsPerIpPerHour: number;
    /** Send-code calls and wrong codes for one guest from addresses it never signed in from, per hour, before a step-up is asked. */
    guestStepUpAfterPerHour: number;
    /** Codes compared for one guest per UTC day from callers that are not its own: the guessing bound (SECURITY.md). */
    guestUnfamiliarGuessesPerDay: number;
    /** Wrong codes from unfamiliar addresses a tenant (a deployment) admits per UTC day: what bounds guessing (SECURITY.md). */
    tenantFailedVerificationsPerDay: number;
    deploymentFailedVerificationsPerDay: number;
    /** Send-code calls a tenant admits per UTC hour from addresses unfamiliar to the address asked about: what bounds anonymous writes (SECURITY.md). */
    tenantUnfamiliarSendCodesPerHour: number;
  };
  stepUp: StepUpConfig;
  /** The queues on the host's storage account (AzureWebJobsStorage): where mail waits for the send-mail trigger. */
  queue: { connectionString?: string; serviceUri?: string; managedIdentityClientId?: string; mailQueueName: string; webhookQueueName: string; timeoutSeconds: number };
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
  /** The deployment operator's management credential (OPERATOR_KEY; LOCAL_FUNCTION_KEY in development). */
  operatorKey: string;
  auditLogRetentionDays: number;
  /** Resolvers for domain verification; empty: the system's. */
  dnsServers: string[];
  /** Development only: domains count as verified without a DNS check. */
  devTrustDomains: boolean;
  invitationResendsPerGuestPerDay: number;
  port: number;
  /** Tenants' webhooks (lib/events/): how long a receiver may take, when a failing endpoint is disabled, and (development only) private addresses. */
  webhooks: { timeoutSeconds: number; disableAfterDays: number; allowPrivateAddresses: boolean };
  /** OpenTelemetry (lib/telemetry/): Azure Monitor, or OTLP over HTTP, or nothing. */
  telemetry: TelemetrySettings;
  /** Event Grid (lib/events/eventGrid.ts): the custom topic every event is also published to, as the identity or with a key; absent: none. */
  eventGrid?: EventGridConfig;
}

export interface EventGridConfig {
  endpoint: string;
  key?: string;
  managedIdentityClientId?: string;
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
  refuseRetiredSettings(cleaned);
  // Parsed once per process: zod's compiled fast path (it writes and compiles a function for
  // the object's ~70 keys) would cost a cold start more than it could ever save.
  const parsed = settingsSchema.safeParse(cleaned, { jitless: true });
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

  if (s.DEV_TRUST_DOMAINS && !development) {
    throw new ConfigError('DEV_TRUST_DOMAINS', 'may be true only in development (AZURE_FUNCTIONS_ENVIRONMENT=Development): elsewhere a domain is verified by its DNS TXT record');
  }
  if (s.WEBHOOK_ALLOW_PRIVATE_ADDRESSES && !development) {
    throw new ConfigError('WEBHOOK_ALLOW_PRIVATE_ADDRESSES', 'may be true only in development (AZURE_FUNCTIONS_ENVIRONMENT=Development): elsewhere webhooks call public addresses only');
  }
  const localFunctionKey = development
    ? (s.LOCAL_FUNCTION_KEY ?? devOnly('LOCAL_FUNCTION_KEY', development, warn, generateCodePepper))
    : s.LOCAL_FUNCTION_KEY;
  const operatorKey = s.OPERATOR_KEY ?? (development ? localFunctionKey! : devOnly('OPERATOR_KEY', development, warn, generateCodePepper));

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
      failedVerificationsPerIpPerHour: s.FAILED_VERIFICATIONS_PER_IP_PER_HOUR,
      guestStepUpAfterPerHour: s.GUEST_STEP_UP_AFTER_PER_HOUR,
      guestUnfamiliarGuessesPerDay: s.GUEST_UNFAMILIAR_GUESSES_PER_DAY,
      tenantFailedVerificationsPerDay: s.TENANT_FAILED_VERIFICATIONS_PER_DAY,
      deploymentFailedVerificationsPerDay: s.DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY,
      tenantUnfamiliarSendCodesPerHour: s.TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR,
    },
    stepUp: stepUpConfig(s, pepper),
    queue: queueConfig(s, development),
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
    localFunctionKey,
    operatorKey,
    auditLogRetentionDays: s.AUDIT_LOG_RETENTION_DAYS,
    dnsServers: (s.DNS_SERVERS ?? '').split(',').map((server) => server.trim()).filter(Boolean),
    devTrustDomains: s.DEV_TRUST_DOMAINS,
    invitationResendsPerGuestPerDay: s.INVITATION_RESENDS_PER_GUEST_PER_DAY,
    port: s.PORT,
    telemetry: {
      applicationInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
      otlpEndpoint: s.OTEL_EXPORTER_OTLP_ENDPOINT,
      managedIdentityClientId: s.AZURE_CLIENT_ID,
      metricExportIntervalMs: s.OTEL_METRIC_EXPORT_INTERVAL,
    },
    webhooks: { timeoutSeconds: s.WEBHOOK_TIMEOUT_SECONDS, disableAfterDays: s.WEBHOOK_DISABLE_AFTER_DAYS, allowPrivateAddresses: s.WEBHOOK_ALLOW_PRIVATE_ADDRESSES },
    ...eventGridConfig(s),
  };
}

/**
 * The Event Grid topic as the SDK is given it: the endpoint Azure shows for the topic
 * (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`, which the SDK posts to
 * as it is), and the managed identity, or a key. https only: the SDK's pipeline sends
 * nothing over plain http with its default settings, and the token or key goes over TLS.
 */
function eventGridConfig(s: Settings): { eventGrid?: EventGridConfig } {
  if (!s.EVENT_GRID_TOPIC_ENDPOINT) {
    if (s.EVENT_GRID_TOPIC_KEY) throw new ConfigError('EVENT_GRID_TOPIC_KEY', 'is set but EVENT_GRID_TOPIC_ENDPOINT is not: the key is for the topic that setting names');
    return {};
  }
  const url = new URL(s.EVENT_GRID_TOPIC_ENDPOINT);
  if (url.protocol !== 'https:') throw new ConfigError('EVENT_GRID_TOPIC_ENDPOINT', 'must be an https URL: the identity\'s token (or the key) and the events go over TLS only');
  if (!/\/api\/events\/?$/.test(url.pathname) || url.search) throw new ConfigError('EVENT_GRID_TOPIC_ENDPOINT', 'is invalid: must be the topic endpoint Azure shows, ending in /api/events (https://<topic>.<region>-1.eventgrid.azure.net/api/events)');
  return { eventGrid: { endpoint: s.EVENT_GRID_TOPIC_ENDPOINT, key: s.EVENT_GRID_TOPIC_KEY, managedIdentityClientId: s.AZURE_CLIENT_ID } };
}

/**
 * The issuer of a tenant's tokens: `{PUBLIC_BASE_URL}/api/{tenantId}`, always the id
 * form (a verified domain in a route resolves to the same tenant), as Entra's
 * per-tenant authority. Discovery, tokens and verification all use this one string.
 */
export function tenantIssuer(config: Pick<Config, 'publicBaseUrl'>, tenantId: string): string {
  return `${config.publicBaseUrl}/api/${tenantId}`;
}

/**
 * SESSION_ISSUER named one issuer for every tenant. Each tenant is now its own issuer
 * under PUBLIC_BASE_URL, so a value there would be silently ignored: it stops the app
 * instead, so a deployment that set it learns why its tokens' `iss` changed.
 */
function refuseRetiredSettings(env: Record<string, string | undefined>): void {
  if (env.SESSION_ISSUER !== undefined) {
    throw new ConfigError(
      'SESSION_ISSUER',
      'is no longer read: each tenant issues tokens as {PUBLIC_BASE_URL}/api/{tenantId}; set PUBLIC_BASE_URL to the public address and remove SESSION_ISSUER',
    );
  }
}

/**
 * The ALTCHA challenge is signed with STEP_UP_SECRET, or else with a key derived from
 * CODE_PEPPER (an HMAC under a fixed label, so the pepper itself never signs anything
 * a client sees). A CAPTCHA provider needs its own site key and secret.
 */
function stepUpConfig(s: Settings, pepper: string): StepUpConfig {
  if (s.STEP_UP_PROVIDER === 'altcha') {
    const secret = s.STEP_UP_SECRET ?? createHmac('sha256', pepper).update('guestpass step-up challenge key').digest('base64url');
    return { provider: 'altcha', secret, maxNumber: s.STEP_UP_POW_MAX_NUMBER };
  }
  if (!s.CAPTCHA_SITE_KEY) throw new ConfigError('CAPTCHA_SITE_KEY', `is required when STEP_UP_PROVIDER is ${s.STEP_UP_PROVIDER}`);
  if (!s.CAPTCHA_SECRET) throw new ConfigError('CAPTCHA_SECRET', `is required when STEP_UP_PROVIDER is ${s.STEP_UP_PROVIDER}`);
  return {
    provider: s.STEP_UP_PROVIDER,
    siteKey: s.CAPTCHA_SITE_KEY,
    secret: s.CAPTCHA_SECRET,
    verifyUrl: s.CAPTCHA_VERIFY_URL ?? CAPTCHA_VERIFY_URLS[s.STEP_UP_PROVIDER],
  };
}

/**
 * The host's storage connection as the Functions host reads `AzureWebJobsStorage`:
 * a connection string, or identity-based settings under `AzureWebJobsStorage__`
 * (the queue service URI, or the account name it is made from, and the identity's client id).
 */
function queueConfig(s: Settings, development: boolean): Config['queue'] {
  const common = { mailQueueName: s.MAIL_QUEUE_NAME, webhookQueueName: s.WEBHOOK_QUEUE_NAME, timeoutSeconds: s.STORAGE_TIMEOUT_SECONDS };
  if (s.AzureWebJobsStorage) {
    if (!development && /UseDevelopmentStorage=true/i.test(s.AzureWebJobsStorage)) {
      throw new ConfigError('AzureWebJobsStorage', 'is the local emulator outside development: set AzureWebJobsStorage__accountName (managed identity) or a real connection string');
    }
    return { ...common, connectionString: s.AzureWebJobsStorage };
  }
  const serviceUri = s.AzureWebJobsStorage__queueServiceUri ?? (s.AzureWebJobsStorage__accountName && `https://${s.AzureWebJobsStorage__accountName}.queue.core.windows.net`);
  if (serviceUri) return { ...common, serviceUri, managedIdentityClientId: s.AzureWebJobsStorage__clientId ?? s.AZURE_CLIENT_ID };
  if (development) return { ...common, connectionString: 'UseDevelopmentStorage=true' };
  throw new ConfigError('AzureWebJobsStorage__accountName', "(with a managed identity, or AzureWebJobsStorage as a connection string) is required outside development: the host's storage account holds the queue mail waits in");
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
export const DEPLOYMENT_SETTINGS = ['TABLES_ENDPOINT', 'AZURE_CLIENT_ID', 'PUBLIC_BASE_URL', 'EMAIL_TRANSPORT', 'EMAIL_FROM', 'MAIL_QUEUE_NAME', 'ACS_EVENTS_QUEUE_NAME', 'AzureWebJobsStorage__clientId'] as const;

let current: Config | undefined;

/** The configuration of this process, parsed once on first use. */
export function getConfig(): Config {
  current ??= loadConfig({ ...readLocalSettings(), ...process.env });
  return current;
}
