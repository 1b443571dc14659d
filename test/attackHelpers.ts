import { createHmac, type KeyObject, sign as cryptoSign } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { TableEntityResult } from '@azure/data-tables';
import { ERROR_CODES } from '../lib/errors.js';
import type { Runtime } from '../lib/runtime.js';
import { escapeOData, guestPartition } from '../lib/storage/tables.js';
import { solveChallenge } from 'altcha-lib/v1';
import { expect } from 'vitest';
import { outbox, type TestHost } from './helpers.js';

/**
 * A request to a test host from another loopback address (127.0.0.2, 127.0.0.3, ...):
 * the local host appends the socket address to X-Forwarded-For like Azure's front
 * end, so this is how a test plays different clients.
 */
export function requestFrom(host: TestHost, localAddress: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  const url = new URL(`${host.baseUrl}/api${path}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers: init.headers, localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          const status = res.statusCode ?? 0;
          resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status, headers }));
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

export function sendCodeFrom(host: TestHost, localAddress: string, tenant: string, email: string, headers: Record<string, string> = {}): Promise<Response> {
  return requestFrom(host, localAddress, `/${tenant}/send-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email }),
  });
}

/** Retry-After as whole seconds, failing the test when it is missing or not a positive integer. */
export function retryAfterSeconds(response: Response): number {
  const value = response.headers.get('retry-after');
  if (!value || !/^[1-9][0-9]*$/.test(value)) throw new Error(`Retry-After is ${value}`);
  return Number(value);
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** A JWT put together by hand, so a test can make what jsonwebtoken refuses to make. */
export function forgeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature: (signingInput: string) => Buffer | string): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${signingInput}.${base64url(signature(signingInput))}`;
}

export function hs256(secret: string | Buffer): (input: string) => Buffer {
  return (input) => createHmac('sha256', secret).update(input).digest();
}

export function es256(privateKey: KeyObject): (input: string) => Buffer {
  return (input) => cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
}

export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } {
  const [header, payload, signature] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>,
    signature: signature!,
  };
}

/** Every row of a guest's partition, as stored (with ETag and Timestamp). */
export async function guestRows(rt: Runtime, tenantId: string, email: string): Promise<TableEntityResult<Record<string, unknown>>[]> {
  const rows: TableEntityResult<Record<string, unknown>>[] = [];
  const filter = `PartitionKey eq '${escapeOData(guestPartition(tenantId, email))}'`;
  for await (const row of rt.tables.guests.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) rows.push(row);
  return rows;
}

/** Whether a response carries the contract's error body (`{error, message, details?}` with a known code) or is one of the host's bare answers. */
export async function contractErrorProblem(response: Response): Promise<string | undefined> {
  const text = await response.text();
  // The Functions host's own answers, before the app runs: an unmatched route or method
  // 404 and a missing or wrong function key 401, each with an empty body (DESIGN §2).
  if (text === '' && (response.status === 404 || response.status === 401)) return undefined;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `${response.status} with a non-JSON body: ${text.slice(0, 200)}`;
  }
  if (typeof body.error !== 'string' || !(body.error in ERROR_CODES)) return `${response.status} with unknown error ${String(body.error)}`;
  if (ERROR_CODES[body.error as keyof typeof ERROR_CODES].status !== response.status) return `${body.error} answered with ${response.status}`;
  if (typeof body.message !== 'string' || body.message.length === 0) return `${body.error} without a message`;
  if (body.details !== undefined && !Array.isArray(body.details)) return `${body.error} with details that are not a list`;
  if (/\bat .+\(.*:\d+:\d+\)/.test(text)) return `${body.error} shows a stack trace`;
  return undefined;
}

/* The attack suite's calls (test/abuse.test.ts, test/noLockout.test.ts, test/noOracle.test.ts). */

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function post(host: TestHost, from: string, path: string, body: Record<string, unknown>): Promise<Answer> {
  const response = await requestFrom(host, from, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: response.headers };
}

export const sendFrom = (host: TestHost, from: string, tenant: string, body: Record<string, unknown>) => post(host, from, `/${tenant}/send-code`, body);
export const verifyFrom = (host: TestHost, from: string, tenant: string, body: Record<string, unknown>) => post(host, from, `/${tenant}/verify-code`, body);

/** The codes mailed to an address, newest first. */
export async function mailedCodes(host: TestHost, to: string): Promise<string[]> {
  return (await outbox(host, to)).filter((m) => m.kind === 'code').map((m) => /\b(\d{8})\b/.exec(m.text)![1]!);
}

export function wrong(code: string, salt = 0): string {
  return String((Number(code) + 1 + salt) % 100_000_000).padStart(8, '0');
}

/** An ALTCHA solution for a 428 challenge_required body, solved with altcha-lib as the sign-in element does. */
export async function solve(body: Record<string, unknown>): Promise<string> {
  const challenge = body.challenge as { provider: string; algorithm: string; challenge: string; maxnumber: number; salt: string; signature: string };
  expect(challenge.provider).toBe('altcha');
  const solution = await solveChallenge(challenge.challenge, challenge.salt, challenge.algorithm, challenge.maxnumber).promise;
  const { provider: _provider, maxnumber: _max, ...signed } = challenge;
  return Buffer.from(JSON.stringify({ ...signed, number: solution!.number })).toString('base64');
}

/** Runs tasks with at most `size` in flight. */
export async function inPool<T>(tasks: (() => Promise<T>)[], size: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: size }, async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  }));
  return results;
}

/** 127.0.1.1, 127.0.1.2, ...: one loopback address per attacker. */
export const attackers = (count: number) => Array.from({ length: count }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);

export async function expectErrorOf(answer: Promise<Answer>, status: number, error: string): Promise<Answer> {
  const got = await answer;
  expect({ status: got.status, error: got.body.error }).toEqual({ status, error });
  return got;
}
