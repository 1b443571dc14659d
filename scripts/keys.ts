// npm run keys: fresh secrets for a deployment, and signing-key rotation.
//
//   npm run --silent keys                             SIGNING_KEYS, CODE_PEPPER, OPERATOR_KEY and ACS_EVENTS_SECRET, new
//   npm run --silent keys -- --rotate '<SIGNING_KEYS>'  a new ES256 and RS256 key first, the current ones kept to verify
//   npm run --silent keys -- --retire '<SIGNING_KEYS>'  only the signing keys, once the old tokens have expired
//
// Values go to stdout as shell assignments (eval-able); the how-to goes to stderr.
import { generateCodePepper, generateSigningKeys, parseSigningKeys, retireSigningKeys, rotateSigningKeys } from '../lib/signin/keys.js';

const SECRET_NAMES = { SIGNING_KEYS: 'signing-keys', CODE_PEPPER: 'code-pepper', OPERATOR_KEY: 'operator-key', ACS_EVENTS_SECRET: 'acs-events-secret' } as const;
type SecretSetting = keyof typeof SECRET_NAMES;

/** Single-quoted for a POSIX shell (JWK JSON and base64url never hold a quote, but be exact). */
function shellQuoted(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function storeInstructions(settings: SecretSetting[]): string[] {
  return [
    'Store them in the Key Vault of the deployment (output AZURE_KEY_VAULT_NAME), never in app settings or git.',
    'The app reads them through Key Vault references. Paste the lines above into bash (or eval this output), then:',
    '',
    ...settings.map(
      (setting) => `  az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name ${SECRET_NAMES[setting]} --value="$${setting}" --output none`,
    ),
    '  az functionapp restart --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME"',
    '',
    'The restart makes every instance resolve the references again (otherwise they refresh within 24 hours).',
  ];
}

function main(args: string[]): number {
  const [flag, value] = args;
  const out: Partial<Record<SecretSetting, string>> = {};
  let notes: string[];
  if (flag === undefined) {
    out.SIGNING_KEYS = generateSigningKeys();
    out.CODE_PEPPER = generateCodePepper();
    out.OPERATOR_KEY = generateCodePepper();
    out.ACS_EVENTS_SECRET = generateCodePepper();
    notes = [
      'Fresh signing keys (an ES256 P-256 JWK for sessions and ES256 ID tokens, an RS256 RSA-2048 JWK for RS256 ID tokens, each with its kid),',
      'a fresh code pepper, a fresh operator credential and a fresh secret for ACS delivery reports.',
      ...storeInstructions(['SIGNING_KEYS', 'CODE_PEPPER', 'OPERATOR_KEY', 'ACS_EVENTS_SECRET']),
      'OPERATOR_KEY is the operator credential, which administers every tenant (header x-functions-key); keep it out of shells\' history.',
      'A new CODE_PEPPER makes codes already mailed unusable (they last 30 minutes); sessions are unaffected.',
    ];
  } else if ((flag === '--rotate' || flag === '--retire') && value) {
    try {
      out.SIGNING_KEYS = flag === '--rotate' ? rotateSigningKeys(value) : retireSigningKeys(value);
    } catch (error) {
      process.stderr.write(`SIGNING_KEYS given to ${flag} is invalid: ${(error as Error).message}\n`);
      return 1;
    }
    const keys = parseSigningKeys(out.SIGNING_KEYS);
    const signers = keys.slice(0, flag === '--rotate' ? 2 : keys.length).map((key) => `${key.kid} (${key.alg})`).join(' and ');
    const verifiers = keys.slice(2).map((key) => key.kid);
    notes =
      flag === '--rotate'
        ? [
            `Keys ${signers} sign from now on; ${verifiers.join(', ')} only verify (public keys, private parts dropped),`,
            'so every session and ID token they signed stays valid until it expires.',
            ...storeInstructions(['SIGNING_KEYS']),
            'After SESSION_TTL_SECONDS (24 hours by default) have passed, drop the old keys:',
            `  npm run --silent keys -- --retire "$SIGNING_KEYS"`,
          ]
        : [`Only ${signers} are left; tokens signed by the keys dropped no longer verify.`, ...storeInstructions(['SIGNING_KEYS'])];
  } else {
    process.stderr.write(
      'usage: npm run --silent keys [-- --rotate <SIGNING_KEYS> | -- --retire <SIGNING_KEYS>]\n' +
        "  (fetch the current value with: az keyvault secret show --vault-name <vault> --name signing-keys --query value -o tsv)\n",
    );
    return 2;
  }
  for (const [setting, secret] of Object.entries(out)) process.stdout.write(`${setting}=${shellQuoted(secret)}\n`);
  process.stderr.write(`\n${notes.map((line) => (line ? `# ${line}` : '#')).join('\n')}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
