import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { getConfig, type Config } from './config.js';
import { openEventGrid, type EventGridPublisher } from './events/eventGrid.js';
import { createEarlyRejection, type EarlyRejection } from './signin/earlyRejection.js';
import { createMailer } from './mail/transport.js';
import type { Mailer } from './mail/message.js';
import { openQueues, type Queues } from './storage/queues.js';
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
  /** The queues on the host's storage account; mail leaves through them (lib/mail/queue.ts). */
  queues: Queues;
  /** Callers refused recently, answered again without storage (see lib/signin/limits.ts). */
  earlyRejection: EarlyRejection;
  /** The Event Grid topic every event is also published to (EVENT_GRID_TOPIC_ENDPOINT); absent: none. */
  eventGrid?: EventGridPublisher;
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
    queues: openQueues(config.queue, options.credentialFactory ?? managedIdentityCredential),
    earlyRejection: createEarlyRejection(),
    eventGrid: config.eventGrid && openEventGrid(config.eventGrid, options.credentialFactory ?? managedIdentityCredential),
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
