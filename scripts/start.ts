import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateCodePepper, generateSigningKeys } from '../lib/keys.js';
import { readLocalSettings } from '../lib/config.js';
import { portAnswers, startAzurite, type RunningAzurite } from './azurite.js';
import { loadBuiltApp, serveApp, startTimers } from './localHost.js';

const SETTINGS = 'local.settings.json';
const SAMPLE = 'local.settings.sample.json';
const DEMO_DOMAIN = 'demo.guestpass.test';

/** A fresh clone has no local.settings.json: make one from the sample, with its own secrets. */
function ensureLocalSettings(): void {
  if (existsSync(SETTINGS)) return;
  copyFileSync(SAMPLE, SETTINGS);
  const settings = JSON.parse(readFileSync(SETTINGS, 'utf8')) as { Values: Record<string, string> };
  settings.Values.CODE_PEPPER = generateCodePepper();
  settings.Values.SIGNING_KEYS = generateSigningKeys();
  settings.Values.LOCAL_FUNCTION_KEY = generateCodePepper();
  writeFileSync(SETTINGS, `${JSON.stringify(settings, null, 2)}\n`);
  console.log(`Created ${SETTINGS} from ${SAMPLE} with fresh local secrets (git ignores it).`);
}

function azuritePort(connectionString: string): number | undefined {
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return 10002;
  const match = /TableEndpoint=https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)/i.exec(connectionString);
  return match ? Number(match[1]) : undefined;
}

async function ensureDemoTenant(base: string, key: string): Promise<{ id: string }> {
  const headers = { 'x-functions-key': key, 'content-type': 'application/json' };
  const existing = await fetch(`${base}/api/manage/tenants/${DEMO_DOMAIN}`, { headers });
  if (existing.ok) return (await existing.json()) as { id: string };
  const created = await fetch(`${base}/api/manage/tenants`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      displayName: 'Contoso (demo)',
      domains: [DEMO_DOMAIN],
      allowedOrigins: [base],
      redirectUris: [`${base}/`],
    }),
  });
  if (!created.ok) throw new Error(`Could not create the demo tenant: ${created.status} ${await created.text()}`);
  return (await created.json()) as { id: string };
}

async function main(): Promise<void> {
  ensureLocalSettings();
  const settings = { ...readLocalSettings(), ...process.env };
  const port = azuritePort(settings.TABLES_CONNECTION_STRING ?? 'UseDevelopmentStorage=true');
  let azurite: RunningAzurite | undefined;
  if (port !== undefined) {
    if (await portAnswers(port)) console.log(`Azurite already answers on port ${port}; using it.`);
    else azurite = azuriteStarted = await startAzurite({ port, location: '.azurite' });
  }

  // The app reads local.settings.json itself, as it would under Core Tools.
  const app = loadBuiltApp();
  const { server, port: hostPort } = await serveApp(app, app.config.port);
  const base = `http://localhost:${hostPort}`;
  const tenant = await ensureDemoTenant(base, app.config.localFunctionKey!);
  const stopTimers = startTimers(app.registrations.timer ?? []);

  console.log(`
guestpass is running.

  Demo page (sign in here):  ${base}/
  API base URL:              ${base}/api
  Demo tenant:               ${tenant.id}  (also reachable as ${DEMO_DOMAIN})
  Management key:            ${app.config.localFunctionKey}   (header x-functions-key)
  Dev outbox:                ${base}/api/dev/outbox
  Timers:                    ${(app.registrations.timer ?? []).map((t) => `${t.name} (${String(t.options.schedule)})`).join(', ') || 'none'}
  Azurite (Table service):   ${azurite ? `started on port ${port}, data in .azurite/` : 'external'}

Press Ctrl-C to stop.`);

  const stop = async () => {
    console.log('\nStopping…');
    stopTimers();
    server.close();
    server.closeAllConnections();
    await azurite?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

let azuriteStarted: RunningAzurite | undefined;
main().catch(async (error) => {
  console.error(error instanceof Error ? error.message : error);
  await azuriteStarted?.stop();
  process.exit(1);
});
