import type { MetricKey } from './metrics.js';

/*
 * OpenTelemetry for guestpass, loaded only when asked for: with
 * APPLICATIONINSIGHTS_CONNECTION_STRING, Microsoft's distro (@azure/monitor-opentelemetry,
 * lib/lazy/azureMonitor.ts); with OTEL_EXPORTER_OTLP_ENDPOINT, OTLP over HTTP
 * (lib/lazy/otlp.ts). Neither is a static import: this module is all a cold start loads,
 * and without either setting every call here is a no-op.
 *
 * What is recorded is ids and small enums (tenant.id, guest.id, an outcome, an error
 * code): never an address, a code, a token or a key.
 */
export type Attributes = Record<string, string | number | boolean | undefined>;

export type DependencyKind = 'Table' | 'Queue' | 'mail' | 'webhook' | 'eventgrid';

/** What a loaded exporter provides (lib/telemetry/recorder.ts makes one over @opentelemetry/api). */
export interface Recorder {
  /** Runs `work` as a SERVER span (a request, or queued work with the traceparent it carries). */
  request<T>(name: string, attributes: Attributes, work: (span: { set(attributes: Attributes): void }) => Promise<T>, traceparent?: string): Promise<T>;
  /** Runs `work` as a CLIENT span under the active one. */
  dependency<T>(kind: DependencyKind, name: string, attributes: Attributes, work: () => Promise<T>): Promise<T>;
  /** Adds attributes to the active span. */
  annotate(attributes: Attributes): void;
  count(metric: MetricKey, value: number, attributes: Attributes): void;
  /** Records the current value of a gauge. */
  gauge(metric: MetricKey, value: number, attributes: Attributes): void;
  /** The W3C traceparent of the active span, to carry into queued work. */
  traceparent(): string | undefined;
  flush(): Promise<void>;
}

export interface TelemetrySettings {
  applicationInsightsConnectionString?: string;
  otlpEndpoint?: string;
  /** The user-assigned identity Application Insights ingestion signs in as (local auth is off). */
  managedIdentityClientId?: string;
  metricExportIntervalMs: number;
}

let recorder: Recorder | undefined;
let loading: Promise<void> | undefined;

/** Starts the exporter the settings name, once per process; resolves when it records (never rejects). */
export function startTelemetry(settings: TelemetrySettings): Promise<void> {
  if (loading) return loading;
  if (!settings.applicationInsightsConnectionString && !settings.otlpEndpoint) return (loading = Promise.resolve());
  loading = (async () => {
    try {
      recorder = settings.applicationInsightsConnectionString
        ? await (await import('../lazy/azureMonitor.js')).startAzureMonitor(settings)
        : await (await import('../lazy/otlp.js')).startOtlp(settings);
    } catch (error) {
      console.warn(`guestpass: telemetry did not start (${(error as Error).message}); serving without it.`);
    }
  })();
  return loading;
}

/** Resolves once a started exporter records (at once when none was started). */
export function telemetryReady(): Promise<void> {
  return loading ?? Promise.resolve();
}

function clean(attributes: Attributes): Attributes {
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined));
}

export const telemetry = {
  request<T>(name: string, attributes: Attributes, work: (span: { set(attributes: Attributes): void }) => Promise<T>, traceparent?: string): Promise<T> {
    return recorder ? recorder.request(name, clean(attributes), work, traceparent) : work({ set() {} });
  },
  dependency<T>(kind: DependencyKind, name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
    return recorder ? recorder.dependency(kind, name, clean(attributes), work) : work();
  },
  annotate(attributes: Attributes): void {
    recorder?.annotate(clean(attributes));
  },
  count(metric: MetricKey, attributes: Attributes, value = 1): void {
    recorder?.count(metric, value, clean(attributes));
  },
  gauge(metric: MetricKey, value: number, attributes: Attributes): void {
    recorder?.gauge(metric, value, clean(attributes));
  },
  traceparent(): string | undefined {
    return recorder?.traceparent();
  },
  flush(): Promise<void> {
    return recorder?.flush() ?? Promise.resolve();
  },
};
