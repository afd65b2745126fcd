/**
 * `HeldQueue`: client requests held before the child may take them, in arrival order, each
 * with its own deadline. One queue type for both places that hold: the active-client slots
 * (`slots.ts`: the child is not ready, or no slot is free) and the handshake (`handshake.ts`:
 * an initialize waiting for the child's). A held request counts as in flight for its client
 * (mux id 0), so a client that half-closes still gets its answer; leaving the queue in any
 * way clears its timer and, when it is answered or let go, that mark.
 * @module
 */

import type { RequestMessage } from "../../protocol/message.ts";
import type { MuxClient } from "../client.ts";

/** What every held entry has. */
export interface HeldRequest {
  client: MuxClient;
  msg: RequestMessage;
}

/** A queue of held requests; `T` adds what the holder needs to let an entry go. */
export class HeldQueue<T extends HeldRequest> {
  private items: { entry: T; timer: ReturnType<typeof setTimeout> }[] = [];

  /** Entries waiting. */
  get size(): number {
    return this.items.length;
  }

  /** The oldest entry, if any. */
  get first(): T | undefined {
    return this.items[0]?.entry;
  }

  /**
   * Hold `entry` until it is let go, or `timeoutMs` passes: then it leaves the queue, its
   * in-flight mark is removed and `expired(entry)` answers it.
   */
  hold(entry: T, timeoutMs: number, expired: (entry: T) => void): void {
    entry.client.inflight.set(entry.msg.key, 0);
    const item = {
      entry,
      timer: setTimeout(() => {
        const i = this.items.indexOf(item);
        if (i < 0) return;
        this.items.splice(i, 1);
        entry.client.inflight.delete(entry.msg.key);
        expired(entry);
      }, timeoutMs),
    };
    this.items.push(item);
  }

  /**
   * Let entries go, oldest first: each one `go` accepts leaves the queue (timer cleared, in-flight
   * mark removed) and `run` is called before the next is looked at (so `go` sees its effect).
   * Entries of closed clients are forgotten on the way.
   */
  release(go: (entry: T) => boolean, run: (entry: T) => void): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    const still: typeof items = [];
    for (const item of items) {
      const { entry } = item;
      if (entry.client.closed) {
        clearTimeout(item.timer);
        continue;
      }
      if (!go(entry)) {
        still.push(item);
        continue;
      }
      clearTimeout(item.timer);
      entry.client.inflight.delete(entry.msg.key);
      run(entry);
    }
    this.items = still.concat(this.items);
  }

  /** Take every entry (to answer them): timers cleared, in-flight marks removed. */
  takeAll(): T[] {
    const items = this.items;
    this.items = [];
    for (const item of items) {
      clearTimeout(item.timer);
      item.entry.client.inflight.delete(item.entry.msg.key);
    }
    return items.map((i) => i.entry);
  }

  /** Forget the entries `which` matches, unanswered (timers cleared). True if any was. */
  forget(which: (entry: T) => boolean): boolean {
    const before = this.items.length;
    this.items = this.items.filter((item) => {
      if (!which(item.entry)) return true;
      clearTimeout(item.timer);
      return false;
    });
    return this.items.length !== before;
  }
}
