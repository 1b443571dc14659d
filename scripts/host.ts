import { serveApp, startAppQueues } from './localHost.js';

/** Serves the built app on PORT (0 picks a free port), runs its queue triggers, and prints the port as a JSON line. */
async function main(): Promise<void> {
  const { server, port, app } = await serveApp();
  const queues = startAppQueues(app);
  console.log(JSON.stringify({ listening: port }));
  const stop = () => {
    server.close();
    void queues.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// One line, no stack trace: start-up failures are settings to fix (ConfigError names the setting).
main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
