/**
 * The hosted sign-in page's script (served by the function app at /api/oidc/sign-in.js
 * under a strict Content-Security-Policy): the very <guestpass-sign-in> element of
 * web/src, and once the guest has signed in, the step that finishes the OpenID Connect
 * authorization — the session token and the sealed request go to authorize-complete,
 * and the browser follows the redirect back to the application with its one-time code
 * (or, with response_mode=form_post, posts it there). On the form-post page it only posts.
 */
import type { Session } from './client.js';
import './signInElement.js';

/** A form the page posts to the client's redirect URI (response_mode=form_post), built from the answer's fields. */
function post(action: string, fields: Record<string, string>): void {
  const form = document.createElement('form');
  form.method = 'post';
  form.action = action;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}

// The form-post page (an answer to the client that is ready as served): post it at once.
const ready = document.querySelector<HTMLFormElement>('form[data-auto-post]');
if (ready) ready.submit();

const main = document.querySelector<HTMLElement>('main[data-authorization]');
const element = document.querySelector('guestpass-sign-in');
const status = document.getElementById('authorization-status');

element?.addEventListener('signed-in', (event) => {
  const session = (event as CustomEvent<Session>).detail;
  void finish(session);
});

async function finish(session: Session): Promise<void> {
  if (!main || !status) return;
  status.textContent = main.dataset.continuing ?? '';
  try {
    const response = await fetch(main.dataset.completeUrl!, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ authorization: main.dataset.authorization }),
      credentials: 'omit',
      cache: 'no-store',
    });
    const body = (await response.json()) as { redirectTo?: string; formPost?: { action: string; fields: Record<string, string> }; message?: string };
    if (response.ok && body.redirectTo) {
      location.replace(body.redirectTo);
      return;
    }
    if (response.ok && body.formPost) {
      post(body.formPost.action, body.formPost.fields);
      return;
    }
    status.textContent = body.message ?? main.dataset.failed ?? '';
  } catch {
    status.textContent = main.dataset.failed ?? '';
  }
}
