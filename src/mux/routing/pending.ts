/**
 * Requests at the child: mux ids, the pending table (answer, cancel, timeout by one sweep
 * timer) and the long-lived `subscriptions/listen` requests whose notifications carry their id.
 * @module
 */

import type { MuxClient } from "../client.ts";
import { Deadlines } from "../deadlines.ts";
import type { Pending } from "./types.ts";

/** An open `subscriptions/listen` (2026-07-28): its owner and the owner's raw id. */
export interface Listen {
  client: MuxClient;
  rawId: string;
  /** The listen request's id key at its client (where its notifications belong: its HTTP stream). */
  key?: string;
}

/** The pending requests of one child. */
export class PendingRequests {
  private readonly table = new Map<number, Pending>();
  private readonly listens = new Map<number, Listen>();
  private readonly deadlines: Deadlines<Pending>;
  private next = 1;

  /** `expire` is called for an entry whose deadline passed (still in the table). */
  constructor(expire: (p: Pending) => void) {
    this.deadlines = new Deadlines(this.table, expire);
  }

  /** A fresh mux id (ids are never reused within a router). */
  nextId(): number {
    return this.next++;
  }

  /** Requests waiting on the child. */
  get size(): number {
    return this.table.size;
  }

  get(muxId: number): Pending | undefined {
    return this.table.get(muxId);
  }

  /** The entry of this mux id while it is pending. */
  has(muxId: number): boolean {
    return this.table.has(muxId);
  }

  /** Pending requests of clients (not the mux's own). */
  get ofClients(): number {
    let n = 0;
    for (const p of this.table.values()) if (p.client) n++;
    return n;
  }

  /** Every pending entry, oldest first (a copy: callers may drop entries while iterating). */
  all(): Pending[] {
    return [...this.table.values()];
  }

  /** Add an entry; with `listen` it is long-lived (no deadline), else its deadline is armed. */
  add(p: Pending, listen?: Listen): void {
    if (listen) this.listens.set(p.muxId, listen);
    this.table.set(p.muxId, p);
    if (p.deadline !== undefined) this.deadlines.arm();
  }

  /** Remove and return the entry of `muxId` (answered), if pending. */
  take(muxId: number): Pending | undefined {
    const p = this.table.get(muxId);
    if (p) this.remove(p);
    return p;
  }

  /** Remove an entry (answered, cancelled, timed out, failed). */
  remove(p: Pending): void {
    this.table.delete(p.muxId);
    this.listens.delete(p.muxId);
  }

  /** Any listen open (the quick test before a notification is looked at for a listen id). */
  get listening(): boolean {
    return this.listens.size > 0;
  }

  /** The open listen of this mux id. */
  listen(muxId: number): Listen | undefined {
    return this.listens.get(muxId);
  }

  /** Forget every listen (the child is gone). */
  clearListens(): void {
    this.listens.clear();
  }

  /** Stop the sweep timer (shutdown). */
  stop(): void {
    this.deadlines.clear();
  }
}
