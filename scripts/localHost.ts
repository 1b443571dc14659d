import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { timingSafeEqual, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Config } from '../lib/config.js';
import { HttpRequest, HttpResponse, InvocationContext, type HttpFunctionOptions, type HttpResponseInit, type Timer, type TimerFunctionOptions } from '@azure/functions';

/**
 * A stand-in for the Azure Functions host's HTTP front end, for running locally
 * (Core Tools cannot be installed here). It serves the app's own registrations:
 * their route templates, methods, authLevel and handlers, under `/api`.
 */
export interface HttpRegistration {
  name: string;
  options: HttpFunctionOptions;
}

export interface LocalHostOptions {
  registrations: HttpRegistration[];
  /** The key `function`-level routes require in `x-functions-key`. */
  functionKey?: string;
  /** Files served outside /api (the demo page). */
  staticRoot?: string;
  log?: (line: string) => void;
}

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string; optional: boolean; pattern?: RegExp; catchAll: boolean };

interface CompiledRoute {
  registration: HttpRegistration;
  segments: Segment[];
  methods: string[];
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

function matchRoute(segments: Segment[], parts: string[]): Record<string, string> | undefined {
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

/** Literal segments win over constrained parameters, which win over plain ones. */
function precedence(route: CompiledRoute): number[] {
  return route.segments.map((s) => (s.kind === 'literal' ? 0 : s.catchAll ? 3 : s.pattern ? 1 : 2));
}

function comparePrecedence(a: CompiledRoute, b: CompiledRoute): number {
  const pa = precedence(a);
  const pb = precedence(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const diff = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (diff !== 0) return diff;
  }
  return 0;
}

function errorBody(error: string, message: string) {
  return JSON.stringify({ error, message });
}

function keyMatches(expected: string | undefined, presented: string | undefined): boolean {
  if (!expected || !presented) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

const MAX_REQUEST_BYTES = 1024 * 1024;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export function createLocalHost(options: LocalHostOptions): Server {
  const log = options.log ?? ((line: string) => console.log(line));
  const routes: CompiledRoute[] = options.registrations
    .map((registration) => ({
      registration,
      segments: compileRoute(registration.options.route ?? registration.name),
      methods: (registration.options.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
    }))
    .sort(comparePrecedence);

  async function readBody(req: IncomingMessage): Promise<Buffer | 'too_large'> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_REQUEST_BYTES) return 'too_large';
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  }

  async function serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    if (!options.staticRoot) return send(res, 404, errorBody('not_found', 'No function serves that route.'));
    const root = resolve(options.staticRoot);
    const file = normalize(join(root, pathname === '/' ? 'index.html' : decodeURIComponent(pathname)));
    if (!file.startsWith(root)) return send(res, 404, errorBody('not_found', 'No such file.'));
    try {
      const content = await readFile(file);
      send(res, 200, content, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
    } catch {
      send(res, 404, errorBody('not_found', 'No such file.'));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    if (!url.pathname.startsWith('/api/')) return serveStatic(url.pathname, res);
    const parts = url.pathname.slice('/api/'.length).split('/').filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    const method = (req.method ?? 'GET').toUpperCase();
    const candidates = routes
      .map((route) => ({ route, params: matchRoute(route.segments, parts) }))
      .filter((c): c is { route: CompiledRoute; params: Record<string, string> } => c.params !== undefined);
    if (candidates.length === 0) return send(res, 404, errorBody('not_found', 'No function serves that route.'));
    const chosen = candidates.find((c) => c.route.methods.includes(method));
    if (!chosen) return send(res, 405, errorBody('method_not_allowed', 'That method is not allowed on this route.'), { Allow: candidates[0]!.route.methods.join(', ') });
    const { registration } = chosen.route;
    const authLevel = registration.options.authLevel ?? 'anonymous';
    if (authLevel !== 'anonymous' && !keyMatches(options.functionKey, req.headers['x-functions-key'] as string | undefined)) {
      return send(res, 401, errorBody('unauthorized', 'A valid x-functions-key header is required.'));
    }
    const body = await readBody(req);
    if (body === 'too_large') return send(res, 413, errorBody('payload_too_large', 'The request body is too large.'));

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    // Like Azure's front end: the connecting address is appended to X-Forwarded-For.
    const remote = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${remote}` : remote;

    const request = new HttpRequest({
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
      log(`[${registration.name}] unhandled: ${(error as Error)?.stack ?? String(error)}`);
      return send(res, 500, errorBody('internal_error', 'Something went wrong on our side.'));
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

  return createServer((req, res) => {
    handle(req, res).catch((error) => {
      log(`local host error: ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) send(res, 500, errorBody('internal_error', 'Something went wrong on our side.'));
      else res.end();
    });
  });
}

/** What the built app entry (dist/index.js) exports besides registering its functions. */
export interface BuiltApp {
  registrations: { http: HttpRegistration[]; timer?: TimerRegistration[] };
  config: Config;
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

export async function serveApp(app: BuiltApp, port: number): Promise<{ server: Server; port: number }> {
  const server = createLocalHost({
    registrations: app.registrations.http,
    functionKey: app.config.localFunctionKey,
    staticRoot: join(__dirname, '..', '..', 'web'),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

