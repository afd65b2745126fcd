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
 *
 * A transport peer of the Unix socket: each POST body is read as bytes and parsed once (a big
 * one, over the byte-path threshold, never decoded whole: its ids are spliced into its bytes),
 * each message handed to the service's door already parsed, and a POST whose client or server
 * is behind waits in the front, as a socket is not read, within one budget of held bytes.
 * @module
 */

import { MuxError } from "../errors.ts";
import { type RequestMessage, wholeParams } from "../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import { isModernVersion, SUPPORTED_VERSIONS } from "../protocol/versions.ts";
import { type Incoming, parseBody, readBody } from "./body.ts";
import { checkRequest, isLoopback, text } from "./checks.ts";
import {
  type DashboardSource,
  dashboardNeedsToken,
  isDashboardPath,
  serveDashboard,
  stopDashboard,
} from "./dashboard.ts";
import type { EnvelopeCheck, HttpDoor, HttpLogger } from "./door.ts";
import { modernHeaderProblem } from "./modern.ts";
import { ParamHeaderGuard } from "./param-headers.ts";
import type { HttpSession, StoreBudget } from "./session.ts";
import { SessionTable } from "./sessions.ts";

/** The front's settings (the option table's scope `http`, defaults applied by the caller). */
export interface HttpFrontSettings {
  /** `host:port` (default `127.0.0.1:0`). */
  listen?: string;
  auth?: "token" | "none";
  token?: string;
  allowedHosts?: string[];
  sessionIdleMs: number;
  maxSessions: number;
  storeBytesTotal: number;
  bodyTimeoutMs: number;
  connectionIdleMs: number;
}

/** Options of {@link startHttpFront}: its settings, the services it serves and the hooks of its caller. */
export interface HttpFrontOptions extends HttpFrontSettings {
  /** The services by path (`/mcp` or `/mcp/<name>`), looked up per request (reloads change them). */
  routes: () => ReadonlyMap<string, HttpDoor>;
  logger: HttpLogger;
  /** Serve the dashboard at `/dashboard` from this source (same Host/Origin and token rules). */
  dashboard?: DashboardSource;
  /** The 2026-07-28 envelope check of a stateless request (the mux's, shared with the socket path). */
  envelope: EnvelopeCheck;
  /** True while the process is short of descriptors with `active` requests open (then 503). Default: never. */
  pressure?: (active: number) => boolean;
  /** Bytes of POST bodies that may wait at once, across the front (default {@link HELD_BYTES_TOTAL}). */
  heldBytesTotal?: number;
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
  dropService(service: HttpDoor): void;
  close(): Promise<void>;
}

/**
 * POST bodies waiting for their client or its server, at most this many bytes across a front
 * (one POST always may wait): past it a POST that would wait gets 503 with `Retry-After`.
 */
export const HELD_BYTES_TOTAL = 32 * 1_048_576;

