import { createHash } from 'node:crypto';
import { GuestpassError } from '../errors.js';
import { emitEvent, emitEventOncePerHour } from '../events/emit.js';
import type { Runtime } from '../runtime.js';
import { sendCode, type CodeSent, type SendCodeRequest } from './sendCode.js';
import { verifyCode, type SignedIn, type VerifyCodeRequest } from './verifyCode.js';
import { HOUR_MS } from './limits.js';

/*
 * send-code and verify-code as the API runs them, with their events: signin.succeeded
 * after a sign-in, signin.refused for a refusal (its error code as `reason`). A refusal
 * is told at most once per address, reason and UTC hour across every instance (a row
 * claimed in Table Storage, emitEventOncePerHour), so a flood of wrong codes is one
 * event, not thousands; each instance also remembers what it told or found told until
 * the hour ends (a bounded memory), so the flood costs no transaction after the first.
 * It is told alike for guests and for addresses that are not (no guest id), so neither
 * the answer nor its timing tells them apart.
 */
const MAX_REMEMBERED = 10_000;
const told = new Map<string, number>();

/** Whether this instance has not yet told (or found told) `key` this UTC hour; remembers it until the hour ends. */
function firstThisHourHere(rt: Runtime, key: string): boolean {
  const now = rt.now();
  const until = told.get(key);
  if (until !== undefined && until > now) return false;
  if (told.size >= MAX_REMEMBERED) {
    for (const [entry, expires] of told) if (expires <= now) told.delete(entry);
    if (told.size >= MAX_REMEMBERED) told.clear();
  }
  told.set(key, (Math.floor(now / HOUR_MS) + 1) * HOUR_MS);
  return true;
}

async function reportRefusal(rt: Runtime, tenant: string, event: 'send-code' | 'verify-code', email: string, error: unknown): Promise<void> {
  if (!(error instanceof GuestpassError) || error.status < 400 || error.status >= 500) return;
  const address = createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
  if (!firstThisHourHere(rt, `${tenant.toLowerCase()}|${address}|${error.code}`)) return;
  await emitEventOncePerHour(rt, tenant, 'signin.refused', { reason: error.code, event }, `${address}|${error.code}`);
}

export async function sendCodeReported(rt: Runtime, request: SendCodeRequest): Promise<CodeSent> {
  try {
    return await sendCode(rt, request);
  } catch (error) {
    await reportRefusal(rt, request.tenant, 'send-code', request.email, error);
    throw error;
  }
}

export async function verifyCodeReported(rt: Runtime, request: VerifyCodeRequest): Promise<SignedIn> {
  let session: SignedIn;
  try {
    session = await verifyCode(rt, request);
  } catch (error) {
    await reportRefusal(rt, request.tenant, 'verify-code', request.email, error);
    throw error;
  }
  await emitEvent(rt, request.tenant, 'signin.succeeded', { guestId: session.user.id });
  return session;
}
