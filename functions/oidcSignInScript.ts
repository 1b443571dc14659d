import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { endpoint, registerHttp } from './http.js';

/**
 * The hosted sign-in page's script: web/dist/hostedSignIn.js (the <guestpass-sign-in>
 * element and the step that finishes the authorization), which the build copies next
 * to dist/index.js so that `func azure functionapp publish` ships it with the app.
 */
let script: { text: string; version: string } | undefined;

export function hostedSignInScript(): { text: string; version: string } {
  if (!script) {
    const text = readFileSync(join(__dirname, 'hostedSignIn.js'), 'utf8');
    script = { text, version: createHash('sha256').update(text).digest('base64url').slice(0, 16) };
  }
  return script;
}

export default registerHttp('oidcSignInScript', {
  route: 'oidc/sign-in.js',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ cacheControl: 'public, max-age=300' }, async () => ({
    status: 200,
    body: hostedSignInScript().text,
    headers: { 'Content-Type': 'text/javascript; charset=utf-8' },
  })),
});
