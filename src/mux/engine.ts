/**
 * One child MCP server and the router in front of it, with its supervision: spawn, restart
 * with exponential backoff, the consecutive-failure limit, lazy start and shutdown. A shared
 * service has one engine; an isolated service has one per client.
 *
 * A child that exits before its handshake (a missing command or package, a crash at start)
 * is a start failure: the clients waiting for it, and every initialize until a child is ready,
 * are answered at once with the reason and its last stderr lines (`ServerStartFailed`) while
 * restarts go on in the background. A spawn that fails for lack of resources (descriptors,
 * processes, memory) is retried with backoff and does not count towards the failure limit:
 * the service recovers once the resources are back.
 *
 * With `dormantAfterMs`, a ready child that nothing depends on (see `dormancy.ts`) for that
 * long is stopped while its clients stay connected (`dormant`); initialize is answered from
 * the last child's result meanwhile, and the next request that needs the server starts it
 * again (`waking`), held until the child is initialized with the same parameters, its log
 * level and subscriptions restored.
 *
 * With a handshake cache file (a shared service of a daemon with a state folder), a service
 * whose cache is there starts dormant: no child until a request needs one, initialize and the
 * first list pages answered from the cache. Once a child is ready its lists are asked again and
 * the cache rewritten when anything differs; clients get `list_changed` for a list that changed.
 * @module
 */

import { isMuxError } from "../errors.ts";
import { isObject, type JsonObject } from "../protocol/message.ts";
import { VERSION } from "../version.ts";
import { dormancyBlocker } from "./dormancy.ts";
import { CACHED_LISTS, type CachedHandshake, readCache, writeCache } from "./handshake-cache.ts";
import type { MuxLogger } from "./logger.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { type ChildState, Router } from "./router.ts";
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

/**
 * A supervised child and its router.
 * Over 300 lines (about 330) on purpose: the child's one lifecycle (spawn, ready, exit,
 * backoff and the failure limit, dormancy and waking, the cached lists it refreshes) is a
 * single state machine over the same fields; what stands alone lives apart (upstream.ts,
 * dormancy.ts, handshake-cache.ts, the router).
 */
export class Engine {
  readonly router: Router;
  restarts = 0;
  lastRestartReason: string | null = null;
  childStartedAt = 0;
  private upstream: Upstream | undefined;
  private failures = 0;
  private backoff: number;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The delay of the next retry after a spawn that failed for lack of resources. */
  private resourceBackoff: number;
  /** The current child's last stderr lines (kept for a start failure's report). */
  private stderrTail: string[] = [];
  private closing: Promise<void> | undefined;
  /** A client found the child's stdin behind: wake the clients once it drains. */
  private busyReported = false;
  /** Dormancy: the timer (armed while the child is ready), since when nothing depends on the child. */
  private dormantTimer: ReturnType<typeof setTimeout> | undefined;
  private quietSince: number | undefined;
  /** A dormant child is being started again (status `waking` until it is ready). */
  private waking = false;
  /** Times the child went dormant. */
  dormancies = 0;
  /** The initialize result whose lists were last asked for (once per child). */
  private listedFor: JsonObject | undefined;
  /** A cache write failed once (warned once). */
  private cacheWarned = false;

  constructor(
    private readonly options: ResolvedServiceOptions,
    private readonly logger: MuxLogger,
    private readonly hooks: EngineHooks,
    /** The persisted handshake cache of this child (none: not persisted). */
    private readonly cacheFile?: string,
  ) {
    this.backoff = options.restartBackoffMs;
    this.resourceBackoff = options.restartBackoffMs;
    this.router = new Router(
      {
        requestTimeoutMs: options.requestTimeoutMs,
        maxActiveClients: options.maxActiveClients,
        maxConcurrentRequests: options.maxConcurrentRequests,
        rootsPolicy: options.rootsPolicy,
        ambiguousRoute: options.ambiguousRoute,
        childCapabilities: options.childCapabilities,
        era: options.era,
        clientInfo: { name: "mcp-mux", version: VERSION },
        logger,
      },
      {
        writeChild: (line) => this.upstream?.write(line) ?? false,
        ensureChild: () => {
          if (this.closing) return;
          if (this.router.state === "dormant") {
            this.waking = true;
            this.logger.info("waking the dormant server for a request");
            this.spawn();
          } else if (this.router.state === "lazy") this.spawn();
        },
        childUnusable: (reason) => {
          const up = this.upstream;
          if (up) this.childGone(up, reason);
        },
        changed: () => {
          this.checkDormancy();
          hooks.changed();
        },
        status: () => hooks.status(),
      },
    );
  }

  /** Start the child now, or wait for the first request when `lazy` (or dormant, from its cache). */
  start(lazy: boolean): void {
    const cached = this.cacheFile ? readCache(this.cacheFile) : undefined;
    if (cached) {
      this.router.handshake.restore(cached.params, cached.result, cached.lists, cached.listedAt);
      this.router.state = "dormant";
      this.logger.info("answering from the handshake cache; the server starts for the first request that needs it");
      this.hooks.changed();
    } else if (lazy) {
      this.router.state = "lazy";
      this.hooks.event?.("dormant: the child starts with the first request");
      this.hooks.changed();
    } else this.spawn();
  }

