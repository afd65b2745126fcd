/**
 * The Streamable HTTP front: hosts reach a service by URL, with no proxy process, and share
 * its child, ids, slots, subscriptions, log levels and restarts with the socket clients. One
 * listener per daemon: a single service at `/mcp`, the services of a config at
 * `/mcp/<service>`.
 *
 * Private by default: every request needs the bearer token unless the caller says
 * `auth: "none"` (loopback only); it binds loopback unless told otherwise; `Host` and `Origin`
 * are checked on every request (DNS rebinding); session ids are 128 random bits and never
 * logged in full. Bounded: connections idle for `connectionIdleMs` and bodies slower than
 * `bodyTimeoutMs` are closed, sessions are capped (the oldest idle one makes room), stored
 * events of all sessions share one budget, and new requests are refused with 503 while the
 * process is short of descriptors (socket clients and child restarts keep a reserve).
 * @module
 */

import { randomBytes } from "node:crypto";
import { MuxError } from "../errors.ts";
import { descriptorPressure } from "../mux/descriptors.ts";
import type { ServiceDoor } from "../mux/door.ts";
import type { MuxLogger } from "../mux/logger.ts";
import { HTTP_DEFAULTS, type HttpOptions } from "../mux/options.ts";
import { idKeyOf, isObject } from "../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import { scanArray, scanObject } from "../protocol/scan.ts";
import { claimsModern, isModernVersion, SUPPORTED_VERSIONS } from "../protocol/versions.ts";
import { checkRequest, isLoopback, text } from "./checks.ts";
import {
  type DashboardSource,
  dashboardNeedsToken,
  isDashboardPath,
  serveDashboard,
  stopDashboard,
} from "./dashboard.ts";
import { modernHeaderProblem } from "./modern.ts";
import { paramHeaderProblem, ToolHeaderBook } from "./param-headers.ts";
import { HttpSession, IDLE_AFTER_MS, type StoreBudget } from "./session.ts";

/** Options of {@link startHttpFront}: the front's settings (option table, scope `http`; listen default `127.0.0.1:0`). */
export interface HttpFrontOptions extends Partial<HttpOptions> {
  /** The services by path (`/mcp` or `/mcp/<name>`), looked up per request (reloads change them). */
  routes: () => ReadonlyMap<string, ServiceDoor>;
  logger: MuxLogger;
  /** Serve the dashboard at `/dashboard` from this source (same Host/Origin and token rules). */
  dashboard?: DashboardSource;
}

/** A running HTTP front. */
export interface HttpFront {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Open sessions (for status and tests). */
  readonly sessions: number;
  /** Stored event bytes of all sessions. */
  readonly storedBytes: number;
  /** End every session of a service (it stops, or is removed by a reload). */
  dropService(service: ServiceDoor): void;
  close(): Promise<void>;
}

/**
 * Start the HTTP front. Throws a plain Error when the address cannot be bound or is unsafe.
 * Over 120 lines as one closure (about 260) on purpose: the listener's state (sessions, budget,
 * sweep) is shared by its inner handlers (`post`, `get`, `lookup`, ...), each well under 120.
 */
