/**
 * `Mcp-Param-{Name}` headers (2026-07-28 Streamable HTTP, SEP-2243): a tool's `inputSchema`
 * may mark primitive properties, reachable from the root through `properties` keys only, with
 * `x-mcp-header: "<Name>"`; clients mirror those arguments into headers, and a server that
 * reads the body must reject a call whose mirrored header is missing, malformed or differs from
 * the body (400, -32020). The front learns the annotations from the `tools/list` results it
 * relays (`ToolHeaderBook`) and checks each modern `tools/call` against them; a tool it has not
 * seen listed is passed on unchecked, as an intermediary that does not know a header must.
 * Also the strict reading of the Base64 sentinel (`=?base64?…?=`) that `Mcp-Name` shares.
 * @module
 */

import { isObject } from "../protocol/message.ts";

/** One annotated property: the header's name part, the path of `properties` keys, its type. */
export interface ParamHeader {
  name: string;
  path: string[];
  type: "string" | "integer" | "boolean";
}

/**
 * A header value as the body is compared with: whitespace around it removed, a Base64
 * sentinel value decoded strictly (canonical padding, the standard alphabet, UTF-8). A value
 * that has the sentinel's prefix and suffix but cannot be decoded is `invalid`; a value
 * missing either marker is taken literally.
 */
export function decodeHeaderValue(raw: string): string | { invalid: string } {
  const value = raw.trim();
  if (
    !value.startsWith(SENTINEL_START) ||
    !value.endsWith(SENTINEL_END) ||
    value.length < SENTINEL_START.length + SENTINEL_END.length
  )
    return value;
  const b64 = value.slice(SENTINEL_START.length, -SENTINEL_END.length);
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return { invalid: "malformed Base64" };
  const bytes = Buffer.from(b64, "base64");
  // Canonical only: the decoded bytes must encode back to the same text (no stray bits).
  if (bytes.toString("base64") !== b64) return { invalid: "malformed Base64" };
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { invalid: "Base64 value is not UTF-8" };
  }
}

/**
 * The annotated properties of an `inputSchema`, or undefined when the schema has none, or
 * `invalid` when an annotation breaks the rules (the tool definition is then invalid: clients
 * drop it, and the front checks nothing for it).
 */
export function paramHeadersOf(schema: unknown): ParamHeader[] | { invalid: string } | undefined {
  if (!isObject(schema)) return undefined;
  const out: ParamHeader[] = [];
  const names = new Set<string>();
  let problem: string | undefined;
  const walk = (node: Record<string, unknown>, path: string[], reachable: boolean, depth: number): void => {
    if (problem || depth > MAX_DEPTH) return;
    const mark = node["x-mcp-header"];
    if (mark !== undefined) {
      const type = node.type;
      if (path.length === 0) problem = "x-mcp-header on the schema root";
      else if (!reachable) problem = `x-mcp-header on ${path.join(".")} is not reachable through properties alone`;
      else if (typeof mark !== "string" || !TOKEN.test(mark))
        problem = `x-mcp-header of ${path.join(".")} is not a header name`;
      else if (type !== "string" && type !== "integer" && type !== "boolean")
        problem = `x-mcp-header on ${path.join(".")}, which is not a string, integer or boolean`;
      else if (names.has(mark.toLowerCase())) problem = `x-mcp-header ${mark} is used twice`;
      else {
        names.add(mark.toLowerCase());
        out.push({ name: mark, path, type });
      }
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === "properties" && isObject(child)) {
        for (const [prop, sub] of Object.entries(child))
          if (isObject(sub)) walk(sub, [...path, prop], reachable, depth + 1);
      } else if (isObject(child)) walk(child, [...path, `(${key})`], false, depth + 1);
      else if (Array.isArray(child))
        for (const item of child) if (isObject(item)) walk(item, [...path, `(${key})`], false, depth + 1);
    }
  };
  walk(schema, [], true, 0);
  if (problem) return { invalid: problem };
  return out.length > 0 ? out : undefined;
}

