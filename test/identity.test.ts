import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { createRuntime } from '../lib/runtime.js';
import { ensureTables, openTables } from '../lib/storage/tables.js';
import { testSettings } from './helpers.js';

const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
const IDENTITY_HEADER = 'identity-header-from-the-platform';
const ISSUED_TOKEN = 'token-for-the-user-assigned-identity';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/**
 * Two local servers play the parts the platform plays in Azure: the managed identity
 * endpoint of App Service / Functions (IDENTITY_ENDPOINT + IDENTITY_HEADER, plain HTTP
 * on the instance) and the Table service the token is for (TLS: the SDK sends a bearer
 * token over nothing else; the certificate is a loopback-only test fixture).
 */
const identityRequests: Recorded[] = [];
const tableRequests: Recorded[] = [];

function record(into: Recorded[], req: IncomingMessage): void {
  into.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  req.resume();
}

const identityEndpoint = createServer((req, res) => {
  record(identityRequests, req);
  if (req.headers['x-identity-header'] !== IDENTITY_HEADER) {
    res.writeHead(401).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      access_token: ISSUED_TOKEN,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource: 'https://storage.azure.com',
      token_type: 'Bearer',
      client_id: CLIENT_ID,
    }),
  );
});

const fixtures = join(__dirname, 'fixtures');
const tableService = createTlsServer(
  { cert: readFileSync(join(fixtures, 'loopback-tls-cert.pem')), key: readFileSync(join(fixtures, 'loopback-tls-key.pem')) },
  (req: IncomingMessage, res: ServerResponse) => {
    record(tableRequests, req);
    res.writeHead(204, { 'x-ms-version': '2019-02-02' }).end();
  },
);

async function listen(server: typeof identityEndpoint | typeof tableService): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

let tablesUrl: string;

beforeAll(async () => {
  process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${await listen(identityEndpoint)}/msi/token`;
  process.env.IDENTITY_HEADER = IDENTITY_HEADER;
  tablesUrl = `https://127.0.0.1:${await listen(tableService)}/account`;
  // The fixture certificate is self-signed; only this test process, talking to 127.0.0.1, skips the check.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
});

afterAll(async () => {
  for (const name of ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'NODE_TLS_REJECT_UNAUTHORIZED']) delete process.env[name];
  for (const server of [identityEndpoint, tableService]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('identity-based storage', () => {
  it('with TABLES_ENDPOINT, the Tables clients send a token of the managed identity named by AZURE_CLIENT_ID', async () => {
    const config = loadConfig(testSettings({ TABLES_ENDPOINT: tablesUrl, AZURE_CLIENT_ID: CLIENT_ID }), () => undefined);
    const rt = createRuntime(config);

    await ensureTables(rt.tables);

    expect(tableRequests.map((r) => `${r.method} ${r.url}`)).toEqual(Array(5).fill('POST /account/Tables'));
    for (const request of tableRequests) {
      expect(request.headers.authorization).toBe(`Bearer ${ISSUED_TOKEN}`);
    }
    // Asked for storage, as the user-assigned identity, with the platform's header; later requests reuse the token.
    expect(identityRequests.length).toBeGreaterThanOrEqual(1);
    const asked = new URL(identityRequests[0]!.url, 'http://127.0.0.1').searchParams;
    expect(asked.get('resource')).toMatch(/^https:\/\/storage\.azure\.com/);
    expect(asked.get('client_id')).toBe(CLIENT_ID);
    const tokensAsked = identityRequests.length;
    await rt.tables.guests.deleteEntity('p', 'r');
    expect(tableRequests.at(-1)!.headers.authorization).toBe(`Bearer ${ISSUED_TOKEN}`);
    expect(identityRequests).toHaveLength(tokensAsked);
  });

  it('with a connection string, the Tables clients make no token credential', () => {
    const config = loadConfig(testSettings(), () => undefined);
    const tables = openTables(config.storage, () => {
      throw new Error('no credential expected with a connection string');
    });
    expect(Object.keys(tables).sort()).toEqual(['audit', 'guests', 'limits', 'outbox', 'tenants']);
  });

  it('refuses to send the bearer token over plain HTTP', async () => {
    const config = loadConfig(testSettings({ TABLES_ENDPOINT: 'http://tables.example.test/account', AZURE_CLIENT_ID: CLIENT_ID }), () => undefined);
    const tables = openTables(config.storage, () => ({ getToken: async () => ({ token: 'never-sent', expiresOnTimestamp: Date.now() + 3_600_000 }) }));
    await expect(tables.tenants.createTable()).rejects.toThrow(/non-TLS/);
  });
});
