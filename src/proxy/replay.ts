/**
 * A reconnected mux-proxy replays the host's session (initialize, initialized, log level,
 * subscriptions) to the new daemon: this reads the daemon's lines meanwhile, keeps the answers
 * to the replayed requests (found by their top-level id) from the host, and hands every other
 * line on afterwards.
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";
import { scanObject } from "../protocol/scan.ts";

const decoder = new TextDecoder();

/** Reading a new daemon's lines while the session is replayed. */
export class Replay {
  private carry: Uint8Array[] = [];
  private initAnswer: string | undefined;
  private readonly waiting: Set<string>;
  private wake: (() => void) | undefined;
  private passing: Uint8Array[] = [];

  constructor(
    private readonly initId: string,
    after: { id?: string }[],
  ) {
    this.waiting = new Set(after.map((a) => a.id).filter((id): id is string => id !== undefined));
  }

  /** The connection closed during the replay. */
  failed = false;

  fail(): void {
    this.failed = true;
    this.wake?.();
  }

  /** Read a chunk: replay answers are kept; other whole lines pass to the host later. */
  take(chunk: Uint8Array): void {
    this.carry.push(chunk);
    const all = concatBytes(this.carry);
    this.carry = [];
    let at = 0;
    for (;;) {
      const nl = all.indexOf(0x0a, at);
      if (nl < 0) break;
      const line = all.subarray(at, nl + 1);
      at = nl + 1;
      const text = decoder.decode(line);
      const span = scanObject(text)?.keys.get("id");
      const id = span ? text.slice(span[0], span[1]) : undefined;
      if (id === this.initId) this.initAnswer = text;
      else if (id !== undefined && this.waiting.delete(id)) {
        /* a replay answer: kept from the host */
      } else this.passing.push(line);
      this.wake?.();
    }
    if (at < all.length) this.carry = [all.subarray(at)];
  }

  /** The daemon's answer to the replayed initialize (undefined: none in time). */
  async initialized(ms: number): Promise<string | undefined> {
    const until = Date.now() + ms;
    while (this.initAnswer === undefined && !this.failed && Date.now() < until) await this.next(until);
    return this.initAnswer;
  }

  /** Wait for the answers to the other replayed requests. */
  async settled(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.waiting.size > 0 && !this.failed && Date.now() < until) await this.next(until);
  }

  /** Bytes that belong to the host: lines that were not replay answers, and any partial line. */
  rest(): Uint8Array {
    return concatBytes([...this.passing, ...this.carry]);
  }

  private next(until: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      setTimeout(resolve, Math.max(0, Math.min(100, until - Date.now())));
    });
  }
}