/** Why a `tools/call`'s `Mcp-Param-*` headers do not match its arguments, if they do not. */
export function paramHeaderProblem(
  headers: Headers,
  annotated: readonly ParamHeader[],
  args: unknown,
): string | undefined {
  for (const p of annotated) {
    let value: unknown = args;
    // Own members only: a property named `constructor` the client omitted is not Object.prototype's.
    for (const key of p.path) value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    const header = `Mcp-Param-${p.name}`;
    const raw = headers.get(header);
    if (value === undefined || value === null) continue; // the client omits it; nothing to expect
    if (raw === null) return `${header} is required: the arguments hold ${p.path.join(".")}`;
    const got = decodeHeaderValue(raw);
    if (typeof got !== "string") return `${header}: ${got.invalid}`;
    if (!sameValue(p.type, got, value)) return `${header} differs from the argument ${p.path.join(".")}`;
  }
  return undefined;
}

/** The annotations of the tools a service listed, by tool name (bounded). */
export class ToolHeaderBook {
  private readonly tools = new Map<string, ParamHeader[] | "invalid">();

  /** Learn from a `tools/list` result (a tool listed again replaces what was known of it). */
  learn(result: unknown): void {
    if (!isObject(result) || !Array.isArray(result.tools)) return;
    for (const tool of result.tools) {
      if (!isObject(tool) || typeof tool.name !== "string") continue;
      const found = paramHeadersOf(tool.inputSchema);
      this.tools.delete(tool.name);
      if (found === undefined) continue;
      if (this.tools.size >= MAX_TOOLS) this.tools.delete(this.tools.keys().next().value as string);
      this.tools.set(tool.name, Array.isArray(found) ? found : "invalid");
    }
  }

  /** The tool's annotated properties (none known, or an invalid definition: undefined). */
  of(name: string): ParamHeader[] | undefined {
    const t = this.tools.get(name);
    return Array.isArray(t) ? t : undefined;
  }

  /** The list changed: forget everything (the next `tools/list` teaches it again). */
  clear(): void {
    this.tools.clear();
  }
}

/** The front's checks for every service: a book per service, learned from what it answered. */
export class ParamHeaderGuard<Service extends object> {
  private readonly books = new WeakMap<Service, ToolHeaderBook>();

  /** Why a 2026-07-28 request's `Mcp-Param-*` headers are refused, if they are (only `tools/call` has any). */
  problem(
    service: Service,
    headers: Headers,
    method: string | undefined,
    params: Record<string, unknown> | undefined,
  ): string | undefined {
    if (method !== "tools/call" || typeof params?.name !== "string") return undefined;
    const annotated = this.books.get(service)?.of(params.name);
    return annotated ? paramHeaderProblem(headers, annotated, params.arguments) : undefined;
  }

  /** A `tools/list` answer (its JSON text) the service gave a 2026-07-28 client. */
  listed(service: Service, json: string): void {
    let book = this.books.get(service);
    if (!book) {
      book = new ToolHeaderBook();
      this.books.set(service, book);
    }
    try {
      book.learn((JSON.parse(json) as { result?: unknown }).result);
    } catch {}
  }
}

// --- internal ---

const SENTINEL_START = "=?base64?";
const SENTINEL_END = "?=";
/** RFC 9110 `token` (1*tchar). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_DEPTH = 32;
const MAX_TOOLS = 4096;

function sameValue(type: ParamHeader["type"], header: string, value: unknown): boolean {
  if (type === "string") return typeof value === "string" && header === value;
  if (type === "boolean") return typeof value === "boolean" && header === String(value);
  // Integers compare as numbers (`42.0` and `42` are equal), within the safe range.
  if (typeof value !== "number" || !Number.isSafeInteger(value)) return false;
  if (!/^-?\d+(\.0+)?$/.test(header)) return false;
  return Number(header) === value;
}