/** Start the HTTP front. Throws a plain Error when the address cannot be bound or is unsafe. */
export function startHttpFront(options: HttpFrontOptions): HttpFront {
  const { hostname, port } = parseListen(options.listen ?? "127.0.0.1:0");
  checkAuth(options, hostname);
  const front = new Front(options, allowedHosts(options, hostname), port);
  const server = Bun.serve({
    hostname,
    port,
    // Half-sent requests are closed after this long without a byte; SSE streams are exempted
    // per request (server.timeout(req, 0)) as long as their requests run.
    idleTimeout: Math.max(1, Math.round(options.connectionIdleMs / 1000)),
    fetch: (req, srv) => front.fetch(req, srv),
    error: (error) => {
      front.log.warn(`http front: ${error.message}`);
      return text(500, "internal error");
    },
  });
  return {
    url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`,
    port: server.port as number,
    get sessions() {
      return front.sessions.size;
    },
    get storedBytes() {
      return front.sessions.budget.used;
    },
    dropService: (service) => front.sessions.dropService(service),
    async close() {
      front.close();
      await server.stop(true);
    },
  };
}

// --- internal ---

/** A 200 answer streamed as Server-Sent Events, with `headers` besides the usual ones. */
function sse(body: ReadableStream<Uint8Array>, headers: Record<string, string>): Response {
  return new Response(body, {
    status: 200,
    headers: { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" },
  });
}

type Server = Bun.Server<undefined>;

/** The listener's state (sessions, budgets, the sweep) and its request handlers, each one step. */
class Front {
  readonly sessions: SessionTable;
  /** Bytes of POST bodies being handed in (waiting for their client or server, or going in now). */
  readonly held: StoreBudget;
  readonly log: HttpLogger;
  /** Bodies still arriving: ended at once (503) when descriptors run short. */
  readonly arriving = new Set<() => void>();
  private readonly short: (active: number) => boolean;
  private shedLogged = 0;
  /** Requests being handled (bodies still arriving, answers being waited for). */
  private active = 0;
  /** `Mcp-Param-*` checks, from what each service's 2026-07-28 clients were listed. */
  private readonly paramHeaders = new ParamHeaderGuard<HttpDoor>();

  constructor(
    readonly options: HttpFrontOptions,
    private readonly allowed: Set<string>,
    private readonly port: number,
  ) {
    this.log = options.logger;
    this.sessions = new SessionTable(options, options.logger);
    this.held = { used: 0, max: options.heldBytesTotal ?? HELD_BYTES_TOTAL };
    this.short = options.pressure ?? (() => false);
  }

  async fetch(req: Request, srv: Server): Promise<Response> {
    if (this.short(this.active)) {
      if (Date.now() - this.shedLogged > 10_000) {
        this.shedLogged = Date.now();
        this.log.warn(
          "http front: few file descriptors left; refusing new HTTP requests (503) and ending unfinished ones to keep a reserve",
        );
      }
      for (const stop of [...this.arriving]) stop();
      return shed();
    }
    this.active++;
    try {
      return await this.handle(req, srv);
    } finally {
      this.active--;
    }
  }

  close(): void {
    if (this.options.dashboard) stopDashboard(this.options.dashboard);
    this.sessions.close("the mux is shutting down");
  }

  /** The session a request names, or the error response (400 none, 404 unknown or ended). */
  private lookup(req: Request, service: HttpDoor): HttpSession | Response {
    const found = this.sessions.lookup(req.headers.get("mcp-session-id"), service);
    if (found === "missing") return rpcError(400, "Bad Request: Mcp-Session-Id header is required");
    if (found === "unknown") return rpcError(404, "Session not found");
    return found;
  }

  /** Checks, then the method's handler. */
  private async handle(req: Request, srv: Server): Promise<Response> {
    let url: URL;
    try {
      url = new URL(req.url); // built from the Host header: a broken one cannot be read
    } catch {
      return text(400, "Bad Request: missing or unreadable Host header");
    }
    const fixedPort = this.port === 0 ? undefined : this.port;
    const dashboard = this.options.dashboard;
    if (dashboard && isDashboardPath(url.pathname)) {
      // The page holds no data (it takes the token from its URL fragment); its data needs the token.
      const token = dashboardNeedsToken(url.pathname) ? this.options.token : undefined;
      const refused = checkRequest(req, this.allowed, token, fixedPort, srv.port);
      return refused ?? serveDashboard(req, url, dashboard, srv);
    }
    const refused = checkRequest(req, this.allowed, this.options.token, fixedPort, srv.port);
    if (refused) return refused;
    const service = this.options.routes().get(url.pathname.replace(/\/+$/, "") || "/");
    if (!service) return text(404, `no MCP service at ${url.pathname}`);
    if (service.shuttingDown) return text(503, "the service is shutting down");
    if (req.method === "POST") return this.post(req, service, srv);
    // 2026-07-28 has no standalone stream and no DELETE: only the legacy leg serves them.
    if (
      (req.method === "GET" || req.method === "DELETE") &&
      !req.headers.has("mcp-session-id") &&
      isModernVersion(req.headers.get("mcp-protocol-version")?.trim())
    )
      return text(405, "2026-07-28 is POST only", { Allow: "POST" });
    if (req.method === "GET") return this.get(req, service, srv);
    if (req.method === "DELETE") {
      const found = this.lookup(req, service);
      if (found instanceof Response) return found;
      found.close("ended by the client (DELETE)");
      return new Response(null, { status: 200 });
    }
    return text(405, "use POST, GET or DELETE", { Allow: "POST, GET, DELETE" });
  }

  /** A POST: headers, the body read as bytes and parsed once, then its era's handler. */
  private async post(req: Request, service: HttpDoor, srv: Server): Promise<Response> {
    const accept = req.headers.get("accept") ?? "";
    if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream"))
      return rpcError(406, "Not Acceptable: Accept must include application/json and text/event-stream");
    const type = req.headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(type))
      return rpcError(415, "Unsupported Media Type: Content-Type must be application/json");
    const version = req.headers.get("mcp-protocol-version")?.trim();
    const limit = service.options.maxRequestBytes;
    const bodyTimeoutMs = this.options.bodyTimeoutMs;
    const body = await readBody(req, limit, bodyTimeoutMs, this.arriving);
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
    const messages = parseBody(body);
    if (!messages) return rpcError(400, "Parse error: the body is not JSON", undefined, RpcErrorCode.ParseError);
    const post: Post = { req, service, srv, messages, size: body.length };
    // The body decides the era (protocol-2026 §2.2); a 2026-07-28 header on a body without the
    // envelope is a malformed modern request, not legacy traffic.
    if (messages.some((m) => m.modern) || isModernVersion(version)) return this.stateless(post);
    if (version && !(SUPPORTED_VERSIONS as readonly string[]).includes(version))
      return rpcError(400, `Bad Request: unsupported MCP-Protocol-Version ${version}`);
    const session = this.sessionOf(post);
    if (session instanceof Response) return session;
    return this.sessionPost(post, session);
  }

  /** The POST's session: a new one for an initialize, else the one its header names. */
  private sessionOf({ req, service, messages }: Post): HttpSession | Response {
    const init = messages.find((m) => m.method === "initialize");
    if (!init) {
      const found = this.lookup(req, service);
      if (found instanceof Response) return found;
      found.version ??= found.client.protocolVersion;
      return found;
    }
    if (req.headers.get("mcp-session-id"))
      return rpcError(400, "Bad Request: initialize opens a session; send it without Mcp-Session-Id");
    if (messages.length > 1) return rpcError(400, "Bad Request: initialize must be sent alone");
    // A URL entry names its workspace (`?workspace=/abs/folder`): untrusted, checked by the service.
    const workspace = new URL(req.url).searchParams.get("workspace") ?? undefined;
    const version = typeof init.version === "string" ? init.version : undefined;
    const session = this.sessions.open(service, version, workspace);
    if (session) return session;
    return rpcError(
      503,
      `Service Unavailable: ${this.options.maxSessions} HTTP sessions are open and busy; retry later`,
    );
  }

  /** A legacy POST on its session: its messages handed in (held while the client may not send), answers back. */
  private async sessionPost(post: Post, session: HttpSession): Promise<Response> {
    const { req, service, srv, messages } = post;
    const headers: Record<string, string> = { "mcp-session-id": session.id };
    // The same backpressure as a socket: nothing more of this client goes in while it has its
    // limit of requests in flight, is behind on its streams, or its server's stdin is behind.
    const client = session.client;
    const free = (): boolean => !client.saturated && !service.clientBusy(client);
    const hold = this.hold(post, session, free);
    if (hold instanceof Response) {
      // A session this initialize just opened is of no use to anyone: its id was never given.
      if (messages.some((m) => m.method === "initialize")) session.close("refused: its server is behind");
      return hold;
    }
    // Answers to the server's questions always go in, as on a socket: a client is never stuck
    // behind its own requests.
    const handIn = (m: Incoming): Promise<void> | undefined => {
      if (m.method === undefined) {
        service.clientMessage(client, m.line, m.msg); // an answer (or no message at all: refused at once)
        return undefined;
      }
      // A POST whose client went away while it waited never goes in (like unread socket bytes).
      return session.admit(free, () => req.signal.aborted || service.clientMessage(client, m.line, m.msg));
    };
    try {
      const requests = messages.filter((m) => m.key !== undefined);
      if (requests.length === 0) {
        for (const m of messages) {
          const held = handIn(m);
          if (held) await held;
        }
        return new Response(null, { status: 202, headers });
      }
      const stream = openStream(session, messages, requests);
      for (const m of messages) {
        if (m.key !== undefined && !stream.fresh.has(m)) {
          session.answer(stream.sse, duplicateId(m.rawId));
          continue;
        }
        const held = handIn(m);
        if (held) await held;
      }
      hold.release();
      // One request whose answer is the first thing back: plain JSON, no stream (the client
      // accepts both); anything before it (progress, a server request, a slow answer): SSE.
      const json = await stream.sse.first;
      if (json !== undefined)
        return new Response(json, { status: 200, headers: { ...headers, "content-type": "application/json" } });
      srv.timeout(req, 0);
      return sse(stream.sse.body, headers);
    } finally {
      hold.release();
    }
  }

  /**
   * Count a POST's body against the front's held budget while its messages are handed in; a
   * POST that would wait (its client or server is behind) and does not fit is refused (503),
   * so waiting bodies never pile up without bound. One always fits when nothing waits.
   */
  private hold(post: Post, session: HttpSession, free: () => boolean): { release(): void } | Response {
    const held = this.held;
    const waits = session.wouldHold(free);
    if (waits && held.used > 0 && held.used + post.size > held.max) {
      const only = post.messages.length === 1 ? post.messages[0]?.rawId : undefined;
      this.log.debug(`http front: a POST refused while ${held.used} bytes of POSTs wait for their server`);
      return rpcError(
        503,
        "Service Unavailable: the server is behind on its input and enough requests already wait; retry later",
        { heldBytes: held.used, limit: held.max },
        RpcErrorCode.LimitReached,
        { "retry-after": "1" },
        only,
      );
    }
    // Waiting in the front is bounded by the budget, not by the connection's idle time: a POST
    // cut off while it waits would still reach the server later, with nobody to answer.
    if (waits) post.srv.timeout(post.req, 0);
    held.used += post.size;
    let counted = true;
    return {
      release: () => {
        if (!counted) return;
        counted = false;
        held.used -= post.size;
      },
    };
  }

  /**
   * One stateless 2026-07-28 POST (protocol-2026 §1.7): headers checked against the body
   * (-32020), one request served on the client the service's stateless requests share (no
   * session id, no event ids, a closed stream cancels it alone), a notification taken (202).
   * It waits like any other while its server's stdin is behind.
   */
  private async stateless(post: Post): Promise<Response> {
    const { req, service, srv, messages } = post;
    if (messages.length !== 1)
      return rpcError(
        400,
        "Invalid Request: 2026-07-28 requests are not batched",
        undefined,
        RpcErrorCode.InvalidRequest,
      );
    const m = messages[0] as Incoming;
    if (m.key === undefined) return new Response(null, { status: 202 }); // notifications and answers: nothing to do on HTTP
    const problem = modernHeaderProblem(req.headers, m, this.options.envelope);
    if (problem) return rpcError(400, problem.message, problem.data, problem.code, {}, m.rawId);
    // A big body's `params` hold only its small members: the check reads them whole, or
    // padding the arguments past the byte-path threshold would skip it.
    const params = m.msg.kind === "request" ? wholeParams(m.msg) : m.params;
    const bad = this.paramHeaders.problem(service, req.headers, m.method, params);
    if (bad) return rpcError(400, `Header mismatch: ${bad}`, undefined, RpcErrorCode.HeaderMismatch, {}, m.rawId);
    const session = this.sessions.statelessFor(service);
    const client = session.client;
    const free = (): boolean => !service.clientBusy(client);
    const hold = this.hold(post, session, free);
    if (hold instanceof Response) return hold;
    // A key of its own on the shared client: two requests with the same id never meet; the
    // answer still carries the id as the client wrote it.
    const key = session.nextKey();
    const msg = m.msg as RequestMessage; // this POST's own, parsed for it alone
    msg.key = key;
    const stream = session.openPostStream([key], true);
    // Learnt whether the answer comes back as JSON or, slow, as an event.
    if (m.method === "tools/list") stream.onAnswer = (json) => this.paramHeaders.listed(service, json);
    let late = false;
    try {
      // One that waited goes in only if its client is still there (as unread socket bytes).
      const held = session.admit(free, () => {
        if (!late || !req.signal.aborted) service.clientMessage(client, m.line, msg);
      });
      if (held) {
        late = true;
        await held;
        if (req.signal.aborted) session.giveUp(key, "the client went away while its request waited");
      }
    } finally {
      hold.release();
    }
    const json = await stream.first;
    if (json !== undefined)
      return new Response(json, { status: modernStatus(json), headers: { "content-type": "application/json" } });
    // Not answered within the JSON window: from now on the client going away is a cancel (2026-07-28
    // has no notifications/cancelled on HTTP), through its closed stream or, before that, its
    // aborted request. (Watching `req.signal` from the start would cost every quick request.)
    const cancel = (): void => session.giveUp(key, "the client closed the stream");
    if (req.signal.aborted) cancel();
    else req.signal.addEventListener("abort", cancel, { once: true });
    srv.timeout(req, 0);
    return sse(stream.body, { "x-accel-buffering": "no" });
  }

  private get(req: Request, service: HttpDoor, srv: Server): Response {
    if (!accepts(req.headers.get("accept") ?? "", "text/event-stream"))
      return rpcError(406, "Not Acceptable: Accept must include text/event-stream");
    const found = this.lookup(req, service);
    if (found instanceof Response) return found;
    const stream = found.openGetStream(req.headers.get("last-event-id") ?? undefined);
    if (stream === "conflict") return rpcError(409, "Conflict: this session already has a standalone stream");
    srv.timeout(req, 0);
    return sse(stream.body, { "mcp-session-id": found.id });
  }
}

/** One POST being served: its request, service, parsed messages and body size. */
interface Post {
  req: Request;
  service: HttpDoor;
  srv: Server;
  messages: Incoming[];
  size: number;
}

/** The POST stream of a session's requests; a repeated id (in the batch, or in flight on another stream) is not fresh. */
function openStream(
  session: HttpSession,
  messages: Incoming[],
  requests: Incoming[],
): { sse: ReturnType<HttpSession["openPostStream"]>; fresh: Set<Incoming> } {
  // Its answer would otherwise be taken for the first one's.
  const seen = new Set<string>();
  const fresh = new Set<Incoming>();
  for (const m of requests) {
    const key = m.key as string;
    if (seen.has(key) || session.awaiting(key)) continue;
    seen.add(key);
    fresh.add(m);
  }
  const single = messages.length === 1 && fresh.size === 1;
  const sse = session.openPostStream(
    [...fresh].map((m) => m.key as string),
    single,
  );
  return { sse, fresh };
}

function duplicateId(rawId: string | undefined): string {
  return errorLine(
    rawId ?? "null",
    RpcErrorCode.InvalidRequest,
    "Invalid Request: this id is already used by a request in flight",
  );
}

/** Refuse auth "none" off loopback, and a front without a token unless auth is "none". */
function checkAuth(options: HttpFrontSettings, hostname: string): void {
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
}

/** The Host values a request may carry: loopback names, the configured ones, and the bound name. */
function allowedHosts(options: HttpFrontSettings, hostname: string): Set<string> {
  const allowed = new Set(
    ["localhost", "127.0.0.1", "[::1]", "::1", ...(options.allowedHosts ?? [])].map((h) => h.toLowerCase()),
  );
  if (!isLoopback(hostname) && hostname !== "0.0.0.0" && hostname !== "::") allowed.add(hostname.toLowerCase());
  return allowed;
}

function accepts(accept: string, type: string): boolean {
  const parts = accept
    .toLowerCase()
    .split(",")
    .map((p) => p.split(";")[0]?.trim());
  return parts.includes(type) || parts.includes("*/*") || parts.includes(`${type.split("/")[0]}/*`);
}

/** The answer to a request refused while descriptors run short (the connection is closed). */
function shed(): Response {
  return text(503, "Service Unavailable: the mux is short of file descriptors; retry later", {
    connection: "close",
    "retry-after": "1",
  });
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
