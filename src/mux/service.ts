/**
 * One service: its socket, its client sessions, and its engine(s): one shared child, or one
 * child per client in isolated mode. Aggregates status.
 * @module
 */

import { existsSync } from "node:fs";
import { MuxError } from "../errors.ts";
import { helloEnv } from "../protocol/hello.ts";
import { type ClientPort, MuxClient } from "./client.ts";
import { Engine } from "./engine.ts";
import { checkSocketPath, type Listener, listenUnix } from "./listener.ts";
import type { MuxLogger } from "./logger.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { SocketClient } from "./socket-client.ts";
import { createStatusWriter, type StatusSnapshot, type StatusWriter } from "./status.ts";

/** A running service. Built by `startMux`; not exported from the package. */
export class MuxService {
  readonly options: ResolvedServiceOptions;
  private readonly logger: MuxLogger;
  private listener: Listener<SocketClient> | undefined;
  private nextClientId = 1;
  private readonly startedAt = Date.now();
  private closing: Promise<void> | undefined;
  private readonly statusWriter: StatusWriter | undefined;
  /** The shared engine (undefined in isolated mode). */
  private readonly shared: Engine | undefined;
  /** Per-client engines in isolated mode. */
  private readonly isolated = new Map<MuxClient, Engine>();
  /** Shared mode: one engine per distinct env forwarded by clients' proxies (`mcp-mux/hello`). */
  private readonly byEnv = new Map<string, Engine>();
  /** Sessions served by an env engine instead of the shared one. */
  private readonly moved = new Map<MuxClient, Engine>();
  /** Restarts of isolated and env engines that have already closed. */
  private pastRestarts = 0;
  /** Requests served by children that are gone (isolated and forwarded-env children). */
  private pastRequests = 0;

  constructor(options: ResolvedServiceOptions, logger: MuxLogger) {
    this.options = options;
    this.logger = logger;
    if (options.statusFile)
      this.statusWriter = createStatusWriter(options.statusFile, () => this.status(), { warn: (m) => logger.warn(m) });
    if (!options.isolated) this.shared = this.newEngine();
  }

  /** Bind the socket and (unless lazy or isolated) start the child. */
  async start(): Promise<void> {
    checkSocketPath(this.options.socket);
    checkCommand(this.options);
    const o = this.options;
    this.listener = await listenUnix<SocketClient>(o.socket, {
      open: (socket) => {
        const conn = new SocketClient({
          id: this.nextClientId++,
          socket,
          maxRequestBytes: o.maxRequestBytes,
          limits: { highWaterBytes: o.clientHighWaterBytes, maxInflight: o.maxClientInflight },
          stallTimeoutMs: o.clientStallTimeoutMs,
          handlers: {
            line: (c, text) => this.line(c, text),
            oversized: (c, info) =>
              this.engineOf(c)?.router.clientOversized(c, info.bytes, info.head, info.tail, o.maxRequestBytes),
            ended: (c) => this.engineOf(c)?.router.clientEnded(c),
            closed: (c, reason) => this.detach(c, reason),
            busy: (c) => this.engineOf(c)?.busy ?? false,
          },
        });
        socket.data = conn;
        this.attach(conn.client);
      },
      data: (socket, chunk) => socket.data?.receive(chunk),
      drain: (socket) => socket.data?.drain(),
      end: (socket) => socket.data?.end(),
      close: (socket) => socket.data?.gone("disconnected"),
      error: (socket, error) => socket.data?.gone(`socket error: ${error.message}`),
    });
    this.shared?.start(this.options.lazyStart);
    this.statusWriter?.touch();
  }

  /**
   * A client arriving through another transport (an HTTP session): routed exactly like a
   * socket client, on the same child, with the same limits.
   */
  openClient(port: ClientPort, transport: string): MuxClient {
    const o = this.options;
    const client = new MuxClient(this.nextClientId++, transport, port, {
      highWaterBytes: o.clientHighWaterBytes,
      maxInflight: o.maxClientInflight,
    });
    this.attach(client);
    return client;
  }

  /** One line from a client opened with {@link openClient}. */
  clientLine(client: MuxClient, line: string | Uint8Array): void {
    this.line(client, line);
  }

