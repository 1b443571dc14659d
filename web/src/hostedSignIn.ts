/**
 * The hosted sign-in page's script (served by the function app at /api/oidc/sign-in.js
 * under a strict Content-Security-Policy): the very <guestpass-sign-in> element of
 * web/src, and once the guest has signed in, the step that finishes the OpenID Connect
 * authorization — the session token and the sealed request go to authorize-complete,
 * and the browser follows the redirect back to the application with its one-time code.
 */
import type { Session } from './client.js';
import './signInElement.js';

const main = document.querySelector<HTMLElement>('main[data-authorization]')!;
const element = document.querySelector('guestpass-sign-in')!;
const status = document.getElementById('authorization-status')!;

element.addEventListener('signed-in', (event) => {
  const session = (event as CustomEvent<Session>).detail;
  void finish(session);
});

async function finish(session: Session): Promise<void> {
  status.textContent = main.dataset.continuing ?? '';
  try {
    const response = await fetch(main.dataset.completeUrl!, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ authorization: main.dataset.authorization }),
      credentials: 'omit',
      cache: 'no-store',
    });
    const body = (await response.json()) as { redirectTo?: string; message?: string };
    if (response.ok && body.redirectTo) {
      location.replace(body.redirectTo);
      return;
    }
    status.textContent = body.message ?? main.dataset.failed ?? '';
  } catch {
    status.textContent = main.dataset.failed ?? '';
  }
}
