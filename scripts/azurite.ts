import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { get } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

export interface AzuriteOptions {
  /** The Table service's port. */
  port: number;
  /** The Queue service's port, when the queue runs too (mail leaves through it). */
  queuePort?: number;
  /** A folder for the data; in memory when absent. */
  location?: string;
  silent?: boolean;
}

export interface RunningAzurite {
  port: number;
  queuePort?: number;
  /** Azurite's well-known account, with the endpoints of the services started. */
  connectionString: string;
  process?: ChildProcess;
  stop(): Promise<void>;
}

export function tableConnectionString(port: number, queuePort?: number): string {
  return [
    'DefaultEndpointsProtocol=http',
    'AccountName=devstoreaccount1',
    'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
    `TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1`,
    ...(queuePort ? [`QueueEndpoint=http://127.0.0.1:${queuePort}/devstoreaccount1`] : []),
  ].join(';') + ';';
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

function azuriteBin(service: 'table' | 'queue'): string {
  // Found from this script (dist/scripts/ or scripts/ in the repository), wherever it runs from.
  const require = createRequire(__filename);
  const pkg = require.resolve('azurite/package.json');
  return join(dirname(pkg), 'dist', 'src', service, 'main.js');
}

interface ServiceProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** One Azurite service in a process of its own, once its port answers. */
async function startService(service: 'table' | 'queue', port: number, options: AzuriteOptions): Promise<ServiceProcess> {
  const args = [
    azuriteBin(service),
    `--${service}Host`, '127.0.0.1',
    `--${service}Port`, String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
  ];
  const child = spawn(process.execPath, args, { stdio: options.silent === false ? 'inherit' : 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!(await portAnswers(port))) {
    if (child.exitCode !== null) throw new Error(`Azurite's ${service} service exited with code ${child.exitCode} (is port ${port} taken?)`);
    if (Date.now() > deadline) throw new Error(`Azurite's ${service} service did not start within 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
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

/**
 * Starts Azurite's Table service, and its Queue service when a queue port is given
 * (always with --disableTelemetry: Azurite otherwise tries to reach Application Insights).
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const [table, queue] = await Promise.all([
    startService('table', options.port, options),
    options.queuePort ? startService('queue', options.queuePort, options) : undefined,
  ]);
  return {
    port: options.port,
    queuePort: options.queuePort,
    connectionString: tableConnectionString(options.port, options.queuePort),
    process: table.child,
    async stop() {
      await Promise.all([table.stop(), queue?.stop()]);
    },
  };
}

/** Azurite's Queue service alone (npm start, when the Table service is already there or started apart). */
export async function startAzuriteQueue(options: { port: number; location?: string }): Promise<{ stop(): Promise<void> }> {
  return startService('queue', options.port, { ...options });
}