  /** A client opened with {@link openClient} is gone: release everything it held. */
  closeClient(client: MuxClient, reason: string): void {
    if (client.closed) return;
    client.closed = true;
    this.detach(client, reason);
  }

  /** True while no new line of `client` should be taken (its server's stdin is behind). */
  clientBusy(client: MuxClient): boolean {
    return this.engineOf(client)?.busy ?? false;
  }

  /** True once the service is shutting down. */
  get shuttingDown(): boolean {
    return this.closing !== undefined;
  }

  /** Stop accepting, let in-flight requests finish briefly, answer the rest, stop every child tree, remove the socket. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** The current status snapshot. */
  status(): StatusSnapshot {
    const engines = this.engines();
    const routers = engines.map((e) => e.router);
    const main = this.shared;
    const r = main?.router;
    const init = r?.initResult ?? routers.find((x) => x.initResult)?.initResult;
    const info = init?.serverInfo as { name?: string; version?: string } | undefined;
    const state = r ? r.state : this.closing ? "stopped" : "ready";
    return {
      service: this.options.serviceName,
      socket: this.options.socket,
      mode: this.options.isolated ? "isolated" : "shared",
      muxPid: process.pid,
      childPid: main ? main.childPid : null,
      childPids: engines.map((e) => e.childPid).filter((p): p is number => p !== null),
      state,
      failReason: r?.state === "failed" ? (r.failReason ?? null) : null,
      startFailure: main ? main.startFailure : (engines.find((e) => e.startFailure)?.startFailure ?? null),
      restarts: this.pastRestarts + engines.reduce((n, e) => n + e.restarts, 0),
      lastRestartReason: main
        ? main.lastRestartReason
        : (engines.find((e) => e.lastRestartReason)?.lastRestartReason ?? null),
      connectedClients: [...(main ? [...main.router.clients, ...this.moved.keys()] : this.isolated.keys())].filter(
        (c) => c.session,
      ).length,
      activeClients: routers.reduce((n, x) => n + x.slots.activeClients, 0),
      maxActiveClients: this.options.maxActiveClients,
      queuedRequests: routers.reduce((n, x) => n + x.slots.queued, 0),
      pendingRequests: routers.reduce((n, x) => n + [...x.pending.values()].filter((p) => p.client).length, 0),
      requestsTotal: this.pastRequests + routers.reduce((n, x) => n + x.requestsForwarded, 0),
      initializeCached: init !== undefined,
      protocolVersion: typeof init?.protocolVersion === "string" ? init.protocolVersion : null,
      serverInfo: info ? { name: info.name, version: info.version } : null,
      uptimeMs: Date.now() - this.startedAt,
      childUptimeMs: main?.childPid ? Date.now() - main.childStartedAt : null,
      timestamp: new Date().toISOString(),
      settings: this.settings(),
    };
  }

  // --- internal ---

  private settings(): StatusSnapshot["settings"] {
    const o = this.options;
    return {
      cmd: o.cmd,
      args: o.args,
      cwd: o.cwd ?? null,
      envKeys: Object.keys(o.env ?? {}),
      maxActiveClients: o.maxActiveClients,
      maxConcurrentRequests: o.maxConcurrentRequests,
      lazyStart: o.lazyStart,
      maxRequestBytes: o.maxRequestBytes,
      requestTimeoutMs: o.requestTimeoutMs,
      restartBackoffMs: o.restartBackoffMs,
      restartBackoffMaxMs: o.restartBackoffMaxMs,
      maxRestarts: o.maxRestarts,
      healthyAfterMs: o.healthyAfterMs,
      statusFile: o.statusFile ?? null,
      rootsPolicy: o.rootsPolicy,
      ambiguousRoute: o.ambiguousRoute,
      isolated: o.isolated,
    };
  }

  private engines(): Engine[] {
    return this.shared ? [this.shared, ...this.byEnv.values()] : [...this.isolated.values()];
  }

  private newEngine(env?: Record<string, string>): Engine {
    const options = env ? { ...this.options, env: { ...(this.options.env ?? {}), ...env } } : this.options;
    return new Engine(options, this.logger, {
      changed: () => this.statusWriter?.touch(),
      status: () => this.status(),
    });
  }

  private engineOf(client: MuxClient): Engine | undefined {
    return this.moved.get(client) ?? this.shared ?? this.isolated.get(client);
  }

