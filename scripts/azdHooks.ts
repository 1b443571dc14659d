// azd hooks (azure.yaml): `preprovision` gives a new azd environment its secrets once,
// `postdown` lets the next `azd up` make a Key Vault of its own.
//
// azd runs hooks with the environment's values in the process environment
// (Azure/azure-dev cli/azd/pkg/ext/hooks_runner.go) and passes them into
// infra/main.parameters.json, where `${NAME}` is replaced inside the parameter's JSON
// text before it is parsed (cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go,
// loadParameters / evalParamEnvSubst). So a value is stored JSON-string-escaped: the
// JSON of SIGNING_KEYS holds quotes that would otherwise end the string early.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { generateCodePepper, generateSigningKeys } from '../lib/signin/keys.js';

/** The azd environment values this project keeps, and what each becomes in main.bicep. */
export const AZD_VALUES = {
  codePepper: 'GUESTPASS_CODE_PEPPER',
  signingKeys: 'GUESTPASS_SIGNING_KEYS',
  operatorKey: 'GUESTPASS_OPERATOR_KEY',
  sendGridApiKey: 'GUESTPASS_SENDGRID_API_KEY',
  keyVaultSuffix: 'GUESTPASS_KEY_VAULT_SUFFIX',
} as const;

/** A value as azd must hold it so that substituted into a JSON string it reads back as itself. */
export function escapedForParameters(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

function azdEnvSet(name: string, value: string): void {
  const environment = process.env.AZURE_ENV_NAME;
  execFileSync('azd', ['env', 'set', name, value, ...(environment ? ['-e', environment] : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function askSendGridKey(): Promise<string | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question('SendGrid API key for guestpass mail (Mail Send only; stored in this azd environment and Key Vault): ');
    return answer.trim() || undefined;
  } finally {
    prompt.close();
  }
}

async function preprovision(): Promise<number> {
  const env = process.env;
  // Once per environment: a value already there is kept, so redeploying never signs anyone out.
  if (!env[AZD_VALUES.codePepper]) azdEnvSet(AZD_VALUES.codePepper, escapedForParameters(generateCodePepper()));
  if (!env[AZD_VALUES.signingKeys]) azdEnvSet(AZD_VALUES.signingKeys, escapedForParameters(generateSigningKeys()));
  // The management credential (azd env get-value GUESTPASS_OPERATOR_KEY shows it to the operator).
  if (!env[AZD_VALUES.operatorKey]) azdEnvSet(AZD_VALUES.operatorKey, escapedForParameters(generateCodePepper()));
  // A Key Vault name of this provisioning's own: `azd down` leaves the old vault soft-deleted
  // (purge protection keeps its name for 90 days), and postdown clears the suffix.
  if (!env[AZD_VALUES.keyVaultSuffix]) azdEnvSet(AZD_VALUES.keyVaultSuffix, randomBytes(2).toString('hex'));
  if (!env[AZD_VALUES.sendGridApiKey]) {
    const key = await askSendGridKey();
    if (!key) {
      process.stderr.write(
        `${AZD_VALUES.sendGridApiKey} is not set: the app does not start without a SendGrid key. Run: azd env set ${AZD_VALUES.sendGridApiKey} <a SendGrid API key with Mail Send only>, then azd up again.\n`,
      );
      return 1;
    }
    azdEnvSet(AZD_VALUES.sendGridApiKey, escapedForParameters(key));
  }
  return 0;
}

function postdown(): number {
  azdEnvSet(AZD_VALUES.keyVaultSuffix, '');
  return 0;
}

const hook = process.argv[2];
if (hook === 'preprovision') preprovision().then((code) => (process.exitCode = code));
else if (hook === 'postdown') process.exitCode = postdown();
else {
  process.stderr.write('usage: node dist/scripts/azdHooks.js preprovision|postdown\n');
  process.exitCode = 2;
}
