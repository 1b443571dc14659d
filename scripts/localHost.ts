import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { extname, join, normalize, resolve } from 'node:path';
import { timingSafeEqual, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ConfigError, readLocalSettings, settingsSchema, type Config } from '../lib/config.js';
import { readHostJson, startQueueListeners, type QueueRegistration, type RunningQueueListeners } from './queueTriggers.js';
import { HttpRequest, HttpResponse, InvocationContext, type HttpFunctionOptions, type HttpRequestUser, type HttpResponseInit, type Timer, type TimerFunctionOptions } from '@azure/functions';

/**
 * A stand-in for the Azure Functions host's HTTP front end, for running locally
 * (Core Tools cannot be installed here). It serves the app's own registrations:
 * their route templates, methods, authLevel and handlers, under `/api`, and answers
 * what the host itself answers as Azure/azure-functions-host does (each answer names
 * the source file it follows): host-level refusals have an empty body.
 */
export interface HttpRegistration {
  name: string;
  options: HttpFunctionOptions;
}

export interface LocalHostOptions {
  registrations: HttpRegistration[];
  /** The key routes of authLevel `function` (or `admin`) require, in `x-functions-key` or `?code=`. */
  functionKey?: string;
  /** Files served outside /api (the demo page). */
  staticRoot?: string;
  log?: (line: string) => void;
}

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string; optional: boolean; pattern?: RegExp; catchAll: boolean };

export interface CompiledRoute {
  registration: HttpRegistration;
  segments: Segment[];
  /** Undefined: every method, as an httpTrigger without `methods`. */
  methods?: string[];
}

/** Route templates as the Functions host reads them: `a/{b}`, `{b?}`, `{b:regex(...)}`, `{*rest}`. */
export function compileRoute(template: string): Segment[] {
  return template
    .split('/')
    .filter(Boolean)
    .map((part): Segment => {
      const match = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(\?)?(?::(.+))?\}$/.exec(part);
      if (!match) return { kind: 'literal', value: part.toLowerCase() };
      const [, star, name, optional, constraint] = match;
      const regex = constraint ? /^regex\((.*)\)$/.exec(constraint)?.[1] : undefined;
      if (constraint && !regex) throw new Error(`route constraint not supported by the local host: ${constraint}`);
      return { kind: 'param', name: name!, optional: Boolean(optional), pattern: regex ? new RegExp(regex, 'i') : undefined, catchAll: Boolean(star) };
    });
}

export function matchRoute(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i]!;
    const part = parts[i];
    if (segment.kind === 'literal') {
      if (part?.toLowerCase() !== segment.value) return undefined;
      continue;
    }
    if (segment.catchAll) {
      params[segment.name] = parts.slice(i).join('/');
      return params;
    }
    if (part === undefined) {
      if (segment.optional) continue;
      return undefined;
    }
    if (segment.pattern && !segment.pattern.test(part)) return undefined;
    params[segment.name] = part;
  }
  return parts.length <= segments.length ? params : undefined;
}

/**
 * The function key of a request: the `x-functions-key` header, else the `code` query
 * parameter; the header wins even when wrong (azure-functions-host
 * src/WebJobs.Script.WebHost/Security/Authentication/Keys/AuthenticationLevelHandler.cs,
 * GetAuthorizationKeyInfoAsync).
 */
export function presentedKey(headers: IncomingMessage['headers'], query: URLSearchParams): string | undefined {
  const header = headers['x-functions-key'];
  if (header !== undefined) return Array.isArray(header) ? header[0] : header;
  return query.get('code') ?? undefined;
}

