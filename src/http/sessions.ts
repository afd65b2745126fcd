/**
 * The sessions of one HTTP front: open (capped: the oldest idle one makes room), looked up by
 * id, swept (stalled streams cut, idle and abandoned sessions expired), dropped with their
 * service, and the client each service's stateless 2026-07-28 requests share; one event budget for all.
 * @module
 */

import { randomBytes } from "node:crypto";
import type { HttpDoor, HttpLogger } from "./door.ts";
import { HttpSession, IDLE_AFTER_MS, type StoreBudget } from "./session.ts";

/** The settings the table reads. */
export interface SessionSettings {
  sessionIdleMs: number;
  maxSessions: number;
  storeBytesTotal: number;
}

/** The sessions of a front. */
export class SessionTable {
  /** Stored event bytes of all sessions. */
  readonly budget: StoreBudget;
  private readonly sessions = new Map<string, { session: HttpSession; service: HttpDoor }>();
  /** Per service, the session its stateless 2026-07-28 requests share (see {@link statelessFor}). */
  private readonly stateless = new Map<HttpDoor, HttpSession>();
  /** Stateless sessions that take no more requests (their client was refused, or its server failed): ended once idle. */
  private readonly retired = new Map<HttpSession, HttpDoor>();
  private readonly sweepTimer: ReturnType<typeof setInterval>;

