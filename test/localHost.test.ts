import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRoutes, createLocalHost, MAX_HEADER_BYTES, type CompiledRoute, type HttpRegistration } from '../scripts/localHost.js';
import { expectHostAnswer, hostWithTenant, testSettings, type TestHost, type TestTenant } from './helpers.js';

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
      handler: async (request) => ({ status: 200, jsonBody: { name, params: request.params, authorizationLength: request.headers.get('authorization')?.length } }),
    },
  };
}

beforeAll(async () => {
  server = createLocalHost({
    functionKey: KEY,
    log: (line) => logged.push(line),
    registrations: [
      // Registered first, so it is tried first even where a literal route also matches.
      answering('byTenant', '{tenant}/keys', ['GET']),
      answering('literal', 'manage/keys', ['GET']),
      answering('constrained', '{action:regex(^(alpha|beta)$)}', ['GET']),
      // A test-only function-level route: the key check serves whatever authLevel a registration declares.
      answering('keyed', 'keyed/things/{id}', ['GET'], 'function'),
      answering('anyMethod', 'any', undefined),
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

describe('the local host answers as the Functions host does', () => {
  it('tries routes in registration order: the first that matches wins, literal or not', async () => {
    expect(await (await fetch(`${base}/manage/keys`)).json()).toMatchObject({ name: 'byTenant', params: { tenant: 'manage' } });
    expect(await (await fetch(`${base}/contoso.com/keys`)).json()).toMatchObject({ name: 'byTenant', params: { tenant: 'contoso.com' } });
  });

  it('a regex constraint limits what a parameter matches; no match is a 404 with an empty body', async () => {
    expect(await (await fetch(`${base}/beta`)).json()).toMatchObject({ name: 'constrained', params: { action: 'beta' } });
    await expectHostAnswer(await fetch(`${base}/gamma`), 404);
    await expectHostAnswer(await fetch(`${base}/no/such/route/here`), 404);
  });

  it('a method the route does not list is a 404 with an empty body, as an unmatched route', async () => {
    await expectHostAnswer(await fetch(`${base}/contoso.com/keys`, { method: 'DELETE' }), 404);
    await expectHostAnswer(await fetch(`${base}/boom`, { method: 'POST' }), 404);
  });

  it('a registration without methods takes every method', async () => {
    for (const method of ['GET', 'POST', 'DELETE', 'PATCH']) expect((await fetch(`${base}/any`, { method })).status).toBe(200);
  });

  it('a function-level route takes its key in x-functions-key or ?code=, and answers a missing or wrong one 401 with an empty body', async () => {
    await expectHostAnswer(await fetch(`${base}/keyed/things/1`), 401);
    await expectHostAnswer(await fetch(`${base}/keyed/things/1`, { headers: { 'x-functions-key': `${KEY}x` } }), 401);
    await expectHostAnswer(await fetch(`${base}/keyed/things/1?code=${KEY}x`), 401);
    expect(await (await fetch(`${base}/keyed/things/1`, { headers: { 'x-functions-key': KEY } })).json()).toMatchObject({ name: 'keyed', params: { id: '1' } });
    expect(await (await fetch(`${base}/keyed/things/1?code=${KEY}`)).json()).toMatchObject({ name: 'keyed', params: { id: '1' } });
  });

  it('a key in the header wins over ?code=, even when the header is wrong', async () => {
    await expectHostAnswer(await fetch(`${base}/keyed/things/1?code=${KEY}`, { headers: { 'x-functions-key': 'wrong' } }), 401);
  });

  it('an error that escapes a handler is logged and answered 500 with an empty body', async () => {
    const response = await fetch(`${base}/boom`);
    await expectHostAnswer(response, 500);
    expect(logged.join('\n')).toContain('secret detail');
  });

  it('lets 32 KiB of request headers through, as Kestrel does, and refuses more with 431', async () => {
    const twentyKiB = `Bearer ${'a'.repeat(20 * 1024)}`;
    expect(await (await fetch(`${base}/contoso.com/keys`, { headers: { authorization: twentyKiB } })).json()).toMatchObject({ authorizationLength: twentyKiB.length });
    const url = new URL(`${base}/contoso.com/keys`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: 'a'.repeat(MAX_HEADER_BYTES + 1) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
  });
});

/**
 * Whether some URL and method would match both routes: segment by segment a literal
 * meets an equal literal or a parameter that accepts it; two parameters are taken to
 * meet (conservatively: a regex on both is not solved, it counts as an overlap).
 */
function overlap(a: CompiledRoute, b: CompiledRoute): boolean {
  if (a.methods && b.methods && !a.methods.some((m) => b.methods!.includes(m))) return false;
  const lengths = (route: CompiledRoute) => {
    const required = route.segments.filter((s) => s.kind === 'literal' || (!s.optional && !s.catchAll)).length;
    const open = route.segments.some((s) => s.kind === 'param' && s.catchAll);
    return { min: required, max: open ? Infinity : route.segments.length };
  };
  const la = lengths(a);
  const lb = lengths(b);
  if (Math.max(la.min, lb.min) > Math.min(la.max, lb.max)) return false;
  for (let i = 0; i < Math.min(a.segments.length, b.segments.length); i += 1) {
    const sa = a.segments[i]!;
    const sb = b.segments[i]!;
    if ((sa.kind === 'param' && sa.catchAll) || (sb.kind === 'param' && sb.catchAll)) return true;
    if (sa.kind === 'literal' && sb.kind === 'literal') {
      if (sa.value !== sb.value) return false;
    } else if (sa.kind === 'literal' || sb.kind === 'literal') {
      const literal = (sa.kind === 'literal' ? sa : sb) as { value: string };
      const param = (sa.kind === 'param' ? sa : sb) as { pattern?: RegExp };
      if (param.pattern && !param.pattern.test(literal.value)) return false;
    }
  }
  return true;
}

describe("guestpass's own routes", () => {
  let routes: CompiledRoute[];
  beforeAll(async () => {
    Object.assign(process.env, testSettings());
    await import('../functions/index.js');
    routes = compileRoutes((await import('../functions/http.js')).registrations.http);
  });

  it('no URL and method match two registered routes, so the order the host tries them in never matters', () => {
    expect(routes.length).toBeGreaterThanOrEqual(8);
    const clashes = routes.flatMap((a, i) => routes.slice(i + 1).filter((b) => overlap(a, b)).map((b) => `${a.registration.name} ~ ${b.registration.name}`));
    expect(clashes).toEqual([]);
  });

  it('the overlap check finds a clash where there is one (it is not vacuous)', () => {
    const clash = compileRoutes([answering('a', '{tenant}/keys', ['GET']), answering('b', 'manage/keys', ['GET', 'POST']), answering('c', 'manage/{x}', undefined)]);
    expect(overlap(clash[0]!, clash[1]!)).toBe(true);
    expect(overlap(clash[1]!, clash[2]!)).toBe(true);
    const apart = compileRoutes([answering('a', '{tenant}/keys', ['GET']), answering('b', 'manage/keys', ['POST']), answering('c', '{e:regex(^(x|y)$)}', ['GET']), answering('d', 'z', ['GET'])]);
    expect(overlap(apart[0]!, apart[1]!)).toBe(false);
    expect(overlap(apart[2]!, apart[3]!)).toBe(false);
  });
});

describe('the local host serving guestpass', () => {
  let host: TestHost;
  let tenant: TestTenant;
  beforeAll(async () => {
    ({ host, tenant } = await hostWithTenant());
  });
  afterAll(() => host.stop());

  it('passes a 20 KiB Authorization header to session-check, which answers 401 invalid_token', async () => {
    const response = await host.api(`/${tenant.id}/session-check`, { headers: { authorization: `Bearer ${'x'.repeat(20 * 1024)}` } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_token');
  });

  it("answers a method a guest route does not list with the host's empty 404", async () => {
    await expectHostAnswer(await host.api('/contoso.com/send-code'), 404);
    await expectHostAnswer(await host.api('/contoso.com/session-check', { method: 'DELETE' }), 404);
  });
});
