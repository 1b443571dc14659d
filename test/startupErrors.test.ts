import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import * as client from 'openid-client';
import { afterEach, describe, expect, it, inject } from 'vitest';
import { tableConnectionString } from '../scripts/azurite.js';
import { createTenant, inviteGuest, latestCode, startHost, testSettings, verifyCode } from './helpers.js';
import { freePort } from './ports.js';

const REPO = resolve(__dirname, '..');
const opened: { close(): unknown }[] = [];
afterEach(() => {
  for (const server of opened.splice(0)) server.close();
});

/** A fresh clone's folder for `npm start`: the sample settings and nothing else. */
function freshClone(): string {
  const cwd = mkdtempSync(join(tmpdir(), 'guestpass-start-'));
  copyFileSync(join(REPO, 'local.settings.sample.json'), join(cwd, 'local.settings.sample.json'));
  return cwd;
}

/** Runs a start script to its end and returns its exit code and what it printed on stderr. */
function run(script: 'host' | 'start', settings: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), 'guestpass-start-'))): Promise<{ code: number | null; stderr: string[]; stdout: string[] }> {
  const child = spawn(process.execPath, [join(REPO, 'dist', 'scripts', `${script}.js`)], { cwd, env: { PATH: process.env.PATH ?? '', ...settings }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const lines = (text: string) => text.trim().split('\n').filter(Boolean);
  return new Promise((done) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr: lines(stderr), stdout: lines(stdout) });
    }),
  );
}

function expectOneLine(result: { code: number | null; stderr: string[] }, ...says: RegExp[]): void {
  expect(result.code, result.stderr.join('\n')).toBe(1);
  expect(result.stderr, `one line, no stack trace: ${result.stderr.join('\n')}`).toHaveLength(1);
  for (const pattern of says) expect(result.stderr[0]).toMatch(pattern);
  expect(result.stderr[0]).not.toMatch(/\bat .*:\d+:\d+/);
}

function listening(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  opened.push(server);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
}

