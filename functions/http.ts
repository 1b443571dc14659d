import { app, type HttpFunctionOptions, type HttpHandler, type HttpRequest, type HttpResponseInit, type InvocationContext, type StorageQueueFunctionOptions, type TimerFunctionOptions } from '@azure/functions';
import type { z } from 'zod';
import { authenticate, authorizeTenant, requireOperator, type Actor } from '../lib/admin/credentials.js';
import { getConfig } from '../lib/config.js';
import { isOriginAllowed } from '../lib/tenants/cors.js';
import { GuestpassError } from '../lib/errors.js';
import { graphErrorBody } from '../lib/graph/errors.js';
import { bearerToken } from '../lib/signin/sessions.js';
import { runtime } from '../lib/runtime.js';
import { asStorageFailure, countingTransactions } from '../lib/storage/tables.js';
import { telemetry, telemetryReady } from '../lib/telemetry/telemetry.js';

/**
 * The function definitions of this app. Each function file registers exactly one;
 * the Functions host receives it through app.http/app.timer, and the local host in
 * scripts/ serves the very same objects.
 */
export const registrations = {
  http: [] as { name: string; options: HttpFunctionOptions }[],
  timer: [] as { name: string; options: TimerFunctionOptions }[],
  queue: [] as { name: string; options: StorageQueueFunctionOptions }[],
};

/**
 * Whether the Azure Functions Node.js worker runs this process. The worker provides the
 * module `@azure/functions-core` by intercepting Module.prototype.require
 * (Azure/azure-functions-nodejs-worker src/setupCoreModule.ts), and @azure/functions
 * decides the same way whether it runs under the worker or in "test mode"
 * (Azure/azure-functions-nodejs-library src/utils/tryGetCoreApiLazy.ts). The
 * environment cannot tell: Flex Consumption forbids the FUNCTIONS_WORKER_RUNTIME app
 * setting. Outside the worker (the local host, tests) app.http would only warn that it
 * is in test mode, so those lines are spared.
 */
export function insideFunctionsWorker(): boolean {
  try {
    // Under vitest (ES modules) there is no require: that is never the worker.
    return typeof require === 'function' && Boolean(require('@azure/functions-core'));
  } catch {
    return false;
  }
}

const insideFunctionsHost = insideFunctionsWorker();

