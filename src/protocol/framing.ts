/**
 * Newline-delimited JSON framing, split on the byte 0x0A before decoding so that a multi-byte
 * UTF-8 character split across reads survives. Enforces a per-line byte limit without ever
 * buffering more than the limit, and hands lines above a size threshold over as bytes, so a
 * big message is never decoded into a string (and copied) just to be forwarded.
 *
 * Pushed chunks are kept by reference until their line is complete: do not reuse them (Bun's
 * socket and pipe reads are fresh buffers).
 * @module
 */

import { concatBytes, lastBytes } from "./bytes.ts";

const NEWLINE = 0x0a;
const decoder = new TextDecoder();

/** What the splitter reports for each complete line. */
export interface LineSink {
  /** A complete line (without `\n` or a trailing `\r`), decoded as UTF-8. */
  line(text: string): void;
  /** A line of at least `bigLineBytes`, as bytes (without `\n`, `\r` or a BOM). */
  bytes?(line: Uint8Array): void;
  /** A line longer than the limit; `head` and `tail` are its first and last bytes, decoded. */
  oversized?(info: OversizedLine): void;
}

/** Details of a line that exceeded the byte limit; the line itself was discarded. */
export interface OversizedLine {
  bytes: number;
  head: string;
  tail: string;
}

/** Options of {@link createLineSplitter}. */
export interface LineSplitterOptions {
  /** Lines longer than this many bytes are dropped and reported via `oversized`. Default: no limit. */
  maxLineBytes?: number;
  /** Lines of at least this many bytes go to `sink.bytes` (when it exists) undecoded. Default: never. */
  bigLineBytes?: number;
}

/** Incremental splitter: push byte chunks, get whole lines. */
export interface LineSplitter {
  push(chunk: Uint8Array): void;
  /** Bytes currently held for an unfinished line. */
  readonly buffered: number;
}

/** Create a byte-level line splitter that reports lines to `sink`. */
export function createLineSplitter(sink: LineSink, options: LineSplitterOptions = {}): LineSplitter {
  const max = options.maxLineBytes ?? Number.POSITIVE_INFINITY;
  const big = sink.bytes ? (options.bigLineBytes ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
  const carry = new Accumulator(Math.min(max, MAX_GROWABLE));
  // Discard mode: the current line is over the limit; keep only its head and a rolling tail.
  let discarding = false;
  let discardBytes = 0;
  let head: Uint8Array = new Uint8Array(0);
  let tail: Uint8Array = new Uint8Array(0);

  const emit = (bytes: Uint8Array): void => {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    let start = 0;
    // Strip a UTF-8 BOM at the start of a line.
    if (end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    if (end - start === 0) return;
    if (end - start >= big) (sink.bytes as (line: Uint8Array) => void)(bytes.subarray(start, end));
    else sink.line(decoder.decode(bytes.subarray(start, end)));
  };

  /** Many short lines in one chunk: one decode for all of them, then split the text. */
  const emitText = (bytes: Uint8Array): void => {
    const text = decoder.decode(bytes);
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) return;
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 0x0d) end--;
      if (text.charCodeAt(start) === 0xfeff) start++;
      if (end > start) sink.line(text.slice(start, end));
      start = nl + 1;
    }
  };

  const startDiscard = (): void => {
    const joined = carry.take();
    discarding = true;
    discardBytes = joined.length;
    head = joined.slice(0, EDGE);
    tail = joined.slice(Math.max(0, joined.length - EDGE));
  };

  const finishDiscard = (last: Uint8Array): void => {
    discardBytes += last.length;
    tail = lastBytes(tail, last, EDGE);
    discarding = false;
    sink.oversized?.({ bytes: discardBytes, head: decoder.decode(head), tail: decoder.decode(tail) });
    head = tail = new Uint8Array(0);
    discardBytes = 0;
  };

  return {
    get buffered() {
      return carry.size;
    },
    push(chunk: Uint8Array): void {
      let offset = 0;
      // Fast path: no line pending, short complete lines only, nothing near a threshold.
      if (carry.size === 0 && !discarding && chunk.length < big && chunk.length <= max) {
        const last = chunk.lastIndexOf(NEWLINE);
        if (last < 0) {
          carry.append(chunk);
          return;
        }
        emitText(chunk.subarray(0, last + 1));
        if (last + 1 < chunk.length) carry.append(chunk.subarray(last + 1));
        return;
      }
      while (offset < chunk.length) {
        const nl = chunk.indexOf(NEWLINE, offset);
        if (nl === -1) {
          const rest = chunk.subarray(offset);
          if (discarding) {
            discardBytes += rest.length;
            tail = lastBytes(tail, rest, EDGE);
          } else if (carry.size + rest.length > max) {
            carry.append(rest.subarray(0, Math.min(rest.length, EDGE)));
            startDiscard();
            discardBytes += rest.length - Math.min(rest.length, EDGE);
            tail = lastBytes(tail, rest, EDGE);
          } else carry.append(rest);
          return;
        }
        const piece = chunk.subarray(offset, nl);
        offset = nl + 1;
        if (discarding) {
          finishDiscard(piece);
          continue;
        }
        if (carry.size === 0) {
          if (piece.length > max) sink.oversized?.(describe(piece));
          else emit(piece);
          continue;
        }
        const total = carry.size + piece.length;
        if (total > max) {
          const start = carry.take();
          sink.oversized?.({
            bytes: total,
            head: decoder.decode(start.subarray(0, EDGE)),
            tail: decoder.decode(lastBytes(start.subarray(Math.max(0, start.length - EDGE)), piece, EDGE)),
          });
          continue;
        }
        carry.append(piece);
        emit(carry.take());
      }
    },
  };
}

