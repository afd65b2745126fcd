/**
 * The child's one handshake: the `initialize` the mux sends on behalf of every client, its
 * cached result, the clients waiting for it, and re-initialization after a restart (same
 * parameters, log level and subscriptions re-applied, clients told to re-list).
 *
 * Which client capabilities the child is told about is a per-service policy
 * (`childCapabilities`): `auto` (default) declares what the first client to need the child
 * declared, so the server offers no tool that needs a capability that client lacks; `all`
 * declares everything the mux can route; a list names them. The parameters are kept for
 * every later restart of the same child, so the server's view never changes under clients.
 *
 * Which era the child speaks is the service's `era` (protocol-2026 §2.3): `legacy` (default)
 * sends `initialize`; `modern` never does: the child is probed with `server/discover` (with the
 * mux's envelope) and its `DiscoverResult` cached (`discovered`), with a legacy view of it as
 * `result` for legacy clients' initialize; `auto` probes with `server/discover` for
 * `AUTO_PROBE_MS`, then falls back to `initialize` on any error, a result naming no version the
 * mux serves, or silence; a child that exits on the probe is restarted at once, legacy.
 * @module
 */

import { isObject, type JsonObject, type RequestMessage, type ResponseMessage } from "../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import { LATEST_VERSION, META, MODERN_VERSIONS } from "../protocol/versions.ts";
import { childCapabilities } from "./capabilities.ts";
import type { MuxClient } from "./client.ts";
import type { MuxLogger } from "./logger.ts";
import { HeldQueue, type HeldRequest } from "./routing/held.ts";
import type { ChildState, Reply, RouterHost, RouterOptions } from "./routing/types.ts";
import { duplicateError, timeoutError } from "./routing/wire.ts";

export {
  type ChildCapabilities,
  ROUTABLE_CAPABILITIES,
  type RoutableCapability,
} from "./capabilities.ts";

/** What the handshake needs of its router (the router sets its state through it). */
export interface HandshakeHost {
  state: ChildState;
  readonly closing: boolean;
  readonly clients: ReadonlySet<MuxClient>;
  readonly options: RouterOptions;
  readonly host: RouterHost;
  readonly logger: MuxLogger;
  request(method: string, params: JsonObject | undefined, onResponse: (msg: ResponseMessage) => void): void;
  /** Answer a client's initialize from the cache (the child is ready). */
  answerInitialize(client: MuxClient, msg: RequestMessage, reply: Reply): void;
  /** The child is ready: log level and subscriptions re-applied. */
  childReady(): void;
  /** Forward held requests that may go now. */
  pump(): void;
  settled(client: MuxClient): void;
  broadcast(line: string): void;
  failedError(rawId: string): string;
}

/** The handshake of one router's child. */
export class Handshake {
  /** The child's initialize result, once it answered. */
  result: JsonObject | undefined;
  /** The result of the previous child (to compare after a restart). */
  previous: JsonObject | undefined;
  /** An initialize is on its way to the child. */
  initializing = false;
  /**
   * Why the last child could not start (it exited before its handshake), with its last stderr
   * lines: until a child is ready, every initialize is answered with it at once instead of
   * waiting for retries that keep failing.
   */
  failure: { message: string; data: JsonObject } | undefined;
  /** The child was stopped while idle (dormant): a next child with the same result is no news to clients. */
  private asleep = false;
  /**
   * First pages of the child's `tools/list`, `prompts/list` and `resources/list` (from the
   * persisted cache or asked by the engine once the child is ready): a dormant child's lists
   * are answered from them. A child's `list_changed` drops its kind.
   */
  readonly lists = new Map<string, JsonObject>();
  /** When `lists` were asked of the child (ms since the epoch; 0: unknown, as in an older cache). */
  listedAt = 0;
  /** The parameters the child is (or will be) initialized with; kept across restarts. */
  private params: JsonObject | undefined;
  /** The child's era once known (`era = "auto"`: after the probe); kept across restarts. */
  verdict: "legacy" | "modern" | undefined;
  /** The child's `DiscoverResult` (a modern child), kept across restarts until a new one. */
  discovered: JsonObject | undefined;
  /** An `auto` probe is at the child now. */
  probing = false;

  /** The parameters the child was initialized with (for the persisted cache). */
  get initializeParams(): JsonObject | undefined {
    return this.params;
  }

  /** The client capabilities declared to the child (undefined before its first initialize). */
  get declared(): JsonObject | undefined {
    return this.params?.capabilities as JsonObject | undefined;
  }
  /** Initializes waiting for the child's. */
  private readonly waiters = new HeldQueue<HeldRequest & { reply: Reply }>();

  constructor(private readonly r: HandshakeHost) {
    const era = r.options.era;
    if (era !== "auto") this.verdict = era === "modern" ? "modern" : "legacy";
  }

  /** The child speaks 2026-07-28 (answers `server/discover`; never sent `initialize`). */
  get modern(): boolean {
    return this.verdict === "modern";
  }

