/**
 * One service: its socket, its client sessions, and its engine(s): one shared child, or one
 * child per client in isolated mode. Aggregates status.
 * @module
 */

import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { MuxError } from "../errors.ts";
import type { OversizedLine } from "../protocol/framing.ts";
import { bigHelloRefusal, HELLO_METHOD, type Hello, readHello, type WorkspaceHint } from "../protocol/hello.ts";
import { type Message, parseMessage, type RequestMessage } from "../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { type ClientPort, MuxClient } from "./client.ts";
import type { ServiceDoor } from "./door.ts";
import { Engine } from "./engine.ts";
import { cacheFile } from "./handshake-cache.ts";
import { checkSocketPath, type Listener } from "./listener.ts";
import type { MuxLogger } from "./logger.ts";
import { statusSettingsOf } from "./option-table.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { Recorder } from "./record.ts";
import type { SocketClient } from "./socket-client.ts";
import { listenSocket } from "./socket-transport.ts";
import { createStatusWriter, redactStatus, type StatusSnapshot, type StatusWriter } from "./status.ts";
import { resolveWorkspace } from "./workspace.ts";

/**
 * A running service. Built by `startMux`; not exported from the package.
 * Over 300 lines (about 420): it still picks the engine of each client for all four sharing
 * modes (global, forwarded env, workspace, isolated) and aggregates their status; that engine
 * choice is the next unit to move out (its transport already did, to `socket-transport.ts`).
 */
export class MuxService implements ServiceDoor {
  readonly options: ResolvedServiceOptions;
  private readonly logger: MuxLogger;
  private listener: Listener<SocketClient> | undefined;
  private nextClientId = 1;
  /** Clients already released (a transport may say "gone" more than once). */
  private readonly gone = new WeakSet<MuxClient>();
  private readonly startedAt = Date.now();
  private closing: Promise<void> | undefined;
  private readonly statusWriter: StatusWriter | undefined;
  /** The shared engine (undefined in isolated mode). */
  private readonly shared: Engine | undefined;
  /** Per-client engines in isolated mode. */
  private readonly isolated = new Map<MuxClient, Engine>();
  /** Shared mode: one engine per distinct env forwarded by clients' proxies (`mcp-mux/hello`). */
  private readonly byEnv = new Map<string, Engine>();
  /** Sessions served by an env or workspace engine instead of the shared one. */
  private readonly moved = new Map<MuxClient, Engine>();
  /** `share = "workspace"`: one child per workspace (and forwarded env), by key. */
  private readonly byWorkspace = new Map<string, WorkspaceChild>();
  /** The private empty folder the no-workspace child runs in (made on first use). */
  private noWorkspaceDir: string | undefined;
  /** Restarts of isolated and env engines that have already closed. */
  private pastRestarts = 0;
  /** Requests served by children that are gone (isolated and forwarded-env children). */
  private pastRequests = 0;
  /** What flowed: messages, the children's stderr, lifecycle events (`mux logs`, the dashboard). */
  readonly recorder: Recorder;

  constructor(
    options: ResolvedServiceOptions,
    logger: MuxLogger,
    private readonly stateDir?: string,
  ) {
    this.options = options;
    this.logger = logger;
    this.recorder = new Recorder({
      service: options.serviceName,
      maxEntries: options.recordMaxEntries,
      maxBytes: options.recordMaxBytes,
      payloads: options.recordPayloads,
      redactKeys: options.recordRedact,
      secrets: Object.values(options.env ?? {}),
    });
    if (options.statusFile)
      this.statusWriter = createStatusWriter(options.statusFile, () => this.status(), { warn: (m) => logger.warn(m) });
    if (options.share === "global") this.shared = this.newEngine(undefined, undefined, this.cacheFile());
  }

  /** Bind the socket and (unless lazy or isolated) start the child. */
  async start(): Promise<void> {
    checkSocketPath(this.options.socket);
    checkCommand(this.options);
    this.listener = await listenSocket(this.options.socket, this);
    this.shared?.start(this.options.lazyStart);
    this.statusWriter?.touch();
  }

