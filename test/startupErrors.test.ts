import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it, inject } from 'vitest';
import { tableConnectionString } from '../scripts/azurite.js';
import { createTenant, inviteGuest, latestCode, startHost, testSettings, verifyCode } from './helpers.js';
import { freePort } from './ports.js';

const REPO = resolve(__dirname, '..');
const opened: { close(): unknown }[] = [];
afterEach(() => {
  for (const server of opened.splice(0)) server.close();
});

/** Runs a start script to its end and returns its exit code and what it printed on stderr. */
function run(script: 'host' | 'start', settings: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), 'guestpass-start-'))): Promise<{ code: number | null; stderr: string[] }> {
  const child = spawn(process.execPath, [join(REPO, 'dist', 'scripts', `${script}.js`)], { cwd, env: { PATH: process.env.PATH ?? '', ...settings }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((done) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr: stderr.trim().split('\n').filter(Boolean) });
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
    const cwd = mkdtempSync(join(tmpdir(), 'guestpass-start-'));
    copyFileSync(join(REPO, 'local.settings.sample.json'), join(cwd, 'local.settings.sample.json'));
    const result = await run('start', { TABLES_CONNECTION_STRING: tableConnectionString(port), PORT: '0', TABLE_PREFIX: 'startup' }, cwd);
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

  it('a PORT another program listens on', async () => {
    const port = await listening(createTcpServer());
    const result = await run('host', testSettings({ PORT: String(port) }));
    expectOneLine(result, /^Setting PORT /, new RegExp(`is ${port}, which another program already listens on`), new RegExp(`PORT=${port + 1}`));
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
