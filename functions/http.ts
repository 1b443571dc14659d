import { app, type HttpFunctionOptions, type HttpHandler, type HttpRequest, type HttpResponseInit, type InvocationContext, type TimerFunctionOptions } from '@azure/functions';
import type { z } from 'zod';
import { getConfig } from '../lib/config.js';
import { isOriginAllowed } from '../lib/cors.js';
import { GuestpassError } from '../lib/errors.js';
import { runtime } from '../lib/runtime.js';
import { asStorageFailure, countingTransactions } from '../lib/storage.js';

/**
 * The function definitions of this app. Each function file registers exactly one;
 * the Functions host receives it through app.http/app.timer, and the local host in
 * scripts/ serves the very same objects.
 */
export const registrations = {
  http: [] as { name: string; options: HttpFunctionOptions }[],
  timer: [] as { name: string; options: TimerFunctionOptions }[],
};

// The Functions host always sets FUNCTIONS_WORKER_RUNTIME; outside it app.http would
// only warn that it is in test mode, so the local host is spared those lines.
const insideFunctionsHost = Boolean(process.env.FUNCTIONS_WORKER_RUNTIME);

export function registerHttp(name: string, options: HttpFunctionOptions): HttpFunctionOptions {
  registrations.http.push({ name, options });
  if (insideFunctionsHost) app.http(name, options);
  return options;
}

export function registerTimer(name: string, options: TimerFunctionOptions): TimerFunctionOptions {
  registrations.timer.push({ name, options });
  if (insideFunctionsHost) app.timer(name, options);
  return options;
}

export const MAX_BODY_BYTES = 16 * 1024;

export interface EndpointInput<B, P, Q> {
  body: B;
  params: P;
  query: Q;
  request: HttpRequest;
  context: InvocationContext;
  clientIp: string;
}

export interface EndpointSpec<B, P, Q> {
  body?: z.ZodType<B, any>;
  params?: z.ZodType<P, any>;
  query?: z.ZodType<Q, any>;
  /** Guest endpoints answer CORS for the `{tenant}` route parameter's allowedOrigins. */
  tenantCors?: boolean;
  /** Cache-Control of a success; every other answer is `no-store`. */
  cacheControl?: string;
}

/**
 * The client address: the right-most X-Forwarded-For entry, which Azure's front end
 * appends (anything to its left came from the client and is not trusted).
 */
export function clientIpOf(request: HttpRequest): string {
  const forwarded = request.headers.get('x-forwarded-for') ?? '';
  const last = forwarded.split(',').map((part) => part.trim()).filter(Boolean).pop() ?? 'unknown';
  // IPv4 with a port (1.2.3.4:5678) or bracketed IPv6 with a port.
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(last);
  if (bracketed) return bracketed[1]!;
  return /^[0-9.]+:\d+$/.test(last) ? last.slice(0, last.lastIndexOf(':')) : last;
}

export function errorResponse(error: GuestpassError): HttpResponseInit {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
  return { status: error.status, jsonBody: error.toBody(), headers };
}

function zodDetails(issues: z.core.$ZodIssue[], where: string): unknown[] {
  return issues.map((issue) => ({ field: [where, ...issue.path.map(String)].join('.'), message: issue.message }));
}

function parsePart<T>(schema: z.ZodType<T, any> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new GuestpassError('invalid_request', { details: zodDetails(result.error.issues, where) });
  }
  return result.data;
}

/**
 * A JSON body as the exact text received (UTF-8), at most `maxBytes`: what a signature
 * is computed over. Webhooks take larger bodies than the API's 16 KiB (providers batch events).
 */
export async function readJsonText(request: HttpRequest, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new GuestpassError('payload_too_large', { message: `The request body is larger than ${Math.round(maxBytes / 1024)} KiB.` });
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw tooLarge();
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType)) throw new GuestpassError('unsupported_media_type');
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBytes) throw tooLarge();
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new GuestpassError('invalid_request', { message: 'The request body is not valid UTF-8.' });
  }
}

