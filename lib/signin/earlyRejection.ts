/**
 * Per-instance memory of "this key is refused until T", in front of the storage
 * checks, so a caller over its limit costs no transaction at all. Memory is not
 * shared between instances, which is fine for early rejection: storage stays
 * authoritative, and every instance learns the refusal from storage once.
 */
export interface EarlyRejection {
  /** Seconds left while `key` is refused, else 0. */
  until(key: string, now: number): number;
  block(key: string, untilMs: number): void;
}

export function createEarlyRejection(maxKeys = 50_000): EarlyRejection {
  const blocked = new Map<string, number>();
  return {
    until(key, now) {
      const until = blocked.get(key);
      if (until === undefined) return 0;
      if (until <= now) {
        blocked.delete(key);
        return 0;
      }
      return Math.max(1, Math.ceil((until - now) / 1000));
    },
    block(key, untilMs) {
      // Bounded: the oldest entries go first (a Map iterates in insertion order).
      if (blocked.size >= maxKeys) blocked.delete(blocked.keys().next().value!);
      blocked.delete(key);
      blocked.set(key, untilMs);
    },
  };
}
