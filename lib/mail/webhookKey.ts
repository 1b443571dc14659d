import { createPublicKey, type KeyObject } from 'node:crypto';

/**
 * SendGrid's Event Webhook verification key: the base64 DER (SPKI) EC P-256 public key
 * its Mail Settings show. lib/config.ts checks it at start, lib/mail/events.ts verifies with it.
 */
export function sendGridWebhookKey(base64: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not an EC P-256 public key');
  return key;
}
