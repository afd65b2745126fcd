/**
 * A span-only TOML scanner: finds table headers and key/value statements with their byte
 * offsets so edits can splice text and leave every other byte (comments, spacing, order)
 * alone. Values are not interpreted here; `smol-toml` parses the result for meaning.
 * @module
 */

/** A `[table]` or `[[array]]` header line. */
export interface TomlHeader {
  type: "header";
  path: string[];
  array: boolean;
  /** Start of the line holding the header. */
  lineStart: number;
  /** End of the line, after its newline (or the end of the text). */
  lineEnd: number;
}

/** A `key = value` statement at the top level of the document or of a table. */
export interface TomlKeyValue {
  type: "kv";
  /** The table the statement sits in (`[]` for the root). */
  table: string[];
  /** The (dotted) key, unquoted. */
  key: string[];
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
  lineStart: number;
  lineEnd: number;
}

export type TomlStatement = TomlHeader | TomlKeyValue;

/** One `key = value` pair inside an inline table. */
export interface TomlInlinePair {
  key: string[];
  /** From the key's first byte to the value's last byte. */
  start: number;
  end: number;
  valueStart: number;
  valueEnd: number;
}

/** Thrown on text the scanner cannot follow; callers report it as an unreadable file. */
export class TomlSpanError extends Error {}

/** Every header and top-level statement of `text`, in order. */
export function scanToml(text: string): TomlStatement[] {
  const out: TomlStatement[] = [];
  let table: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    const lineStart = pos;
    pos = skipBlank(text, pos);
    if (pos >= text.length) break;
    const ch = text[pos];
    if (ch === "\n" || ch === "\r") {
      pos = nextLine(text, pos);
      continue;
    }
    if (ch === "#") {
      pos = nextLine(text, pos);
      continue;
    }
    if (ch === "[") {
      const array = text[pos + 1] === "[";
      const key = parseKey(text, pos + (array ? 2 : 1));
      let end = skipBlank(text, key.end);
      if (text[end] !== "]" || (array && text[end + 1] !== "]")) fail(text, end, "expected ] after table name");
      end += array ? 2 : 1;
      table = key.parts;
      const lineEnd = endOfStatementLine(text, end);
      out.push({ type: "header", path: key.parts, array, lineStart, lineEnd });
      pos = lineEnd;
      continue;
    }
    const key = parseKey(text, pos);
    let eq = skipBlank(text, key.end);
    if (text[eq] !== "=") fail(text, eq, "expected = after key");
    eq = skipBlank(text, eq + 1);
    const valueEnd = skipValue(text, eq);
    const lineEnd = endOfStatementLine(text, valueEnd);
    out.push({
      type: "kv",
      table,
      key: key.parts,
      keyStart: pos,
      keyEnd: key.end,
      valueStart: eq,
      valueEnd,
      lineStart,
      lineEnd,
    });
    pos = lineEnd;
  }
  return out;
}

/** The pairs of the inline table spanning `[start, end)` (`{` … `}`). */
export function scanInlineTable(text: string, start: number, end: number): TomlInlinePair[] {
  if (text[start] !== "{") fail(text, start, "expected an inline table");
  const pairs: TomlInlinePair[] = [];
  let pos = skipSpace(text, start + 1);
  while (pos < end - 1 && text[pos] !== "}") {
    const key = parseKey(text, pos);
    let eq = skipSpace(text, key.end);
    if (text[eq] !== "=") fail(text, eq, "expected = in inline table");
    eq = skipSpace(text, eq + 1);
    const valueEnd = skipValue(text, eq);
    pairs.push({ key: key.parts, start: pos, end: valueEnd, valueStart: eq, valueEnd });
    pos = skipSpace(text, valueEnd);
    if (text[pos] === ",") pos = skipSpace(text, pos + 1);
  }
  return pairs;
}

