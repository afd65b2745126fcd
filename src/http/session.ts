/**
 * One Streamable HTTP session = one mux client. The session is the client's transport
 * (`ClientPort`): each line the router sends goes to the right SSE stream, the stream of the
 * POST whose request it answers or belongs to (progress, server→client requests it caused),
 * otherwise the standalone GET stream. Every event gets an id and is kept in a bounded store,
 * so a client that lost a stream resumes it with `Last-Event-ID`.
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";
import type { WireLine } from "../protocol/message.ts";
import type { HttpClient, HttpPort } from "./door.ts";

/** Settings of a session. */
export interface HttpSessionOptions {
  /** The session id (128 random bits). */
  id: string;
  /** Events kept for resumption: at most this many bytes (default 8 MiB) … */
  storeBytes?: number;
  /** … and this many events (default 2000). */
  storeEvents?: number;
  /** A stream whose client takes nothing for this long is closed (it may resume). */
  stallTimeoutMs: number;
  /**
   * The event budget every session of the front shares: while `used` exceeds `max`, a session
   * that stores an event drops its own oldest ones first (resumption is best effort; memory is
   * bounded for all sessions together).
   */
  budget?: StoreBudget;
  /** Without a stream or a request for this long the session counts as idle (default {@link IDLE_AFTER_MS}). */
  idleAfterMs?: number;
  /**
   * The stateless (2026-07-28) requests of a service, not a session: each request its own
   * stream under a key of its own ({@link HttpSession.nextKey}), events without ids and nothing
   * stored (no resumption), nothing sent that belongs to no request, and a stream the client
   * closes cancels its request alone (through `cancel`).
   */
  stateless?: boolean;
  /** A stateless request's stream closed before its answer: give up request `key`. */
  cancel?: (key: string, reason: string) => void;
}

/** Bytes of stored events across the sessions of one front. */
export interface StoreBudget {
  used: number;
  max: number;
}

/** A session counts as idle (status, eviction) without an open stream or a request for this long. */
export const IDLE_AFTER_MS = 60_000;

/** An SSE stream of a session (a POST's, or the standalone GET one). */
export interface SseStream {
  readonly id: number;
  /** The Response body. */
  readonly body: ReadableStream<Uint8Array>;
  /**
   * For a POST of one request: the answer as JSON text when it is the first thing to go to
   * the client for that request (no stream needed), or undefined once the stream is needed.
   */
  readonly first?: Promise<string | undefined>;
  /** Told each answer to one of its requests, as JSON text, whether it goes back as JSON or as an event. */
  onAnswer?: (json: string) => void;
}

/** A Streamable HTTP session and its streams. */
export class HttpSession implements HttpPort {
  readonly id: string;
  /** The mux client (set right after the session is opened on a service). */
  client!: HttpClient;
  lastActive = Date.now();
  ended = false;
  /** The protocol version the session speaks (for the priming event). */
  version: string | undefined;

  private readonly streams = new Map<number, Stream>();
  /** Request key → the stream its answer and related messages go to. */
  private readonly requestStream = new Map<string, number>();
  private standalone: Stream | undefined;
  /** Messages for the standalone stream while none is open (bounded). */
  private waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  /** Messages of POSTs held until the client may send again (see {@link admit}). */
  private held: { free: () => boolean; go: () => void; done: () => void }[] = [];
  /** Stored events (for resumption) from `storeHead` on; the head moves instead of shifting. */
  private store: { seq: number; stream: number; bytes: Uint8Array }[] = [];
  private storeHead = 0;
  private storeBytes = 0;
  private nextSeq = 1;
  private nextStream = 1;
  private keySeq = 0;
  private readonly options: HttpSessionOptions;
  private readonly onEnd: (session: HttpSession, reason: string) => void;

  constructor(options: HttpSessionOptions, onEnd: (session: HttpSession, reason: string) => void) {
    this.id = options.id;
    this.options = options;
    this.onEnd = onEnd;
  }

  /** A short form of the id for logs (ids are never logged in full). */
  get label(): string {
    return `${this.id.slice(0, 8)}…`;
  }

  /** When the session was opened. */
  readonly openedAt = Date.now();

  /** ClientPort: no open stream and no request for a while (a host that exited without DELETE looks like this). */
  get idle(): boolean {
    return (
      this.openStreams === 0 &&
      (this.client?.inflight.size ?? 0) === 0 &&
      Date.now() - this.lastActive > (this.options.idleAfterMs ?? IDLE_AFTER_MS)
    );
  }