export function registerHttp(name: string, given: HttpFunctionOptions): HttpFunctionOptions {
  const options = { ...given, handler: traced(name, given) };
  registrations.http.push({ name, options });
  if (insideFunctionsHost) app.http(name, options);
  return options;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SIGN_IN_ROUTES: Record<string, string> = { sendCode: 'send-code', verifyCode: 'verify-code' };

/**
 * A span per request (lib/telemetry/): the route's template, never its values, with the
 * status and the error code answered; `tenant.id` when the route names the tenant by id.
 * send-code and verify-code also count sign-ins and refusals by reason.
 */
function traced(name: string, options: HttpFunctionOptions): HttpHandler {
  const handler = options.handler;
  return async (request, context) => {
    await telemetryReady();
    const tenantId = GUID.test(request.params.tenant ?? '') ? request.params.tenant!.toLowerCase() : undefined;
    return telemetry.request(
      `${request.method} /api/${options.route ?? name}`,
      { 'http.request.method': request.method, 'http.route': `/api/${options.route ?? name}`, 'faas.name': name, 'tenant.id': tenantId },
      async (span) => {
        const response = await handler(request, context);
        const status = response.status ?? 200;
        const error = ('jsonBody' in response ? (response.jsonBody as { error?: unknown } | undefined) : undefined)?.error;
        const outcome = typeof error === 'string' ? error : 'ok';
        span.set({ 'http.response.status_code': status, 'guestpass.outcome': outcome });
        const event = SIGN_IN_ROUTES[name];
        if (event && request.method === 'POST') {
          if (status >= 400 && status < 500) {
            telemetry.count('refusals', { 'tenant.id': tenantId, 'guestpass.event': event, reason: outcome });
            if (outcome === 'challenge_required') telemetry.count('stepUps', { 'tenant.id': tenantId, stage: 'issued' });
          }
          if (event === 'verify-code' && (status === 200 || (status >= 400 && status < 500))) {
            telemetry.count('signIns', { 'tenant.id': tenantId, outcome: status === 200 ? 'succeeded' : 'refused' });
          }
        }
        return response;
      },
    );
  };
}

export function registerTimer(name: string, options: TimerFunctionOptions): TimerFunctionOptions {
  registrations.timer.push({ name, options });
  if (insideFunctionsHost) app.timer(name, options);
  return options;
}

export function registerQueue(name: string, options: StorageQueueFunctionOptions): StorageQueueFunctionOptions {
  registrations.queue.push({ name, options });
  if (insideFunctionsHost) app.storageQueue(name, options);
  return options;
}

export const MAX_BODY_BYTES = 16 * 1024;

export interface EndpointInput<B, P, Q> {
  body: B;
  params: P;
  query: Q;
  /** Names that appear more than once in the query or form body (OAuth forbids repeats, RFC 6749 §3.1). */
  repeated: string[];
  request: HttpRequest;
  context: InvocationContext;
  clientIp: string;
  /** Management endpoints (spec.access): who is calling. */
  actor: Actor;
  /** Management endpoints with access 'tenant': the id of the `{tenant}` the caller may manage. */
  tenantId: string;
}

export interface EndpointSpec<B, P, Q> {
  body?: z.ZodType<B, any>;
  /** The body as application/x-www-form-urlencoded (OAuth's token endpoint, form-posted requests) instead of JSON. */
  form?: z.ZodType<B, any>;
  params?: z.ZodType<P, any>;
  query?: z.ZodType<Q, any>;
  /** Guest endpoints answer CORS for the `{tenant}` route parameter's allowedOrigins. */
  tenantCors?: boolean;
  /** Cache-Control of a success; every other answer is `no-store`. */
  cacheControl?: string;
  /**
   * OAuth error answers (RFC 6749 §5.2, RFC 6750 §3): the body also carries
   * error_description, a 401 names its scheme in WWW-Authenticate (`Basic` for client
   * authentication at the token endpoint, `Bearer` for userinfo).
   */
  oauthErrors?: 'Basic' | 'Bearer';
  /**
   * A management endpoint: anonymous at the host, the app checks the `x-functions-key`
   * credential (lib/admin/credentials.ts) before reading anything else. 'operator': the
   * deployment operator only (403 forbidden for a tenant admin key); 'tenant': the operator
   * or an admin key of the route's `{tenant}` (any other tenant is 404 tenant_not_found);
   * 'any': any valid credential.
   */
  access?: 'operator' | 'tenant' | 'any';
  /**
   * A Microsoft Graph-shaped route (lib/graph/): the management credential comes as
   * `Authorization: Bearer <key>`, as the Graph SDK's authProvider sends it, and errors
   * answer in Graph's shape `{"error":{"code","message"}}`.
   */
  graph?: boolean;
}

/** The management credential check; never reads a key from the URL (`?code=` is ignored). */
async function authorizeManagement(access: 'operator' | 'tenant' | 'any', request: HttpRequest, bearer = false): Promise<{ actor: Actor; tenantId: string }> {
  const rt = await runtime();
  const actor = await authenticate(rt, bearer ? bearerToken(request.headers.get('authorization')) : request.headers.get('x-functions-key'));
  if (access === 'operator') requireOperator(actor);
  if (access === 'tenant') {
    const context = await authorizeTenant(rt, actor, request.params.tenant ?? '');
    return { actor, tenantId: context.tenant.id };
  }
  return { actor, tenantId: actor.kind === 'tenantAdmin' ? actor.tenantId : '' };
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

/** Microsoft Graph's error body (lib/graph/errors.ts) with the error's status. */
export function graphErrorResponse(error: GuestpassError): HttpResponseInit {
  const response = errorResponse(error);
  return { ...response, jsonBody: graphErrorBody(error, Date.now()) };
}

/**
 * The contract's error body, plus what OAuth clients read: `error_description`
 * (RFC 6749 §5.2) and, on a 401, the scheme to authenticate with (RFC 6749 §5.2 for
 * invalid_client, RFC 6750 §3 for a bearer token).
 */
export function oauthErrorResponse(error: GuestpassError, scheme: 'Basic' | 'Bearer'): HttpResponseInit {
  const response = errorResponse(error);
  const headers = response.headers as Record<string, string>;
  headers['Pragma'] = 'no-cache';
  if (error.status === 401) {
    headers['WWW-Authenticate'] = scheme === 'Basic' ? 'Basic realm="guestpass", charset="UTF-8"' : `Bearer error="invalid_token", error_description="${error.message.replace(/["\\]/g, '')}"`;
  }
  return { ...response, jsonBody: { ...error.toBody(), error_description: error.message } };
}

/** An HTML page (its own CSP) with the status given. */
export function html(status: number, body: string, contentSecurityPolicy: string): HttpResponseInit {
  return {
    status,
    body,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': contentSecurityPolicy, 'Referrer-Policy': 'no-referrer' },
  };
}

/** A redirect that no cache keeps. */
export function redirect(location: string): HttpResponseInit {
  return { status: 302, headers: { Location: location, 'Referrer-Policy': 'no-referrer' } };
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

async function readBodyText(request: HttpRequest, contentTypePattern: RegExp, mediaTypeMessage?: string, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new GuestpassError('payload_too_large', { message: `The request body is larger than ${Math.round(maxBytes / 1024)} KiB.` });
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw tooLarge();
  const contentType = request.headers.get('content-type') ?? '';
  if (!contentTypePattern.test(contentType)) throw new GuestpassError('unsupported_media_type', mediaTypeMessage ? { message: mediaTypeMessage } : {});
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBytes) throw tooLarge();
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new GuestpassError('invalid_request', { message: 'The request body is not valid UTF-8.' });
  }
}

function repeatedNames(params: URLSearchParams): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of params.keys()) (seen.has(name) ? repeated : seen).add(name);
  return [...repeated];
}

