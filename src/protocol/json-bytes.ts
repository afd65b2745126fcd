/**
 * A JSON validator over raw bytes that records the members of the objects the mux routes by
 * (the message, its `params`, their `_meta`), for messages too big to decode and parse
 * whole: the mux checks them, reads their few small routing fields, and forwards their bytes
 * without ever holding a second or third copy. One pass, no recursion (any nesting depth).
 * @module
 */

import type { Span } from "./scan.ts";

/** One member of a recorded object: key text and value span (byte offsets). */
export interface ByteMember {
  key: string;
  value: Span;
}

/** The recorded objects of a valid JSON value. */
export interface ByteScan {
  /** Members of the top-level object (empty when the value is not an object). */
  top: ByteMember[];
  /** Members of objects nested at depth 2 and 3, by the value span start of their object. */
  nested: Map<number, ByteMember[]>;
}

/** Validate `bytes` as one JSON value; null when it is not valid JSON. */
export function scanJsonBytes(bytes: Uint8Array): ByteScan | null {
  const b = bytes;
  const end = b.length;
  const frames: Frame[] = [];
  const top: ByteMember[] = [];
  const nested = new Map<number, ByteMember[]>();
  let i = skipWs(b, 0, end);
  let mode = VALUE;
  for (;;) {
    if (mode === KEY) {
      const frame = frames[frames.length - 1] as Frame;
      i = skipWs(b, i, end);
      if (b[i] !== QUOTE) return null;
      const keyEnd = stringEnd(b, i, end);
      if (keyEnd < 0) return null;
      if (frame.list) frame.key = keyText(b, i, keyEnd);
      i = skipWs(b, keyEnd, end);
      if (b[i] !== COLON) return null;
      i = skipWs(b, i + 1, end);
      mode = VALUE;
      continue;
    }
    if (mode === VALUE) {
      if (i >= end) return null;
      const c = b[i] as number;
      const valueStart = i;
      if (c === LBRACE || c === LBRACKET) {
        const parent = frames[frames.length - 1];
        const frame: Frame = { kind: c === LBRACE ? OBJECT : ARRAY, start: valueStart, key: "", list: undefined };
        if (c === LBRACE) {
          if (!parent) frame.list = top;
          else if (frames.length <= 2 && parent.list && parent.kind === OBJECT) {
            frame.list = [];
            nested.set(valueStart, frame.list);
          }
        }
        frames.push(frame);
        i = skipWs(b, i + 1, end);
        if (b[i] === (c === LBRACE ? RBRACE : RBRACKET)) {
          i++;
          frame.end = i;
          close(frames);
          mode = AFTER;
        } else mode = c === LBRACE ? KEY : VALUE;
        continue;
      }
      if (c === QUOTE) i = stringEnd(b, i, end);
      else if (c === 0x74) i = literal(b, i, end, TRUE);
      else if (c === 0x66) i = literal(b, i, end, FALSE);
      else if (c === 0x6e) i = literal(b, i, end, NULL);
      else i = numberEnd(b, i, end);
      if (i < 0) return null;
      const frame = frames[frames.length - 1];
      if (frame?.list) frame.list.push({ key: frame.key, value: [valueStart, i] });
      mode = AFTER;
      continue;
    }
    // After a value: a comma, the end of the container, or the end of the text.
    i = skipWs(b, i, end);
    const frame = frames[frames.length - 1];
    if (!frame) return i === end ? { top, nested } : null;
    const c = b[i];
    if (c === COMMA) {
      i = skipWs(b, i + 1, end);
      mode = frame.kind === OBJECT ? KEY : VALUE;
      continue;
    }
    if ((c === RBRACE && frame.kind === OBJECT) || (c === RBRACKET && frame.kind === ARRAY)) {
      i++;
      frame.end = i;
      close(frames);
      continue;
    }
    return null;
  }
}

/** Decode a span as UTF-8. */
export function decodeSpan(bytes: Uint8Array, span: Span): string {
  return decoder.decode(bytes.subarray(span[0], span[1]));
}

// --- internal ---

const VALUE = 0;
const KEY = 1;
const AFTER = 2;
const OBJECT = 1;
const ARRAY = 2;
const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const BACKSLASH = 0x5c;
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];
const decoder = new TextDecoder();

/** An open container while scanning. */
interface Frame {
  kind: number;
  start: number;
  end?: number;
  /** The key of the member being read (recorded objects only). */
  key: string;
  /** Members, for the objects that are recorded. */
  list: ByteMember[] | undefined;
}

/** Pop the container that just ended and record it as a member of a recording parent. */
function close(frames: Frame[]): void {
  const frame = frames.pop() as Frame;
  const parent = frames[frames.length - 1];
  if (parent?.list && parent.kind === OBJECT)
    parent.list.push({ key: parent.key, value: [frame.start, frame.end ?? frame.start] });
}

function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
  return i;
}

/** `i` is at an opening quote; the index after the closing quote, or -1 when the string is invalid. */
function stringEnd(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j] as number;
    if (c === QUOTE) return j + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const e = b[j + 1];
      if (e === 0x75) {
        for (let k = j + 2; k < j + 6; k++) if (!isHex(b[k])) return -1;
        j += 5;
      } else if (
        e === QUOTE ||
        e === BACKSLASH ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      )
        j++;
      else return -1;
    }
  }
  return -1;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function numberEnd(b: Uint8Array, i: number, end: number): number {
  let j = i;
  if (b[j] === 0x2d) j++;
  if (b[j] === 0x30) j++;
  else if (isDigit(b[j])) while (isDigit(b[j])) j++;
  else return -1;
  if (b[j] === 0x2e) {
    j++;
    if (!isDigit(b[j])) return -1;
    while (isDigit(b[j])) j++;
  }
  if (b[j] === 0x65 || b[j] === 0x45) {
    j++;
    if (b[j] === 0x2b || b[j] === 0x2d) j++;
    if (!isDigit(b[j])) return -1;
    while (isDigit(b[j])) j++;
  }
  return j <= end ? j : -1;
}

function literal(b: Uint8Array, i: number, end: number, word: number[]): number {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return -1;
  return i + word.length;
}

function keyText(b: Uint8Array, start: number, end: number): string {
  let plain = true;
  for (let k = start + 1; k < end - 1; k++) {
    const c = b[k] as number;
    if (c === BACKSLASH || c >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) return String.fromCharCode(...b.subarray(start + 1, end - 1));
  try {
    return JSON.parse(decoder.decode(b.subarray(start, end))) as string;
  } catch {
    return "";
  }
}
