/**
 * One service: its socket, its clients (their hello lines, refusals and status probes), the
 * engines they are served by (an `EnginePool`), its record, and its status.
 * @module
 */

import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { MuxError } from "../errors.ts";
import type { OversizedLine } from "../protocol/framing.ts";
import { bigHelloRefusal, HELLO_METHOD, type Hello, readHello, type WorkspaceHint } from "../protocol/hello.ts";
import { type Message, parseMessage, type RequestMessage } from "../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { MODERN_VERSIONS } from "../protocol/versions.ts";
import { type ClientPort, MuxClient } from "./client.ts";
import type { ServiceDoor } from "./door.ts";
import { Engine } from "./engine.ts";
import { EnginePool } from "./engine-pool.ts";
import { cacheFile } from "./handshake-cache.ts";
import { checkSocketPath, type Listener } from "./listener.ts";
import type { MuxLogger } from "./logger.ts";
import { statusSettingsOf } from "./option-table.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { Recorder } from "./record.ts";
import { cancelRequest } from "./rules.ts";
import type { SocketClient } from "./socket-client.ts";
import { listenSocket } from "./socket-transport.ts";
import { createStatusWriter, redactStatus, type StatusSnapshot, type StatusWriter } from "./status.ts";

/**
 * A running service, the door its transports use (`ServiceDoor`). Built by `startMux`; not
 * exported from the package. Which engine serves a client is the pool's (engine-pool.ts).
 * Over 300 lines (about 330) on purpose: the door's dozen hand-overs to the engine of a client
 * (each a line or three), beside the service's hello, refusal, probe and status handling.
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
  /** The engines and which client each serves (shared, forwarded env, workspace, isolated). */
  private readonly pool: EnginePool;
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
    this.pool = new EnginePool(
      options,
      logger,
      (env, workspace, cache) => this.newEngine(env, workspace, cache),
      () => this.statusWriter?.touch(),
      options.share === "global" ? this.cacheFile() : undefined,
    );
  }

  /** Bind the socket and (unless lazy or isolated) start the child. */
  async start(): Promise<void> {
    checkSocketPath(this.options.socket);
    checkCommand(this.options);
    this.listener = await listenSocket(this.options.socket, this);
    this.pool.shared?.start(this.options.lazyStart);
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

  /** The client gave up one request (its HTTP stream closed), as a `notifications/cancelled` would. */
  cancelRequest(client: MuxClient, key: string, reason: string): void {
    const router = this.engineOf(client)?.router;
    if (router) cancelRequest(router, client, key, reason);
  }

  /** True once the server `client` is served by failed for good (a client of another child may fare better). */
  clientFailed(client: MuxClient): boolean {
    return this.engineOf(client)?.router.state === "failed";
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
    const main = this.pool.shared;
    const r = main?.router;
    const init = r?.initResult ?? routers.find((x) => x.initResult)?.initResult;
    const info = init?.serverInfo as { name?: string; version?: string } | undefined;
    const state = main ? main.state : this.closing ? "stopped" : "ready";
    const now = Date.now();
    const sessions = this.pool.clients().filter((c) => c.session);
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
      restarts: this.pool.pastRestarts + engines.reduce((n, e) => n + e.restarts, 0),
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
      workspaces: [...this.pool.workspaces()].map((w) => ({
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
      requestsTotal: this.pool.pastRequests + routers.reduce((n, x) => n + x.requestsForwarded, 0),
      initializeCached: init !== undefined,
      // A modern child's own version (its initialize result is the mux's legacy view of its DiscoverResult).
      protocolVersion:
        r?.childEra === "modern"
          ? MODERN_VERSIONS[0]
          : typeof init?.protocolVersion === "string"
            ? init.protocolVersion
            : null,
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
    return this.pool.all();
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
    return this.pool.of(client);
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
    // The record takes each line from whoever parses it: the router, or the probe and refusal
    // below when no router gets the line.
    let engine = this.engineOf(client);
    if (!engine && !client.refusal) {
      const probe = typeof line === "string" ? this.probe(client, msg ?? parseMessage(line), line) : false;
      if (probe) return;
      engine =
        this.options.share === "workspace"
          ? this.pool.joinWorkspace(client, client.workspaceHint)
          : this.pool.own(client);
    }
    if (engine) {
      if (msg) engine.router.clientMessage(client, line, msg);
      else engine.router.clientLine(client, line);
    } else if (client.refusal) refuse(client, line, msg ?? parseLine(line), client.refusal);
    else client.tap?.received(msg ?? parseLine(line), line);
  }

  /** Isolated mode, a client with no child yet: answer `ping` and `mcp-mux/status` here. */
  private probe(client: MuxClient, msg: Message, line: string): boolean {
    if (msg.kind !== "request" || (msg.method !== "ping" && msg.method !== STATUS_METHOD)) return false;
    const asked = client.tap?.received(msg, line);
    const result = msg.method === "ping" ? {} : redactStatus(this.status(), client.transport);
    client.send(resultLine(msg.rawId, result), "response", msg.key, asked);
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
      this.pool.joinWorkspace(client, client.workspaceHint, env);
      return;
    }
    if (Object.keys(env).length === 0) return;
    const refusal = refuseEnv(this.options, Object.keys(env));
    if (refusal) return this.refuse(client, refusal);
    this.pool.forwardEnv(client, env);
  }

  /** Every request of this client gets -32035 with `reason`; nothing is started for it. */
  private refuse(client: MuxClient, reason: string): void {
    client.refusal = reason;
    client.refusalCode = RpcErrorCode.EnvRefused;
    this.logger.warn(`client ${client.id}: ${reason}`);
  }

  private attach(client: MuxClient): void {
    if (this.recorder.enabled) client.tap = this.recorder.tap(client);
    // Isolated mode: a client gets its child with its first request that needs one (status
    // and health probes never start a server, and never count against the cap).
    this.pool.attach(client);
  }

  private detach(client: MuxClient, reason: string): void {
    this.pool.release(client, reason);
  }

  private async shutdown(): Promise<void> {
    this.listener?.server.stop(false);
    await this.pool.close();
    this.listener?.close();
    this.statusWriter?.flush();
  }
}

// --- internal ---

const STATUS_METHOD = "mcp-mux/status";

/** The host variable naming the project folder, replaced per workspace child. */
export const WORKSPACE_FOLDER = ["$", "{workspaceFolder}"].join("");

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
function refuse(client: MuxClient, line: string | Uint8Array, msg: Message, reason: string): void {
  const asked = client.tap?.received(msg, line);
  const requests = (msg.kind === "batch" ? msg.items : [msg]).filter((m): m is RequestMessage => m.kind === "request");
  const code = client.refusalCode ?? RpcErrorCode.LimitReached;
  const answers = requests.map((m) => errorLine(m.rawId, code, reason));
  if (answers.length === 0) return;
  if (msg.kind === "batch") client.send(`[${answers.join(",")}]`, "response");
  else client.send(answers[0] as string, "response", requests[0]?.key, asked);
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
