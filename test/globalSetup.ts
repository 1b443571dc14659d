import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startAzurite, type RunningAzurite } from '../scripts/azurite.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnectionString: string;
  }
}

let azurite: RunningAzurite | undefined;

/** One Azurite (Table and Queue services) for the whole run, and the built app that every local host serves. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  azurite = await startAzurite({ port: await freePort(), queuePort: await freePort() });
  project.provide('azuriteConnectionString', azurite.connectionString);
  return async () => {
    await azurite?.stop();
  };
}