export function startHttpFront(options: HttpFrontOptions): HttpFront {
  const { hostname, port } = parseListen(options.listen ?? "127.0.0.1:0");
  if (options.auth === "none" && !isLoopback(hostname))
    throw new MuxError(
      "CONFIG_INVALID",
      `listening on ${hostname} (not loopback) needs a bearer token: auth "none" is for loopback only`,
    );
  if (options.auth !== "none" && !options.token)
    throw new MuxError(
      "CONFIG_INVALID",
      'the HTTP front needs a bearer token (token), or auth: "none" to serve loopback without one',
    );
  const allowed = new Set(
    ["localhost", "127.0.0.1", "[::1]", "::1", ...(options.allowedHosts ?? [])].map((h) => h.toLowerCase()),
  );
  if (!isLoopback(hostname) && hostname !== "0.0.0.0" && hostname !== "::") allowed.add(hostname.toLowerCase());
  const sessions = new Map<string, { session: HttpSession; service: ServiceDoor }>();
  /** Stateless 2026-07-28 requests being served (each its own short-lived client). */
  const statelessSessions = new Set<HttpSession>();
  /** Per service: the `x-mcp-header` annotations of the tools its modern clients were listed. */
  const books = new WeakMap<ServiceDoor, ToolHeaderBook>();
  const toolHeaders = (service: ServiceDoor): ToolHeaderBook => {
    const known = books.get(service);
    if (known) return known;
    const book = new ToolHeaderBook();
    books.set(service, book);
    return book;
  };
  const idleMs = options.sessionIdleMs ?? HTTP_DEFAULTS.sessionIdleMs;
  const maxSessions = options.maxSessions ?? HTTP_DEFAULTS.maxSessions;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? HTTP_DEFAULTS.bodyTimeoutMs;
  const budget: StoreBudget = { used: 0, max: options.storeBytesTotal ?? HTTP_DEFAULTS.storeBytesTotal };
  const short = descriptorPressure();
  const log = options.logger;
  let shedLogged = 0;
  /** Requests being handled (bodies still arriving, answers being waited for). */
  let active = 0;
  /** Bodies still arriving: ended at once (503) when descriptors run short. */
  const arriving = new Set<() => void>();

  const end = (s: HttpSession, reason: string): void => {
    const entry = sessions.get(s.id);
    sessions.delete(s.id);
    if (entry && s.client) entry.service.closeClient(s.client, reason);
    log.debug(`http session ${s.label} ended: ${reason}`);
  };

  const server = Bun.serve({
    hostname,
    port,
    // Half-sent requests are closed after this long without a byte; SSE streams are exempted
    // per request (server.timeout(req, 0)) as long as their requests run.
    idleTimeout: Math.max(1, Math.round((options.connectionIdleMs ?? HTTP_DEFAULTS.connectionIdleMs) / 1000)),
    fetch: async (req, srv) => {
      if (short(active)) {
        if (Date.now() - shedLogged > 10_000) {
          shedLogged = Date.now();
          log.warn(
            "http front: few file descriptors left; refusing new HTTP requests (503) and ending unfinished ones to keep a reserve",
          );
        }
        for (const stop of [...arriving]) stop();
        return shed();
      }
      active++;
      try {
        return await handle(req, srv);
      } finally {
        active--;
      }
    },
    error: (error) => {
      log.warn(`http front: ${error.message}`);
      return text(500, "internal error");
    },
  });

  async function handle(req: Request, srv: Bun.Server<undefined>): Promise<Response> {
    let url: URL;
    try {
      url = new URL(req.url); // built from the Host header: a broken one cannot be read
    } catch {
      return text(400, "Bad Request: missing or unreadable Host header");
    }
    if (options.dashboard && isDashboardPath(url.pathname)) {
      // The page holds no data (it takes the token from its URL fragment); its data needs the token.
      const token = dashboardNeedsToken(url.pathname) ? options.token : undefined;
      const refused = checkRequest(req, allowed, token, port === 0 ? undefined : port, srv.port);
      return refused ?? serveDashboard(req, url, options.dashboard, srv);
    }
    const refused = checkRequest(req, allowed, options.token, port === 0 ? undefined : port, srv.port);
    if (refused) return refused;
    const service = options.routes().get(url.pathname.replace(/\/+$/, "") || "/");
    if (!service) return text(404, `no MCP service at ${url.pathname}`);
    if (service.shuttingDown) return text(503, "the service is shutting down");
    if (req.method === "POST") return post(req, service, srv);
    // 2026-07-28 has no standalone stream and no DELETE: only the legacy leg serves them.
    if (
      (req.method === "GET" || req.method === "DELETE") &&
      !req.headers.has("mcp-session-id") &&
      isModernVersion(req.headers.get("mcp-protocol-version")?.trim())
    )
      return text(405, "2026-07-28 is POST only", { Allow: "POST" });
    if (req.method === "GET") return get(req, service, srv);
    if (req.method === "DELETE") {
      const found = lookup(req, service);
      if (found instanceof Response) return found;
      found.close("ended by the client (DELETE)");
      return new Response(null, { status: 200 });
    }
    return text(405, "use POST, GET or DELETE", { Allow: "POST, GET, DELETE" });
  }

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const { session } of [...sessions.values()]) {
        if (session.sweep(now) > 0)
          log.debug(`http session ${session.label}: a stream cut off (its client took nothing)`);
        if (session.openStreams === 0 && now - session.lastActive > idleMs) session.close("idle session expired");
        // Opened and never used (no `initialized`, nothing since): abandoned, not worth 30 minutes.
        else if (
          !session.client.operational &&
          session.openStreams === 0 &&
          now - session.lastActive > Math.min(idleMs, ABANDONED_MS)
        )
          session.close("abandoned session (never initialized) expired");
      }
    },
    Math.min(10_000, Math.max(50, idleMs / 4)),
  );

  /** Make room for a new session: end the oldest idle one. False when every session is busy. */
  function makeRoom(): boolean {
    if (sessions.size < maxSessions) return true;
    let oldest: HttpSession | undefined;
    for (const { session } of sessions.values()) {
      if (session.openStreams > 0 || session.client.inflight.size > 0) continue;
      if (!oldest || session.lastActive < oldest.lastActive) oldest = session;
    }
    if (!oldest) return false;
    oldest.close(`ended to make room: more than ${maxSessions} HTTP sessions`);
    return true;
  }

  /** The session a request names, or the error response (400 none, 404 unknown or ended). */
  function lookup(req: Request, service: ServiceDoor): HttpSession | Response {
    const id = req.headers.get("mcp-session-id");
    if (!id) return rpcError(400, "Bad Request: Mcp-Session-Id header is required");
    const entry = sessions.get(id);
    if (!entry || entry.service !== service || entry.session.ended) return rpcError(404, "Session not found");
    entry.session.lastActive = Date.now();
    return entry.session;
  }

  async function post(req: Request, service: ServiceDoor, srv: Bun.Server<undefined>): Promise<Response> {
    const accept = req.headers.get("accept") ?? "";
    if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream"))
      return rpcError(406, "Not Acceptable: Accept must include application/json and text/event-stream");
    const type = req.headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(type))
      return rpcError(415, "Unsupported Media Type: Content-Type must be application/json");
    const version = req.headers.get("mcp-protocol-version")?.trim();
    const limit = service.options.maxRequestBytes;
    const body = await readBody(req, limit, bodyTimeoutMs, arriving);
    if (body === "shed") return shed();
    if (body === "slow")
      return rpcError(
        408,
        `Request Timeout: the body did not arrive within ${bodyTimeoutMs} ms`,
        undefined,
        undefined,
        {
          connection: "close",
        },
      );
    if (body === undefined) return rpcError(413, `Payload Too Large: the limit is ${limit} bytes`, { limit });
    const messages = split(body);
    if (!messages) return rpcError(400, "Parse error: the body is not JSON", undefined, RpcErrorCode.ParseError);
    // The body decides the era (protocol-2026 §2.2); a 2026-07-28 header on a body without the
    // envelope is a malformed modern request, not legacy traffic.
    if (messages.some((m) => m.modern) || isModernVersion(version)) return stateless(req, messages, service, srv);
    if (version && !(SUPPORTED_VERSIONS as readonly string[]).includes(version))
      return rpcError(400, `Bad Request: unsupported MCP-Protocol-Version ${version}`);
    const init = messages.find((m) => m.method === "initialize");
    let session: HttpSession;
    if (init) {
      if (req.headers.get("mcp-session-id"))
        return rpcError(400, "Bad Request: initialize opens a session; send it without Mcp-Session-Id");
      if (messages.length > 1) return rpcError(400, "Bad Request: initialize must be sent alone");
      if (!makeRoom())
        return rpcError(503, `Service Unavailable: ${maxSessions} HTTP sessions are open and busy; retry later`);
      session = new HttpSession(
        {
          id: randomBytes(16).toString("hex"),
          stallTimeoutMs: service.options.clientStallTimeoutMs,
          budget,
          idleAfterMs: Math.min(IDLE_AFTER_MS, idleMs / 2),
        },
        end,
      );
      session.version = typeof init.version === "string" ? init.version : undefined;
      // A URL entry names its workspace (`?workspace=/abs/folder`): untrusted, checked by the service.
      const workspace = new URL(req.url).searchParams.get("workspace") ?? undefined;
      session.client = service.openClient(session, "http", workspace ? { explicit: workspace } : undefined);
      sessions.set(session.id, { session, service });
      log.debug(`http session ${session.label} opened`);
    } else {
      const found = lookup(req, service);
      if (found instanceof Response) return found;
      session = found;
      session.version ??= session.client.protocolVersion;
    }
    const requests = messages.filter((m) => m.key !== undefined);
    const headers: Record<string, string> = { "mcp-session-id": session.id };
    // The same backpressure as a socket: nothing more of this client goes in while it has its
    // limit of requests in flight, is behind on its streams, or its server's stdin is behind.
    const client = session.client;
    const free = (): boolean => !client.saturated && !service.clientBusy(client);
    // Answers to the server's questions always go in, as on a socket: a client is never stuck
    // behind its own requests.
    const handIn = (m: Incoming): Promise<void> | undefined => {
      if (m.method === undefined) {
        service.clientLine(client, m.text); // an answer (or no message at all: refused at once)
        return undefined;
      }
      return session.admit(free, () => service.clientLine(client, m.text));
    };
    if (requests.length === 0) {
      for (const m of messages) {
        const held = handIn(m);
        if (held) await held;
      }
      return new Response(null, { status: 202, headers });
    }
    // A request id already waiting on another stream of this session, or twice in this batch,
    // is refused here: its answer would otherwise be taken for the first one's.
    const seen = new Set<string>();
    const fresh = requests.filter((m) => {
      const key = m.key as string;
      if (seen.has(key) || session.awaiting(key)) return false;
      seen.add(key);
      return true;
    });
    const single = messages.length === 1 && fresh.length === 1;
    const stream = session.openPostStream(
      fresh.map((m) => m.key as string),
      single,
    );
    for (const m of messages) {
      if (m.key !== undefined && !fresh.includes(m)) {
        session.answer(
          stream,
          errorLine(
            m.rawId ?? "null",
            RpcErrorCode.InvalidRequest,
            "Invalid Request: this id is already used by a request in flight",
          ),
        );
        continue;
      }
      const held = handIn(m);
      if (held) await held;
    }
    // One request whose answer is the first thing back: plain JSON, no stream (the client
    // accepts both); anything before it (progress, a server request, a slow answer): SSE.
    const json = await stream.first;
    if (json !== undefined)
      return new Response(json, { status: 200, headers: { ...headers, "content-type": "application/json" } });
    srv.timeout(req, 0);
    return new Response(stream.body, {
      status: 200,
      headers: { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" },
    });
  }

  /**
   * One stateless 2026-07-28 POST (protocol-2026 §1.7): headers checked against the body
   * (-32020), one request served through a client of its own that ends with its answer (no
   * session id, no event ids, a closed stream cancels it), a notification taken (202).
   */
  async function stateless(
    req: Request,
    messages: Incoming[],
    service: ServiceDoor,
    srv: Bun.Server<undefined>,
  ): Promise<Response> {
    if (messages.length !== 1)
      return rpcError(
        400,
        "Invalid Request: 2026-07-28 requests are not batched",
        undefined,
        RpcErrorCode.InvalidRequest,
      );
    const m = messages[0] as Incoming;
    if (m.key === undefined) return new Response(null, { status: 202 }); // notifications and answers: nothing to do on HTTP
    const problem = modernHeaderProblem(req.headers, m);
    if (problem) return rpcError(400, problem.message, problem.data, problem.code, {}, m.rawId);
    const book = toolHeaders(service);
    if (m.method === "tools/call" && typeof m.params?.name === "string") {
      const annotated = book.of(m.params.name);
      const bad = annotated && paramHeaderProblem(req.headers, annotated, m.params.arguments);
      if (bad) return rpcError(400, `Header mismatch: ${bad}`, undefined, RpcErrorCode.HeaderMismatch, {}, m.rawId);
    }
    const session = new HttpSession(
      { id: randomBytes(16).toString("hex"), stallTimeoutMs: service.options.clientStallTimeoutMs, stateless: true },
      (s, reason) => {
        statelessSessions.delete(s);
        if (s.client) service.closeClient(s.client, reason);
      },
    );
    session.version = "2026-07-28";
    statelessSessions.add(session);
    session.client = service.openClient(session, "http");
    const stream = session.openPostStream([m.key], true);
    // The client going away before the answer is a cancel (2026-07-28 has no notifications/cancelled on HTTP).
    req.signal.addEventListener("abort", () => session.close("the client closed the stream"), { once: true });
    service.clientLine(session.client, m.text);
    const json = await stream.first;
    if (json !== undefined && m.method === "tools/list") learnTools(book, json);
    if (json !== undefined)
      return new Response(json, { status: modernStatus(json), headers: { "content-type": "application/json" } });
    srv.timeout(req, 0);
    return new Response(stream.body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
  }

  function get(req: Request, service: ServiceDoor, srv: Bun.Server<undefined>): Response {
    if (!accepts(req.headers.get("accept") ?? "", "text/event-stream"))
      return rpcError(406, "Not Acceptable: Accept must include text/event-stream");
    const found = lookup(req, service);
    if (found instanceof Response) return found;
    const stream = found.openGetStream(req.headers.get("last-event-id") ?? undefined);
    if (stream === "conflict") return rpcError(409, "Conflict: this session already has a standalone stream");
    srv.timeout(req, 0);
    return new Response(stream.body, {
      status: 200,
      headers: {
        "mcp-session-id": found.id,
        "content-type": "text/event-stream",
        "cache-control": "no-cache, no-transform",
      },
    });
  }

  return {
    url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`,
    port: server.port as number,
    get sessions() {
      return sessions.size;
    },
    get storedBytes() {
      return budget.used;
    },
    dropService(service) {
      for (const { session, service: s } of [...sessions.values()])
        if (s === service) session.close("the service stopped");
    },
    async close() {
      if (options.dashboard) stopDashboard(options.dashboard);
      clearInterval(sweep);
      for (const { session } of [...sessions.values()]) session.close("the mux is shutting down");
      for (const session of [...statelessSessions]) session.close("the mux is shutting down");
      await server.stop(true);
    },
  };
}

// --- internal ---

/** One message of a POST body: its text, and for requests their id key. */
interface Incoming {
  text: string;
  method?: string;
  key?: string;
  rawId?: string;
  /** The protocol version an initialize asks for. */
  version?: unknown;
  /** The request's `params._meta` claims a modern era (2026-07-28). */
  modern?: boolean;
  /** Its params, when an object (for the 2026-07-28 header checks). */
  params?: Record<string, unknown>;
}

/** Split a body into messages (a batch into its elements); undefined when it is not JSON. */
function split(body: string): Incoming[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const one = (text: string, v: unknown): Incoming => {
    if (!isObject(v)) return { text };
    const method = typeof v.method === "string" ? v.method : undefined;
    const idSpan = method !== undefined && "id" in v ? scanObject(text)?.keys.get("id") : undefined;
    const rawId = idSpan ? text.slice(idSpan[0], idSpan[1]) : undefined;
    const params = isObject(v.params) ? v.params : {};
    return {
      text,
      method,
      rawId,
      key: rawId !== undefined && (typeof v.id === "string" || typeof v.id === "number") ? idKeyOf(rawId) : undefined,
      version: method === "initialize" ? params.protocolVersion : undefined,
      modern: claimsModern(params),
      params,
    };
  };
  if (!Array.isArray(value)) return [one(body, value)];
  const spans = scanArray(body) ?? [];
  return value.map((v, i) => {
    const span = spans[i];
    return one(span ? body.slice(span[0], span[1]) : JSON.stringify(v), v);
  });
}

/** A modern `tools/list` answer teaches the book its tools' `x-mcp-header` annotations. */
function learnTools(book: ToolHeaderBook, json: string): void {
  try {
    book.learn((JSON.parse(json) as { result?: unknown }).result);
  } catch {}
}

function accepts(accept: string, type: string): boolean {
  const parts = accept
    .toLowerCase()
    .split(",")
    .map((p) => p.split(";")[0]?.trim());
  return parts.includes(type) || parts.includes("*/*") || parts.includes(`${type.split("/")[0]}/*`);
}

/** A session opened and never used is ended after this long (not the 30-minute idle time). */
const ABANDONED_MS = 60_000;

/** The answer to a request refused while descriptors run short (the connection is closed). */
function shed(): Response {
  return text(503, "Service Unavailable: the mux is short of file descriptors; retry later", {
    connection: "close",
    "retry-after": "1",
  });
}

/**
 * Read a body up to `limit` bytes within `timeoutMs`: undefined when it is bigger, "slow" when
 * late, "shed" when ended through `arriving` (descriptors ran short).
 */
async function readBody(
  req: Request,
  limit: number,
  timeoutMs: number,
  arriving: Set<() => void>,
): Promise<string | undefined | "slow" | "shed"> {
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (!req.body) return "";
  const reader = req.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stop: (() => void) | undefined;
  const late = new Promise<"slow" | "shed">((resolve) => {
    timer = setTimeout(() => resolve("slow"), timeoutMs);
    stop = () => resolve("shed");
    arriving.add(stop);
  });
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "slow" || next === "shed") {
        reader.cancel().catch(() => {});
        return next;
      }
      if (next.done) break;
      size += next.value.length;
      if (size > limit) {
        reader.cancel().catch(() => {});
        return undefined;
      }
      parts.push(next.value);
    }
  } catch {
    return "slow";
  } finally {
    clearTimeout(timer);
    if (stop) arriving.delete(stop);
  }
  return new TextDecoder().decode(Buffer.concat(parts));
}

