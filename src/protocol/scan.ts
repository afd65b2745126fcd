/**
 * A minimal JSON structure scanner. It finds the byte-exact text span of the values of an
 * object's top-level keys without building objects, so the mux can splice ids and progress
 * tokens into a message while every other byte (large integers, escapes, big payloads) stays
 * exactly as the sender wrote it. It assumes its input is valid JSON (validate first, or
 * accept that garbage in gives garbage spans).
 * @module
 */

/** A half-open text span `[start, end)`. */
export type Span = readonly [start: number, end: number];

/** The top-level key spans of one JSON object. */
export interface ObjectSpans {
  /** Index just after the closing `}`. */
  end: number;
  /**
   * Value span per key. Keys are compared as JSON.parse sees them (escapes decoded), and a
   * repeated key keeps its last span, as JSON.parse keeps its last value.
   */
  keys: Map<string, Span>;
  /** How many members the object has, counting repeated keys (more than `keys.size` = duplicates). */
  members: number;
}

/** Scan the object starting at `start` (the index of `{`, leading whitespace allowed). */
export function scanObject(text: string, start = 0): ObjectSpans | null {
  let i = skipWs(text, start);
  if (text.charCodeAt(i) !== LBRACE) return null;
  const keys = new Map<string, Span>();
  let members = 0;
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === RBRACE) return { end: i + 1, keys, members };
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return null;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return null;
    const key = decodeKey(text, i, keyEnd);
    if (key === undefined) return null;
    members++;
    i = skipWs(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return null;
    const valueStart = skipWs(text, i + 1);
    const valueEnd = valueEndAt(text, valueStart);
    if (valueEnd < 0) return null;
    keys.set(key, [valueStart, valueEnd]);
    i = skipWs(text, valueEnd);
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i = skipWs(text, i + 1);
      continue;
    }
    if (c === RBRACE) return { end: i + 1, keys, members };
    return null;
  }
}

/** Spans of the elements of the array starting at `start`. */
export function scanArray(text: string, start = 0): Span[] | null {
  let i = skipWs(text, start);
  if (text.charCodeAt(i) !== LBRACKET) return null;
  const out: Span[] = [];
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === RBRACKET) return out;
  for (;;) {
    const end = valueEndAt(text, i);
    if (end < 0) return null;
    out.push([i, end]);
    i = skipWs(text, end);
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i = skipWs(text, i + 1);
      continue;
    }
    if (c === RBRACKET) return out;
    return null;
  }
}

/** Follow a key path (`["params", "_meta", "progressToken"]`) from the object at `start`. */
export function spanAt(text: string, path: readonly string[], start = 0): Span | null {
  let span: Span = [start, text.length];
  for (const key of path) {
    const obj = scanObject(text, span[0]);
    const next = obj?.keys.get(key);
    if (!next) return null;
    span = next;
  }
  return span;
}

/** Replace `span` of `text` with `replacement`. */
export function splice(text: string, span: Span, replacement: string): string {
  return text.slice(0, span[0]) + replacement + text.slice(span[1]);
}

/**
 * O(1) fast path for the top-level `id` of valid JSON in the two layouts SDKs write: last member
 * (`…,"id":5}` — the TypeScript SDK) or right after `"jsonrpc"` (`{"jsonrpc":"2.0","id":5,…`).
 * The id must be an integer or a string without escapes. Returns undefined for any other
 * layout; callers then fall back to {@link scanObject}.
 */
export function fastIdSpan(text: string): Span | undefined {
  return tailIdSpan(text) ?? headIdSpan(text);
}

/** The first non-whitespace character code of `text` from `from` on (or NaN). */
export function firstChar(text: string, from = 0): number {
  return text.charCodeAt(skipWs(text, from));
}

// --- internal ---

const HEAD = '{"jsonrpc":"2.0","id":';

function tailIdSpan(text: string): Span | undefined {
  let j = text.length - 1;
  while (isWs(text.charCodeAt(j))) j--;
  if (text.charCodeAt(j) !== RBRACE) return undefined;
  j--;
  while (isWs(text.charCodeAt(j))) j--;
  const valueEnd = j + 1;
  let valueStart: number;
  const c = text.charCodeAt(j);
  if (c === QUOTE) {
    const open = text.lastIndexOf('"', j - 1);
    // An escape inside the id (only [open, j] is searched, never the whole line).
    const backslash = open < 0 ? -1 : text.indexOf("\\", open);
    if (open < 0 || (backslash >= 0 && backslash < j)) return undefined;
    valueStart = open;
  } else if (isDigit(c)) {
    while (isDigit(text.charCodeAt(j))) j--;
    if (text.charCodeAt(j) === MINUS) j--;
    valueStart = j + 1;
  } else return undefined;
  let k = valueStart - 1;
  while (isWs(text.charCodeAt(k))) k--;
  if (text.charCodeAt(k) !== COLON) return undefined;
  k--;
  while (isWs(text.charCodeAt(k))) k--;
  if (k < 3 || text.slice(k - 3, k + 1) !== '"id"') return undefined;
  k -= 4;
  while (isWs(text.charCodeAt(k))) k--;
  const before = text.charCodeAt(k);
  return before === COMMA || before === LBRACE ? [valueStart, valueEnd] : undefined;
}

function headIdSpan(text: string): Span | undefined {
  if (!text.startsWith(HEAD)) return undefined;
  const start = HEAD.length;
  let j = start;
  const c = text.charCodeAt(j);
  if (c === QUOTE) {
    const close = text.indexOf('"', j + 1);
    if (close < 0 || text.slice(j + 1, close).includes("\\")) return undefined;
    j = close + 1;
  } else {
    if (c === MINUS) j++;
    if (!isDigit(text.charCodeAt(j))) return undefined;
    while (isDigit(text.charCodeAt(j))) j++;
  }
  const next = text.charCodeAt(j);
  return next === COMMA || next === RBRACE ? [start, j] : undefined;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

const MINUS = 0x2d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** The key text between quotes at `[start, end)`, escapes decoded (rare: only then JSON.parse). */
function decodeKey(text: string, start: number, end: number): string | undefined {
  const raw = text.slice(start + 1, end - 1);
  if (!raw.includes("\\")) return raw;
  try {
    return JSON.parse(text.slice(start, end)) as string;
  } catch {
    return undefined;
  }
}

/** `i` is at an opening quote; returns the index after the closing quote, or -1. */
function stringEnd(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

function valueEndAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c === LBRACE || c === LBRACKET) return containerEnd(text, i);
  let j = i;
  for (;;) {
    const d = text.charCodeAt(j);
    if (
      Number.isNaN(d) ||
      d === COMMA ||
      d === RBRACE ||
      d === RBRACKET ||
      d === 0x20 ||
      d === 0x0a ||
      d === 0x0d ||
      d === 0x09
    )
      break;
    j++;
  }
  return j > i ? j : -1;
}

function containerEnd(text: string, i: number): number {
  let depth = 0;
  const n = text.length;
  for (let j = i; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) {
      j = stringEnd(text, j) - 1;
      if (j < 0) return -1;
    } else if (c === LBRACE || c === LBRACKET) depth++;
    else if (c === RBRACE || c === RBRACKET) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}
