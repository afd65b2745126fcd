/**
 * The daemon's control socket: answers `mcp-mux/status` with every service's snapshot,
 * `mcp-mux/reload` with the outcome of a config reload, and `mcp-mux/logs` with the services'
 * records (then, with `follow`, every new entry as an `mcp-mux/log` notification until the
 * connection closes). A single `mux serve --socket` service has one too, beside its socket
 * ({@link controlPathOf}). Records are read only here, never through MCP. The socket is
 * 0600 in a private folder (see listener.ts): only the owner's tools reach it. Still, what they
 * send is bounded: a line over 64 KiB is dropped (memory stays flat) and answered with an
 * error, and reloads run one at a time, in the order asked.
 * @module
 */

import { createLineSplitter } from "../protocol/framing.ts";
import { parseMessage } from "../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { type Listener, listenUnix } from "./listener.ts";
import type { RecordEntry, Recorder } from "./record.ts";

/** Longest control request line (they are a few dozen bytes). */
const MAX_CONTROL_LINE_BYTES = 64 * 1024;

/** What the control socket can do. */
export interface ControlHandlers {
  status(): unknown;
  reload(): Promise<unknown>;
  /** The records of the running services, by name. */
  records?(): ReadonlyMap<string, Recorder>;
  /** The dashboard's address and token (`mux dashboard`), when it is served. */
  dashboard?(): { url: string; token: string | null } | undefined;
}

/** The control socket of a single service listening on `socket`. */
export function controlPathOf(socket: string): string {
  return `${socket}.ctl`;
}

/** What `mcp-mux/logs` takes. */
export interface LogsQuery {
  service?: string;
  /** Entries whose client's host name contains this (case-insensitive). */
  client?: string;
  /** Entries at or after this time (ms since the epoch). */
  since?: number;
  /** At most this many of the latest entries (default 1000, at most 100000). */
  limit?: number;
  follow?: boolean;
}

/** The entry filter of a query. */
export function logFilter(q: LogsQuery): (e: RecordEntry) => boolean {
  const client = q.client?.toLowerCase();
  const since = q.since;
  return (e) => {
    if (since !== undefined && e.t < since) return false;
    if (client !== undefined && !(e.client?.name ?? "").toLowerCase().includes(client)) return false;
    return true;
  };
}