  constructor(
    private readonly settings: SessionSettings,
    private readonly log: HttpLogger,
  ) {
    this.budget = { used: 0, max: settings.storeBytesTotal };
    const idleMs = settings.sessionIdleMs;
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(10_000, Math.max(50, idleMs / 4)));
  }

  /** Open sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** A new session on `service` (its client opened there), or undefined when every session is busy. */
  open(service: HttpDoor, version: string | undefined, workspace: string | undefined): HttpSession | undefined {
    if (!this.makeRoom()) return undefined;
    const session = new HttpSession(
      {
        id: randomBytes(16).toString("hex"),
        stallTimeoutMs: service.options.clientStallTimeoutMs,
        budget: this.budget,
        idleAfterMs: Math.min(IDLE_AFTER_MS, this.settings.sessionIdleMs / 2),
      },
      (s, reason) => this.end(s, reason),
    );
    session.version = version;
    session.client = service.openClient(session, "http", workspace ? { explicit: workspace } : undefined);
    this.sessions.set(session.id, { session, service });
    this.log.debug(`http session ${session.label} opened`);
    return session;
  }

  private statelessSeq = 0;

  /**
   * The session the stateless 2026-07-28 requests of `service` share: one long-lived client,
   * the HTTP principal's (every HTTP client holds the same token), each request a stream of
   * its own under a key of its own (two requests with the same id never meet), cancelled
   * alone when its stream closes. A session whose client was refused (a limit, a workspace)
   * or whose server failed for good takes no more requests: the next one gets a new client,
   * and the old one ends once its streams have.
   */
  statelessFor(service: HttpDoor): HttpSession {
    const current = this.stateless.get(service);
    if (current && !current.ended && current.client.refusal === undefined && !service.clientFailed(current.client)) {
      current.lastActive = Date.now();
      return current;
    }
    // Done with at once when nothing of it is open (a refused client's requests are answered at
    // once: a run of refusals never piles up clients); else once its streams have ended.
    if (current && !current.ended) {
      if (unused(current)) current.close("replaced");
      else this.retired.set(current, service);
    }
    const session: HttpSession = new HttpSession(
      {
        // Its id is never sent (no Mcp-Session-Id): a counter, not 128 random bits.
        id: `stateless-${++this.statelessSeq}`,
        stallTimeoutMs: service.options.clientStallTimeoutMs,
        stateless: true,
        idleAfterMs: Math.min(IDLE_AFTER_MS, this.settings.sessionIdleMs / 2),
        cancel: (key, reason) => service.cancelRequest(session.client, key, reason),
      },
      (s, reason) => {
        if (this.stateless.get(service) === s) this.stateless.delete(service);
        this.retired.delete(s);
        if (s.client) service.closeClient(s.client, reason);
        this.log.debug(`http stateless client ${s.label} ended: ${reason}`);
      },
    );
    session.version = "2026-07-28";
    this.stateless.set(service, session);
    session.client = service.openClient(session, "http");
    return session;
  }

  /** The session `id` names on `service`: "missing" without an id, "unknown" when none (or ended). */
  lookup(id: string | null, service: HttpDoor): HttpSession | "missing" | "unknown" {
    if (!id) return "missing";
    const entry = this.sessions.get(id);
    if (!entry || entry.service !== service || entry.session.ended) return "unknown";
    entry.session.lastActive = Date.now();
    return entry.session;
  }

  /** End every session of a service (it stops, or is removed by a reload). */
  dropService(service: HttpDoor): void {
    for (const { session, service: s } of [...this.sessions.values()])
      if (s === service) session.close("the service stopped");
    this.stateless.get(service)?.close("the service stopped");
    for (const [session, s] of [...this.retired]) if (s === service) session.close("the service stopped");
  }

  /** End every session and stateless request; stop the sweep. */
  close(reason: string): void {
    clearInterval(this.sweepTimer);
    for (const { session } of [...this.sessions.values()]) session.close(reason);
    for (const session of [...this.stateless.values(), ...this.retired.keys()]) session.close(reason);
  }

  // --- internal ---

  private end(s: HttpSession, reason: string): void {
    const entry = this.sessions.get(s.id);
    this.sessions.delete(s.id);
    if (entry && s.client) entry.service.closeClient(s.client, reason);
    this.log.debug(`http session ${s.label} ended: ${reason}`);
  }

  /** Cut stalled streams, expire idle and abandoned sessions. */
  private sweep(): void {
    const now = Date.now();
    const idleMs = this.settings.sessionIdleMs;
    for (const { session } of [...this.sessions.values()]) {
      if (session.sweep(now) > 0)
        this.log.debug(`http session ${session.label}: a stream cut off (its client took nothing)`);
      if (session.openStreams === 0 && now - session.lastActive > idleMs) session.close("idle session expired");
      // Opened and never used (no `initialized`, nothing since): abandoned, not worth 30 minutes.
      else if (
        !session.client.operational &&
        session.openStreams === 0 &&
        now - session.lastActive > Math.min(idleMs, ABANDONED_MS)
      )
        session.close("abandoned session (never initialized) expired");
    }
    // The shared stateless clients: stalled streams cut; ended once idle (an isolated or
    // workspace child is released), or, retired, once nothing of theirs is open.
    for (const session of [...this.stateless.values(), ...this.retired.keys()]) {
      if (session.sweep(now) > 0) this.log.debug("http stateless request: a stream cut off (its client took nothing)");
      if (session.idle) session.close("idle");
      else if (this.retired.has(session) && unused(session)) session.close("refused, and done");
    }
  }

  /** Make room for a new session: end the oldest idle one. False when every session is busy. */
  private makeRoom(): boolean {
    const max = this.settings.maxSessions;
    if (this.sessions.size < max) return true;
    let oldest: HttpSession | undefined;
    for (const { session } of this.sessions.values()) {
      if (session.openStreams > 0 || session.client.inflight.size > 0) continue;
      if (!oldest || session.lastActive < oldest.lastActive) oldest = session;
    }
    if (!oldest) return false;
    oldest.close(`ended to make room: more than ${max} HTTP sessions`);
    return true;
  }
}

/** Nothing of the session is open: no stream, no request in flight. */
function unused(session: HttpSession): boolean {
  return session.openStreams === 0 && session.client.inflight.size === 0;
}

/** A session opened and never used is ended after this long (not the 30-minute idle time). */
const ABANDONED_MS = 60_000;
