/**
 * Watch the lines going through the proxy without holding them: the bytes are forwarded as
 * they come, and each complete line is reported with its text when it is small (one decode of
 * a view into the chunk in the common case of a line within one chunk), or just its first and
 * last bytes when it is big (enough to find its id), so a big message costs the proxy nothing
 * extra.
 * @module
 */

import { concatBytes, lastBytes } from "../protocol/bytes.ts";

/** One complete line, as the watcher saw it. */
export interface SeenLine {
  /** The whole line (no newline, no trailing CR) when it is at most `FULL_LINE_BYTES`. */
  text?: string;
  /** Text that starts as the line does: the line itself when small, else its first bytes. */
  head: string;
  /** Text that ends as the line does: the line itself when small, else its last bytes. */
  tail: string;
  size: number;
  /** Offset in the stream just past this line's newline (bytes pushed before it, plus the line). */
  end: number;
}

/** Lines up to this size are reported whole. */
export const FULL_LINE_BYTES = 64 * 1024;

/** A watcher fed with every chunk forwarded in one direction. */
export interface LineWatcher {
  push(chunk: Uint8Array): void;
  /** Bytes of the line that has begun but not ended. */
  readonly pendingBytes: number;
}

/**
 * Create a watcher calling `onLine` for each complete line. `quick`, when given, sees each
 * line that lies within one chunk first, as bytes (`chunk[start..end)`, `lineEnd` the stream
 * offset past its newline); when it returns true the line is done with, undecoded.
 */
export function createLineWatcher(
  onLine: (line: SeenLine) => void,
  quick?: (chunk: Uint8Array, start: number, end: number, lineEnd: number) => boolean,
): LineWatcher {
  /** Stream offset of the chunk being pushed, and past the newline of the line being reported. */
  let base = 0;
  let lineEnd = 0;
  let parts: Uint8Array[] = [];
  let size = 0;
  let head: Uint8Array | undefined;
  let tail: Uint8Array = EMPTY;
  // One native decode per line, nothing else: this runs for every message, in a process that
  // is rarely hot (see the benchmark report, section 3).
  const report = (bytes: Uint8Array): void => {
    const end = bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    const text = decoder.decode(end === bytes.length ? bytes : bytes.subarray(0, end));
    onLine({ text, head: text, tail: text, size: end, end: lineEnd });
  };
  const keep = (piece: Uint8Array): void => {
    if (piece.length === 0) return;
    if (size + piece.length <= FULL_LINE_BYTES) {
      // Copied: the chunk behind a view may be reused once this call returns.
      parts.push(piece.slice());
    } else {
      if (!head) {
        head = concatBytes([...parts, piece]).slice(0, EDGE);
        parts = [];
      }
      tail = lastBytes(tail, piece, EDGE);
    }
    size += piece.length;
  };
  const finish = (): void => {
    if (size === 0) return;
    if (!head) report(concatBytes(parts));
    else {
      const t = tail[tail.length - 1] === 0x0d ? tail.subarray(0, tail.length - 1) : tail;
      onLine({ head: decoder.decode(head), tail: decoder.decode(t), size, end: lineEnd });
    }
    parts = [];
    size = 0;
    head = undefined;
    tail = EMPTY;
  };
  return {
    get pendingBytes() {
      return size;
    },
    push(chunk: Uint8Array): void {
      let at = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, at);
        if (nl < 0) {
          keep(chunk.subarray(at));
          base += chunk.length;
          return;
        }
        lineEnd = base + nl + 1;
        // The common case: a whole line inside this chunk, reported as a view of it.
        if (size === 0 && nl - at <= FULL_LINE_BYTES) {
          if (nl > at && !quick?.(chunk, at, nl, lineEnd)) report(chunk.subarray(at, nl));
        } else {
          keep(chunk.subarray(at, nl));
          finish();
        }
        at = nl + 1;
      }
    },
  };
}

// --- internal ---

const EDGE = 256;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