/** Render a string as a TOML basic string (JSON escapes are valid TOML escapes). */
export function tomlString(value: string): string {
  return JSON.stringify(value)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Render a plain value (string, number, boolean, array, table) as inline TOML. */
export function tomlValue(value: unknown): string {
  if (typeof value === "string") return tomlString(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const pairs = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
    return pairs.length ? `{ ${pairs.join(", ")} }` : "{}";
  }
  throw new TomlSpanError(`cannot write ${String(value)} as TOML`);
}

/** A key, bare when it can be. */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

// --- internal ---

function fail(text: string, pos: number, message: string): never {
  const line = text.slice(0, pos).split("\n").length;
  throw new TomlSpanError(`TOML line ${line}: ${message}`);
}

function skipBlank(text: string, pos: number): number {
  while (text[pos] === " " || text[pos] === "\t") pos++;
  return pos;
}

/** Skip spaces, newlines and comments (inside arrays and inline tables). */
function skipSpace(text: string, pos: number): number {
  for (;;) {
    const ch = text[pos];
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") pos++;
    else if (ch === "#") pos = nextLine(text, pos);
    else return pos;
  }
}

function nextLine(text: string, pos: number): number {
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? text.length : nl + 1;
}

/** After a statement: allow blanks and a comment, then the newline. */
function endOfStatementLine(text: string, pos: number): number {
  pos = skipBlank(text, pos);
  if (text[pos] === "#") return nextLine(text, pos);
  if (text[pos] === "\r") pos++;
  if (pos >= text.length) return text.length;
  if (text[pos] !== "\n") fail(text, pos, "expected the end of the line");
  return pos + 1;
}

function parseKey(text: string, pos: number): { parts: string[]; end: number } {
  const parts: string[] = [];
  for (;;) {
    pos = skipBlank(text, pos);
    const ch = text[pos];
    if (ch === '"' || ch === "'") {
      const end = skipString(text, pos);
      const raw = text.slice(pos, end);
      parts.push(ch === '"' ? (JSON.parse(raw) as string) : raw.slice(1, -1));
      pos = end;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(text.slice(pos, pos + 256));
      if (!m) fail(text, pos, "expected a key");
      parts.push(m[0]);
      pos += m[0].length;
    }
    const after = skipBlank(text, pos);
    if (text[after] !== ".") return { parts, end: pos };
    pos = after + 1;
  }
}

function skipString(text: string, pos: number): number {
  const q = text[pos] as string;
  if (text.startsWith(q.repeat(3), pos)) {
    let end = text.indexOf(q.repeat(3), pos + 3);
    if (end === -1) fail(text, pos, "unterminated multi-line string");
    if (q === '"') while (isEscaped(text, end)) end = text.indexOf('"""', end + 1);
    while (text[end + 3] === q) end++; // up to two quotes may end the content
    return end + 3;
  }
  let i = pos + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\n") break;
    if (q === '"' && ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === q) return i + 1;
    i++;
  }
  return fail(text, pos, "unterminated string");
}

function isEscaped(text: string, pos: number): boolean {
  let n = 0;
  while (text[pos - 1 - n] === "\\") n++;
  return n % 2 === 1;
}

function skipValue(text: string, pos: number): number {
  const ch = text[pos];
  if (ch === '"' || ch === "'") return skipString(text, pos);
  if (ch === "[" || ch === "{") {
    const close = ch === "[" ? "]" : "}";
    let i = skipSpace(text, pos + 1);
    while (text[i] !== close) {
      if (i >= text.length) fail(text, pos, `unterminated ${ch === "[" ? "array" : "inline table"}`);
      if (ch === "{") {
        i = parseKey(text, i).end;
        i = skipSpace(text, i);
        if (text[i] !== "=") fail(text, i, "expected = in inline table");
        i = skipSpace(text, i + 1);
      }
      i = skipSpace(text, skipValue(text, i));
      if (text[i] === ",") i = skipSpace(text, i + 1);
      else if (text[i] !== close) fail(text, i, `expected , or ${close}`);
    }
    return i + 1;
  }
  const m = /^[^\s,\]}#]+/.exec(text.slice(pos, pos + 128));
  if (!m) fail(text, pos, "expected a value");
  // Dates may hold one space: `1979-05-27 07:32:00`.
  const next = /^ \d{2}:\d{2}/.exec(text.slice(pos + m[0].length, pos + m[0].length + 6));
  if (next && /^\d{4}-\d{2}-\d{2}$/.test(m[0])) return skipValue(text, pos + m[0].length + 1);
  return pos + m[0].length;
}