  /** The child exited while an `auto` probe was at it: a legacy server that cannot take one. */
  probeKilled(): boolean {
    if (!this.probing) return false;
    this.probing = false;
    this.verdict = "legacy";
    this.r.logger.info("the server exited on the server/discover probe: it is a legacy server");
    return true;
  }

  /** The child process is up: initialize it now, or wait for the first client (`auto`). */
  childStarted(): void {
    const first = this.waiters.first?.client;
    if (!this.params && this.r.options.childCapabilities === "auto" && !first) {
      this.r.state = "waiting";
      this.r.host.changed();
      return;
    }
    this.send(first);
  }

  /** A client needs the child (a request, an initialize): start the deferred handshake. */
  need(client: MuxClient): void {
    if (this.r.state === "waiting") this.send(client);
  }

  /** A client's initialize arrived before the child was ready: answer it once it is. */
  wait(client: MuxClient, msg: RequestMessage, reply: Reply): void {
    if (this.r.state === "failed") return reply(this.r.failedError(msg.rawId));
    if (this.failure) return reply(this.failureError(msg.rawId));
    if (client.inflight.has(msg.key)) return reply(duplicateError(msg.rawId));
    // Counted as in flight, so a client that half-closes right after still gets its answer.
    this.waiters.hold({ client, msg, reply }, this.r.options.requestTimeoutMs, () => {
      reply(timeoutError(msg.rawId, this.r.options.requestTimeoutMs, "while the server was starting"));
      this.r.settled(client);
    });
    this.r.host.ensureChild();
    this.need(client);
  }

  /** Forget a departing client's waiting initialize. */
  drop(client: MuxClient): void {
    this.waiters.forget((w) => w.client === client);
  }

  /** Answer every waiting initialize with `line(rawId)` (failure, shutdown). */
  refuseAll(line: (rawId: string) => string): void {
    for (const w of this.waiters.takeAll()) {
      w.reply(line(w.msg.rawId));
      this.r.settled(w.client);
    }
  }

  /** The child exited before its handshake: answer the waiting initializes, and later ones, with why. */
  startFailed(message: string, data: JsonObject): void {
    this.failure = { message, data };
    this.refuseAll((rawId) => this.failureError(rawId));
  }

  /** The child is gone: keep its result to compare with the next one. */
  childGone(): void {
    if (this.result) this.previous = this.result;
    this.result = undefined;
    this.initializing = false;
  }

  /**
   * A persisted handshake (a service started from its cache, no child yet): its result answers
   * initialize while dormant, its parameters initialize the next child, its lists answer lists.
   */
  restore(params: JsonObject, result: JsonObject, lists: Record<string, JsonObject>, listedAt = 0): void {
    this.params = params;
    this.listedAt = listedAt;
    this.previous = result;
    this.lists.clear();
    for (const [method, page] of Object.entries(lists)) this.lists.set(method, page);
    this.asleep = true;
  }

  /**
   * A cached page of `method`, unless its caching hint rules it out: a page carrying `ttlMs` (a
   * 2026-07-28 server's) is served only within that many milliseconds of when it was asked
   * (`ttlMs: 0` never; a page of unknown age never).
   */
  freshList(method: string): JsonObject | undefined {
    const page = this.lists.get(method);
    if (!page || page.ttlMs === undefined) return page;
    const ttl = page.ttlMs;
    if (typeof ttl !== "number" || !(ttl > 0) || this.listedAt <= 0) return undefined;
    // An age below zero (a cache file's listedAt in the future, a clock set back) is unknown, not fresh.
    const age = Date.now() - this.listedAt;
    return age >= 0 && age < ttl ? page : undefined;
  }

  /** The child was stopped for being idle (after `childGone`): its result stands for the next one. */
  sleep(): void {
    this.asleep = true;
  }

  // --- internal ---

  private send(client: MuxClient | undefined): void {
    this.params ??= {
      protocolVersion: LATEST_VERSION,
      capabilities: childCapabilities(
        this.r.options.childCapabilities,
        this.r.options.rootsPolicy,
        client?.capabilities,
      ),
      clientInfo: this.r.options.clientInfo,
    };
    this.r.state = "initializing";
    this.initializing = true;
    this.r.host.changed();
    if (this.verdict === "legacy") this.initialize();
    else this.discover();
  }

