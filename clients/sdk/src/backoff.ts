/** How long to wait before reconnecting. */
export interface BackoffOptions {
  /** The first step (default 500 ms). */
  baseMs?: number;
  /** The longest wait (default 30 s). */
  maxMs?: number;
}

/** Exponential backoff with full jitter: a random wait in [0, min(max, base × 2^attempt)). */
export function fullJitter(attempt: number, { baseMs = 500, maxMs = 30_000 }: BackoffOptions = {}): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}