  /**
   * A client arriving through another transport (an HTTP session): routed exactly like a
   * socket client, on the same child, with the same limits.
   */
  openClient(port: ClientPort, transport: string, workspace?: WorkspaceHint): MuxClient {
    const o = this.options;
    const client = new MuxClient(this.nextClientId++, transport, port, {
      highWaterBytes: o.clientHighWaterBytes,
      maxInflight: o.maxClientInflight,
    });
    client.workspaceHint = workspace;
    this.attach(client);
    return client;
  }

  /** One line from a client opened with {@link openClient}. */
  clientLine(client: MuxClient, line: string | Uint8Array): void {
    this.line(client, line, undefined);
  }

  /** One message its transport parsed already (the HTTP front): never parsed again. */
  clientMessage(client: MuxClient, line: string | Uint8Array, msg: Message): void {
    this.line(client, line, msg);
  }

  /** A line over `max_request_bytes`: a first line may be a hello too big to read (refused). */
  clientOversized(client: MuxClient, info: OversizedLine): void {
    if (!client.greeted) {
      client.greeted = true;
      const refusal = bigHelloRefusal(info.head, info.tail, info.bytes);
      if (refusal) return this.refuse(client, refusal);
    }
    this.engineOf(client)?.router.clientOversized(
      client,
      info.bytes,
      info.head,
      info.tail,
      this.options.maxRequestBytes,
    );
  }

  /** The client finished sending: close it once what it asked is answered. */
  clientEnded(client: MuxClient): void {
    this.engineOf(client)?.router.clientEnded(client);
  }