function keyMatches(expected: string | undefined, presented: string | undefined): boolean {
  if (!expected || !presented) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Kestrel's limits in the Functions host: request bodies up to 100 MB
 * (src/WebJobs.Script.WebHost/Program.cs sets MaxRequestBodySize to
 * ScriptConstants.DefaultMaxRequestBodySize, 104857600) and 32 KiB of request headers
 * (Kestrel's default MaxRequestHeadersTotalSize, which Program.cs leaves as it is).
 * Node's parser stops at 16 KiB unless told otherwise.
 */
export const MAX_REQUEST_BYTES = 104_857_600;
export const MAX_HEADER_BYTES = 32 * 1024;
const EMPTY_BODY = Buffer.alloc(0);
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

type HttpRequestInit = ConstructorParameters<typeof HttpRequest>[0];

/**
 * The request handlers receive: the HttpRequest interface of @azure/functions over
 * the bytes the local host already read. Building the real HttpRequest (an undici
 * Request with validated headers and an abort signal) took ~40 µs per request, so it
 * is built only when a handler asks for what needs it (a body stream, a Blob,
 * FormData, a clone, the signed-in user); headers, route and query parameters, and
 * arrayBuffer/text/json come straight from what was received.
 */
export class LocalHttpRequest implements HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly query: URLSearchParams;
  readonly params: Record<string, string>;
  #init: HttpRequestInit;
  #full?: HttpRequest;
  #bodyRead = false;

  constructor(init: HttpRequestInit & { method: string; url: string; headers: Record<string, string> }) {
    this.#init = init;
    this.method = init.method;
    this.url = init.url;
    this.headers = new Headers(init.headers);
    this.query = new URLSearchParams(init.query ?? {});
    this.params = init.params ?? {};
  }

  #request(): HttpRequest {
    this.#full ??= new HttpRequest(this.#bodyRead ? { ...this.#init, body: undefined } : this.#init);
    return this.#full;
  }

  #bytes(): Uint8Array {
    if (this.#bodyRead) throw new TypeError('Body is unusable: it has already been read');
    this.#bodyRead = true;
    const bytes = this.#init.body?.bytes;
    return bytes ? new Uint8Array(bytes) : new Uint8Array(0);
  }

  get user(): HttpRequestUser | null {
    return this.#request().user;
  }
  get body(): HttpRequest['body'] {
    return this.#request().body;
  }
  get bodyUsed(): boolean {
    return this.#bodyRead || (this.#full?.bodyUsed ?? false);
  }
  arrayBuffer = async (): Promise<ArrayBuffer> => (this.#full ? this.#full.arrayBuffer() : this.#bytes().buffer as ArrayBuffer);
  text = async (): Promise<string> => (this.#full ? this.#full.text() : new TextDecoder().decode(this.#bytes()));
  json = async (): Promise<unknown> => (this.#full ? this.#full.json() : JSON.parse(new TextDecoder().decode(this.#bytes())));
  blob = () => this.#request().blob();
  formData = () => this.#request().formData();
  clone = () => this.#request().clone();
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * A handler's answer as status, headers and bytes, when it is a plain HttpResponseInit
 * with a JSON, text or bytes body (what guestpass's handlers return), written the way
 * HttpResponse would render it. Going through HttpResponse (an undici Response read
 * back through a web stream) cost ~110 µs per answer; anything else still does.
 */
export function plainResponse(result: HttpResponseInit | HttpResponse | void): { status: number; headers: Record<string, string>; body?: string | Uint8Array } | undefined {
  if (!result || result instanceof HttpResponse || result.cookies?.length) return undefined;
  const status = result.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) return undefined;
  const given = result.headers ?? {};
  if (given instanceof Headers || Array.isArray(given) || typeof given !== 'object') return undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) headers[name.toLowerCase()] = String(value);
  if (NULL_BODY_STATUSES.has(status)) return { status, headers };
  if (result.jsonBody !== undefined && result.jsonBody !== null) {
    headers['content-type'] ??= 'application/json';
    return { status, headers, body: JSON.stringify(result.jsonBody) };
  }
  const body = result.body;
  if (body === undefined || body === null) return { status, headers };
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
    return { status, headers, body };
  }
  if (body instanceof Uint8Array) return { status, headers, body };
  return undefined;
}

export function compileRoutes(registrations: HttpRegistration[]): CompiledRoute[] {
  return registrations.map((registration) => ({
    registration,
    segments: compileRoute(registration.options.route ?? registration.name),
    methods: registration.options.methods?.map((m) => m.toUpperCase()),
  }));
}

/** The first route, in registration order, whose template and method constraint both match. */
export function findRoute(routes: CompiledRoute[], method: string, parts: string[]): { route: CompiledRoute; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.methods && !route.methods.includes(method)) continue;
    const params = matchRoute(route.segments, parts);
    if (params) return { route, params };
  }
  return undefined;
}

export function createLocalHost(options: LocalHostOptions): Server {
  return createServer({ maxHeaderSize: MAX_HEADER_BYTES }, localHostListener(options));
}

