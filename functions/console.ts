import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { GuestpassError } from '../lib/errors.js';
import type { ConsoleAsset } from '../lib/lazy/consoleAssets.js';
import { errorResponse, registerHttp } from './http.js';

/**
 * The page may load only its own script, style sheet and API (no inline script or
 * style, no other origin), may not be framed, and sends no referrer.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const gzipped = new Map<string, Uint8Array>();

function gzipOf(name: string, asset: ConsoleAsset): Uint8Array {
  let bytes = gzipped.get(name);
  if (!bytes) gzipped.set(name, (bytes = new Uint8Array(Buffer.from(asset.gzip, 'base64'))));
  return bytes;
}

/** Accept-Encoding names gzip without `q=0` (RFC 9110 §12.5.3). */
function acceptsGzip(request: HttpRequest): boolean {
  return (request.headers.get('accept-encoding') ?? '').split(',').some((entry) => {
    const [coding, ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
    const quality = parameters.find((parameter) => parameter.startsWith('q='));
    return coding === 'gzip' && (quality === undefined || Number(quality.slice(2)) > 0);
  });
}

/**
 * GET /api/manage/console/{*asset}: the operator console, served by the function app itself.
 * `{*asset}` is a catch-all parameter, which in ASP.NET Core route templates (what the
 * Functions host's router builds on) also matches the empty rest, so `/api/manage/console`
 * and `/api/manage/console/` reach this function too; the local host matches it the same way
 * (scripts/localHost.ts, matchRoute). The bare `/api/manage/console` is redirected to
 * `/api/manage/console/` so the page's relative links resolve under it.
 */
export async function serveConsole(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.asset ?? '';
  const path = new URL(request.url).pathname;
  if (name === '' && !path.endsWith('/')) {
    return { status: 308, headers: { Location: `${path.slice(path.lastIndexOf('/') + 1)}/`, 'Cache-Control': 'no-store' } };
  }
  const { consoleAssets } = await import('../lib/lazy/consoleAssets.js');
  const asset = consoleAssets[name === '' ? 'index.html' : name];
  if (!asset) return errorResponse(new GuestpassError('console_file_not_found'));
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    'Content-Type': asset.contentType,
    'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    Vary: 'Accept-Encoding',
  };
  if (acceptsGzip(request)) {
    return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: gzipOf(name, asset) };
  }
  return { status: 200, headers, body: asset.text };
}

export default registerHttp('console', {
  route: 'manage/console/{*asset}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: serveConsole,
});
