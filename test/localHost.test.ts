import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalHost, type HttpRegistration } from '../scripts/localHost.js';
import { expectError } from './helpers.js';

const KEY = 'local-host-test-key-0123';
const logged: string[] = [];
let server: Server;
let base: string;

function answering(name: string, route: string, methods: HttpRegistration['options']['methods'], authLevel: 'anonymous' | 'function' = 'anonymous'): HttpRegistration {
  return {
    name,
    options: {
      route,
      methods,
      authLevel,
      handler: async (request) => ({ status: 200, jsonBody: { name, params: request.params } }),
    },
  };
}

beforeAll(async () => {
  server = createLocalHost({
    functionKey: KEY,
    log: (line) => logged.push(line),
    registrations: [
      answering('byTenant', '{tenant}/keys', ['GET']),
      answering('literal', 'manage/keys', ['GET']),
      answering('constrained', '{action:regex(^(alpha|beta)$)}', ['GET']),
      answering('managed', 'manage/things/{id}', ['GET'], 'function'),
      {
        name: 'throws',
        options: {
          route: 'boom',
          methods: ['GET'],
          handler: async () => {
            throw new Error('secret detail at /srv/app.js:12');
          },
        },
      },
    ],
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the local host serves registrations as the Functions host would', () => {
  it('a literal segment wins over a route parameter', async () => {
    expect(await (await fetch(`${base}/manage/keys`)).json()).toMatchObject({ name: 'literal' });
    expect(await (await fetch(`${base}/contoso.com/keys`)).json()).toEqual({ name: 'byTenant', params: { tenant: 'contoso.com' } });
  });

  it('a regex constraint limits what a parameter matches', async () => {
    expect(await (await fetch(`${base}/beta`)).json()).toEqual({ name: 'constrained', params: { action: 'beta' } });
    await expectError(await fetch(`${base}/gamma`), 404, 'not_found');
  });

  it('a function-level route needs x-functions-key, compared exactly', async () => {
    await expectError(await fetch(`${base}/manage/things/1`), 401, 'unauthorized');
    await expectError(await fetch(`${base}/manage/things/1`, { headers: { 'x-functions-key': `${KEY}x` } }), 401, 'unauthorized');
    const ok = await fetch(`${base}/manage/things/1`, { headers: { 'x-functions-key': KEY } });
    expect(await ok.json()).toEqual({ name: 'managed', params: { id: '1' } });
  });

  it('a method the route does not register is 405 with Allow', async () => {
    const response = await fetch(`${base}/manage/keys`, { method: 'DELETE' });
    expect(response.headers.get('allow')).toBe('GET');
    await expectError(response, 405, 'method_not_allowed');
  });

  it('an error that escapes a handler is logged and answered 500 with the contract body, never a stack trace', async () => {
    const response = await fetch(`${base}/boom`);
    const text = await response.clone().text();
    await expectError(response, 500, 'internal_error');
    expect(text).not.toContain('secret detail');
    expect(text).not.toContain('app.js');
    expect(logged.join('\n')).toContain('secret detail');
  });
});