/** The local host's request handling, for a server of its own or one that listens already. */
export function localHostListener(options: LocalHostOptions): RequestListener {
  const log = options.log ?? ((line: string) => console.log(line));
  // In registration order: the host maps each function's route in turn and ASP.NET
  // routing tries them in that order (WebScriptHostHttpRoutesManager.cs).
  const routes: CompiledRoute[] = compileRoutes(options.registrations);

  async function readBody(req: IncomingMessage): Promise<Buffer | 'too_large'> {
    // No Content-Length and no Transfer-Encoding: the request has no body to wait for.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return EMPTY_BODY;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_REQUEST_BYTES) return 'too_large';
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** A host-level answer: a status and no body, as the Functions host gives it. */
  function sendEmpty(res: ServerResponse, status: number) {
    res.writeHead(status, { 'Content-Length': '0' });
    res.end();
  }

  async function serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    if (!options.staticRoot) return sendEmpty(res, 404);
    const root = resolve(options.staticRoot);
    let file: string;
    try {
      file = normalize(join(root, pathname === '/' ? 'index.html' : decodeURIComponent(pathname)));
    } catch {
      return sendEmpty(res, 404);
    }
    if (!file.startsWith(root)) return sendEmpty(res, 404);
    try {
      const content = await readFile(file);
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(content);
    } catch {
      sendEmpty(res, 404);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Over TLS (LOCAL_TLS_CERT_FILE) the request's URL is https, as behind Azure's front end: links built from it (nextLink) say so.
    const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    const url = new URL(req.url ?? '/', `${scheme}://${req.headers.host ?? 'localhost'}`);
    if (!url.pathname.startsWith('/api/')) return serveStatic(url.pathname, res);
    const parts = url.pathname.slice('/api/'.length).split('/').filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    const method = (req.method ?? 'GET').toUpperCase();
    // The methods are a route constraint (WebScriptHostHttpRoutesManager.cs adds an
    // HttpMethodRouteConstraint), so a method the route does not list is no match at
    // all: like a path no route has, it is the host's 404 with an empty body.
    const chosen = findRoute(routes, method, parts);
    if (!chosen) return sendEmpty(res, 404);
    const { registration } = chosen.route;
    const authLevel = registration.options.authLevel ?? 'anonymous';
    // A missing or wrong key: UnauthorizedResult, 401 with an empty body
    // (src/WebJobs.Script.WebHost/Middleware/FunctionInvocationMiddleware.cs, GetResultAsync).
    if (authLevel !== 'anonymous' && !keyMatches(options.functionKey, presentedKey(req.headers, url.searchParams))) {
      return sendEmpty(res, 401);
    }
    const body = await readBody(req);
    if (body === 'too_large') return sendEmpty(res, 413);

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    // Like Azure's front end: the connecting address is appended to X-Forwarded-For.
    const remote = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${remote}` : remote;

    const request = new LocalHttpRequest({
      method,
      url: url.href,
      headers,
      query: Object.fromEntries(url.searchParams),
      params: chosen.params,
      body: body.length > 0 ? { bytes: body } : undefined,
    });
    const context = new InvocationContext({
      functionName: registration.name,
      invocationId: randomUUID(),
      logHandler: (level, ...args) => log(`[${registration.name}] ${level}: ${args.map((a) => (a instanceof Error ? a.stack ?? a.message : String(a))).join(' ')}`),
    });
    let result: HttpResponseInit | HttpResponse | void;
    try {
      result = await registration.options.handler(request, context);
    } catch (error) {
      // A handler that throws: the host's bare 500 with an empty body
      // (src/WebJobs.Script.WebHost/Middleware/ExceptionMiddleware.cs).
      log(`[${registration.name}] unhandled: ${(error as Error)?.stack ?? String(error)}`);
      return sendEmpty(res, 500);
    }
    const plain = plainResponse(result);
    if (plain) {
      if (plain.body !== undefined) plain.headers['content-length'] ??= String(Buffer.byteLength(plain.body));
      res.writeHead(plain.status, plain.headers);
      res.end(plain.body);
      return;
    }
    const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? {});
    const payload = Buffer.from(await response.arrayBuffer());
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    res.writeHead(response.status, outHeaders);
    res.end(payload);
  }

  return (req, res) => {
    handle(req, res).catch((error) => {
      log(`local host error: ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) sendEmpty(res, 500);
      else res.end();
    });
  };
}