/** Listen on `path` for control requests. */
export async function startControl(path: string, handlers: ControlHandlers): Promise<Listener<undefined>> {
  let reloads: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<unknown> => {
    const next = reloads.then(
      () => handlers.reload(),
      () => handlers.reload(),
    );
    reloads = next.catch(() => {});
    return next;
  };
  const unfollow = new WeakMap<object, () => void>();
  return listenUnix<undefined>(path, {
    open(socket) {
      const splitter = createLineSplitter(
        {
          line(text) {
            const msg = parseMessage(text);
            if (msg.kind !== "request") return;
            const answer = (line: string): void => {
              socket.write(`${line}\n`);
            };
            if (msg.method === "mcp-mux/status" || msg.method === "ping") {
              answer(resultLine(msg.rawId, msg.method === "ping" ? {} : handlers.status()));
            } else if (msg.method === "mcp-mux/reload") {
              reload().then(
                (r) => answer(resultLine(msg.rawId, r)),
                (e: unknown) =>
                  answer(errorLine(msg.rawId, RpcErrorCode.InvalidParams, e instanceof Error ? e.message : String(e))),
              );
            } else if (msg.method === "mcp-mux/dashboard") {
              const d = handlers.dashboard?.();
              if (d) answer(resultLine(msg.rawId, d));
              else
                answer(
                  errorLine(
                    msg.rawId,
                    RpcErrorCode.InvalidRequest,
                    'this daemon serves no dashboard (give it --dashboard HOST:PORT or dashboard = "127.0.0.1:0", or the HTTP front)',
                  ),
                );
            } else if (msg.method === "mcp-mux/logs" && handlers.records) {
              const q = readQuery(msg.params);
              if (typeof q === "string") return answer(errorLine(msg.rawId, RpcErrorCode.InvalidParams, q));
              const records = handlers.records();
              if (q.service !== undefined && !records.has(q.service))
                return answer(
                  errorLine(
                    msg.rawId,
                    RpcErrorCode.InvalidParams,
                    `unknown service ${JSON.stringify(q.service.slice(0, 100))} (running: ${[...records.keys()].join(", ") || "none"})`,
                  ),
                );
              const chosen = q.service !== undefined ? [records.get(q.service) as Recorder] : [...records.values()];
              const keep = logFilter(q);
              const entries = chosen.flatMap((r) => r.entries(keep)).sort((a, b) => a.t - b.t || a.seq - b.seq);
              const limit = q.limit ?? 1000;
              answer(
                resultLine(msg.rawId, {
                  services: [...records.keys()],
                  entries: entries.slice(Math.max(0, entries.length - limit)),
                }),
              );
              if (!q.follow) return;
              const out = boundedWriter(socket);
              const stops = chosen.map((r) =>
                r.follow((e) => {
                  if (keep(e)) out(`{"jsonrpc":"2.0","method":"mcp-mux/log","params":${JSON.stringify(e)}}\n`);
                }),
              );
              unfollow.get(socket)?.();
              unfollow.set(socket, () => {
                for (const stop of stops) stop();
              });
            } else answer(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method}`));
          },
          oversized(info) {
            socket.write(
              `${errorLine("null", RpcErrorCode.InvalidRequest, `Invalid Request: a control request of ${info.bytes} bytes (at most ${MAX_CONTROL_LINE_BYTES})`)}\n`,
            );
          },
        },
        { maxLineBytes: MAX_CONTROL_LINE_BYTES },
      );
      (socket as unknown as { splitter: typeof splitter }).splitter = splitter;
    },
    data(socket, chunk) {
      (socket as unknown as { splitter: { push(c: Uint8Array): void } }).splitter.push(chunk);
    },
    drain(socket) {
      (socket as unknown as { flush?: () => void }).flush?.();
    },
    close(socket) {
      unfollow.get(socket)?.();
      unfollow.delete(socket);
    },
  });
}

// --- internal ---

/** Longest backlog of a follower that is not reading (then it is cut off). */
const MAX_FOLLOW_BACKLOG = 4 * 1024 * 1024;

/** The query of `mcp-mux/logs`, or what is wrong with it. */
function readQuery(params: unknown): LogsQuery | string {
  if (params === undefined || params === null) return {};
  if (typeof params !== "object" || Array.isArray(params)) return "Invalid params: an object is expected";
  const p = params as Record<string, unknown>;
  const q: LogsQuery = {};
  for (const k of ["service", "client"] as const) {
    const v = p[k];
    if (v === undefined) continue;
    if (typeof v !== "string" || v.length === 0 || v.length > 200)
      return `Invalid params: ${k} must be a non-empty string (at most 200 characters)`;
    q[k] = v;
  }
  if (p.since !== undefined) {
    if (typeof p.since !== "number" || !Number.isFinite(p.since))
      return "Invalid params: since must be a number (ms since the epoch)";
    q.since = p.since;
  }
  if (p.limit !== undefined) {
    if (typeof p.limit !== "number" || !Number.isInteger(p.limit) || p.limit < 1 || p.limit > 100_000)
      return "Invalid params: limit must be a whole number from 1 to 100000";
    q.limit = p.limit;
  }
  if (p.follow !== undefined) {
    if (typeof p.follow !== "boolean") return "Invalid params: follow must be true or false";
    q.follow = p.follow;
  }
  return q;
}

/** Writes to a socket, holding what it did not take; a reader too far behind is cut off. */
function boundedWriter(socket: { write(d: string | Uint8Array): number; end(): void }): (text: string) => void {
  const encoder = new TextEncoder();
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let cut = false;
  const flush = (): void => {
    while (held.length > 0) {
      const first = held[0] as Uint8Array;
      const n = socket.write(first);
      heldBytes -= Math.max(0, n);
      if (n < first.length) {
        held[0] = first.subarray(Math.max(0, n));
        return;
      }
      held.shift();
    }
  };
  (socket as unknown as { flush: () => void }).flush = flush;
  return (text) => {
    if (cut) return;
    const bytes = encoder.encode(text);
    if (heldBytes + bytes.length > MAX_FOLLOW_BACKLOG) {
      cut = true;
      held = [];
      socket.end();
      return;
    }
    held.push(bytes);
    heldBytes += bytes.length;
    if (held.length === 1) flush();
  };
}
