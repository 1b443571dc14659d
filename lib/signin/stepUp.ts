import { createChallenge, verifySolution } from 'altcha-lib/v1';
import type { StepUpConfig } from '../config.js';
import type { Runtime } from '../runtime.js';
import { isStatus, keyDigest } from '../storage/tables.js';
import { dayTable } from '../storage/dayTables.js';

/**
 * The step-up asked for past a guest's ceiling (DESIGN §4): a self-hosted proof of work
 * (ALTCHA, signed with a server secret and usable once), or a CAPTCHA provider that
 * answers the same siteverify protocol (Cloudflare Turnstile, hCaptcha).
 */
export type StepUpChallenge =
  | { provider: 'altcha'; algorithm: string; challenge: string; maxnumber: number; salt: string; signature: string }
  | { provider: 'turnstile' | 'hcaptcha'; siteKey: string };

/** The tenant counter of an hour's solved step-ups (0-23, UTC), beside the refusal counters (lib/signin/refusals.ts). */
export function stepUpCounter(atMs: number): string {
  return `h${String(new Date(atMs).getUTCHours()).padStart(2, '0')}_step_up`;
}

/** How long a proof-of-work challenge may be solved for. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

export async function issueChallenge(rt: Runtime): Promise<StepUpChallenge> {
  const config = rt.config.stepUp;
  if (config.provider !== 'altcha') return { provider: config.provider, siteKey: config.siteKey };
  const challenge = await createChallenge({
    hmacKey: config.secret,
    maxnumber: config.maxNumber,
    expires: new Date(rt.now() + CHALLENGE_TTL_MS),
  });
  return { provider: 'altcha', ...challenge, maxnumber: challenge.maxnumber ?? config.maxNumber };
}

/**
 * A step-up a request carries, checked but not yet used: `redeem` uses it up (once, the
 * first caller wins) and is called last, after every refusal the request could meet, so a
 * refused request leaves its step-up unused and writes nothing for it.
 */
export interface StepUpCheck {
  redeem(): Promise<boolean>;
}

/**
 * Whether `solution` solves a challenge this deployment issued and was not used before,
 * without using it: undefined when it does not. A CAPTCHA token is verified (and used up
 * by its provider) only when redeemed.
 */
export async function checkStepUp(rt: Runtime, solution: string, clientIp: string): Promise<StepUpCheck | undefined> {
  const config = rt.config.stepUp;
  if (config.provider === 'altcha') return altchaCheck(rt, config, solution);
  return { redeem: () => captchaPassed(config, solution, clientIp) };
}

async function altchaCheck(rt: Runtime, config: Extract<StepUpConfig, { provider: 'altcha' }>, solution: string): Promise<StepUpCheck | undefined> {
  let payload: { signature?: unknown };
  try {
    payload = JSON.parse(Buffer.from(solution, 'base64').toString('utf8')) as { signature?: unknown };
  } catch {
    return undefined;
  }
  // verifySolution checks the HMAC signature, the expiry in the salt and the work.
  if (typeof payload.signature !== 'string' || !(await verifySolution(solution, config.secret, true).catch(() => false))) return undefined;
  // Usable once: the first to record the signature wins. The row lives in the table of
  // the day, dropped whole by cleanup; the challenge expires long before.
  const table = await dayTable(rt, 'limits', rt.now());
  const rowKey = keyDigest(payload.signature);
  try {
    await table.getEntity('step-up', rowKey);
    return undefined; // used already
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  return {
    async redeem() {
      try {
        await table.createEntity({ partitionKey: 'step-up', rowKey, expiresAt: new Date(rt.now() + CHALLENGE_TTL_MS) });
        return true;
      } catch (error) {
        if (isStatus(error, 409)) return false;
        throw error;
      }
    },
  };
}

/**
 * Turnstile and hCaptcha share the siteverify protocol: a form POST of secret,
 * response and remoteip answering `{"success": true|false, ...}`. The provider
 * itself refuses a token used twice.
 */
async function captchaPassed(config: Extract<StepUpConfig, { provider: 'turnstile' | 'hcaptcha' }>, token: string, clientIp: string): Promise<boolean> {
  const body = new URLSearchParams({ secret: config.secret, response: token, remoteip: clientIp });
  try {
    const response = await fetch(config.verifyUrl, { method: 'POST', body, signal: AbortSignal.timeout(5000) });
    if (!response.ok) return false;
    const result = (await response.json()) as { success?: unknown };
    return result.success === true;
  } catch {
    return false;
  }
}
