/**
 * The socket transport of a client: line framing in, a batched and paced outbound queue out,
 * and flow control. Reading stops while the client may not send more (too many requests in
 * flight, its answers not read, its server's stdin behind), so nothing it sends piles up in
 * the daemon; a client that takes none of its queued bytes for `stallTimeoutMs` is cut off,
 * while a slow one that keeps reading is never cut off for its backlog alone.
 * @module
 */

import type { Socket } from "bun";
import { createLineSplitter, type LineSplitter, type OversizedLine } from "../protocol/framing.ts";
import { BIG_MESSAGE_BYTES, parseMessage, type WireLine } from "../protocol/message.ts";
import type { ClientPort, MuxClient, SendKind } from "./client.ts";
import { RELEASE_AFTER_BYTES, releaseBigMessage } from "./memory.ts";

/** What a socket client reports to its service. */
export interface SocketClientHandlers {
  line(client: MuxClient, line: string | Uint8Array): void;
  oversized(client: MuxClient, info: OversizedLine): void;
  /** The client half-closed and every line it sent was handled. */
  ended(client: MuxClient): void;
  closed(client: MuxClient, reason: string): void;
  /** An extra reason not to read from this client now (its server's stdin is behind). */
  busy(client: MuxClient): boolean;
}

/** Options of {@link SocketClient}. */
export interface SocketClientOptions {
  /** Open this connection's client at its service (the service's door makes the `MuxClient`). */
  open: (port: ClientPort) => MuxClient;
  socket: Socket<SocketClient>;
  maxRequestBytes: number;
  /** A client that takes none of its queued bytes for this long is disconnected. */
  stallTimeoutMs: number;
  handlers: SocketClientHandlers;
}

/** One client connection on the service socket. */
export class SocketClient implements ClientPort {
  readonly client: MuxClient;
  private readonly socket: Socket<SocketClient>;
  private readonly splitter: LineSplitter;
  private readonly handlers: SocketClientHandlers;
  private readonly stallTimeoutMs: number;
  private readonly queueBound: number;
  /** Lines read but not handled yet (the client may not send more right now). */
  private inbox: Inbound[] = [];
  private inboxBytes = 0;
  private paused = false;
  private endPending = false;
  private out: WireLine[] = [];
  private flushScheduled = false;
  private pending: Chunk[] = [];
  private pendingBytes = 0;
  private lastProgressAt = Number.NEGATIVE_INFINITY;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private lastTakenAt = 0;
  private waking = false;

  constructor(options: SocketClientOptions) {
    this.socket = options.socket;
    this.handlers = options.handlers;
    this.stallTimeoutMs = options.stallTimeoutMs;
    this.queueBound = Math.max(2 * options.maxRequestBytes, 1_048_576);
    this.client = options.open(this);
    this.splitter = createLineSplitter(
      {
        line: (text) => this.accept({ text, bytes: text.length }),
        bytes: (data) => this.accept({ data, bytes: data.length }),
        oversized: (info) => this.accept({ oversized: info, bytes: 0 }),
      },
      { maxLineBytes: options.maxRequestBytes, bigLineBytes: BIG_MESSAGE_BYTES },
    );
  }

  /** Bytes read from the socket. */
  receive(chunk: Uint8Array): void {
    if (!this.client.closed) this.splitter.push(chunk);
  }

  /** The client half-closed: handle what it sent, then let the service end it. */
  end(): void {
    this.endPending = true;
    if (this.inbox.length === 0) this.finishEnd();
  }

  // ---- ClientPort ----

  get backlog(): number {
    return this.pendingBytes;
  }

