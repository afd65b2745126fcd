/**
 * Watch the lines going through the proxy without holding them: the bytes are forwarded as
 * they come, and each complete line is reported with its text when it is small, or just its
 * first and last bytes when it is big (enough to find its id), so a big message costs the
 * proxy nothing extra.
 * @module
 */

/** One complete line, as the watcher saw it. */
export interface SeenLine {
  /** The whole line (without newline) when it is at most `FULL_LINE_BYTES`. */
  text?: string;
  /** Its first bytes, decoded. */
  head: string;
  /** Its last bytes, decoded. */
  tail: string;
  bytes: number;
}

/** Lines up to this size are reported whole. */
export const FULL_LINE_BYTES = 64 * 1024;

/** A watcher fed with every chunk forwarded in one direction. */
export interface LineWatcher {
  push(chunk: Uint8Array): void;
  /** Where the next line starts in `chunk` after `offset` (for a caller that stops mid-chunk). */
  readonly pendingBytes: number;
}

/** Create a watcher calling `onLine` for each complete line. */
export function createLineWatcher(onLine: (line: SeenLine) => void): LineWatcher {
  let parts: Uint8Array[] = [];
  let size = 0;
  let head: Uint8Array | undefined;
  let tail: Uint8Array = EMPTY;
  const keep = (piece: Uint8Array): void => {
    if (piece.length === 0) return;
    if (size + piece.length <= FULL_LINE_BYTES) {
      parts.push(piece);
    } else {
      if (!head) {
        head = concat([...parts, piece]).subarray(0, EDGE);
        parts = [];
      }
      tail = lastBytes(tail, piece);
    }
    size += piece.length;
  };
  const finish = (): void => {
    if (size === 0) return;
    let line: SeenLine;
    if (!head) {
      const all = concat(parts);
      let end = all.length;
      if (all[end - 1] === 0x0d) end--;
      const text = decoder.decode(all.subarray(0, end));
      line = { text, head: text.slice(0, EDGE), tail: text.slice(-EDGE), bytes: size };
    } else line = { head: decoder.decode(head), tail: decoder.decode(tail).replace(/\r$/, ""), bytes: size };
    parts = [];
    size = 0;
    head = undefined;
    tail = EMPTY;
    onLine(line);
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
          return;
        }
        keep(chunk.subarray(at, nl));
        finish();
        at = nl + 1;
      }
    },
  };
}

// --- internal ---

const EDGE = 256;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function lastBytes(prev: Uint8Array, next: Uint8Array): Uint8Array {
  if (next.length >= EDGE) return next.slice(next.length - EDGE);
  const keep = Math.min(prev.length, EDGE - next.length);
  const out = new Uint8Array(keep + next.length);
  out.set(prev.subarray(prev.length - keep), 0);
  out.set(next, keep);
  return out;
}
