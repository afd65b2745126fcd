/**
 * One connected client: socket framing, a bounded outbound queue, and the per-client MCP
 * session state the router keeps (version, capabilities, log level, subscriptions, ...).
 * @module
 */

import type { Socket } from "bun";
import { createLineSplitter, type LineSplitter, type OversizedLine } from "../protocol/framing.ts";
import type { JsonObject } from "../protocol/message.ts";

/** Callbacks a session reports to. */
export interface SessionHandlers {
  line(session: ClientSession, text: string): void;
  oversized(session: ClientSession, info: OversizedLine): void;
  closed(session: ClientSession, reason: string): void;
}

/** Options of a session. */
export interface SessionOptions {
  id: number;
  socket: Socket<ClientSession>;
  maxRequestBytes: number;
  maxQueueBytes: number;
  handlers: SessionHandlers;
}

/** A server→client request forwarded to this client and not answered yet. */
export interface OutboundRequest {
  /** The child's id, as raw JSON text. */
  childRawId: string;
  method: string;
  elicitationId?: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** A connected client and its MCP session state. */
export class ClientSession {
  readonly id: number;
  readonly connectedAt = Date.now();
  /** Set once the first line arrived (only a first line can be an `mcp-mux/hello`). */
  greeted = false;
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
  /** Forwarded requests still open at the child: client id key → mux id. */
  readonly inflight = new Map<string, number>();
  /** Server→client requests sent to this client: mux id key → entry. */
  readonly outbound = new Map<string, OutboundRequest>();
  /** Last time this client sent a request that went to the child. */
  lastRequestAt = 0;
  closed = false;
  /** The client sent FIN: close once everything it asked is answered. */
  ending = false;

  private readonly socket: Socket<ClientSession>;
  private readonly splitter: LineSplitter;
  private readonly handlers: SessionHandlers;
  private readonly maxQueueBytes: number;
  private out: string[] = [];
  private flushScheduled = false;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private lastProgressAt = Number.NEGATIVE_INFINITY;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.socket = options.socket;
    this.handlers = options.handlers;
    this.maxQueueBytes = options.maxQueueBytes;
    this.splitter = createLineSplitter(
      {
        line: (text) => this.handlers.line(this, text),
        oversized: (info) => this.handlers.oversized(this, info),
      },
      { maxLineBytes: options.maxRequestBytes },
    );
  }

  /** Feed bytes read from the socket. */
  receive(chunk: Uint8Array): void {
    if (!this.closed) this.splitter.push(chunk);
  }

  /**
   * Queue one message line (without newline) for this client. Lines queued in one tick go
   * out in one write. A line that follows a progress notification within PROGRESS_GAP_MS is
   * written separately, a moment later: MCP SDK v1 clients handle progress in a microtask but
   * responses synchronously, so a progress and the response read in one chunk lose the progress.
   */
  send(line: string, kind: "progress" | "other" = "other"): void {
    if (this.closed) return;
    const now = performance.now();
    if (kind === "progress") this.lastProgressAt = now;
    else if (now - this.lastProgressAt < PROGRESS_GAP_MS && !this.holdTimer) {
      this.flush();
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        this.flush();
      }, PROGRESS_GAP_MS);
    }
    this.out.push(line);
    if (!this.flushScheduled && !this.holdTimer) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        if (this.holdTimer) this.flushScheduled = false;
        else this.flush();
      });
    }
  }

  /** Bytes waiting for the socket to drain. */
  get queuedBytes(): number {
    return this.backlogBytes;
  }

  /** The socket became writable again. */
  drain(): void {
    while (this.backlog.length > 0) {
      const first = this.backlog[0] as Uint8Array;
      const n = this.socket.write(first);
      if (n < 0) return this.close("socket closed");
      this.backlogBytes -= Math.max(0, n);
      if (n < first.length) {
        this.backlog[0] = first.subarray(n);
        return;
      }
      this.backlog.shift();
    }
  }

  /** Close the connection (after flushing what is queued, as far as the socket takes it). */
  close(reason: string): void {
    if (this.closed) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.flush();
    this.closed = true;
    this.socket.end();
    this.handlers.closed(this, reason);
  }

  /** The peer went away: mark closed without writing. */
  gone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    this.backlog = [];
    this.backlogBytes = 0;
    this.handlers.closed(this, reason);
  }

  // --- internal ---

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closed) return;
    const text = this.out.length === 1 ? `${this.out[0]}\n` : `${this.out.join("\n")}\n`;
    this.out = [];
    if (this.backlog.length === 0) {
      // Write the string directly (no encode) and only encode the rest on a partial write.
      const n = this.socket.write(text);
      if (n < 0) return this.gone("socket closed");
      if (n === text.length && isAscii(text)) return;
      const bytes = encoder.encode(text);
      if (n === bytes.length) return;
      this.backlog.push(bytes.subarray(n));
      this.backlogBytes += bytes.length - n;
      return;
    }
    const bytes = encoder.encode(text);
    this.backlog.push(bytes);
    this.backlogBytes += bytes.length;
    const beyondFirst = this.backlogBytes - (this.backlog[0] as Uint8Array).length;
    if (beyondFirst > this.maxQueueBytes) {
      this.backlog = [];
      this.backlogBytes = 0;
      this.close(`client is not reading: outbound queue exceeded ${this.maxQueueBytes} bytes`);
    }
  }
}

// --- internal ---

const encoder = new TextEncoder();
const PROGRESS_GAP_MS = 5;

/** True when every UTF-16 unit is ASCII, so the string length equals its UTF-8 byte length. */
function isAscii(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
  return !/[^\x00-\x7f]/.test(text);
}

/** A stable map key for a request id (string "1" and number 1 differ). */
export function idKey(id: unknown): string {
  return typeof id === "string" ? `s${id}` : `n${String(id)}`;
}
