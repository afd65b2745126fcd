/**
 * One mux client, whatever transport it came through (a socket connection, an HTTP session):
 * the per-client MCP state the router keeps, and the outbound policy every transport shares
 * (droppable notifications are dropped, idempotent ones coalesced, while the client is behind).
 * @module
 */

import type { WorkspaceHint } from "../protocol/hello.ts";
import type { JsonObject, Message, WireLine } from "../protocol/message.ts";

/** What kind of line the router sends; transports and the outbound policy act on it. */
export type SendKind =
  /** A response to one of the client's requests. */
  | "response"
  /** A server→client request (sampling, elicitation, roots) or a cancellation of one. */
  | "request"
  /** Progress of one of the client's requests (droppable while the client is behind). */
  | "progress"
  /** A log message (droppable while the client is behind). */
  | "log"
  /** An idempotent notification (list_changed, resources/updated): coalesced while behind. */
  | "signal"
  /** Any other notification. */
  | "notification";

/** Where a line goes for a client: the transport's side of a client. */
export interface ClientPort {
  /**
   * Deliver one line. `related` is the key of the client request the line belongs to (its
   * response, its progress, a server request it caused), when known: HTTP puts such lines on
   * that request's stream.
   */
  write(line: WireLine, kind: SendKind, related: string | undefined): void;
  /** End the client's connection (after flushing what the transport can). */
  close(reason: string): void;
  /** Bytes queued for the client and not yet taken by it. */
  readonly backlog: number;
  /** Something changed that may let the transport read from the client again. */
  wake(): void;
  /**
   * True when the transport cannot tell the client is still there (an HTTP session with no
   * stream and no request for a while); a connected socket is never idle.
   */
  readonly idle?: boolean;
}

/** A server→client request forwarded to this client and not answered yet. */
export interface OutboundRequest {
  /** The child's id, as raw JSON text ("" for the mux's own questions). */
  childRawId: string;
  method: string;
  elicitationId?: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** A client request the record timed, as its answer carries it back (no id matching on the way out). */
export interface Asked {
  readonly method: string;
  /** The id as the client wrote it. */
  readonly rawId: string;
  /** When it arrived (milliseconds since the epoch). */
  readonly at: number;
}

/**
 * The service's record of one client (set by the service while its record is on): the router
 * hands it each message as it parsed it, and the client each line it writes.
 */
export interface ClientTap {
  /** A message from the client (`line` as it came); a request comes back as what its answer carries. */
  received(msg: Message, line: string | Uint8Array): Asked | undefined;
  /** A line written to the client; `asked`: the request it answers, when the sender knows it. */
  sent(line: WireLine, kind: SendKind, asked: Asked | undefined): void;
}

/** Limits of one client's outbound queue. */
export interface ClientLimits {
  /** Above this many queued bytes, droppable notifications are dropped and reading pauses. */
  highWaterBytes: number;
  /** At most this many of the client's requests are in flight (held or at the child). */
  maxInflight: number;
}

/** A connected client and its MCP session state. */
export class MuxClient {
  readonly id: number;
  /** The transport's name for logs ("socket", "http"). */
  readonly transport: string;
  readonly connectedAt = Date.now();
  /** Set once the first line arrived (only a first line can be an `mcp-mux/hello`). */
  greeted = false;
  /** Set once the client sent `initialize`: an MCP session (status counts these, not probes). */
  session = false;
  /** Set once the client's `initialize` was answered. */
  initialized = false;
  /** Set once the client sent `notifications/initialized`. */
  operational = false;
  protocolVersion: string | undefined;
  capabilities: JsonObject = {};
  clientInfo: JsonObject | undefined;
  /** The client's own `logging/setLevel`, if any. */
  logLevel: string | undefined;
  readonly subscriptions = new Set<string>();
  roots: { uri: string; name?: string }[] | undefined;
  /** The client's requests in flight: id key → mux id (0 while held before the child). */
  readonly inflight = new Map<string, number>();
  /** Server→client requests sent to this client: mux id key → entry. */
  readonly outbound = new Map<string, OutboundRequest>();
  /** Last time anything arrived from this client. */
  lastSeenAt = Date.now();
  /** Last time this client sent a request that went to the child. */
  lastRequestAt = 0;
  /** Requests answered for this client (status: requests per second). */
  answered = 0;
  /** Notifications dropped because the client was not reading. */
  dropped = 0;
  closed = false;
  /** The client sent FIN (or ended its session): close once everything it asked is answered. */
  ending = false;
  /** Where the client says it works (its proxy's hello, an HTTP entry's URL): untrusted. */
  workspaceHint: WorkspaceHint | undefined;
  /** The pid of its host, as its mux-proxy's hello says (untrusted; for logs and status). */
  hostPid: number | undefined;
  /** The folder of the workspace child serving it (`share = "workspace"`). */
  workspace: string | undefined;
  /** Why the client may not use the service (a refused forwarded env or workspace, a limit), if it may not. */
  refusal: string | undefined;
  /** The error code every request of a refused client gets (default -32035, a refused env). */
  refusalCode: number | undefined;

  /** The service's record of this client's traffic, when the record is on. */
  tap: ClientTap | undefined;

  private readonly port: ClientPort;
  private readonly limits: ClientLimits;
  /** Idempotent notifications held back while the client is behind: key → line. */
  private owed = new Map<string, string>();

  constructor(id: number, transport: string, port: ClientPort, limits: ClientLimits) {
    this.id = id;
    this.transport = transport;
    this.port = port;
    this.limits = limits;
  }

  /**
   * Send one line to the client, applying the outbound policy. `asked`: the request a
   * response answers (from the record's `received`), so the record needs no id matching.
   */
  send(line: WireLine, kind: SendKind = "notification", related?: string, asked?: Asked): void {
    if (this.closed) return;
    if (this.port.backlog > this.limits.highWaterBytes) {
      if (kind === "progress" || kind === "log") {
        this.dropped++;
        return;
      }
      if (kind === "signal" && typeof line === "string") {
        this.owed.set(signalKey(line), line);
        return;
      }
    }
    if (kind === "response") this.answered++;
    if (this.tap !== undefined) this.tap.sent(line, kind, asked);
    this.port.write(line, kind, related);
  }

  /** The transport took queued bytes: send what was held back once the client caught up. */
  drained(): void {
    if (this.owed.size > 0 && this.port.backlog <= this.limits.highWaterBytes) {
      const owed = this.owed;
      this.owed = new Map();
      for (const line of owed.values()) this.port.write(line, "signal", undefined);
    }
    this.port.wake();
  }

  /** True while no new request of this client should be read (too many in flight, or not reading). */
  get saturated(): boolean {
    return this.inflight.size >= this.limits.maxInflight || this.port.backlog > this.limits.highWaterBytes;
  }

  /** See {@link ClientPort.idle}. */
  get idle(): boolean {
    return this.port.idle === true;
  }

  /** Bytes queued for the client. */
  get backlog(): number {
    return this.port.backlog;
  }

  /** Something was released (an answer, a slot): the transport may read again. */
  wake(): void {
    if (!this.closed) this.port.wake();
  }

  /** End the connection. */
  close(reason: string): void {
    if (!this.closed) this.port.close(reason);
  }
}

// --- internal ---

/** Coalescing key of an idempotent notification: its method, plus the URI for resources/updated. */
function signalKey(line: string): string {
  const method = /"method"\s*:\s*"([^"]*)"/.exec(line)?.[1] ?? line;
  const uri = method === "notifications/resources/updated" ? /"uri"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(line)?.[1] : "";
  return `${method} ${uri ?? ""}`;
}
