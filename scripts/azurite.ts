import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { get } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

export interface AzuriteOptions {
  port: number;
  /** A folder for the data; in memory when absent. */
  location?: string;
  silent?: boolean;
}

export interface RunningAzurite {
  port: number;
  connectionString: string;
  process?: ChildProcess;
  stop(): Promise<void>;
}

export function tableConnectionString(port: number): string {
  return [
    'DefaultEndpointsProtocol=http',
    'AccountName=devstoreaccount1',
    'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
    `TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
  ].join(';');
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether Azurite's Table service answers on the port (it names itself in the Server header). */
export function azuriteAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/devstoreaccount1/Tables', timeout: 2000 }, (response) => {
      response.resume();
      resolve(/^Azurite-Table\//.test(String(response.headers.server ?? '')));
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

function azuriteTableBin(): string {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const pkg = require.resolve('azurite/package.json');
  return join(dirname(pkg), 'dist', 'src', 'table', 'main.js');
}

/**
 * Starts Azurite's Table service (always with --disableTelemetry: Azurite otherwise
 * tries to reach Application Insights).
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const args = [
    azuriteTableBin(),
    '--tableHost', '127.0.0.1',
    '--tablePort', String(options.port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
  ];
  const child = spawn(process.execPath, args, { stdio: options.silent === false ? 'inherit' : 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!(await portAnswers(options.port))) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode} (is port ${options.port} taken?)`);
    if (Date.now() > deadline) throw new Error('Azurite did not start within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port: options.port,
    connectionString: tableConnectionString(options.port),
    process: child,
    async stop() {
      // Azurite saves its data (with a location) only on SIGINT; SIGTERM loses the
      // last few seconds. SIGTERM is the fallback if it does not close in time.
      if (child.exitCode === null) child.kill('SIGINT');
      const fallback = setTimeout(() => child.kill('SIGTERM'), 5000);
      await exited;
      clearTimeout(fallback);
    },
  };
}