  /** The state status shows: the router's, `waking` while a dormant child starts again. */
  get state(): ChildState {
    return this.waking && WAKING_STATES.has(this.router.state) ? "waking" : this.router.state;
  }

  /** True while the child's stdin is so far behind that no client should be read. */
  get busy(): boolean {
    const behind = (this.upstream?.backlog ?? 0) > this.options.childHighWaterBytes;
    if (behind) this.busyReported = true;
    return behind;
  }

  /** Why the last child could not start (with its last stderr lines), until a child is ready. */
  get startFailure(): string | null {
    return this.router.handshake.failure?.message ?? null;
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

  /** After every change: note when the child became quiet, keep the dormancy timer armed while it is ready. */
  private checkDormancy(): void {
    const result = this.router.handshake.result;
    if (result && result !== this.listedFor && this.router.state === "ready") this.refreshLists(result);
    if (this.waking && !WAKING_STATES.has(this.router.state) && this.router.state !== "restarting") this.waking = false;
    const ms = this.options.dormantAfterMs;
    if (ms <= 0 || this.closing) return;
    if (dormancyBlocker(this.router, this.options.keepsState) !== undefined) this.quietSince = undefined;
    else this.quietSince ??= Date.now();
    if (this.router.state === "ready") this.dormantTimer ??= setTimeout(() => this.dormancyTick(), ms);
  }

  /**
   * The child is ready: ask its lists (first pages), tell clients of a list that differs from
   * the cached one, keep them for dormancy and write the cache.
   */
  private refreshLists(result: JsonObject): void {
    this.listedFor = result;
    if (!this.cacheFile && this.options.dormantAfterMs <= 0) return;
    const caps = isObject(result.capabilities) ? result.capabilities : {};
    const lists = this.router.handshake.lists;
    const methods = CACHED_LISTS.filter((m) => isObject(caps[m.split("/")[0] as string]));
    const got: CachedHandshake["lists"] = {};
    let left = methods.length;
    const done = (): void => {
      if (this.router.handshake.result !== result || this.closing) return;
      for (const m of CACHED_LISTS) {
        const page = got[m];
        const before = lists.get(m);
        if (!page) lists.delete(m);
        else {
          if (before && JSON.stringify(before) !== JSON.stringify(page))
            this.router.broadcast(`{"jsonrpc":"2.0","method":"notifications/${m.split("/")[0]}/list_changed"}`);
          lists.set(m, page);
        }
      }
      this.router.handshake.listedAt = Date.now();
      this.saveCache(result, got);
    };
    if (left === 0) return done();
    for (const m of methods) {
      this.router.request(m, undefined, (msg) => {
        // A page with more after it is not cached (only whole lists are answered from the cache).
        if (!msg.error && isObject(msg.result) && msg.result.nextCursor === undefined) got[m] = msg.result;
        if (--left === 0) done();
      });
    }
  }

  private saveCache(result: JsonObject, lists: CachedHandshake["lists"]): void {
    const params = this.router.handshake.initializeParams;
    if (!this.cacheFile || !params) return;
    const error = writeCache(this.cacheFile, { params, result, lists, listedAt: this.router.handshake.listedAt });
    if (error && !this.cacheWarned) {
      this.cacheWarned = true;
      this.logger.warn(`handshake cache not written (${this.cacheFile}): ${error}`);
    }
  }

  private dormancyTick(): void {
    this.dormantTimer = undefined;
    if (this.closing || this.router.state !== "ready") return;
    const ms = this.options.dormantAfterMs;
    const blocked = dormancyBlocker(this.router, this.options.keepsState) !== undefined;
    if (blocked) this.quietSince = undefined;
    else this.quietSince ??= Date.now();
    const quietFor = this.quietSince === undefined ? 0 : Date.now() - this.quietSince;
    if (blocked || quietFor < ms) {
      this.dormantTimer = setTimeout(() => this.dormancyTick(), blocked ? ms : ms - quietFor);
      return;
    }
    const up = this.upstream;
    if (!up) return;
    this.upstream = undefined;
    this.quietSince = undefined;
    this.dormancies++;
    this.logger.info(`server idle for ${ms} ms: stopping it until a request needs it (dormant)`);
    this.router.childGone("dormant after being idle", "dormant");
    this.router.handshake.sleep();
    void up.stop(this.options.killGraceMs);
    this.hooks.changed();
  }

  private spawn(): void {
    this.restartTimer = undefined;
    this.router.state = "starting";
    const tail: string[] = [];
    this.stderrTail = tail;
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
          stderr: (text) => {
            tail.push(text.length > STDERR_LINE_CHARS ? `${text.slice(0, STDERR_LINE_CHARS)}…` : text);
            if (tail.length > STDERR_TAIL_LINES) tail.shift();
            this.hooks.stderr?.(text);
          },
        },
        this.logger,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.lastRestartReason = message;
      if (isResourceError(error)) {
        // Out of descriptors, processes or memory: not the server's fault, and it passes.
        const delay = this.resourceBackoff;
        this.resourceBackoff = Math.min(this.resourceBackoff * 2, this.options.restartBackoffMaxMs);
        this.logger.warn(`${message}; out of resources: retrying in ${delay} ms (not counted as a server failure)`);
        this.hooks.event?.(`failed to start: ${message}; out of resources, retrying in ${delay} ms`);
        this.router.childGone(message, "restarting");
        this.restartTimer = setTimeout(() => this.spawn(), delay);
        return;
      }
      this.logger.error(message);
      this.hooks.event?.(`failed to start: ${message}`);
      this.router.fail(message);
      return;
    }
    this.resourceBackoff = this.options.restartBackoffMs;
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
    // A legacy server that exits on the era probe (era = "auto") is restarted at once, legacy.
    if (this.router.handshake.probeKilled()) {
      this.router.childGone(reason, "restarting");
      this.restartTimer = setTimeout(() => this.spawn(), 0);
      this.hooks.changed();
      return;
    }
    // Gone before its handshake was done: it could not start (or stay up until a client came).
    const startFailed = BEFORE_READY.has(this.router.state);
    const tail = this.stderrTail;
    const stderr = [...tail];
    this.hooks.event?.(`child exited: ${reason}`);
    if (Date.now() - this.childStartedAt >= this.options.healthyAfterMs) {
      this.failures = 0;
      this.backoff = this.options.restartBackoffMs;
    }
    this.failures++;
    this.lastRestartReason = startFailed ? withLastLine(reason, stderr) : reason;
    const limit = this.options.maxRestarts;
    if (limit > 0 && this.failures > limit) {
      const why = `restart limit reached (${limit}); last failure: ${withLastLine(reason, stderr)}`;
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
    if (startFailed) void this.reportStartFailure(up, tail, reason, delay);
    this.hooks.changed();
  }

