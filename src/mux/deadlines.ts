/**
 * Request deadlines with one timer: every request of a router gets the same timeout, so the
 * pending map's insertion order is deadline order and only the oldest deadline needs a timer.
 * @module
 */

/** Something with a deadline (`performance.now()` time); undefined = exempt (long-lived). */
export interface WithDeadline {
  deadline?: number;
}

/** The one sweep timer over a map of pending entries. */
export class Deadlines<T extends WithDeadline> {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pending: Map<number, T>,
    private readonly expire: (entry: T) => void,
  ) {}

  /** Make sure a timer runs for the oldest deadline (call after adding an entry). */
  arm(): void {
    if (this.timer) return;
    for (const p of this.pending.values()) {
      if (p.deadline === undefined) continue;
      this.timer = setTimeout(() => this.sweep(), Math.max(0, p.deadline - performance.now()) + 1);
      return;
    }
  }

  /** Stop the timer (shutdown). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // --- internal ---

  private sweep(): void {
    this.timer = undefined;
    const now = performance.now();
    const expired: T[] = [];
    for (const p of this.pending.values()) {
      if (p.deadline === undefined) continue;
      if (p.deadline > now) break;
      expired.push(p);
    }
    for (const p of expired) this.expire(p);
    this.arm();
  }
}
