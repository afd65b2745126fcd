/**
 * One child MCP server and the router in front of it, with its supervision: spawn, restart
 * with exponential backoff, the consecutive-failure limit, lazy start and shutdown. A shared
 * service has one engine; an isolated service has one per client.
 * @module
 */

import { VERSION } from "../version.ts";
import type { MuxLogger } from "./logger.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { Router } from "./router.ts";
import { spawnUpstream, type Upstream } from "./upstream.ts";

/** What an engine reports to its service. */
export interface EngineHooks {
  changed(): void;
  status(): unknown;
  /** A line the child wrote to stderr (it is logged as well). */
  stderr?(text: string): void;
  /** A lifecycle event: started, exited and why, restarting, failed, waiting for a first request. */
  event?(text: string): void;
}

/** A supervised child and its router. */
export class Engine {
  readonly router: Router;
  restarts = 0;
  lastRestartReason: string | null = null;
  childStartedAt = 0;
  private upstream: Upstream | undefined;
  private failures = 0;
  private backoff: number;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private closing: Promise<void> | undefined;
  /** A client found the child's stdin behind: wake the clients once it drains. */
  private busyReported = false;

  constructor(
    private readonly options: ResolvedServiceOptions,
    private readonly logger: MuxLogger,
    private readonly hooks: EngineHooks,
  ) {
    this.backoff = options.restartBackoffMs;
    this.router = new Router(
      {
        requestTimeoutMs: options.requestTimeoutMs,
        maxActiveClients: options.maxActiveClients,
        maxConcurrentRequests: options.maxConcurrentRequests,
        rootsPolicy: options.rootsPolicy,
        ambiguousRoute: options.ambiguousRoute,
        childCapabilities: options.childCapabilities,
        clientInfo: { name: "mcp-mux", version: VERSION },
        logger,
      },
      {
        writeChild: (line) => this.upstream?.write(line) ?? false,
        ensureChild: () => {
          if (this.router.state === "lazy" && !this.closing) this.spawn();
        },
        childUnusable: (reason) => {
          const up = this.upstream;
          if (up) this.childGone(up, reason);
        },
        changed: () => hooks.changed(),
        status: () => hooks.status(),
      },
    );
  }

  /** Start the child now, or wait for the first request when `lazy`. */
  start(lazy: boolean): void {
    if (lazy) {
      this.router.state = "lazy";
      this.hooks.event?.("dormant: the child starts with the first request");
      this.hooks.changed();
    } else this.spawn();
  }

  /** True while the child's stdin is so far behind that no client should be read. */
  get busy(): boolean {
    const behind = (this.upstream?.backlog ?? 0) > this.options.childHighWaterBytes;
    if (behind) this.busyReported = true;
    return behind;
  }

  /** The child's pid, if one is running. */
  get childPid(): number | null {
    return this.upstream?.pid ?? null;
  }

  /** Let in-flight requests finish briefly, answer the rest, stop the child tree. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // --- internal ---

  private spawn(): void {
    this.restartTimer = undefined;
    this.router.state = "starting";
    let up: Upstream;
    try {
      up = spawnUpstream(
        { cmd: this.options.cmd, args: this.options.args, env: this.options.env, cwd: this.options.cwd },
        {
          line: (text) => this.router.childLine(text),
          bytes: (data) => this.router.childBytes(data),
          gone: (reason) => this.childGone(up, reason),
          drained: () => this.childDrained(),
          // The request being written is one of them: more than one means others are waiting.
          busy: () => this.router.pending.size > 1,
          stderr: this.hooks.stderr,
        },
        this.logger,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(message);
      this.lastRestartReason = message;
      this.hooks.event?.(`failed to start: ${message}`);
      this.router.fail(message);
      return;
    }
    this.upstream = up;
    this.childStartedAt = Date.now();
    this.logger.info(`started ${this.options.cmd} (pid ${up.pid})`);
    this.hooks.event?.(`started ${this.options.cmd} (pid ${up.pid})`);
    this.router.childStarted();
  }

  private childDrained(): void {
    if (!this.busyReported) return;
    this.busyReported = false;
    for (const c of this.router.clients) c.wake();
  }

  private childGone(up: Upstream, reason: string): void {
    if (this.upstream !== up) return;
    this.upstream = undefined;
    this.childDrained();
    void up.stop(this.options.killGraceMs);
    if (this.closing) return;
    this.hooks.event?.(`child exited: ${reason}`);
    if (Date.now() - this.childStartedAt >= this.options.healthyAfterMs) {
      this.failures = 0;
      this.backoff = this.options.restartBackoffMs;
    }
    this.failures++;
    this.lastRestartReason = reason;
    const limit = this.options.maxRestarts;
    if (limit > 0 && this.failures > limit) {
      const why = `restart limit reached (${limit}); last failure: ${reason}`;
      this.logger.error(`service ${this.options.serviceName} failed: ${why}`);
      this.hooks.event?.(`failed: ${why}`);
      this.router.fail(why);
      return;
    }
    this.router.childGone(reason, "restarting");
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.restartBackoffMaxMs);
    this.restarts++;
    this.logger.warn(`${reason}; restarting in ${delay} ms`);
    this.hooks.event?.(`restart ${this.restarts}: ${reason}; restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => this.spawn(), delay);
    this.hooks.changed();
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.router.closing = true;
    const until = Date.now() + this.options.shutdownGraceMs;
    while (this.router.pending.size > 0 && Date.now() < until) await Bun.sleep(10);
    this.router.shutdown();
    for (const c of [...this.router.clients]) c.close("mcp-mux is shutting down");
    const up = this.upstream;
    this.upstream = undefined;
    await up?.stop(this.options.killGraceMs);
    this.router.state = "stopped";
    this.hooks.event?.("stopped");
  }
}