  /**
   * Queue one line. Lines queued in one tick go out in one write. A line that follows a
   * progress notification within PROGRESS_GAP_MS is written separately, a moment later: MCP
   * SDK v1 clients handle progress in a microtask but responses synchronously, so a progress
   * and the response read in one chunk lose the progress.
   */
  write(line: WireLine, kind: SendKind): void {
    if (this.client.closed) return;
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

  /** Handle held lines the client may now send, and read again when it may send more. */
  wake(): void {
    if (this.waking || this.client.closed) return;
    this.waking = true;
    try {
      while (this.inbox.length > 0 && !this.blocked()) this.deliver(this.inbox.shift() as Inbound);
      // Answers to the server's questions may overtake held requests: the requests in
      // flight may be waiting for exactly those answers.
      if (this.inbox.length > 0 && this.client.outbound.size > 0) this.deliverResponses();
    } finally {
      this.waking = false;
    }
    this.updatePause();
    if (this.inbox.length === 0 && this.endPending) this.finishEnd();
  }

  close(reason: string): void {
    if (this.client.closed) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.flush();
    this.markClosed(reason);
    this.socket.end();
  }

  // ---- socket events ----

  /** The socket can take more bytes. */
  drain(): void {
    this.writePending();
  }

  /** The peer went away: forget everything queued. */
  gone(reason: string): void {
    if (this.client.closed) return;
    this.out = [];
    this.pending = [];
    this.pendingBytes = 0;
    this.markClosed(reason);
  }

  // --- internal ---

  private finishEnd(): void {
    this.endPending = false;
    if (!this.client.closed) this.handlers.ended(this.client);
  }

  private markClosed(reason: string): void {
    this.client.closed = true;
    clearTimeout(this.stallTimer);
    this.inbox = [];
    this.inboxBytes = 0;
    this.handlers.closed(this.client, reason);
  }

  private blocked(): boolean {
    return this.client.saturated || this.handlers.busy(this.client);
  }

  private accept(item: Inbound): void {
    if (this.client.closed) return;
    if (this.inbox.length > 0 || this.blocked()) {
      this.inbox.push(item);
      this.inboxBytes += item.bytes;
      // An answer to the server's question goes in now, even while the client is held: its
      // requests in flight may be waiting for exactly that answer (nothing else would wake it).
      if (this.client.outbound.size > 0) this.deliverResponses();
      this.updatePause();
      return;
    }
    this.deliver(item);
  }

  private deliver(item: Inbound): void {
    this.inboxBytes -= item.bytes;
    if (item.oversized) this.handlers.oversized(this.client, item.oversized);
    else this.handlers.line(this.client, item.data ?? (item.text as string));
  }

  private deliverResponses(): void {
    const keep: Inbound[] = [];
    for (const item of this.inbox) {
      if (item.text !== undefined && parseMessage(item.text).kind === "response") this.deliver(item);
      else keep.push(item);
    }
    this.inbox = keep;
  }

  /** Stop reading while lines wait, unless answers to the server may still be behind them. */
  private updatePause(): void {
    const waiting = this.inbox.length > 0;
    const mayRead = this.client.outbound.size > 0 && this.inboxBytes <= this.queueBound;
    const pause = waiting && !mayRead;
    if (pause === this.paused || this.client.closed) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.client.closed) return;
    const out = this.out;
    this.out = [];
    if (this.pendingBytes === 0) this.lastTakenAt = performance.now();
    const wasEmpty = this.pending.length === 0;
    let texts: string[] = [];
    const pushText = (): void => {
      if (texts.length === 0) return;
      this.queue(texts.length === 1 ? `${texts[0]}\n` : `${texts.join("\n")}\n`);
      texts = [];
    };
    for (const line of out) {
      if (typeof line === "string") texts.push(line);
      else {
        pushText();
        for (const part of line) this.queue(part);
        this.queue("\n");
      }
    }
    pushText();
    if (wasEmpty) this.writePending();
  }

  private queue(data: string | Uint8Array): void {
    const chunk: Chunk =
      typeof data !== "string"
        ? { bytes: data, offset: 0 }
        : isAscii(data)
          ? { text: data, offset: 0 }
          : { bytes: encoder.encode(data), offset: 0 };
    const size = chunk.text !== undefined ? chunk.text.length : (chunk.bytes as Uint8Array).length;
    if (size === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += size;
  }

  /** Write queued chunks until the socket takes no more; big messages go in slices. */
  private writePending(): void {
    let took = false;
    while (this.pending.length > 0) {
      const chunk = this.pending[0] as Chunk;
      const total = chunk.text !== undefined ? chunk.text.length : (chunk.bytes as Uint8Array).length;
      const want = Math.min(total - chunk.offset, WRITE_SLICE);
      let n: number;
      if (chunk.text !== undefined) {
        const whole = chunk.offset === 0 && want === total;
        n = this.socket.write(whole ? chunk.text : chunk.text.slice(chunk.offset, chunk.offset + want));
      } else n = this.socket.write(chunk.bytes as Uint8Array, chunk.offset, want);
      if (n < 0) return this.gone("socket closed");
      if (n > 0) took = true;
      chunk.offset += n;
      this.pendingBytes -= n;
      if (chunk.offset >= total) {
        this.pending.shift();
        if (total >= RELEASE_AFTER_BYTES) releaseBigMessage();
      } else if (n < want) break;
    }
    if (took) this.lastTakenAt = performance.now();
    if (this.pendingBytes > 0) this.armStall();
    else {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
    if (took) this.client.drained();
  }

  private armStall(): void {
    if (this.stallTimer) return;
    if (this.lastTakenAt === 0) this.lastTakenAt = performance.now();
    this.stallTimer = setTimeout(
      () => {
        this.stallTimer = undefined;
        if (this.pendingBytes === 0 || this.client.closed) return;
        const idle = performance.now() - this.lastTakenAt;
        if (idle >= this.stallTimeoutMs) {
          this.pending = [];
          const unread = this.pendingBytes;
          this.pendingBytes = 0;
          this.markClosed(`client stopped reading: ${unread} bytes unread for ${Math.round(idle)} ms`);
          this.socket.terminate();
          return;
        }
        this.armStall();
      },
      this.stallTimeoutMs - Math.min(this.stallTimeoutMs, performance.now() - this.lastTakenAt) + 1,
    );
  }
}

// --- internal ---

/** A line waiting to be handled (or a marker for an oversized one). */
interface Inbound {
  text?: string;
  data?: Uint8Array;
  oversized?: OversizedLine;
  bytes: number;
}

/** Queued outbound data: an ASCII string (written in slices) or encoded bytes. */
interface Chunk {
  text?: string;
  bytes?: Uint8Array;
  offset: number;
}

const encoder = new TextEncoder();
const PROGRESS_GAP_MS = 5;
/** Largest single socket write: a big message never needs a second full-size copy. */
const WRITE_SLICE = 1_048_576;

/** True when every UTF-16 unit is ASCII, so the string length equals its UTF-8 byte length. */
function isAscii(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
  return !/[^\x00-\x7f]/.test(text);
}
