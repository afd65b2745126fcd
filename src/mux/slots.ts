/**
 * Active-client slots and the FIFO of held requests: at most `max` clients have requests at
 * the child at once, and at most `maxRequests` requests (0: any number); requests beyond
 * either limit (and every request while the child is not ready) wait here in arrival order,
 * each with its own deadline.
 * @module
 */

import type { RequestMessage } from "../protocol/message.ts";
import type { MuxClient } from "./client.ts";

/** A client request waiting for the child to be ready or for an active-client slot. */
export interface Held {
  client: MuxClient;
  msg: RequestMessage;
  timer: ReturnType<typeof setTimeout>;
  /** Forward it (called once it may go). */
  run: () => void;
  /** Answer it without forwarding (shutdown, failure). */
  refuse: (line: string) => void;
}

/** The slots of one router. */
export class Slots {
  private readonly active = new Set<MuxClient>();
  private readonly atChild = new Map<MuxClient, number>();
  private held: Held[] = [];
  /** Counted requests at the child. */
  private running = 0;

  constructor(
    private readonly max: number,
    private readonly maxRequests = 0,
  ) {}

  /** Counted requests at the child now. */
  get atChildRequests(): number {
    return this.running;
  }

  /** Clients with requests at the child. */
  get activeClients(): number {
    return this.active.size;
  }

  /** Requests waiting. */
  get queued(): number {
    return this.held.length;
  }

  /** May `client` send a request (`method`) to the child now? */
  admits(client: MuxClient, method: string): boolean {
    if (!(this.active.has(client) || this.active.size < this.max)) return false;
    return !this.counts(method) || this.running < this.maxRequests || this.maxRequests === 0;
  }

  /** One more request of `client` is at the child. True when it counts against `maxRequests`. */
  take(client: MuxClient, method: string): boolean {
    this.atChild.set(client, (this.atChild.get(client) ?? 0) + 1);
    this.active.add(client);
    const counted = this.counts(method);
    if (counted) this.running++;
    return counted;
  }

  /** One request of `client` left the child. True when that may let a held request go. */
  release(client: MuxClient, counted = false): boolean {
    let freed = false;
    if (counted) {
      this.running--;
      freed = this.maxRequests > 0 && this.held.length > 0;
    }
    const left = (this.atChild.get(client) ?? 1) - 1;
    if (left > 0) {
      this.atChild.set(client, left);
      return freed;
    }
    this.atChild.delete(client);
    return this.active.delete(client) || freed;
  }

  /** Queue a request. */
  hold(entry: Held): void {
    this.held.push(entry);
  }

  /** Forward held requests, oldest first, that may go now (and pass `only`, when given). */
  pump(only?: (entry: Held) => boolean): void {
    if (this.held.length === 0) return;
    const still: Held[] = [];
    for (const h of this.held) {
      if (h.client.closed) {
        clearTimeout(h.timer);
        continue;
      }
      if ((!only || only(h)) && this.admits(h.client, h.msg.method)) {
        clearTimeout(h.timer);
        h.client.inflight.delete(h.msg.key);
        h.run();
      } else still.push(h);
    }
    this.held = still;
  }

  /** Forget the held entry with this timer (it expired). */
  expire(timer: ReturnType<typeof setTimeout>): Held | undefined {
    const i = this.held.findIndex((h) => h.timer === timer);
    return i < 0 ? undefined : this.held.splice(i, 1)[0];
  }

  /** The client cancelled a held request: forget it, answer nothing. */
  cancel(client: MuxClient, key: string): boolean {
    const before = this.held.length;
    this.held = this.held.filter((h) => {
      if (h.client !== client || h.msg.key !== key) return true;
      clearTimeout(h.timer);
      return false;
    });
    client.inflight.delete(key);
    return this.held.length !== before;
  }

  /** The client left: forget its held requests and its slot. */
  drop(client: MuxClient): void {
    this.held = this.held.filter((h) => {
      if (h.client !== client) return true;
      clearTimeout(h.timer);
      return false;
    });
    this.active.delete(client);
    this.atChild.delete(client);
  }

  /** Answer every held request with `line(rawId)` (failure, shutdown). */
  refuseAll(line: (rawId: string) => string): void {
    const held = this.held;
    this.held = [];
    for (const h of held) {
      clearTimeout(h.timer);
      h.client.inflight.delete(h.msg.key);
      h.refuse(line(h.msg.rawId));
    }
  }

  // --- internal ---

  /** Pings and long-lived listens never wait behind the request limit. */
  private counts(method: string): boolean {
    return this.maxRequests > 0 && method !== "ping" && method !== "subscriptions/listen";
  }
}
