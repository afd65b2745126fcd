/**
 * The Streamable HTTP front: hosts reach a service by URL, with no proxy process, and share
 * its child, ids, slots, subscriptions, log levels and restarts with the socket clients. One
 * listener per daemon: a single service at `/mcp`, the services of a config at
 * `/mcp/<service>`.
 *
 * Secure by default: it binds loopback unless told otherwise, and a non-loopback bind needs a
 * bearer token; `Host` and `Origin` are checked on every request (DNS rebinding); session ids
 * are 128 random bits and never logged in full.
 * @module
 */

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { MuxLogger } from "../mux/logger.ts";
import type { MuxService } from "../mux/service.ts";
import { idKeyOf, isObject } from "../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import { scanArray, scanObject } from "../protocol/scan.ts";
import { SUPPORTED_VERSIONS } from "../protocol/versions.ts";
import { HttpSession } from "./session.ts";

/** Options of {@link startHttpFront}. */
export interface HttpFrontOptions {
  /** `host:port` to listen on (port 0 picks one). Default `127.0.0.1:0`. */
  listen?: string;
  /** Every request must carry `Authorization: Bearer <token>` (required off loopback). */
  token?: string;
  /** Host names accepted in `Host`/`Origin` besides localhost, 127.0.0.1 and [::1]. */
  allowedHosts?: string[];
  /** A session with no stream and no request for this long ends (default 30 min). */
  sessionIdleMs?: number;
  /** The services by path (`/mcp` or `/mcp/<name>`), looked up per request (reloads change them). */
  routes: () => ReadonlyMap<string, MuxService>;
  logger: MuxLogger;
}

/** A running HTTP front. */
export interface HttpFront {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Open sessions (for status and tests). */
  readonly sessions: number;
  /** End every session of a service (it stops, or is removed by a reload). */
  dropService(service: MuxService): void;
  close(): Promise<void>;
}

/** Start the HTTP front. Throws a plain Error when the address cannot be bound or is unsafe. */
export function startHttpFront(options: HttpFrontOptions): HttpFront {
  const { hostname, port } = parseListen(options.listen ?? "127.0.0.1:0");
  if (!isLoopback(hostname) && !options.token)
    throw new Error(
      `listening on ${hostname} (not loopback) needs a bearer token: set http_token_file / --http-token-file`,
    );
  const allowed = new Set(
    ["localhost", "127.0.0.1", "[::1]", "::1", ...(options.allowedHosts ?? [])].map((h) => h.toLowerCase()),
  );
  if (!isLoopback(hostname) && hostname !== "0.0.0.0" && hostname !== "::") allowed.add(hostname.toLowerCase());
  const sessions = new Map<string, { session: HttpSession; service: MuxService }>();
  const idleMs = options.sessionIdleMs ?? 30 * 60_000;
  const log = options.logger;

  const end = (s: HttpSession, reason: string): void => {
    const entry = sessions.get(s.id);
    sessions.delete(s.id);
    if (entry && s.client) entry.service.closeClient(s.client, reason);
    log.debug(`http session ${s.label} ended: ${reason}`);
  };

  const server = Bun.serve({
    hostname,
    port,
    idleTimeout: 0, // SSE streams stay open as long as their requests run
    fetch: async (req) => {
      const url = new URL(req.url);
      const service = options.routes().get(url.pathname.replace(/\/+$/, "") || "/");
      const refused = checkRequest(req, allowed, options.token);
      if (refused) return refused;
      if (!service) return text(404, `no MCP service at ${url.pathname}`);
      if (service.shuttingDown) return text(503, "the service is shutting down");
      if (req.method === "POST") return post(req, service);
      if (req.method === "GET") return get(req, service);
      if (req.method === "DELETE") {
        const found = lookup(req, service);
        if (found instanceof Response) return found;
        found.close("ended by the client (DELETE)");
        return new Response(null, { status: 200 });
      }
      return text(405, "use POST, GET or DELETE", { Allow: "POST, GET, DELETE" });
    },
    error: (error) => {
      log.warn(`http front: ${error.message}`);
      return text(500, "internal error");
    },
  });

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const { session } of [...sessions.values()]) {
        if (session.sweep(now) > 0)
          log.debug(`http session ${session.label}: a stream cut off (its client took nothing)`);
        if (session.openStreams === 0 && now - session.lastActive > idleMs) session.close("idle session expired");
      }
    },
    Math.min(60_000, Math.max(50, idleMs / 4)),
  );

  /** The session a request names, or the error response (400 none, 404 unknown or ended). */
  function lookup(req: Request, service: MuxService): HttpSession | Response {
    const id = req.headers.get("mcp-session-id");
    if (!id) return rpcError(400, "Bad Request: Mcp-Session-Id header is required");
    const entry = sessions.get(id);
    if (!entry || entry.service !== service || entry.session.ended) return rpcError(404, "Session not found");
    entry.session.lastActive = Date.now();
    return entry.session;
  }

  async function post(req: Request, service: MuxService): Promise<Response> {
    const accept = req.headers.get("accept") ?? "";
    if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream"))
      return rpcError(406, "Not Acceptable: Accept must include application/json and text/event-stream");
    const type = req.headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(type))
      return rpcError(415, "Unsupported Media Type: Content-Type must be application/json");
    const version = req.headers.get("mcp-protocol-version");
    if (version && !(SUPPORTED_VERSIONS as readonly string[]).includes(version))
      return rpcError(400, `Bad Request: unsupported MCP-Protocol-Version ${version}`);
    const limit = service.options.maxRequestBytes;
    const body = await readBody(req, limit);
    if (body === undefined) return rpcError(413, `Payload Too Large: the limit is ${limit} bytes`, { limit });
    const messages = split(body);
    if (!messages) return rpcError(400, "Parse error: the body is not JSON", undefined, RpcErrorCode.ParseError);
    const init = messages.find((m) => m.method === "initialize");
    let session: HttpSession;
    if (init) {
      if (req.headers.get("mcp-session-id"))
        return rpcError(400, "Bad Request: initialize opens a session; send it without Mcp-Session-Id");
      if (messages.length > 1) return rpcError(400, "Bad Request: initialize must be sent alone");
      session = new HttpSession(
        { id: randomBytes(16).toString("hex"), stallTimeoutMs: service.options.clientStallTimeoutMs },
        end,
      );
      session.version = typeof init.version === "string" ? init.version : undefined;
      session.client = service.openClient(session, "http");
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
    if (requests.length === 0) {
      for (const m of messages) service.clientLine(session.client, m.text);
      return new Response(null, { status: 202, headers });
    }
    // A request id already waiting on another stream of this session is refused here: its
    // answer would otherwise be taken for the first one's.
    const fresh = requests.filter((m) => !session.awaiting(m.key as string));
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
      service.clientLine(session.client, m.text);
    }
    // One request whose answer is the first thing back: plain JSON, no stream (the client
    // accepts both); anything before it (progress, a server request, a slow answer): SSE.
    const json = await stream.first;
    if (json !== undefined)
      return new Response(json, { status: 200, headers: { ...headers, "content-type": "application/json" } });
    return new Response(stream.body, {
      status: 200,
      headers: { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" },
    });
  }

  function get(req: Request, service: MuxService): Response {
    if (!accepts(req.headers.get("accept") ?? "", "text/event-stream"))
      return rpcError(406, "Not Acceptable: Accept must include text/event-stream");
    const found = lookup(req, service);
    if (found instanceof Response) return found;
    const stream = found.openGetStream(req.headers.get("last-event-id") ?? undefined);
    if (stream === "conflict") return rpcError(409, "Conflict: this session already has a standalone stream");
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
    dropService(service) {
      for (const { session, service: s } of [...sessions.values()])
        if (s === service) session.close("the service stopped");
    },
    async close() {
      clearInterval(sweep);
      for (const { session } of [...sessions.values()]) session.close("the mux is shutting down");
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
    };
  };
  if (!Array.isArray(value)) return [one(body, value)];
  const spans = scanArray(body) ?? [];
  return value.map((v, i) => {
    const span = spans[i];
    return one(span ? body.slice(span[0], span[1]) : JSON.stringify(v), v);
  });
}