async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const text = await readJsonText(request);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GuestpassError('invalid_request', { message: 'The request body is not valid JSON.' });
  }
}

/** JSON answers are never rendered, sniffed as another type or framed. */
const API_SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
};

const CORS_METHODS = 'GET, POST, OPTIONS';
const CORS_HEADERS = 'Authorization, Content-Type';

/**
 * Wraps an endpoint: validates input with its zod schemas, runs it, and renders a
 * GuestpassError (or a storage outage) as the contract's error body. An unexpected
 * error is logged and answered 500 without its details.
 */
export function endpoint<B = undefined, P = undefined, Q = undefined>(
  spec: EndpointSpec<B, P, Q>,
  run: (input: EndpointInput<B, P, Q>) => Promise<HttpResponseInit>,
): HttpHandler {
  return async (request, context) => {
    const corsHeaders: Record<string, string> = {};
    const handle = async (): Promise<HttpResponseInit> => {
      try {
        if (spec.tenantCors) {
          const origin = request.headers.get('origin');
          const allowed = origin ? await isOriginAllowed(await runtime(), request.params.tenant ?? '', origin) : false;
          // Always, so a shared cache never hands one origin's answer to another.
          corsHeaders['Vary'] = 'Origin';
          if (allowed && origin) {
            corsHeaders['Access-Control-Allow-Origin'] = origin;
            corsHeaders['Access-Control-Expose-Headers'] = 'Retry-After';
          }
          if (request.method === 'OPTIONS') {
            if (!allowed) throw new GuestpassError('origin_not_allowed');
            return {
              status: 204,
              headers: {
                'Access-Control-Allow-Methods': CORS_METHODS,
                'Access-Control-Allow-Headers': CORS_HEADERS,
                'Access-Control-Max-Age': '600',
              },
            };
          }
        }
        const hasBody = spec.body !== undefined;
        const input: EndpointInput<B, P, Q> = {
          params: parsePart(spec.params, { ...request.params }, 'params'),
          query: parsePart(spec.query, Object.fromEntries(request.query.entries()), 'query'),
          body: hasBody ? parsePart(spec.body, await readJsonBody(request), 'body') : (undefined as B),
          request,
          context,
          clientIp: clientIpOf(request),
        };
        const response = await run(input);
        return {
          ...response,
          headers: { 'Cache-Control': spec.cacheControl ?? 'no-store', ...(response.headers as Record<string, string>) },
        };
      } catch (caught) {
        const error = asStorageFailure(caught);
        if (error instanceof GuestpassError) {
          if (error.code === 'storage_unavailable') context.warn(`storage unavailable: ${String((caught as Error).message)}`);
          if (error.cause) context.warn(`${error.code}: ${String((error.cause as Error).message ?? error.cause)}`);
          return errorResponse(error);
        }
        context.error('unhandled error', error);
        return errorResponse(new GuestpassError('internal_error'));
      }
    };
    // The per-request count feeds a development-only header. Counting per request
    // needs async context (AsyncLocalStorage), whose promise hooks slow every promise
    // in the process (about a tenth of a session-check's CPU on Node 20), so outside
    // development requests are not counted one by one.
    // The settings, not runtime(): with storage down, building the runtime would wait for it again.
    const development = getConfig().development;
    const { result, transactions } = development ? await countingTransactions(handle) : { result: await handle(), transactions: undefined };
    const headers: Record<string, string> = { ...(result.headers as Record<string, string>), ...corsHeaders, ...API_SECURITY_HEADERS };
    if (transactions !== undefined) headers['x-guestpass-storage-transactions'] = String(transactions);
    return { ...result, headers };
  };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Content-Type': 'application/json', ...headers } };
}

/** A page of a list, with Graph's nextLink: the request's own URL carrying the next $skiptoken. */
export function page<T>(requestUrl: string, result: { value: T[]; skipToken?: string }): HttpResponseInit {
  if (!result.skipToken) return json(200, { value: result.value });
  const next = new URL(requestUrl);
  next.searchParams.set('$skiptoken', result.skipToken);
  return json(200, { value: result.value, nextLink: next.href });
}
