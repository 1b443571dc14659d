/**
 * Microsoft's OpenTelemetry distro for Azure Monitor, loaded by lib/telemetry/telemetry.ts
 * only with APPLICATIONINSIGHTS_CONNECTION_STRING. The Application Insights component
 * takes Entra ID ingestion only (infra/modules/monitoring.bicep: DisableLocalAuth), so
 * the exporter signs in as the app's user-assigned identity.
 */
import { metrics, trace } from '@opentelemetry/api';
import { shutdownAzureMonitor, useAzureMonitor } from '@azure/monitor-opentelemetry';
import { ManagedIdentityCredential } from '@azure/identity';
import { createRecorder } from '../telemetry/recorder.js';
import type { Recorder, TelemetrySettings } from '../telemetry/telemetry.js';

export async function startAzureMonitor(settings: TelemetrySettings): Promise<Recorder> {
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: settings.applicationInsightsConnectionString,
      ...(settings.managedIdentityClientId ? { credential: new ManagedIdentityCredential({ clientId: settings.managedIdentityClientId }) } : {}),
    },
    // The Functions host already reports each invocation; guestpass adds its own request spans.
    enableLiveMetrics: false,
    // Every trace, not the distro's default of 5 a second: an attack is many requests a second,
    // and those are the ones worth seeing.
    samplingRatio: 1,
    tracesPerSecond: 0,
    // guestpass makes its own dependency spans (Table, Queue, mail, webhook): the generic HTTP and
    // Azure SDK ones would repeat them, and trace the queue polling of a local run.
    instrumentationOptions: { http: { enabled: false }, azureSdk: { enabled: false } },
  });
  const providers = [trace.getTracerProvider(), metrics.getMeterProvider()] as unknown as { forceFlush?: () => Promise<void> }[];
  process.once('beforeExit', () => void shutdownAzureMonitor().catch(() => undefined));
  return createRecorder(trace.getTracer('guestpass'), metrics.getMeter('guestpass'), async () => {
    await Promise.all(providers.map((provider) => provider.forceFlush?.()));
  });
}