/** The HTTP status of a 2026-07-28 answer (protocol-2026 §1.8): 400 for envelope and capability faults, 404 for unknown methods. */
function modernStatus(json: string): number {
  const code = /^\{"jsonrpc":"2\.0","id":(?:"(?:[^"\\]|\\.)*"|[^,]*),"error":\{"code":(-?\d+)/.exec(json)?.[1];
  if (code === undefined) return 200;
  if (code === "-32601") return 404;
  if (code === "-32020" || code === "-32021" || code === "-32022") return 400;
  return 200;
}

/** A JSON-RPC error body with an HTTP status (what SDK clients show to the user). */
function rpcError(
  status: number,
  message: string,
  data?: unknown,
  code: number = RpcErrorCode.InvalidRequest,
  headers: Record<string, string> = {},
  rawId = "null",
): Response {
  return new Response(errorLine(rawId, code, message, data), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+|):(\d+)$/.exec(listen.trim()) ?? /^(\d+)$/.exec(listen.trim());
  if (!m)
    throw new MuxError("CONFIG_INVALID", `cannot read listen address ${listen} (use HOST:PORT, e.g. 127.0.0.1:8080)`);
  if (m.length === 2) return { hostname: "127.0.0.1", port: Number(m[1]) };
  const host = (m[1] as string).replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { hostname: host, port: Number(m[2]) };
}
