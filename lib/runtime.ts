import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { getConfig, type Config } from './config.js';
import { createEarlyRejection, type EarlyRejection } from './signin/limits.js';
import { createMailer } from './mail/transport.js';
import type { Mailer } from './mail/message.js';
import { ensureTables, openTables, type CredentialFactory, type Tables } from './storage/tables.js';
import { createTenantCache, type TenantCache } from './tenants/tenants.js';

/** Everything a lib operation needs, built once per process from the configuration. */
export interface Runtime {
  config: Config;
  tables: Tables;
  mailer: Mailer;
  /** Milliseconds since the epoch; injectable so tests and the cleanup timer can move time. */
  now: () => number;
  tenantCache: TenantCache;
  mailLatency: MailLatency;
  /** Callers refused recently, answered again without storage (see lib/signin/limits.ts). */
  earlyRejection: EarlyRejection;
  /** Until when (ms) this instance answers every send-code 502, after a mail failure (see lib/signin/codes.ts). */
  mailOutage: { until: number };
}

/**
 * Recent durations of real mail sends, so that send-code for an address that is not
 * a guest waits about as long as one that mails a code (no enumeration by timing):
 * it waits for a duration drawn from the same recent sends. Until this instance has
 * timed a real send, it waits `coldStartMs`, a typical send, rather than nothing.
 * The window is short (16 sends) so that it follows the mail service's latency closely: with 64, durations taken during a burst of
 * sign-ins kept uninvited answers about four times slower than invited ones long after it.
 */
export interface MailLatency {
  record(ms: number): void;
  sample(): number;
}

/** A typical SendGrid v3 mail/send round trip from Azure, used before the first measured send (for ACS and SMTP too, until measured). */
export const SENDGRID_COLD_START_MS = 250;

export function createMailLatency(coldStartMs = 0, size = 16): MailLatency {
  const samples: number[] = [];
  let next = 0;
  // The first send of an instance also connects to the mail service and loads its
  // client: it stands in only until the second send replaces it.
  let firstIsColdStart = true;
  return {
    record(ms) {
      if (firstIsColdStart && samples.length === 1) {
        firstIsColdStart = false;
        samples[0] = ms;
        return;
      }
      samples[next] = ms;
      next = (next + 1) % size;
    },
    sample() {
      if (samples.length === 0) return coldStartMs;
      return samples[Math.floor(Math.random() * samples.length)]!;
    },
  };
}

export interface RuntimeOptions {
  now?: () => number;
  credentialFactory?: CredentialFactory;
  mailer?: Mailer;
}

/**
 * With TABLES_ENDPOINT the Tables clients authenticate as the app's managed identity:
 * DefaultAzureCredential picks the platform's identity endpoint in Azure (and a
 * developer's Azure CLI login elsewhere); the client id names the user-assigned identity.
 */
export const managedIdentityCredential: CredentialFactory = (clientId) => new LazyDefaultAzureCredential(clientId);

/**
 * DefaultAzureCredential, with @azure/identity (and MSAL under it) loaded when the first
 * token is asked for: an app on a connection string never loads it, and one on
 * TABLES_ENDPOINT not at import (it is a bundle of its own, lib/lazy/).
 */
class LazyDefaultAzureCredential implements TokenCredential {
  #credential?: Promise<TokenCredential>;
  constructor(private readonly clientId?: string) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    if (!this.#credential) {
      this.#credential = import('./lazy/identity.js').then(
        ({ DefaultAzureCredential }) => new DefaultAzureCredential(this.clientId ? { managedIdentityClientId: this.clientId } : {}),
      );
      // A failed load is tried again on the next token.
      this.#credential.catch(() => (this.#credential = undefined));
    }
    return (await this.#credential).getToken(scopes, options);
  }
}

export function createRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const now = options.now ?? Date.now;
  const tables = openTables(config.storage, options.credentialFactory ?? managedIdentityCredential);
  return {
    config,
    tables,
    mailer: options.mailer ?? createMailer(config.email, tables, now, options.credentialFactory ?? managedIdentityCredential),
    now,
    tenantCache: createTenantCache(config.tenantCacheSeconds, now),
    mailLatency: createMailLatency(config.email.transport === 'outbox' ? 0 : SENDGRID_COLD_START_MS),
    earlyRejection: createEarlyRejection(),
    mailOutage: { until: 0 },
  };
}

let shared: Promise<Runtime> | undefined;

/** The process's runtime, with its tables created; built on first use. */
export function runtime(): Promise<Runtime> {
  shared ??= (async () => {
    const rt = createRuntime(getConfig());
    await ensureTables(rt.tables);
    return rt;
  })().catch((error) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