// --- internal ---

const EDGE = 512;
/** A line being assembled moves into one growable buffer once it is this big. */
const GROW_AT = 256 * 1024;
/** Largest line a growable buffer is reserved for (longer lines are assembled by copying). */
const MAX_GROWABLE = 1 << 30;

/**
 * The bytes of the line being assembled: views of the chunks while it is small; past GROW_AT,
 * one resizable buffer that grows in place, so a 50 MiB line is held once, never twice.
 */
class Accumulator {
  private parts: Uint8Array[] = [];
  private grown: ArrayBuffer | undefined;
  size = 0;

  constructor(private readonly reserve: number) {}

  append(piece: Uint8Array): void {
    if (piece.length === 0) return;
    if (!this.grown && this.size + piece.length >= GROW_AT && this.size + piece.length <= this.reserve) {
      this.grown = new ArrayBuffer(0, { maxByteLength: this.reserve });
      const parts = this.parts;
      this.parts = [];
      const size = this.size;
      this.size = 0;
      this.grown.resize(size);
      let at = 0;
      for (const p of parts) {
        new Uint8Array(this.grown, at, p.length).set(p);
        at += p.length;
      }
      this.size = size;
    }
    if (this.grown && this.size + piece.length <= this.reserve) {
      this.grown.resize(this.size + piece.length);
      new Uint8Array(this.grown, this.size, piece.length).set(piece);
    } else this.parts.push(piece);
    this.size += piece.length;
  }

  /** The whole line so far; the accumulator starts over. */
  take(): Uint8Array {
    let out: Uint8Array;
    if (this.grown) {
      const grown = new Uint8Array(this.grown, 0, this.grown.byteLength);
      out = this.parts.length === 0 ? grown : concatBytes([grown, ...this.parts], this.size);
    } else out = concatBytes(this.parts, this.size);
    this.parts = [];
    this.grown = undefined;
    this.size = 0;
    return out;
  }
}

function describe(bytes: Uint8Array): OversizedLine {
  return {
    bytes: bytes.length,
    head: decoder.decode(bytes.subarray(0, EDGE)),
    tail: decoder.decode(bytes.subarray(Math.max(0, bytes.length - EDGE))),
  };
}
