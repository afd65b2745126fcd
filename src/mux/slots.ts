/**
 * Active-client slots and the FIFO of held requests: at most `max` clients have requests at
 * the child at once, and at most `maxRequests` requests (0: any number); requests beyond
 * either limit (and every request while the child is not ready) wait here in arrival order,
 * each with its own deadline.
 * @module
 */

import type { MuxClient } from "./client.ts";
import { HeldQueue, type HeldRequest } from "./routing/held.ts";

/** A client request waiting for the child to be ready or for an active-client slot. */
export interface Held extends HeldRequest {
  /** Forward it (called once it may go). */
  run: () => void;
  /** Answer it without forwarding (shutdown, failure). */
  refuse: (line: string) => void;
}

/** The slots of one router. */
export class Slots {
  private readonly active = new Set<MuxClient>();
  private readonly atChild = new Map<MuxClient, number>();
  private readonly held = new HeldQueue<Held>();
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
    return this.held.size;
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
      freed = this.maxRequests > 0 && this.held.size > 0;
    }
    const left = (this.atChild.get(client) ?? 1) - 1;
    if (left > 0) {
      this.atChild.set(client, left);
      return freed;
    }
    this.atChild.delete(client);
    return this.active.delete(client) || freed;
  }

  /** Hold a request until it may go, or `timeoutMs` passes (then `expired` answers it). */
  hold(entry: Held, timeoutMs: number, expired: (entry: Held) => void): void {
    this.held.hold(entry, timeoutMs, expired);
  }

  /** Forward held requests, oldest first, that may go now (and pass `only`, when given). */
  pump(only?: (entry: Held) => boolean): void {
    this.held.release(
      (h) => (!only || only(h)) && this.admits(h.client, h.msg.method),
      (h) => h.run(),
    );
  }

  /** The client cancelled a held request: forget it, answer nothing. */
  cancel(client: MuxClient, key: string): boolean {
    const found = this.held.forget((h) => h.client === client && h.msg.key === key);
    client.inflight.delete(key);
    return found;
  }

  /** The client left: forget its held requests and its slot. */
  drop(client: MuxClient): void {
    this.held.forget((h) => h.client === client);
    this.active.delete(client);
    this.atChild.delete(client);
  }

  /** Answer every held request with `line(rawId)` (failure, shutdown). */
  refuseAll(line: (rawId: string) => string): void {
    for (const h of this.held.takeAll()) h.refuse(line(h.msg.rawId));
  }

  // --- internal ---

  /** Pings and long-lived listens never wait behind the request limit. */
  private counts(method: string): boolean {
    return this.maxRequests > 0 && method !== "ping" && method !== "subscriptions/listen";
  }
}