  /** True while another open stream of this session waits for the answer to `key`. */
  awaiting(key: string): boolean {
    const s = this.requestStream.get(key);
    return s !== undefined && this.streams.get(s)?.open === true;
  }

  /**
   * Open the SSE stream of a POST carrying requests with these keys. With `single` (one
   * request alone), the stream is only made if something other than the answer comes first,
   * or nothing comes within QUICK_MS: most answers go back as plain JSON, with no stream.
   */
  openPostStream(keys: string[], single = false): SseStream {
    const stream = this.newStream(new Set(keys));
    for (const k of keys) this.requestStream.set(k, stream.id);
    if (single) stream.awaitFirst(() => this.prime(stream));
    else this.prime(stream);
    return stream;
  }

  /**
   * Open the standalone GET stream, or resume a stream after `lastEventId`: its stored events
   * are replayed, and what is still to come for it follows on this connection.
   */
  openGetStream(lastEventId: string | undefined): SseStream | "conflict" {
    const resumeSeq = lastEventId !== undefined ? Number(lastEventId) : Number.NaN;
    const stored = this.stored();
    const resumed = Number.isInteger(resumeSeq) ? stored.find((e) => e.seq === resumeSeq)?.stream : undefined;
    if (resumed !== undefined) {
      const old = this.streams.get(resumed);
      old?.end();
      const stream = this.newStream(old?.pending ?? new Set(), resumed);
      for (const e of stored) if (e.stream === resumed && e.seq > resumeSeq) stream.enqueue(e.bytes);
      if (old && this.standalone === old) this.standalone = stream;
      else if (stream.pending.size === 0) stream.end();
      return stream;
    }
    if (this.standalone?.open) return "conflict";
    const stream = this.newStream(new Set());
    this.standalone = stream;
    this.prime(stream);
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    for (const bytes of waiting) this.emit(stream, bytes);
    return stream;
  }

  /** Answer on `stream` directly (a request the front refused before the router saw it). */
  answer(stream: SseStream, line: string): void {
    const s = this.streams.get(stream.id);
    if (s) this.emit(s, encoder.encode(line));
  }

  /** ClientPort: deliver one line to the stream it belongs to. */
  write(line: WireLine, kind: string, related: string | undefined): void {
    if (this.ended) return;
    const data = encodeData(line);
    const streamId = related !== undefined ? this.requestStream.get(related) : undefined;
    const target = streamId !== undefined ? this.streams.get(streamId) : undefined;
    if (target) {
      if (kind === "response" && related !== undefined && target.onAnswer && target.pending.has(related))
        target.onAnswer(typeof line === "string" ? line : decoder.decode(data));
      if (target.waiting) {
        if (kind === "response" && related !== undefined && target.pending.size === 1 && target.pending.has(related)) {
          target.pending.delete(related);
          this.requestStream.delete(related);
          this.streams.delete(target.id);
          target.answerFirst(typeof line === "string" ? line : decoder.decode(data));
          return;
        }
        target.useStream();
      }
      // A stateless request's stream keeps only what it can take: its progress and logs are
      // dropped past the mark (one slow reader never costs the others theirs).
      if (this.options.stateless && (kind === "progress" || kind === "log") && target.queued > STREAM_HIGH_WATER)
        return;
      this.emit(target, data);
      if (kind === "response" && related !== undefined) {
        target.pending.delete(related);
        this.requestStream.delete(related);
        if (target.pending.size === 0) {
          target.end();
          // Done with: its events stay stored for a resume, which needs nothing else of it.
          if (this.standalone !== target) this.streams.delete(target.id);
        }
      }
      return;
    }
    // Its stream is gone for good (nothing can resume it), or, stateless, it belongs to no
    // request: nobody asked for it (another request's stream is never the place).
    if (kind === "response" || this.options.stateless) return;
    if (this.standalone?.open) return this.emit(this.standalone, data);
    // No stream for it: a server request goes on the newest open POST stream; the rest waits
    // (bounded) for a standalone stream.
    if (kind === "request") {
      const newest = [...this.streams.values()].reverse().find((s) => s.open && s.pending.size > 0);
      if (newest) return this.emit(newest, data);
    }
    if (this.waitingBytes + data.length > WAITING_LIMIT) return;
    this.waiting.push(data);
    this.waitingBytes += data.length;
  }

  /** A key for the next stateless request (unique in this session: the client's own ids may repeat). */
  nextKey(): string {
    return `h${++this.keySeq}`;
  }

  /** A stateless request given up by the front (its client went away): its stream ends, the request is cancelled. */
  giveUp(key: string, reason: string): void {
    const id = this.requestStream.get(key);
    const stream = id !== undefined ? this.streams.get(id) : undefined;
    if (stream) this.dropStream(stream, reason);
  }