const FORM_ONLY = 'The request body must be form-encoded (Content-Type: application/x-www-form-urlencoded).';

/** An OAuth endpoint answers another body type as RFC 6749 §5.2 does a malformed request: 400 invalid_request. */
async function readFormBody(request: HttpRequest, oauth: boolean): Promise<URLSearchParams> {
  try {
    return new URLSearchParams(await readBodyText(request, /^application\/x-www-form-urlencoded\s*(;|$)/i, FORM_ONLY));
  } catch (error) {
    if (oauth && error instanceof GuestpassError && error.code === 'unsupported_media_type') throw new GuestpassError('invalid_request', { message: FORM_ONLY });
    throw error;
  }
}

/**
 * A JSON body as the exact text received (UTF-8), at most `maxBytes`: what a signature
 * is computed over. Webhooks take larger bodies than the API's 16 KiB (providers batch events).
 */
export function readJsonText(request: HttpRequest, maxBytes = MAX_BODY_BYTES): Promise<string> {
  return readBodyText(request, /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i, undefined, maxBytes);
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
        const management = spec.access ? await authorizeManagement(spec.access, request, spec.graph) : { actor: undefined as unknown as Actor, tenantId: '' };
        const form = spec.form ? await readFormBody(request, spec.oauthErrors !== undefined) : undefined;
        let body = undefined as B;
        if (form) body = parsePart(spec.form, Object.fromEntries(form.entries()), 'body');
        else if (spec.body) body = parsePart(spec.body, await readJsonBody(request), 'body');
        const input: EndpointInput<B, P, Q> = {
          ...management,
          params: parsePart(spec.params, { ...request.params }, 'params'),
          query: parsePart(spec.query, Object.fromEntries(request.query.entries()), 'query'),
          body,
          // From the URL itself: the host hands the worker its query as a map, where a repeat is already folded.
          repeated: form ? repeatedNames(form) : spec.query ? repeatedNames(new URL(request.url).searchParams) : [],
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
          if (spec.graph) return graphErrorResponse(error);
          return spec.oauthErrors ? oauthErrorResponse(error, spec.oauthErrors) : errorResponse(error);
        }
        context.error('unhandled error', error);
        return spec.graph ? graphErrorResponse(new GuestpassError('internal_error')) : errorResponse(new GuestpassError('internal_error'));
      }
    };
    // The per-request count feeds a development-only header. Counting per request
    // needs async context (AsyncLocalStorage), whose promise hooks slow every promise
    // in the process (about a tenth of a session-check's CPU on Node 20), so outside
    // development requests are not counted one by one.
    // The settings, not runtime(): with storage down, building the runtime would wait for it again.
    const development = getConfig().development;
    const { result, transactions, roundTrips } = development ? await countingTransactions(handle) : { result: await handle(), transactions: undefined, roundTrips: undefined };
    // A page brings its own Content-Security-Policy (the hosted sign-in page); JSON gets the API's.
    const headers: Record<string, string> = { ...API_SECURITY_HEADERS, ...(result.headers as Record<string, string>), ...corsHeaders };
    if (transactions !== undefined) headers['x-guestpass-storage-transactions'] = String(transactions);
    if (roundTrips !== undefined) headers['x-guestpass-storage-round-trips'] = String(roundTrips);
    return { ...result, headers };
  };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Content-Type': 'application/json', ...headers } };
}

/**
 * A page of a list, with Graph's nextLink: the request's path with the listing's own
 * query parameters (those its schema parsed, as the caller gave them) and the next
 * $skiptoken. Nothing else of the request's query is copied: on Azure a caller may
 * pass the function key as `?code=`, and a link must never carry it.
 */
export function page<T>(request: HttpRequest, listingQuery: object, result: { value: T[]; skipToken?: string }): HttpResponseInit {
  if (!result.skipToken) return json(200, { value: result.value });
  return json(200, { value: result.value, nextLink: nextLinkOf(request, listingQuery, result.skipToken) });
}

/** The link to the next page: the request's path, the listing's own query parameters as given, and `skipToken`. */
export function nextLinkOf(request: HttpRequest, listingQuery: object, skipToken: string): string {
  const next = new URL(request.url);
  next.search = '';
  for (const name of Object.keys(listingQuery)) {
    const given = request.query.get(name);
    if (name !== '$skiptoken' && given !== null) next.searchParams.set(name, given);
  }
  next.searchParams.set('$skiptoken', skipToken);
  return next.href;
}
