import type { HourSummary } from './api.js';

const HOUR = 3_600_000;

/** Every hour of the window, oldest first, zero where the server reported nothing. */
export function hourlySeries(summary: HourSummary[], hours: number, now = Date.now()): HourSummary[] {
  const byHour = new Map(summary.map((entry) => [Date.parse(entry.hour), entry]));
  const last = Math.floor(now / HOUR) * HOUR;
  return Array.from({ length: hours }, (_, index) => {
    const at = last - (hours - 1 - index) * HOUR;
    const found = byHour.get(at);
    return {
      hour: new Date(at).toISOString(),
      signIns: found?.signIns ?? 0,
      failures: found?.failures ?? 0,
      codesSent: found?.codesSent ?? 0,
      stepUps: found?.stepUps ?? 0,
      mailsFailed: found?.mailsFailed ?? 0,
      refusals: found?.refusals ?? { domain_blocked: 0, otp_disabled: 0, guest_disabled: 0 },
    };
  });
}