  /**
   * Tell the clients waiting for the child (and later ones, until a child is ready) why it
   * could not start, once its stderr is read to the end (a process writes its last words
   * there just before it exits; the exit may be seen first).
   */
  private async reportStartFailure(up: Upstream, tail: string[], reason: string, retryMs: number): Promise<void> {
    await Promise.race([up.stderrDone, Bun.sleep(STDERR_SETTLE_MS)]);
    if (this.closing || this.router.state === "ready" || this.router.state === "failed") return;
    const lines = [...tail];
    const shown = lines.slice(-STDERR_SHOWN_LINES);
    const message =
      `MCP server could not start: ${reason}` +
      (shown.length > 0
        ? `. Its last stderr lines:\n${shown.map((l) => `  ${l}`).join("\n")}`
        : " (it wrote nothing to stderr)") +
      `\n(mcp-mux retries in ${retryMs} ms; see mux status)`;
    this.lastRestartReason = withLastLine(reason, lines);
    this.router.handshake.startFailed(message, { reason, stderr: lines, retrying: true, retryInMs: retryMs });
    this.hooks.changed();
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.restartTimer);
    clearTimeout(this.dormantTimer);
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

// --- internal ---

/** Router states of a dormant child starting again (shown as `waking`). */
const WAKING_STATES = new Set<ChildState>(["starting", "waiting", "initializing"]);
/** Child states before its handshake is done: a child gone in one of them could not start. */
const BEFORE_READY = new Set(["starting", "initializing", "waiting"]);
/** Stderr lines kept of the current child, and the most shown in a start failure's message. */
const STDERR_TAIL_LINES = 20;
const STDERR_SHOWN_LINES = 8;
/** A kept stderr line's length limit. */
const STDERR_LINE_CHARS = 500;
/** How long to wait for the rest of a dead child's stderr. */
const STDERR_SETTLE_MS = 250;

/** Spawn errors that say the machine is out of something for a while, not that the command is wrong. */
const RESOURCE_ERRORS = /\b(EMFILE|ENFILE|EAGAIN|ENOMEM)\b/;

function isResourceError(error: unknown): boolean {
  const cause = isMuxError(error) ? (error as { cause?: unknown }).cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && RESOURCE_ERRORS.test(code)) return true;
  return RESOURCE_ERRORS.test(error instanceof Error ? error.message : String(error));
}

/** Stderr lines that usually say why a program could not start (npm, sh, node, python, ...). */
const TELLING_LINE =
  /not found|not in this registry|no such file|cannot find|can't find|permission denied|not executable|E404|ENOENT|EACCES|error:/i;

/** `reason: <the stderr line that tells most>` (the last telling one, else the last one), when there is one. */
function withLastLine(reason: string, stderr: string[]): string {
  const lines = stderr.map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.findLast((l) => TELLING_LINE.test(l)) ?? lines[lines.length - 1];
  return line ? `${reason}: ${line}` : reason;
}
