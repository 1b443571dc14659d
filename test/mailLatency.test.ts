import { describe, expect, it } from 'vitest';
import { createMailLatency } from '../lib/runtime.js';

/** Every value sample() can return, found by asking often enough. */
function possibleSamples(latency: ReturnType<typeof createMailLatency>): Set<number> {
  const seen = new Set<number>();
  for (let i = 0; i < 2_000; i += 1) seen.add(latency.sample());
  return seen;
}

describe('the mail latency that masks uninvited addresses', () => {
  it('is nothing before any mail was sent', () => {
    expect(createMailLatency().sample()).toBe(0);
  });

  it("uses the instance's first mail, which includes connecting, only until a second one is sent", () => {
    const latency = createMailLatency();
    latency.record(900);
    expect(possibleSamples(latency)).toEqual(new Set([900]));
    latency.record(110);
    expect(possibleSamples(latency)).toEqual(new Set([110]));
    latency.record(120);
    expect(possibleSamples(latency)).toEqual(new Set([110, 120]));
  });

  it('follows the last 16 sends, so a burst of slow mail is forgotten quickly', () => {
    const latency = createMailLatency();
    for (let i = 0; i < 40; i += 1) latency.record(2_000);
    for (let i = 0; i < 16; i += 1) latency.record(100 + i);
    expect(Math.max(...possibleSamples(latency))).toBeLessThan(2_000);
  });
});