/** What the built app entry (dist/index.js) exports besides registering its functions. */
export interface BuiltApp {
  registrations: { http: HttpRegistration[]; timer?: TimerRegistration[]; queue?: QueueRegistration[] };
  config: Config;
  /** Reaches Table Storage once; throws a ConfigError naming the setting when it cannot. */
  checkStorage(): Promise<void>;
}

export interface TimerRegistration {
  name: string;
  options: TimerFunctionOptions;
}

/**
 * Minutes between runs for an NCRONTAB schedule of the form `0 *\/N * * * *` (the only
 * form this app uses); undefined for any other, which the local host does not run.
 */
export function everyNMinutes(schedule: string): number | undefined {
  const match = /^0 \*\/(\d+) \* \* \* \*$/.exec(schedule.trim());
  return match ? Number(match[1]) : undefined;
}

/**
 * Runs the app's timer functions on their schedules, on the clock's minute marks as the
 * Functions host would. Returns a function that stops them.
 */
export function startTimers(timers: TimerRegistration[], log: (line: string) => void = (line) => console.log(line)): () => void {
  const handles: NodeJS.Timeout[] = [];
  for (const { name, options } of timers) {
    const minutes = everyNMinutes(String(options.schedule));
    if (!minutes) {
      log(`[${name}] schedule ${String(options.schedule)} is not one the local host runs; skipped`);
      continue;
    }
    const period = minutes * 60_000;
    const run = async () => {
      const context = new InvocationContext({
        functionName: name,
        invocationId: randomUUID(),
        logHandler: (level, ...args) => log(`[${name}] ${level}: ${args.map(String).join(' ')}`),
      });
      const at = new Date().toISOString();
      const timer: Timer = {
        isPastDue: false,
        schedule: { adjustForDST: true },
        scheduleStatus: { last: at, next: new Date(Date.now() + period).toISOString(), lastUpdated: at },
      };
      try {
        await options.handler(timer, context);
      } catch (error) {
        log(`[${name}] failed: ${(error as Error)?.stack ?? String(error)}`);
      }
    };
    const first = setTimeout(() => {
      void run();
      handles.push(setInterval(() => void run(), period).unref());
    }, period - (Date.now() % period));
    handles.push(first.unref());
  }
  return () => handles.forEach((handle) => clearTimeout(handle));
}

export function loadBuiltApp(): BuiltApp {
  // The scripts are bundled next to the app: dist/scripts/*.js loads dist/index.js.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../index.js') as BuiltApp;
}

/** PORT as the app will read it (environment over local.settings.json), before the app is loaded. */
export function localPort(): number {
  const parsed = settingsSchema.shape.PORT.safeParse(process.env.PORT || readLocalSettings().PORT || undefined);
  if (!parsed.success) throw new ConfigError('PORT', `is invalid: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

/**
 * LOCAL_TLS_CERT_FILE and LOCAL_TLS_KEY_FILE (environment over local.settings.json): the
 * PEM certificate and key the local host serves HTTPS with, or undefined for plain HTTP.
 * Clients that send credentials only to https URLs (Microsoft Graph's SDK, MSAL) need it.
 */
export function localTls(): { cert: Buffer; key: Buffer } | undefined {
  const local = readLocalSettings();
  const certFile = process.env.LOCAL_TLS_CERT_FILE || local.LOCAL_TLS_CERT_FILE;
  const keyFile = process.env.LOCAL_TLS_KEY_FILE || local.LOCAL_TLS_KEY_FILE;
  if (!certFile && !keyFile) return undefined;
  if (!certFile) throw new ConfigError('LOCAL_TLS_CERT_FILE', 'is required when LOCAL_TLS_KEY_FILE is set: name the PEM certificate file');
  if (!keyFile) throw new ConfigError('LOCAL_TLS_KEY_FILE', 'is required when LOCAL_TLS_CERT_FILE is set: name the PEM private key file');
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(name, `is ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  return { cert: read('LOCAL_TLS_CERT_FILE', certFile), key: read('LOCAL_TLS_KEY_FILE', keyFile) };
}

/** Listens on 127.0.0.1:port; a port another program holds is one line naming PORT. */
export function listenOn(server: Server, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new ConfigError('PORT', `is ${port}, which another program already listens on: stop it, or choose a free port (PORT=${port + 1} npm start)`));
      else if (error.code === 'EACCES') reject(new ConfigError('PORT', `is ${port}, which this user may not listen on: choose a port above 1023`));
      else reject(error);
    });
    server.listen(port, '127.0.0.1', () => resolvePort((server.address() as AddressInfo).port));
  });
}

