import { context, propagation, SpanKind, SpanStatusCode, trace, type Counter, type Gauge, type Meter, type Tracer } from '@opentelemetry/api';
import { METRICS, type MetricKey } from './metrics.js';
import type { Recorder } from './telemetry.js';

/**
 * The Recorder over @opentelemetry/api, for either exporter. Bundled into each lazy
 * telemetry bundle (lib/lazy/otlp.ts, lib/lazy/azureMonitor.ts), never into the app.
 */
export function createRecorder(tracer: Tracer, meter: Meter, flush: () => Promise<void>): Recorder {
  const counters = new Map<MetricKey, Counter>();
  const counter = (key: MetricKey) => {
    let found = counters.get(key);
    if (!found) {
      const metric = METRICS[key];
      found = meter.createCounter(metric.name, { unit: metric.unit });
      counters.set(key, found);
    }
    return found;
  };
  const gauges = new Map<MetricKey, Gauge>();
  const gauge = (key: MetricKey) => {
    let found = gauges.get(key);
    if (!found) {
      const metric = METRICS[key];
      found = meter.createGauge(metric.name, { unit: metric.unit });
      gauges.set(key, found);
    }
    return found;
  };
  const run = async <T>(span: ReturnType<Tracer['startSpan']>, work: () => Promise<T>): Promise<T> => {
    try {
      return await context.with(trace.setSpan(context.active(), span), work);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.name ?? 'error' });
      throw error;
    } finally {
      span.end();
    }
  };
  return {
    request(name, attributes, work, traceparent) {
      const parent = traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: attributes as Record<string, string | number | boolean> }, parent);
      return context.with(parent, () => run(span, () => work({ set: (more) => span.setAttributes(more as Record<string, string | number | boolean>) })));
    },
    dependency(kind, name, attributes, work) {
      const span = tracer.startSpan(`${kind} ${name}`, { kind: SpanKind.CLIENT, attributes: { 'guestpass.dependency': kind, ...(attributes as Record<string, string | number | boolean>) } });
      return run(span, work);
    },
    annotate(attributes) {
      trace.getActiveSpan()?.setAttributes(attributes as Record<string, string | number | boolean>);
    },
    count(metric, value, attributes) {
      counter(metric).add(value, attributes as Record<string, string | number | boolean>);
    },
    gauge(metric, value, attributes) {
      gauge(metric).record(value, attributes as Record<string, string | number | boolean>);
    },
    traceparent() {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      return carrier.traceparent;
    },
    flush,
  };
}
