/**
 * One service: its socket, its client sessions, its router, and the supervision of its child
 * (spawn, restart with exponential backoff, failure limit, lazy start, shutdown).
 * @module
 */

import { existsSync } from "node:fs";
import { MuxError } from "../errors.ts";
import { checkSocketPath, type Listener, listenUnix } from "./listener.ts";
import type { MuxLogger } from "./logger.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { Router } from "./router.ts";
import { ClientSession } from "./session.ts";
import { createStatusWriter, type StatusSnapshot, type StatusWriter } from "./status.ts";
import { spawnUpstream, type Upstream } from "./upstream.ts";

/** Package version reported to servers as the mux's clientInfo. */
export const MUX_VERSION = "0.1.0";

/** A running service. Built by `startMux`; not exported from the package. */
export class MuxService {
  readonly options: ResolvedServiceOptions;
  readonly router: Router;
  private readonly logger: MuxLogger;
  private listener: Listener<ClientSession> | undefined;
  private upstream: Upstream | undefined;
  private nextClientId = 1;
  private restarts = 0;
  private failures = 0;
  private backoff: number;
  private lastRestartReason: string | null = null;
  private childStartedAt = 0;
  private readonly startedAt = Date.now();
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private closing: Promise<void> | undefined;
  private readonly statusWriter: StatusWriter | undefined;

  constructor(options: ResolvedServiceOptions, logger: MuxLogger) {
    this.options = options;
    this.logger = logger;
    this.backoff = options.restartBackoffMs;
    this.router = new Router(
      {
        requestTimeoutMs: options.requestTimeoutMs,
        maxActiveClients: options.maxActiveClients,
        rootsPolicy: options.rootsPolicy,
        ambiguousRoute: options.ambiguousRoute,
        clientInfo: { name: "mcp-mux", version: MUX_VERSION },
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
        changed: () => this.statusWriter?.touch(),
        status: () => this.status(),
      },
    );
    if (options.statusFile) this.statusWriter = createStatusWriter(options.statusFile, () => this.status());
  }

  /** Bind the socket and (unless lazy) start the child. */
  async start(): Promise<void> {
    checkSocketPath(this.options.socket);
    checkCommand(this.options);
    this.listener = await listenUnix<ClientSession>(this.options.socket, {
      open: (socket) => {
        const session = new ClientSession({
          id: this.nextClientId++,
          socket,
          maxRequestBytes: this.options.maxRequestBytes,
          maxQueueBytes: this.options.maxClientQueueBytes,
          handlers: {
            line: (s, text) => this.router.clientLine(s, text),
            oversized: (s, info) =>
              this.router.clientOversized(s, info.bytes, info.head, info.tail, this.options.maxRequestBytes),
            closed: (s, reason) => this.router.detach(s, reason),
          },
        });
        socket.data = session;
        this.router.attach(session);
      },
      data: (socket, chunk) => socket.data?.receive(chunk),
      drain: (socket) => socket.data?.drain(),
      end: (socket) => {
        if (socket.data) this.router.clientEnded(socket.data);
      },
      close: (socket) => socket.data?.gone("disconnected"),
      error: (socket, error) => socket.data?.gone(`socket error: ${error.message}`),
    });
    if (this.options.lazyStart) {
      this.router.state = "lazy";
      this.statusWriter?.touch();
    } else this.spawn();
  }

  /** Stop accepting, let in-flight requests finish briefly, answer the rest, stop the child tree, remove the socket. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** The current status snapshot. */
  status(): StatusSnapshot {
    const r = this.router;
    const init = r.initResult;
    const info = init?.serverInfo as { name?: string; version?: string } | undefined;
    return {
      service: this.options.serviceName,
      socket: this.options.socket,
      muxPid: process.pid,
      childPid: this.upstream?.pid ?? null,
      state: r.state,
      failReason: r.state === "failed" ? (r.failReason ?? null) : null,
      restarts: this.restarts,
      lastRestartReason: this.lastRestartReason,
      connectedClients: r.sessions.size,
      activeClients: r.activeClients,
      maxActiveClients: this.options.maxActiveClients,
      queuedRequests: r.queued,
      pendingRequests: [...r.pending.values()].filter((p) => p.session).length,
      initializeCached: init !== undefined,
      protocolVersion: typeof init?.protocolVersion === "string" ? init.protocolVersion : null,
      serverInfo: info ? { name: info.name, version: info.version } : null,
      uptimeMs: Date.now() - this.startedAt,
      childUptimeMs: this.upstream ? Date.now() - this.childStartedAt : null,
      timestamp: new Date().toISOString(),
    };
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
          gone: (reason) => this.childGone(up, reason),
        },
        this.logger,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(message);
      this.lastRestartReason = message;
      this.router.fail(message);
      return;
    }
    this.upstream = up;
    this.childStartedAt = Date.now();
    this.logger.info(`started ${this.options.cmd} (pid ${up.pid})`);
    this.router.childStarted();
  }

  private childGone(up: Upstream, reason: string): void {
    if (this.upstream !== up) return;
    this.upstream = undefined;
    void up.stop(this.options.killGraceMs);
    if (this.closing) return;
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
      this.router.fail(why);
      return;
    }
    this.router.childGone(reason, "restarting");
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.restartBackoffMaxMs);
    this.restarts++;
    this.logger.warn(`${reason}; restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => this.spawn(), delay);
    this.statusWriter?.touch();
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.router.closing = true;
    this.listener?.server.stop(false);
    const until = Date.now() + this.options.shutdownGraceMs;
    while (this.router.pending.size > 0 && Date.now() < until) await Bun.sleep(10);
    this.router.shutdown();
    for (const s of [...this.router.sessions]) s.close("mcp-mux is shutting down");
    const up = this.upstream;
    this.upstream = undefined;
    await up?.stop(this.options.killGraceMs);
    this.listener?.close();
    this.router.state = "stopped";
    this.statusWriter?.flush();
  }
}

// --- internal ---

function checkCommand(options: ResolvedServiceOptions): void {
  const { cmd } = options;
  const found = cmd.includes("/")
    ? existsSync(cmd)
    : Bun.which(cmd, { PATH: options.env?.PATH ?? process.env.PATH ?? "", cwd: options.cwd }) !== null;
  if (!found) {
    throw new MuxError(
      "SPAWN_FAILED",
      `cannot start MCP server command "${cmd}": command not found (check the path or PATH)`,
    );
  }
}