/**
 * PUBLIC_BASE_URL (the tenants' issuer, the links in mail) for a host listening on `port`:
 * set in the environment, it stays; unset (or empty), it becomes http://localhost:<port>
 * (https with LOCAL_TLS_CERT_FILE).
 * In local.settings.json a loopback URL on another port is a file from an older version,
 * whose sample pinned http://localhost:7071: kept, it would give tokens and discovery an
 * issuer where something else may answer, so it stops the start, naming the setting.
 * Any other value there (a tunnel's public URL, say) is the developer's and stays.
 */
export function followPortUnlessSet(port: number, scheme: 'http' | 'https' = 'http'): void {
  if (process.env.PUBLIC_BASE_URL) return;
  const fromFile = readLocalSettings().PUBLIC_BASE_URL;
  if (fromFile) {
    let url: URL | undefined;
    try {
      url = new URL(fromFile);
    } catch {
      return; // loadConfig names it as invalid
    }
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    const filePort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (loopback && filePort !== port) {
      throw new ConfigError(
        'PUBLIC_BASE_URL',
        `is ${fromFile} in local.settings.json, but the host listens on port ${port}: delete PUBLIC_BASE_URL from local.settings.json (it then follows PORT), or set it to http://localhost:${port}`,
      );
    }
    return;
  }
  process.env.PUBLIC_BASE_URL = `${scheme}://localhost:${port}`;
}

export interface ListeningHost {
  server: Server;
  port: number;
  /** Loads the built app, reaches Table Storage once, and serves; a failure closes the server. */
  serve(loadApp?: () => BuiltApp): Promise<BuiltApp>;
}

/**
 * Listens on PORT (0 picks a free port) and settles PUBLIC_BASE_URL before anything else
 * starts, so a taken port or a stale setting is the first and only line `npm start` prints.
 */
export async function listenLocalHost(): Promise<ListeningHost> {
  let listener: RequestListener | undefined;
  const whenLoaded: RequestListener = (req, res) => {
    if (listener) return listener(req, res);
    res.writeHead(503, { 'Content-Length': '0', 'Retry-After': '1' }).end();
  };
  const tls = localTls();
  const server = tls ? createTlsServer({ ...tls, maxHeaderSize: MAX_HEADER_BYTES }, whenLoaded) : createServer({ maxHeaderSize: MAX_HEADER_BYTES }, whenLoaded);
  const port = await listenOn(server, localPort());
  try {
    followPortUnlessSet(port, tls ? 'https' : 'http');
  } catch (error) {
    server.close();
    throw error;
  }
  return {
    server,
    port,
    async serve(loadApp = loadBuiltApp) {
      try {
        const app = loadApp();
        await app.checkStorage();
        listener = localHostListener({
          registrations: app.registrations.http,
          functionKey: app.config.localFunctionKey,
          staticRoot: join(__dirname, '..', '..', 'web'),
        });
        return app;
      } catch (error) {
        server.close();
        throw error;
      }
    },
  };
}

/**
 * Serves the built app on PORT. It listens before it loads the app, so PUBLIC_BASE_URL
 * defaults to the port it really listens on; then it reaches Table Storage once, so a
 * misconfiguration stops the start with one line naming the setting.
 */
export async function serveApp(loadApp: () => BuiltApp = loadBuiltApp): Promise<{ server: Server; port: number; app: BuiltApp }> {
  const host = await listenLocalHost();
  const app = await host.serve(loadApp);
  return { server: host.server, port: host.port, app };
}

/**
 * Runs the app's queue-triggered functions (scripts/queueTriggers.ts) with the settings
 * the app reads (the environment over local.settings.json) and the repository's host.json.
 */
export function startAppQueues(app: BuiltApp, log?: (line: string) => void): RunningQueueListeners {
  const settings: Record<string, string | undefined> = { ...readLocalSettings(), ...process.env };
  const lease = Number(settings.LOCAL_HOST_QUEUE_LEASE_SECONDS);
  return startQueueListeners(app.registrations.queue ?? [], {
    settings,
    hostJson: readHostJson(join(__dirname, '..', '..')),
    log,
    inFlightVisibilityMs: lease > 0 ? lease * 1000 : undefined,
  });
}