/** The 4xx answer for a request that fails the Host/Origin or token checks. */
function checkRequest(req: Request, allowed: Set<string>, token: string | undefined): Response | undefined {
  const host = hostOf(req.headers.get("host") ?? "");
  if (!host || !allowed.has(host)) return text(403, "Forbidden: Host not allowed (DNS rebinding protection)");
  const origin = req.headers.get("origin");
  if (origin && origin !== "null") {
    let name: string;
    try {
      name = new URL(origin).hostname.toLowerCase();
    } catch {
      return text(403, "Forbidden: unreadable Origin");
    }
    if (!allowed.has(name) && !allowed.has(`[${name}]`))
      return text(403, "Forbidden: Origin not allowed (DNS rebinding protection)");
  }
  if (token) {
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1]?.trim() ?? "";
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b))
      return text(401, "Unauthorized: a valid bearer token is required", {
        "www-authenticate": 'Bearer realm="mcp-mux"',
      });
  }
  return undefined;
}

/** The host name of a Host header (`localhost:8080` → `localhost`, `[::1]:80` → `[::1]`). */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  return h.replace(/:\d+$/, "");
}

function accepts(accept: string, type: string): boolean {
  const parts = accept
    .toLowerCase()
    .split(",")
    .map((p) => p.split(";")[0]?.trim());
  return parts.includes(type) || parts.includes("*/*") || parts.includes(`${type.split("/")[0]}/*`);
}

/** Read a body up to `limit` bytes; undefined when it is bigger. */
async function readBody(req: Request, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (!req.body) return "";
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > limit) return undefined;
    parts.push(chunk);
  }
  return new TextDecoder().decode(Buffer.concat(parts));
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

/** A JSON-RPC error body with an HTTP status (what SDK clients show to the user). */
function rpcError(
  status: number,
  message: string,
  data?: unknown,
  code: number = RpcErrorCode.InvalidRequest,
): Response {
  return new Response(errorLine("null", code, message, data), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+|):(\d+)$/.exec(listen.trim()) ?? /^(\d+)$/.exec(listen.trim());
  if (!m) throw new Error(`cannot read listen address ${listen} (use HOST:PORT, e.g. 127.0.0.1:8080)`);
  if (m.length === 2) return { hostname: "127.0.0.1", port: Number(m[1]) };
  const host = (m[1] as string).replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { hostname: host, port: Number(m[2]) };
}

/** True for loopback addresses and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