  /** One line of a client: its first may be a proxy's hello with forwarded env. */
  private line(client: MuxClient, line: string | Uint8Array): void {
    if (!client.greeted) {
      client.greeted = true;
      const env = typeof line === "string" ? helloEnv(line) : undefined;
      if (env !== undefined) return this.hello(client, env);
    }
    this.engineOf(client)?.router.clientLine(client, line);
  }

  /**
   * A proxy forwarded the env its host resolved: serve this client from the child running
   * with exactly that env (shared with other clients sending the same values), or, in
   * isolated mode, from its own child started with it.
   */
  private hello(client: MuxClient, env: Record<string, string>): void {
    if (Object.keys(env).length === 0) return;
    const refusal = refuseEnv(this.options, Object.keys(env));
    if (refusal) {
      client.refusal = refusal;
      this.logger.warn(`client ${client.id}: ${refusal}`);
      return;
    }
    if (!this.shared) {
      const old = this.isolated.get(client);
      if (old) {
        old.router.detach(client, "restarting with the forwarded env");
        this.retire(old);
        void old.close();
      }
      const engine = this.newEngine(env);
      this.isolated.set(client, engine);
      engine.router.attach(client);
      engine.start(this.options.lazyStart);
      return;
    }
    const key = JSON.stringify(
      Object.keys(env)
        .sort()
        .map((k) => [k, env[k]]),
    );
    let engine = this.byEnv.get(key);
    if (!engine && this.byEnv.size >= this.options.maxEnvChildren) {
      client.refusal = `too many distinct forwarded environments for service "${this.options.serviceName}" (max_env_children = ${this.options.maxEnvChildren})`;
      this.logger.warn(`client ${client.id}: ${client.refusal}`);
      return;
    }
    if (!engine) {
      engine = this.newEngine(env);
      this.byEnv.set(key, engine);
      engine.start(this.options.lazyStart);
      this.logger.info(`starting a child for a client with forwarded env (${Object.keys(env).join(", ")})`);
    }
    this.shared.router.detach(client, "served by the child with its forwarded env");
    engine.router.attach(client);
    this.moved.set(client, engine);
  }

  /** An engine goes away: keep its counts in the service's totals. */
  private retire(engine: Engine): void {
    this.pastRestarts += engine.restarts;
    this.pastRequests += engine.router.requestsForwarded;
  }

  private attach(client: MuxClient): void {
    if (this.shared) {
      this.shared.router.attach(client);
      return;
    }
    const engine = this.newEngine();
    this.isolated.set(client, engine);
    engine.router.attach(client);
    engine.start(this.options.lazyStart);
  }

  private detach(client: MuxClient, reason: string): void {
    const moved = this.moved.get(client);
    if (moved) {
      moved.router.detach(client, reason);
      this.moved.delete(client);
      if (moved.router.clients.size > 0) return;
      for (const [key, e] of this.byEnv) if (e === moved) this.byEnv.delete(key);
      this.retire(moved);
      void moved.close().then(() => this.statusWriter?.touch());
      return;
    }
    const engine = this.engineOf(client);
    engine?.router.detach(client, reason);
    if (this.shared || !engine) return;
    this.isolated.delete(client);
    this.retire(engine);
    void engine.close().then(() => this.statusWriter?.touch());
  }

  private async shutdown(): Promise<void> {
    this.listener?.server.stop(false);
    const engines = this.engines();
    await Promise.all(engines.map((e) => e.close()));
    this.listener?.close();
    this.statusWriter?.flush();
  }
}

// --- internal ---

/** Loader variables a client may never forward, whatever the config allows. */
const NEVER_FORWARDED = /^(LD_|DYLD_)/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a client's forwarded variable names are refused, or undefined when all are allowed. */
function refuseEnv(options: ResolvedServiceOptions, names: string[]): string | undefined {
  for (const name of names) {
    if (!ENV_NAME.test(name) || NEVER_FORWARDED.test(name))
      return `forwarded variable ${JSON.stringify(name.slice(0, 64))} is never accepted`;
    if (!options.forwardEnv.includes(name))
      return `forwarded variable ${name} is not allowed by service "${options.serviceName}" (allow it with forward_env = ["${name}"] in its config)`;
  }
  return undefined;
}

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