  /** A client opened with {@link openClient} is gone: release everything it held (once). */
  closeClient(client: MuxClient, reason: string): void {
    client.closed = true;
    if (this.gone.has(client)) return;
    this.gone.add(client);
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
    const state = main ? main.state : this.closing ? "stopped" : "ready";
    const now = Date.now();
    const all = main ? [...main.router.clients, ...this.moved.keys()] : [...this.isolated.keys(), ...this.moved.keys()];
    const sessions = all.filter((c) => c.session);
    return {
      service: this.options.serviceName,
      socket: this.options.socket,
      mode: this.options.isolated ? "isolated" : this.options.share === "workspace" ? "workspace" : "shared",
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
      connectedClients: sessions.length,
      idleClients: sessions.filter((c) => c.idle).length,
      clients: sessions.map((c) => ({
        id: c.id,
        transport: c.transport,
        name: typeof c.clientInfo?.name === "string" ? c.clientInfo.name.slice(0, 100) : null,
        connectedMs: now - c.connectedAt,
        idleMs: now - c.lastSeenAt,
        idle: c.idle,
        workspace: c.workspace ?? null,
        hostPid: c.hostPid ?? null,
      })),
      workspaces: [...this.byWorkspace.values()].map((w) => ({
        dir: w.dir,
        source: w.source,
        pid: w.engine.childPid,
        state: w.engine.state,
        clients: [...w.engine.router.clients].filter((c) => c.session).length,
        requests: w.engine.router.requestsForwarded,
        idleMs: now - Math.max(w.engine.childStartedAt, ...[...w.engine.router.clients].map((c) => c.lastRequestAt)),
      })),
      activeClients: routers.reduce((n, x) => n + x.slots.activeClients, 0),
      maxActiveClients: this.options.maxActiveClients,
      queuedRequests: routers.reduce((n, x) => n + x.slots.queued, 0),
      pendingRequests: routers.reduce((n, x) => n + x.pending.ofClients, 0),
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
    return statusSettingsOf(this.options) as StatusSnapshot["settings"];
  }

  private engines(): Engine[] {
    if (this.shared) return [this.shared, ...this.byEnv.values()];
    return [...this.isolated.values(), ...[...this.byWorkspace.values()].map((w) => w.engine)];
  }

  /** The shared child's handshake cache file (none without a state folder or with `handshake_cache` off). */
  private cacheFile(): string | undefined {
    const o = this.options;
    if (!this.stateDir || !o.handshakeCache) return undefined;
    const policy = [o.childCapabilities, o.rootsPolicy];
    const spec = { service: o.serviceName, socket: o.socket, cmd: o.cmd, args: o.args, cwd: o.cwd, env: o.env, policy };
    return cacheFile(this.stateDir, spec);
  }

  private newEngine(env?: Record<string, string>, workspace?: string, cache?: string): Engine {
    let options = env ? { ...this.options, env: { ...(this.options.env ?? {}), ...env } } : this.options;
    if (workspace !== undefined) options = inWorkspace(options, workspace);
    const rec = this.recorder;
    const where = workspace !== undefined ? ` (workspace ${workspace})` : env ? " (forwarded env)" : "";
    return new Engine(
      options,
      this.logger,
      {
        changed: () => this.statusWriter?.touch(),
        status: () => this.status(),
        stderr: rec.enabled ? (text) => rec.stderr(text) : undefined,
        event: rec.enabled ? (text) => rec.event(`${text}${where}`) : undefined,
      },
      cache,
    );
  }

  private engineOf(client: MuxClient): Engine | undefined {
    return this.moved.get(client) ?? this.shared ?? this.isolated.get(client);
  }

  /** One line of a client (`msg`: already parsed by its transport): its first may be a proxy's hello with forwarded env. */
  private line(client: MuxClient, line: string | Uint8Array, msg: Message | undefined): void {
    client.lastSeenAt = Date.now();
    if (!client.greeted) {
      client.greeted = true;
      const hello = msg && !maybeHello(msg) ? undefined : typeof line === "string" ? readHello(line) : bigHello(line);
      if (hello && "refusal" in hello) return this.refuse(client, hello.refusal);
      if (hello) return this.hello(client, hello);
    }
    if (this.recorder.enabled) this.recorder.inbound(client, line);
    let engine = this.engineOf(client);
    if (!engine && !client.refusal) {
      const probe = typeof line === "string" ? this.probe(client, msg ?? parseMessage(line)) : false;
      if (probe) return;
      engine =
        this.options.share === "workspace" ? this.joinWorkspace(client, client.workspaceHint) : this.ownEngine(client);
    }
    if (engine) {
      if (msg) engine.router.clientMessage(client, msg);
      else engine.router.clientLine(client, line);
    } else if (client.refusal) refuse(client, msg ?? parseLine(line), client.refusal);
  }

  /** Isolated mode, a client with no child yet: answer `ping` and `mcp-mux/status` here. */
  private probe(client: MuxClient, msg: Message): boolean {
    if (msg.kind !== "request" || (msg.method !== "ping" && msg.method !== STATUS_METHOD)) return false;
    const result = msg.method === "ping" ? {} : redactStatus(this.status(), client.transport);
    client.send(resultLine(msg.rawId, result), "response", msg.key);
    return true;
  }

  /**
   * A proxy forwarded the env its host resolved: serve this client from the child running
   * with exactly that env (shared with other clients sending the same values), or, in
   * isolated mode, from its own child started with it.
   */
  private hello(client: MuxClient, hello: Hello): void {
    const { env } = hello;
    client.hostPid = hello.hostPid;
    if (this.options.share === "workspace") {
      client.workspaceHint = client.workspaceHint ?? hello.workspace;
      if (Object.keys(env).length > 0) {
        const refusal = refuseEnv(this.options, Object.keys(env));
        if (refusal) {
          client.refusal = refusal;
          this.logger.warn(`client ${client.id}: ${refusal}`);
          return;
        }
      }
      this.joinWorkspace(client, client.workspaceHint, env);
      return;
    }
    if (Object.keys(env).length === 0) return;
    const refusal = refuseEnv(this.options, Object.keys(env));
    if (refusal) return this.refuse(client, refusal);
    if (!this.shared) {
      const old = this.isolated.get(client);
      if (old) {
        old.router.detach(client, "restarting with the forwarded env");
        this.isolated.delete(client);
        this.retire(old);
        void old.close();
      }
      this.ownEngine(client, env);
      return;
    }
    const key = envKeyOf(env);
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

  /**
   * `share = "workspace"`: serve this client from its workspace's child (started in that
   * folder, shared by every client from it, with the same forwarded env), starting one if
   * none runs and fewer than `max_workspaces` do. A folder that is not usable is refused for
   * this client only.
   */
  private joinWorkspace(
    client: MuxClient,
    hint: WorkspaceHint | undefined,
    env: Record<string, string> = {},
  ): Engine | undefined {
    const o = this.options;
    const ws = resolveWorkspace(hint, o.workspaceKey);
    if (ws && "error" in ws) {
      client.refusal = ws.error;
      client.refusalCode = RpcErrorCode.WorkspaceRefused;
      this.logger.warn(`client ${client.id}: ${ws.error}`);
      return undefined;
    }
    const dir = ws ? (o.workspaceKey === "git-root" ? ws.key : ws.dir) : this.scratch();
    const envKey = Object.keys(env).length > 0 ? envKeyOf(env) : "";
    const key = `${ws ? ws.key : ""}\u0000${envKey}`;
    let child = this.byWorkspace.get(key);
    if (!child) {
      if (this.byWorkspace.size >= o.maxWorkspaces) this.dropIdleWorkspace();
      if (this.byWorkspace.size >= o.maxWorkspaces) {
        client.refusalCode = RpcErrorCode.LimitReached;
        client.refusal = `too many workspaces for service "${o.serviceName}" (max_workspaces = ${o.maxWorkspaces}); ${dir} gets a server when another workspace's last client leaves`;
        this.logger.warn(`client ${client.id}: ${client.refusal}`);
        return undefined;
      }
      const engine = this.newEngine(envKey ? env : undefined, dir);
      child = { engine, dir, key, source: ws?.source ?? "none", timer: undefined };
      this.byWorkspace.set(key, child);
      engine.start(o.lazyStart);
      this.logger.info(`starting a child in ${dir} (workspace from ${child.source})`);
    }
    if (child.timer) {
      clearTimeout(child.timer);
      child.timer = undefined;
    }
    client.workspace = dir;
    child.engine.router.attach(client);
    this.moved.set(client, child.engine);
    this.statusWriter?.touch();
    return child.engine;
  }

  /** A workspace child with no client left: stopped after the grace period, unless one comes. */
  private workspaceEmptied(child: WorkspaceChild): void {
    if (child.timer) clearTimeout(child.timer);
    child.timer = setTimeout(() => {
      if (child.engine.router.clients.size > 0 || this.byWorkspace.get(child.key) !== child) return;
      this.byWorkspace.delete(child.key);
      this.retire(child.engine);
      this.logger.info(`stopping the child in ${child.dir}: no client for ${this.options.workspaceGraceMs} ms`);
      void child.engine.close().then(() => this.statusWriter?.touch());
    }, this.options.workspaceGraceMs);
    child.timer.unref?.();
  }

  /** At the cap: stop one workspace child that has no client now (waiting out its grace). */
  private dropIdleWorkspace(): void {
    for (const child of this.byWorkspace.values()) {
      if (child.engine.router.clients.size > 0) continue;
      if (child.timer) clearTimeout(child.timer);
      this.byWorkspace.delete(child.key);
      this.retire(child.engine);
      void child.engine.close();
      return;
    }
  }

  /** The private empty folder for clients without a workspace (never HOME). */
  private scratch(): string {
    this.noWorkspaceDir ??= mkdtempSync(
      join(tmpdir(), `mux-no-workspace-${this.options.serviceName.replace(/[^\w-]/g, "_")}-`),
    );
    return this.noWorkspaceDir;
  }

  /** Every request of this client gets -32035 with `reason`; nothing is started for it. */
  private refuse(client: MuxClient, reason: string): void {
    client.refusal = reason;
    client.refusalCode = RpcErrorCode.EnvRefused;
    this.logger.warn(`client ${client.id}: ${reason}`);
  }

  /** An engine goes away: keep its counts in the service's totals. */
  private retire(engine: Engine): void {
    this.pastRestarts += engine.restarts;
    this.pastRequests += engine.router.requestsForwarded;
  }

  private attach(client: MuxClient): void {
    if (this.recorder.enabled) {
      const rec = this.recorder;
      client.tap = (line, kind) => rec.outbound(client, line, kind);
    }
    // Isolated mode: a client gets its child with its first request that needs one (status
    // and health probes never start a server, and never count against the cap).
    if (this.shared) this.shared.router.attach(client);
  }

  /** Isolated mode: start this client's own child, unless `max_isolated_children` are running. */
  private ownEngine(client: MuxClient, env?: Record<string, string>): Engine | undefined {
    if (this.isolated.size >= this.options.maxIsolatedChildren) {
      client.refusalCode = RpcErrorCode.LimitReached;
      client.refusal = `too many isolated servers for service "${this.options.serviceName}" (max_isolated_children = ${this.options.maxIsolatedChildren}); try again when a client leaves`;
      this.logger.warn(`client ${client.id}: ${client.refusal}`);
      return undefined;
    }
    const engine = this.newEngine(env);
    this.isolated.set(client, engine);
    engine.router.attach(client);
    engine.start(this.options.lazyStart);
    return engine;
  }

  private detach(client: MuxClient, reason: string): void {
    const moved = this.moved.get(client);
    if (moved) {
      moved.router.detach(client, reason);
      this.moved.delete(client);
      if (moved.router.clients.size > 0) return;
      const child = [...this.byWorkspace.values()].find((w) => w.engine === moved);
      if (child) return this.workspaceEmptied(child);
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
    for (const w of this.byWorkspace.values()) if (w.timer) clearTimeout(w.timer);
    const engines = this.engines();
    await Promise.all(engines.map((e) => e.close()));
    this.listener?.close();
    this.statusWriter?.flush();
  }
}

// --- internal ---

const STATUS_METHOD = "mcp-mux/status";

/** The host variable naming the project folder, replaced per workspace child. */
export const WORKSPACE_FOLDER = ["$", "{workspaceFolder}"].join("");

/** A workspace's child. */
interface WorkspaceChild {
  engine: Engine;
  /** The folder it runs in. */
  dir: string;
  key: string;
  source: string;
  /** Set while it has no client: ends it after the grace period. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The key of a forwarded env: its names and values, sorted. */
function envKeyOf(env: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(env)
      .sort()
      .map((k) => [k, env[k]]),
  );
}

/**
 * The options of a child in `dir`: it runs there (a relative `cwd` is taken from there), and
 * `${workspaceFolder}` in its args, env and cwd names that folder.
 */
function inWorkspace(options: ResolvedServiceOptions, dir: string): ResolvedServiceOptions {
  const sub = (v: string): string => v.replaceAll(WORKSPACE_FOLDER, dir);
  const cwd = options.cwd === undefined ? dir : sub(options.cwd);
  return {
    ...options,
    cwd: isAbsolute(cwd) ? cwd : join(dir, cwd),
    args: options.args.map(sub),
    env: options.env ? Object.fromEntries(Object.entries(options.env).map(([k, v]) => [k, sub(v)])) : undefined,
  };
}

/** A first line too big to be text (bytes) that is a hello: refused. */
function bigHello(line: Uint8Array): { refusal: string } | undefined {
  const head = new TextDecoder().decode(line.subarray(0, 256));
  const tail = new TextDecoder().decode(line.subarray(Math.max(0, line.length - 256)));
  const refusal = bigHelloRefusal(head, tail, line.length);
  return refusal ? { refusal } : undefined;
}

/** A line parsed for a refusal (decoded first when it came as bytes). */
function parseLine(line: string | Uint8Array): Message {
  return parseMessage(typeof line === "string" ? line : new TextDecoder().decode(line));
}

/** A parsed message that may be a hello (a notification of that method): only then is the line read as one. */
function maybeHello(msg: Message): boolean {
  return msg.kind === "notification" && msg.method === HELLO_METHOD;
}

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

/** Answer every request of a client that has no engine (refused by a limit) with the reason. */
function refuse(client: MuxClient, msg: Message, reason: string): void {
  const requests = (msg.kind === "batch" ? msg.items : [msg]).filter((m): m is RequestMessage => m.kind === "request");
  const code = client.refusalCode ?? RpcErrorCode.LimitReached;
  const answers = requests.map((m) => errorLine(m.rawId, code, reason));
  if (answers.length === 0) return;
  if (msg.kind === "batch") client.send(`[${answers.join(",")}]`, "response");
  else client.send(answers[0] as string, "response", requests[0]?.key);
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
