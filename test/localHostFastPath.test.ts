import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { LocalHttpRequest, plainResponse } from '../scripts/localHost.js';

/** What HttpResponse makes of an answer: the slow path the local host falls back to. */
async function throughHttpResponse(init: HttpResponseInit) {
  const response = new HttpResponse(init);
  return { status: response.status, headers: Object.fromEntries(entries(response.headers)), body: Buffer.from(await response.arrayBuffer()).toString('utf8') };
}

function entries(headers: Headers): [string, string][] {
  const all: [string, string][] = [];
  headers.forEach((value, name) => all.push([name, value]));
  return all;
}

function rendered(init: HttpResponseInit) {
  const plain = plainResponse(init);
  if (!plain) throw new Error('expected the fast path');
  return { status: plain.status, headers: plain.headers, body: plain.body === undefined ? '' : Buffer.from(plain.body).toString('utf8') };
}

describe('the local host writes plain answers the way HttpResponse renders them', () => {
  const answers: [string, HttpResponseInit][] = [
    ['a JSON body with its own content type', { status: 200, jsonBody: { active: true, user: { id: 'g' } }, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } }],
    ['a JSON body without a content type', { status: 201, jsonBody: [1, 'two'] }],
    ['an error with Retry-After', { status: 429, jsonBody: { error: 'rate_limited', message: 'Wait.' }, headers: { 'Retry-After': '30' } }],
    ['no status at all', { jsonBody: { ok: true } }],
    ['a 204 with headers', { status: 204, headers: { 'Access-Control-Max-Age': '600' } }],
    ['a 204 that was given a body anyway', { status: 204, jsonBody: { ignored: true } }],
    ['a text body', { status: 200, body: 'plain words' }],
    ['bytes', { status: 200, body: new TextEncoder().encode('bytes'), headers: { 'content-type': 'application/octet-stream' } }],
  ];
  for (const [name, init] of answers) {
    it(name, async () => {
      expect(rendered(init)).toEqual(await throughHttpResponse(init));
    });
  }

  it('leaves anything else to HttpResponse: an HttpResponse, cookies, Headers objects, odd statuses', () => {
    expect(plainResponse(new HttpResponse({ status: 200 }))).toBeUndefined();
    expect(plainResponse({ status: 200, cookies: [{ name: 'a', value: 'b' }] })).toBeUndefined();
    expect(plainResponse({ status: 200, headers: new Headers({ a: 'b' }) })).toBeUndefined();
    expect(plainResponse({ status: 700 })).toBeUndefined();
    expect(plainResponse({ status: 200, body: new Blob(['x']) as never })).toBeUndefined();
  });
});

describe('the request handlers receive from the local host', () => {
  const init = {
    method: 'POST',
    url: 'http://127.0.0.1:7071/api/contoso.com/send-code?x=1',
    headers: { 'content-type': 'application/json', authorization: 'Bearer t', 'x-forwarded-for': '127.0.0.1' },
    query: { x: '1' },
    params: { tenant: 'contoso.com' },
    body: { bytes: Buffer.from(JSON.stringify({ email: 'a@b.test' })) },
  };

  it('has the method, url, headers, route and query parameters of HttpRequest', () => {
    const ours = new LocalHttpRequest(init);
    const theirs = new HttpRequest(init);
    expect([ours.method, ours.url, ours.params, ours.query.get('x')]).toEqual([theirs.method, theirs.url, theirs.params, theirs.query.get('x')]);
    expect(entries(ours.headers)).toEqual(entries(theirs.headers));
    expect(ours.user).toBeNull();
  });

  it('gives its body once, as bytes, text or JSON', async () => {
    const request = new LocalHttpRequest(init);
    expect(request.bodyUsed).toBe(false);
    expect(await request.json()).toEqual({ email: 'a@b.test' });
    expect(request.bodyUsed).toBe(true);
    await expect(request.text()).rejects.toThrow(TypeError);
    expect(await new LocalHttpRequest(init).text()).toBe('{"email":"a@b.test"}');
    expect(new TextDecoder().decode(await new LocalHttpRequest(init).arrayBuffer())).toBe('{"email":"a@b.test"}');
  });

  it('gives a stream, a Blob or a clone through the real HttpRequest', async () => {
    expect(await (await new LocalHttpRequest(init).blob()).text()).toBe('{"email":"a@b.test"}');
    expect(await new LocalHttpRequest(init).clone().json()).toEqual({ email: 'a@b.test' });
    const streamed = new LocalHttpRequest(init);
    expect(streamed.body).not.toBeNull();
    await expect(streamed.text()).resolves.toBe('{"email":"a@b.test"}');
  });

  it('has no body for a GET', async () => {
    const request = new LocalHttpRequest({ ...init, method: 'GET', body: undefined });
    expect(new Uint8Array(await request.arrayBuffer()).byteLength).toBe(0);
  });
});