  /** ClientPort: bytes queued on open streams and not yet taken by the client (stateless: per stream, see {@link write}). */
  get backlog(): number {
    if (this.options.stateless) return 0;
    let n = 0;
    for (const s of this.streams.values()) n += s.queued;
    return n;
  }

  /**
   * Hand one message in with `go` once `free()` holds: at once when nothing is held before it,
   * else in arrival order, each time the router wakes this client (an answer, a released slot,
   * the server's stdin drained, a stream taken). Resolves once it went in, or the session ended
   * (then it never goes in); undefined when settled at once. The front holds a POST's messages here, as a socket is not read.
   */
  admit(free: () => boolean, go: () => void): Promise<void> | undefined {
    if (!this.wouldHold(free)) {
      go();
      return undefined; // went in now: the caller goes on without a turn of the event loop
    }
    if (this.ended) return undefined;
    return new Promise((done) => this.held.push({ free, go, done }));
  }

  /** True when a message admitted now would be held (others are held before it, or `free()` fails). */
  wouldHold(free: () => boolean): boolean {
    return this.held.length > 0 || !free();
  }

  /** ClientPort: something was released; held messages go in while their client is free. */
  wake(): void {
    while (this.held.length > 0) {
      const first = this.held[0] as (typeof this.held)[number];
      if (!this.ended && !first.free()) return;
      this.held.shift();
      if (!this.ended) first.go();
      first.done();
    }
  }

  /** ClientPort / DELETE / expiry: end the session and every stream. */
  close(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
    for (const s of this.streams.values()) s.end();
    this.streams.clear();
    this.requestStream.clear();
    if (this.options.budget) this.options.budget.used -= this.storeBytes;
    this.storeBytes = 0;
    this.store = [];
    this.storeHead = 0;
    this.waiting = [];
    this.onEnd(this, reason);
  }

  /** Open streams (for idle expiry: a session with an open stream is not idle). */
  get openStreams(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.open) n++;
    return n;
  }

  /** Close streams whose client took nothing for the stall timeout (they can resume); how many. */
  sweep(now: number): number {
    let cut = 0;
    for (const s of this.streams.values()) {
      if (s.open && s.queued > 0 && now - s.lastPull > this.options.stallTimeoutMs) {
        // A stateless stream cannot be resumed: its requests are given up with it.
        if (this.options.stateless) this.dropStream(s, "its client took nothing for too long");
        else s.end();
        cut++;
      }
    }
    for (const [id, s] of this.streams) if (!s.open && s.pending.size === 0) this.streams.delete(id);
    return cut;
  }

  // --- internal ---

  private newStream(pending: Set<string>, id = this.nextStream++): Stream {
    const stream: Stream = new Stream(
      id,
      pending,
      () => this.client?.drained(),
      this.options.stateless ? () => this.dropStream(stream, "the client closed the stream") : undefined,
    );
    this.streams.set(id, stream);
    return stream;
  }

  /** A stateless stream is gone before its answer: its requests are given up (cancelled at the child). */
  private dropStream(stream: Stream, reason: string): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    stream.end();
    for (const key of stream.pending) {
      this.requestStream.delete(key);
      this.options.cancel?.(key, reason);
    }
    stream.pending.clear();
  }

  /** SEP-1699: a first event with an id and empty data, and how soon to reconnect. */
  private prime(stream: Stream): void {
    // A stateless stream has no event ids: a comment line opens it (so the headers go out now).
    if (this.options.stateless) return stream.enqueue(OPEN_COMMENT);
    if ((this.version ?? "") < "2025-11-25") return;
    const seq = this.nextSeq++;
    stream.enqueue(encoder.encode(`retry: ${RETRY_MS}\nid: ${seq}\ndata: \n\n`));
    this.keep(seq, stream.id, encoder.encode(`id: ${seq}\ndata: \n\n`));
  }

  private emit(stream: Stream, data: Uint8Array): void {
    if (this.options.stateless) {
      if (stream.open) stream.enqueue(concatBytes([STATELESS_HEAD, data, END]));
      return;
    }
    const seq = this.nextSeq++;
    const event = concatBytes([encoder.encode(`id: ${seq}\nevent: message\ndata: `), data, END]);
    this.keep(seq, stream.id, event);
    if (stream.open) stream.enqueue(event);
  }

  /** The stored events, oldest first. */
  private stored(): { seq: number; stream: number; bytes: Uint8Array }[] {
    return this.storeHead === 0 ? this.store : this.store.slice(this.storeHead);
  }

  private keep(seq: number, stream: number, bytes: Uint8Array): void {
    this.store.push({ seq, stream, bytes });
    this.storeBytes += bytes.length;
    const budget = this.options.budget;
    if (budget) budget.used += bytes.length;
    const maxBytes = this.options.storeBytes ?? 8 * 1_048_576;
    const maxEvents = this.options.storeEvents ?? 2000;
    while (
      this.store.length - this.storeHead > 1 &&
      (this.storeBytes > maxBytes ||
        this.store.length - this.storeHead > maxEvents ||
        (budget !== undefined && budget.used > budget.max))
    ) {
      const dropped = this.store[this.storeHead] as { bytes: Uint8Array };
      this.store[this.storeHead++] = undefined as unknown as { seq: number; stream: number; bytes: Uint8Array };
      this.storeBytes -= dropped.bytes.length;
      if (budget) budget.used -= dropped.bytes.length;
    }
    // Compact now and then: O(1) per event on average, never a shift per event.
    if (this.storeHead > 1024 && this.storeHead * 2 > this.store.length) {
      this.store = this.store.slice(this.storeHead);
      this.storeHead = 0;
    }
  }
}