describe('a start-up misconfiguration is one line naming the setting, and the start fails', () => {
  it('an account key the Table service refuses (a wrong Azurite key)', async () => {
    const wrongKey = inject('azuriteConnectionString').replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from('not the key '.repeat(6)).toString('base64')}`);
    const result = await run('host', testSettings({ TABLES_CONNECTION_STRING: wrongKey }));
    expectOneLine(result, /^Setting TABLES_CONNECTION_STRING /, /refuses \(HTTP 403\)/, /devstoreaccount1 key/);
    expect(result.stderr[0]).not.toContain('not the key');
  });

  it('another program on the Table port, as npm start meets it', async () => {
    const port = await listening(createHttpServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>a dev server</h1>')));
    const result = await run('start', { TABLES_CONNECTION_STRING: tableConnectionString(port), PORT: '0', TABLE_PREFIX: 'startup' }, freshClone());
    expectOneLine(result, /^Setting TABLES_CONNECTION_STRING /, /another program answers, not a Table service \(HTTP 404\)/, new RegExp(`port ${port}`), /Azurite on another port/);
  });

  it('a program on the Table port that does not speak HTTP', async () => {
    const port = await listening(createTcpServer((socket) => socket.on('error', () => undefined).end('SSH-2.0-OpenSSH_9.6\r\n')));
    const result = await run('host', testSettings({ TABLES_CONNECTION_STRING: tableConnectionString(port) }));
    expectOneLine(result, /^Setting TABLES_CONNECTION_STRING /, /not a Table service/);
  });

  it('an endpoint where nothing answers', async () => {
    const port = await freePort();
    const result = await run('host', testSettings({ TABLES_CONNECTION_STRING: tableConnectionString(port) }));
    expectOneLine(result, /^Setting TABLES_CONNECTION_STRING /, new RegExp(`127\\.0\\.0\\.1:${port}`), /nothing answers \(ECONNREFUSED\)/);
  });

  it('LOCAL_TLS_KEY_FILE without LOCAL_TLS_CERT_FILE, and a certificate file that cannot be read', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'guestpass-tls-')), 'absent.pem');
    expectOneLine(await run('host', testSettings({ LOCAL_TLS_KEY_FILE: missing })), /^Setting LOCAL_TLS_CERT_FILE /, /is required when LOCAL_TLS_KEY_FILE is set/);
    expectOneLine(await run('host', testSettings({ LOCAL_TLS_CERT_FILE: missing, LOCAL_TLS_KEY_FILE: missing })), /^Setting LOCAL_TLS_CERT_FILE /, /cannot be read \(ENOENT\)/);
  });

  it('a PORT another program listens on', async () => {
    const port = await listening(createTcpServer());
    const result = await run('host', testSettings({ PORT: String(port) }));
    expectOneLine(result, /^Setting PORT /, new RegExp(`is ${port}, which another program already listens on`), new RegExp(`PORT=${port + 1}`));
  });

  it('a PORT another program listens on, as npm start meets it: that line alone, nothing about Azurite', async () => {
    const port = await listening(createHttpServer((_req, res) => res.end('a dev server')));
    const result = await run('start', { PORT: String(port), TABLES_CONNECTION_STRING: inject('azuriteConnectionString'), TABLE_PREFIX: 'startport' }, freshClone());
    expectOneLine(result, /^Setting PORT /, new RegExp(`is ${port}, which another program already listens on`));
    expect(result.stdout.join('\n')).not.toMatch(/Azurite/);
  });

  it("a local.settings.json from an older version that pins PUBLIC_BASE_URL to another port's localhost", async () => {
    const cwd = freshClone();
    const sample = JSON.parse(readFileSync(join(REPO, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    writeFileSync(join(cwd, 'local.settings.json'), JSON.stringify({ ...sample, Values: { ...sample.Values, PUBLIC_BASE_URL: 'http://localhost:7071', PORT: '7071' } }));
    const port = await freePort();
    const result = await run('start', { PORT: String(port), TABLES_CONNECTION_STRING: inject('azuriteConnectionString'), TABLE_PREFIX: 'startstale' }, cwd);
    expectOneLine(result, /^Setting PUBLIC_BASE_URL is http:\/\/localhost:7071 in local\.settings\.json/, new RegExp(`listens on port ${port}`), /delete PUBLIC_BASE_URL from local\.settings\.json/);
    expect(result.stdout.join('\n')).not.toMatch(/Azurite/);
  });
});

describe('PUBLIC_BASE_URL', () => {
  it('defaults to the port the host really listens on, so tokens name it as their issuer', async () => {
    const host = await startHost({ PUBLIC_BASE_URL: '' });
    try {
      const port = new URL(host.baseUrl).port;
      const tenant = await createTenant(host);
      await inviteGuest(host, tenant.id, 'issuer@example.test');
      await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'issuer@example.test' }) });
      const verified = await verifyCode(host, tenant.id, 'issuer@example.test', await latestCode(host, 'issuer@example.test'));
      const { token } = (await verified.json()) as { token: string };
      expect((jwt.decode(token) as { iss: string }).iss).toBe(`http://localhost:${port}/api/${tenant.id}`);
    } finally {
      await host.stop();
    }
  });
});

describe('npm start on another port', () => {
  it("serves the issuer it prints: openid-client's discovery of the banner's issuer succeeds, and every endpoint is on that port", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(REPO, 'dist', 'scripts', 'start.js')], {
      cwd: freshClone(),
      env: { PATH: process.env.PATH ?? '', PORT: String(port), TABLES_CONNECTION_STRING: inject('azuriteConnectionString'), TABLE_PREFIX: 'startissuer' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      await new Promise<void>((ready, failed) => {
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          if (stdout.includes('Press Ctrl-C to stop.')) ready();
        });
        child.once('exit', (code) => failed(new Error(`npm start exited with ${code}: ${stderr}`)));
      });
      expect(stdout).not.toMatch(new RegExp(`Azurite already answers on port ${port}`));
      const issuer = /OpenID Connect issuer:\s+(\S+)/.exec(stdout)![1]!;
      expect(issuer).toMatch(new RegExp(`^http://localhost:${port}/api/[0-9a-f-]{36}$`));
      // The only option: the local host speaks http, which openid-client refuses by default.
      const config = await client.discovery(new URL(issuer), 'banner-client', undefined, undefined, { execute: [client.allowInsecureRequests] });
      const metadata = config.serverMetadata();
      expect(metadata.issuer).toBe(issuer);
      for (const endpoint of [metadata.authorization_endpoint, metadata.token_endpoint, metadata.jwks_uri, metadata.userinfo_endpoint, metadata.end_session_endpoint]) {
        expect(new URL(endpoint!).origin).toBe(`http://localhost:${port}`);
      }
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
  });
});
