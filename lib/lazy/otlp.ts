/**
 * OpenTelemetry over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT), loaded by
 * lib/telemetry/telemetry.ts only when that setting is there: traces through a batch
 * span processor, metrics through a periodic reader, the W3C trace context carried in
 * async context. Any collector (or Jaeger, Aspire, Grafana Alloy) listens there.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createRecorder } from '../telemetry/recorder.js';
import type { Recorder, TelemetrySettings } from '../telemetry/telemetry.js';

export async function startOtlp(settings: TelemetrySettings): Promise<Recorder> {
  const base = settings.otlpEndpoint!.replace(/\/+$/, '');
  const resource = resourceFromAttributes({ 'service.name': 'guestpass' });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))] });
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: settings.metricExportIntervalMs })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return createRecorder(trace.getTracer('guestpass'), metrics.getMeter('guestpass'), async () => {
    await tracerProvider.forceFlush();
    await meterProvider.forceFlush();
  });
}