// --- internal ---

const RETRY_MS = 1000;

/** The first line of a stateless stream: an SSE comment. */
const OPEN_COMMENT = new TextEncoder().encode(": stream\n\n");

/** A stateless stream's event: no id (2026-07-28 has no resumption). */
const STATELESS_HEAD = new TextEncoder().encode("event: message\ndata: ");
const WAITING_LIMIT = 1_048_576;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const END = encoder.encode("\n\n");
/** Queued bytes past which a stateless stream's progress and logs are dropped. */
const STREAM_HIGH_WATER = 1_048_576;
/** How long a single-request POST waits for its answer before it streams (and primes) instead. */
const QUICK_MS = 50;

/** One SSE stream: a ReadableStream whose queue tells how far behind its client is. */
class Stream implements SseStream {
  open = true;
  first?: Promise<string | undefined>;
  onAnswer?: (json: string) => void;
  /** While a single-request POST waits to learn whether it needs a stream at all. */
  waiting:
    | { resolve: (json: string | undefined) => void; timer: ReturnType<typeof setTimeout>; onStream: () => void }
    | undefined;
  private made: ReadableStream<Uint8Array> | undefined;
  lastPull = Date.now();
  private controller!: ReadableStreamDefaultController<Uint8Array>;

  constructor(
    readonly id: number,
    readonly pending: Set<string>,
    private readonly pulled: () => void,
    private readonly cancelled?: () => void,
  ) {}

  /** The Response body, made on first use (a POST answered as JSON never makes one). */
  get body(): ReadableStream<Uint8Array> {
    this.made ??= new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: () => {
          this.lastPull = Date.now();
          this.pulled();
        },
        cancel: () => {
          this.open = false;
          this.cancelled?.();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
    return this.made;
  }

  /** Bytes queued and not yet taken by the client. */
  get queued(): number {
    if (!this.open || !this.made) return 0;
    const desired = this.controller.desiredSize ?? 0;
    return Math.max(0, 64 * 1024 - desired);
  }

  /** Wait for the first thing to send: `first` resolves with the answer, or undefined for a stream. */
  awaitFirst(onStream: () => void): void {
    this.first = new Promise((resolve) => {
      this.waiting = { resolve, onStream, timer: setTimeout(() => this.useStream(), QUICK_MS) };
    });
  }

  /** The answer came first: it goes back as JSON, and this stream is done. */
  answerFirst(json: string): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    clearTimeout(w.timer);
    this.open = false;
    w.resolve(json);
  }

  /** Something else came first, or the answer is slow: stream from now on. */
  useStream(): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    clearTimeout(w.timer);
    void this.body;
    w.onStream();
    w.resolve(undefined);
  }

  enqueue(bytes: Uint8Array): void {
    if (!this.open) return;
    void this.body;
    try {
      this.controller.enqueue(bytes);
    } catch {
      this.open = false;
    }
  }

  /**
   * End the response: its last event is written (the client still takes what is queued), or the
   * connection goes away (another took its place, or its client stalled). Events stay stored.
   */
  end(): void {
    this.useStream();
    if (!this.open) return;
    this.open = false;
    void this.body;
    try {
      this.controller.close();
    } catch {}
  }
}

function encodeData(line: WireLine): Uint8Array {
  if (typeof line === "string") return encoder.encode(line);
  return concatBytes(line.map((p) => (typeof p === "string" ? encoder.encode(p) : p)));
}
