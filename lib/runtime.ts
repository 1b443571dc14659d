import { getConfig, type Config } from './config.js';
import { createMailer, type Mailer } from './mail.js';
import { ensureTables, openTables, type CredentialFactory, type Tables } from './storage.js';
import { createTenantCache, type TenantCache } from './tenants.js';

/** Everything a lib operation needs, built once per process from the configuration. */
export interface Runtime {
  config: Config;
  tables: Tables;
  mailer: Mailer;
  /** Milliseconds since the epoch; injectable so tests and the cleanup timer can move time. */
  now: () => number;
  tenantCache: TenantCache;
  mailLatency: MailLatency;
}

/**
 * Recent durations of real mail sends, so that send-code for an address that is not
 * a guest waits about as long as one that mails a code (no enumeration by timing).
 * The window is short (16 sends) so that it follows the mail service's latency
 * closely: with 64, durations taken during a burst of sign-ins kept uninvited
 * answers about four times slower than invited ones long after the burst.
 */
export interface MailLatency {
  record(ms: number): void;
  sample(): number;
}

export function createMailLatency(size = 16): MailLatency {
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
      if (samples.length === 0) return 0;
      return samples[Math.floor(Math.random() * samples.length)]!;
    },
  };
}

export interface RuntimeOptions {
  now?: () => number;
  credentialFactory?: CredentialFactory;
  mailer?: Mailer;
}

export function createRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const now = options.now ?? Date.now;
  const tables = openTables(config.storage, options.credentialFactory);
  return {
    config,
    tables,
    mailer: options.mailer ?? createMailer(config.email, tables, now),
    now,
    tenantCache: createTenantCache(config.tenantCacheSeconds, now),
    mailLatency: createMailLatency(),
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
