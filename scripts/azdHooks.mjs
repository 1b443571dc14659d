// azd hooks (azure.yaml): `preprovision` gives a new azd environment its secrets once,
// `postdown` lets the next `azd up` make a Key Vault of its own.
//
// Plain JavaScript on Node's built-ins, run as it is: no build, nothing from node_modules.
// azd >= 1.25 runs the preprovision hook while it packages the service (`npm install`,
// `npm run build`, which rewrites dist/ and deploy/): "Package steps overlap with
// provision intentionally" (Azure/azure-dev cli/azd/internal/cmd/up_graph.go, UpGraphAction:
// package-<svc> depends only on event-prepackage, cmdhook-preprovision only on
// cmdhook-prepackage). A hook that built itself into dist/ raced that build.
//
// azd runs hooks with the environment's values in the process environment
// (cli/azd/pkg/ext/hooks_runner.go) and passes them into infra/main.parameters.json,
// where `${NAME}` is replaced inside the parameter's JSON text before it is parsed
// (cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go, loadParameters). So a value is
// stored JSON-string-escaped: the JSON of SIGNING_KEYS holds quotes that would otherwise
// end the string early.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { pathToFileURL } from 'node:url';
import { generateCodePepper, generateSigningKeys } from '../lib/signin/secretGeneration.mjs';

/** The azd environment values this project keeps, and what each becomes in main.bicep. */
export const AZD_VALUES = {
  codePepper: 'GUESTPASS_CODE_PEPPER',
  signingKeys: 'GUESTPASS_SIGNING_KEYS',
  operatorKey: 'GUESTPASS_OPERATOR_KEY',
  acsEventsSecret: 'GUESTPASS_ACS_EVENTS_SECRET',
  sendGridApiKey: 'GUESTPASS_SENDGRID_API_KEY',
  emailTransport: 'GUESTPASS_EMAIL_TRANSPORT',
  emailFrom: 'GUESTPASS_EMAIL_FROM',
  keyVaultSuffix: 'GUESTPASS_KEY_VAULT_SUFFIX',
};

/** A value as azd must hold it so that substituted into a JSON string it reads back as itself. */
export function escapedForParameters(value) {
  return JSON.stringify(value).slice(1, -1);
}

/**
 * `azd env set NAME=VALUE`: one argument, so a value that starts with `-` (a random
 * base64url value does one time in 64) is never read as a flag by azd's command line
 * (cobra/pflag); azd splits it at the first `=` (cli/azd/cmd/env.go, envSetAction.Run).
 */
export function azdEnvSet(name, value, env = process.env) {
  const environment = env.AZURE_ENV_NAME;
  execFileSync('azd', ['env', 'set', `${name}=${value}`, ...(environment ? ['-e', environment] : [])], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

async function ask(question) {
  if (!process.stdin.isTTY) return undefined;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await prompt.question(question)).trim() || undefined;
  } finally {
    prompt.close();
  }
}

/** A value the operator must give: asked for on a terminal, else one line saying how to give it. */
async function required(env, name, question, what) {
  if (env[name]) return true;
  const answer = await ask(question);
  if (!answer) {
    process.stderr.write(`${name} is not set: ${what}. Run: azd env set ${name}=<value>, then azd up again.\n`);
    return false;
  }
  azdEnvSet(name, escapedForParameters(answer), env);
  return true;
}

export async function preprovision(env = process.env) {
  const transport = env[AZD_VALUES.emailTransport] || 'acs';
  if (transport !== 'acs' && transport !== 'sendgrid') {
    process.stderr.write(`${AZD_VALUES.emailTransport} is ${transport}: it must be acs (the default) or sendgrid. Run: azd env set ${AZD_VALUES.emailTransport}=acs\n`);
    return 1;
  }
  // Only the selected provider's own values are asked for: ACS needs none, it signs in as the identity.
  if (transport === 'sendgrid') {
    if (!(await required(env, AZD_VALUES.sendGridApiKey, 'SendGrid API key for guestpass mail (Mail Send only; kept in this azd environment and Key Vault): ', 'with SendGrid the app does not start without an API key (Mail Send only)'))) return 1;
    if (!(await required(env, AZD_VALUES.emailFrom, 'Sender address SendGrid has verified for guestpass mail: ', 'SendGrid sends only from a sender it has verified'))) return 1;
  } else if (env[AZD_VALUES.emailFrom]) {
    process.stderr.write(`${AZD_VALUES.emailFrom} is not used with ACS: mail goes from DoNotReply@ the linked sender domain (output GUESTPASS_EMAIL_SENDER); for your own domain set GUESTPASS_EMAIL_CUSTOM_DOMAIN.\n`);
  }
  // Once per environment: a value already there is kept, so provisioning again never signs anyone out.
  const generated = [
    [AZD_VALUES.codePepper, () => escapedForParameters(generateCodePepper())],
    [AZD_VALUES.signingKeys, () => escapedForParameters(generateSigningKeys())],
    // The operator credential (azd env get-value GUESTPASS_OPERATOR_KEY shows it to the operator).
    [AZD_VALUES.operatorKey, () => generateCodePepper()],
    // The secret in the Event Grid subscription URL of ACS delivery reports.
    [AZD_VALUES.acsEventsSecret, () => generateCodePepper()],
    // A Key Vault name of this provisioning's own: `azd down` leaves the old vault
    // soft-deleted (purge protection keeps its name for 90 days), and postdown clears it.
    [AZD_VALUES.keyVaultSuffix, () => randomBytes(2).toString('hex')],
  ];
  for (const [name, make] of generated) if (!env[name]) azdEnvSet(name, make(), env);
  return 0;
}

export function postdown(env = process.env) {
  azdEnvSet(AZD_VALUES.keyVaultSuffix, '', env);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const hook = process.argv[2];
  if (hook === 'preprovision') preprovision().then((code) => (process.exitCode = code));
  else if (hook === 'postdown') process.exitCode = postdown();
  else {
    process.stderr.write('usage: node scripts/azdHooks.mjs preprovision|postdown\n');
    process.exitCode = 2;
  }
}