  /** The era probe: `server/discover` with the mux's envelope (protocol-2026 §1.3, §2.3). */
  private discover(): void {
    const params = this.params as JsonObject;
    const auto = this.verdict === undefined;
    let settled = false;
    const fallBack = (why: string): void => {
      this.probing = false;
      if (!auto) {
        this.initializing = false;
        this.r.logger.warn(`server/discover failed: ${why}`);
        this.r.host.childUnusable(`server/discover failed: ${why}`);
        return;
      }
      this.verdict = "legacy";
      this.r.logger.info(`server/discover probe: ${why}; the server is a legacy one (initialize)`);
      this.initialize();
    };
    const timer = auto
      ? setTimeout(() => {
          if (settled || this.r.state !== "initializing" || this.r.closing) return;
          settled = true;
          fallBack(`no answer within ${AUTO_PROBE_MS} ms`);
        }, AUTO_PROBE_MS)
      : undefined;
    this.probing = auto;
    const envelope = {
      [META.protocolVersion]: MODERN_VERSIONS[0],
      [META.clientCapabilities]: params.capabilities ?? {},
      [META.clientInfo]: params.clientInfo,
    };
    this.r.request("server/discover", { _meta: envelope }, (msg) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (this.r.state !== "initializing" || this.r.closing) return;
      const result = isObject(msg.result) ? msg.result : undefined;
      const versions = Array.isArray(result?.supportedVersions) ? result.supportedVersions : [];
      if (msg.error || !result) return fallBack(msg.error ? `${msg.error.message} (${msg.error.code})` : "no result");
      if (!MODERN_VERSIONS.some((v) => versions.includes(v)))
        return fallBack(`it serves none of ${MODERN_VERSIONS.join(", ")}`);
      this.probing = false;
      this.verdict = "modern";
      this.discovered = result;
      this.initializing = false;
      this.ready(legacyView(result), false);
    });
  }

  private initialize(): void {
    this.r.request("initialize", this.params, (msg) => {
      this.initializing = false;
      if (this.r.state !== "initializing" || this.r.closing) return; // the child went away meanwhile
      if (msg.error || !isObject(msg.result)) {
        const why = msg.error ? `${msg.error.message} (${msg.error.code})` : "no result";
        this.r.logger.warn(`server rejected initialize: ${why}`);
        this.r.host.childUnusable(`initialize failed: ${why}`);
        return;
      }
      this.ready(msg.result);
    });
  }

  private failureError(rawId: string): string {
    const f = this.failure as { message: string; data: JsonObject };
    return errorLine(rawId, RpcErrorCode.ServerStartFailed, f.message, f.data);
  }

  private ready(result: JsonObject, initialized = true): void {
    const previous = this.previous;
    this.result = result;
    this.failure = undefined;
    if (initialized) this.r.host.writeChild('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    this.r.state = "ready";
    this.r.logger.info(`server ready (protocol ${initialized ? String(result.protocolVersion) : MODERN_VERSIONS[0]})`);
    const woke = this.asleep;
    this.asleep = false;
    // A woken child that says the same as before is the same server: clients are not told to re-list.
    if (previous && !(woke && JSON.stringify(previous) === JSON.stringify(result))) this.afterRestart(previous, result);
    this.r.childReady();
    for (const w of this.waiters.takeAll()) {
      this.r.answerInitialize(w.client, w.msg, w.reply);
      this.r.settled(w.client);
    }
    this.r.pump();
    this.r.host.changed();
  }

  private afterRestart(previous: JsonObject, next: JsonObject): void {
    if (
      previous.protocolVersion !== next.protocolVersion ||
      capabilitiesShrank(previous.capabilities, next.capabilities)
    ) {
      this.r.logger.warn(
        "restarted server is incompatible with the previous session; closing clients so they reconnect",
      );
      for (const c of [...this.r.clients])
        if (c.initialized) c.close("server restarted with a different protocol version");
      return;
    }
    const caps = isObject(next.capabilities) ? next.capabilities : {};
    for (const kind of ["tools", "prompts", "resources"]) {
      if (isObject(caps[kind])) this.r.broadcast(`{"jsonrpc":"2.0","method":"notifications/${kind}/list_changed"}`);
    }
  }
}

// --- internal ---

/** How long an `era = "auto"` probe waits for the child's `DiscoverResult` before it falls back to initialize. */
const AUTO_PROBE_MS = 2000;

/**
 * A `DiscoverResult` as a legacy initialize result (what legacy clients' initialize is answered
 * from, protocol-2026 §3.4): the server info from `_meta`, the capabilities without the tasks
 * extension (the mux never declares it for a legacy client), the instructions.
 */
function legacyView(discover: JsonObject): JsonObject {
  const meta = isObject(discover._meta) ? discover._meta : {};
  const info = isObject(meta[META.serverInfo]) ? meta[META.serverInfo] : { name: "unknown", version: "0" };
  const caps = isObject(discover.capabilities) ? { ...discover.capabilities } : {};
  if (isObject(caps.extensions)) {
    const extensions = { ...caps.extensions };
    delete extensions["io.modelcontextprotocol/tasks"];
    if (Object.keys(extensions).length > 0) caps.extensions = extensions;
    else delete caps.extensions;
  }
  delete caps.tasks;
  return {
    protocolVersion: LATEST_VERSION,
    capabilities: caps,
    serverInfo: info,
    ...(typeof discover.instructions === "string" ? { instructions: discover.instructions } : {}),
  };
}

function capabilitiesShrank(before: unknown, after: unknown): boolean {
  if (!isObject(before)) return false;
  if (!isObject(after)) return true;
  return Object.keys(before).some((k) => !(k in after));
}
