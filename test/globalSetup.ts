import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startAzurite, type RunningAzurite } from '../scripts/azurite.js';
import { chromiumExecutable } from '../scripts/chromium.js';
import { generateSigningKeys } from '../lib/signin/keys.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnectionString: string;
    /** SIGNING_KEYS for every host of the run: an RSA key takes most of a second to make, so it is made once. */
    testSigningKeys: string;
  }
}

let azurite: RunningAzurite | undefined;

/** One Azurite (Table and Queue services) for the whole run, the built app that every local host serves, and the browser. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  // Unpacked once here, before the suites' processes start: two of them unpacking at once
  // could launch a half-written file.
  await chromiumExecutable();
  azurite = await startAzurite({ port: await freePort(), queuePort: await freePort() });
  project.provide('azuriteConnectionString', azurite.connectionString);
  project.provide('testSigningKeys', generateSigningKeys());
  return async () => {
    await azurite?.stop();
  };
}
