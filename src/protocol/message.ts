/**
 * JSON-RPC message types and the one place where a wire line becomes a typed message.
 * Every line is parsed once (`JSON.parse`) and scanned once for the spans the mux splices
 * (ids, progress tokens), so a message costs linear time whatever its nesting. Members the
 * mux relies on must be unambiguous: a repeated key (`"id"` twice, or `"\u0069d"` beside
 * `"id"`) would let the mux and the server read different ids, so such a message is invalid.
 * @module
 */

import { type ByteMember, decodeSpan, scanJsonBytes } from "./json-bytes.ts";
import { type Span, scanArray, scanObject } from "./scan.ts";

/**
 * One message on the wire, without its newline: a string, or the pieces of a big message
 * (spans of its original bytes with an id spliced in), written one after another.
 */
export type WireLine = string | readonly (string | Uint8Array)[];

/** Messages at least this big are handled as bytes (see {@link parseMessageBytes}). */
export const BIG_MESSAGE_BYTES = 256 * 1024;

/** JSON-RPC request id as MCP allows it. */
export type RequestId = string | number;

/** A JSON object (params, results). */
export type JsonObject = Record<string, unknown>;

/** A request: has `method` and `id`. */
export interface RequestMessage {
  kind: "request";
  text: string;
  method: string;
  params: JsonObject | undefined;
  id: RequestId;
  /** The id's exact JSON text, e.g. `12345678901234567890` or `"\u00e9"`. */
  rawId: string;
  /** Map key of the id, exact for integers of any size (see {@link idKeyOf}). */
  key: string;
  idSpan: Span;
  /** Span of `params._meta.progressToken` when it is a string or a number. */
  progressSpan: Span | undefined;
  /** A big message kept as bytes: `text` is empty and the spans are byte offsets into these. */
  bytes?: Uint8Array;
}

/** A notification: has `method`, no `id`. */
export interface NotificationMessage {
  kind: "notification";
  text: string;
  method: string;
  params: JsonObject | undefined;
  /** A big message kept as bytes (`text` is empty). */
  bytes?: Uint8Array;
}

/** A response: has `id` and `result` or `error`. */
export interface ResponseMessage {
  kind: "response";
  text: string;
  id: RequestId | null;
  rawId: string;
  key: string;
  idSpan: Span | undefined;
  result: unknown;
  error: { code: number; message: string; data?: unknown } | undefined;
}

/** A JSON array (a 2025-03-26 batch), each element already classified (never a batch itself). */
export interface BatchMessage {
  kind: "batch";
  text: string;
  items: Message[];
}

/** Valid JSON that is not a valid JSON-RPC message. `rawId` is `null` unless an id was readable. */
export interface InvalidMessage {
  kind: "invalid";
  rawId: string;
  reason: string;
}

/** Not JSON at all. */
export interface ParseErrorMessage {
  kind: "parse-error";
  reason: string;
}

/** Anything one line can be. */
export type Message =
  | RequestMessage
  | NotificationMessage
  | ResponseMessage
  | BatchMessage
  | InvalidMessage
  | ParseErrorMessage;

/**
 * All of a request's params. A message on the byte path keeps only its small members in
 * `params` (big arguments, a big answer in `inputResponses` are left out), so for one of those
 * they are read from its bytes, once per message; a text message's `params` are whole already.
 */
export function wholeParams(msg: RequestMessage): JsonObject | undefined {
  if (!msg.bytes) return msg.params;
  let whole = wholeCache.get(msg);
  if (!whole) {
    try {
      const body: unknown = JSON.parse(decoder.decode(msg.bytes));
      whole = isObject(body) && isObject(body.params) ? body.params : {};
    } catch {
      whole = {};
    }
    wholeCache.set(msg, whole);
  }
  return whole;
}

/** Parse and classify one line of JSON-RPC text. */
export function parseMessage(text: string): Message {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: "parse-error", reason: error instanceof Error ? error.message : String(error) };
  }
  if (!Array.isArray(value)) return classify(text, value);
  const spans = scanArray(text);
  if (!spans || spans.length !== value.length) return { kind: "invalid", rawId: "null", reason: "unreadable batch" };
  const items: Message[] = [];
  for (let i = 0; i < spans.length; i++) {
    const [start, end] = spans[i] as Span;
    const element = value[i];
    items.push(
      isObject(element)
        ? classify(text.slice(start, end), element)
        : { kind: "invalid", rawId: "null", reason: "a batch element must be a JSON-RPC object" },
    );
  }
  return { kind: "batch", text, items };
}

/**
 * Parse and classify one big line given as bytes, without decoding it whole: the bytes are
 * validated in one pass, the small routing fields are parsed, and big `params` members are
 * left out of `params` (the mux never routes by them). Requests and notifications keep their
 * bytes; anything else (a batch, a response) is decoded and parsed as text.
 */
export function parseMessageBytes(bytes: Uint8Array): Message {
  const scan = scanJsonBytes(bytes);
  if (!scan) return { kind: "parse-error", reason: "the message is not valid JSON" };
  const top = scan.top;
  const first = top.length > 0 ? undefined : firstByte(bytes);
  if (top.length === 0 && first !== 0x7b) return parseMessage(decoder.decode(bytes));
  const members = unique(top);
  if (!members) return { kind: "invalid", rawId: "null", reason: "a key appears more than once" };
  const methodSpan = members.get("method");
  if (!methodSpan || members.has("result") || members.has("error")) return parseMessage(decoder.decode(bytes));
  const small = (span: Span | undefined): unknown =>
    span && span[1] - span[0] <= SMALL_MEMBER ? JSON.parse(decodeSpan(bytes, span)) : undefined;
  const idSpan = members.get("id");
  const rawId = idSpan ? decodeSpan(bytes, idSpan) : "null";
  const id = small(idSpan);
  const readableId = idSpan && isRequestId(id) ? rawId : "null";
  if (small(members.get("jsonrpc")) !== "2.0")
    return { kind: "invalid", rawId: readableId, reason: 'missing or wrong "jsonrpc": "2.0"' };
  const method = small(methodSpan);
  if (typeof method !== "string") return { kind: "invalid", rawId: readableId, reason: '"method" must be a string' };
  const paramsSpan = members.get("params");
  let params: JsonObject | undefined;
  let progressSpan: Span | undefined;
  if (paramsSpan) {
    const list = scan.nested.get(paramsSpan[0]);
    if (!list) {
      if (bytes[paramsSpan[0]] !== 0x5b)
        return { kind: "invalid", rawId: readableId, reason: '"params" must be an object' };
    } else {
      const p = unique(list);
      const metaSpan = p?.get("_meta");
      const metaList = metaSpan ? scan.nested.get(metaSpan[0]) : undefined;
      const meta = metaList ? unique(metaList) : undefined;
      if (!p || (metaList && !meta))
        return { kind: "invalid", rawId: readableId, reason: 'a key of "params" or "_meta" appears more than once' };
      params = {};
      for (const [key, span] of p) {
        const value = small(span);
        if (value !== undefined) params[key] = value;
      }
      const token = meta?.get("progressToken");
      const tokenValue = small(token);
      if (token && (typeof tokenValue === "string" || typeof tokenValue === "number")) progressSpan = token;
    }
  }
  if (!idSpan) return { kind: "notification", text: "", method, params, bytes };
  if (!isRequestId(id)) return { kind: "invalid", rawId: "null", reason: "request id must be a string or an integer" };
  return { kind: "request", text: "", method, params, id, rawId, key: idKeyOf(rawId), idSpan, progressSpan, bytes };
}

/** True for a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for a valid MCP request id: a string or an integer (never null). */
export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
}

/**
 * The map key of an id given as its raw JSON text: `s<string value>` for strings (so escaped
 * and plain spellings of one string agree), `n<digits>` for integers, taken from the text so
 * ids beyond 2^53 stay distinct. String `"1"` and number `1` differ.
 */
export function idKeyOf(raw: string): string {
  if (raw.charCodeAt(0) === 0x22) {
    if (!raw.includes("\\")) return `s${raw.slice(1, -1)}`;
    try {
      return `s${JSON.parse(raw) as string}`;
    } catch {
      return `r${raw}`;
    }
  }
  if (PLAIN_INTEGER.test(raw)) return `n${raw}`;
  const n = Number(raw);
  return Number.isFinite(n) ? `n${String(n)}` : `r${raw}`;
}

// --- internal ---

const PLAIN_INTEGER = /^-?\d+$/;
const decoder = new TextDecoder();
const wholeCache = new WeakMap<RequestMessage, JsonObject>();
/** Members up to this size are parsed for routing; bigger ones are payload the mux never reads. */
const SMALL_MEMBER = 64 * 1024;

/** Members by key, or undefined when a key repeats. */
function unique(members: ByteMember[]): Map<string, Span> | undefined {
  const map = new Map<string, Span>();
  for (const m of members) {
    if (map.has(m.key)) return undefined;
    map.set(m.key, m.value);
  }
  return map;
}

function firstByte(bytes: Uint8Array): number | undefined {
  for (const c of bytes) if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c;
  return undefined;
}

function classify(text: string, value: unknown): Message {
  if (!isObject(value)) return { kind: "invalid", rawId: "null", reason: "message is not a JSON object" };
  const spans = scanObject(text);
  if (!spans) return { kind: "invalid", rawId: "null", reason: "unreadable message" };
  if (spans.members !== Object.keys(value).length) {
    return { kind: "invalid", rawId: "null", reason: "a key appears more than once" };
  }
  const obj = value;
  const hasId = "id" in obj;
  const idSpan = hasId ? spans.keys.get("id") : undefined;
  const rawId = idSpan ? text.slice(idSpan[0], idSpan[1]) : "null";
  const readableId = hasId && isRequestId(obj.id) ? rawId : "null";
  if (obj.jsonrpc !== "2.0") return { kind: "invalid", rawId: readableId, reason: 'missing or wrong "jsonrpc": "2.0"' };
  const params = obj.params;
  if (params !== undefined && !isObject(params) && !Array.isArray(params)) {
    return { kind: "invalid", rawId: readableId, reason: '"params" must be an object' };
  }
  if (typeof obj.method === "string") {
    const p = isObject(params) ? params : undefined;
    if (!hasId) return { kind: "notification", text, method: obj.method, params: p };
    if (!isRequestId(obj.id) || !idSpan) {
      return { kind: "invalid", rawId: "null", reason: "request id must be a string or an integer" };
    }
    const progress = progressSpan(text, spans.keys.get("params"), p);
    if (progress === null)
      return { kind: "invalid", rawId, reason: 'a key of "params" or "_meta" appears more than once' };
    return {
      kind: "request",
      text,
      method: obj.method,
      params: p,
      id: obj.id,
      rawId,
      key: idKeyOf(rawId),
      idSpan,
      progressSpan: progress,
    };
  }
  if ("method" in obj) return { kind: "invalid", rawId: readableId, reason: '"method" must be a string' };
  if (hasId && ("result" in obj || "error" in obj)) {
    const id = isRequestId(obj.id) ? obj.id : null;
    const error = isObject(obj.error) ? (obj.error as ResponseMessage["error"]) : undefined;
    return { kind: "response", text, id, rawId, key: idKeyOf(rawId), idSpan, result: obj.result, error };
  }
  return { kind: "invalid", rawId: readableId, reason: "neither a request, a notification nor a response" };
}

/**
 * The span of `params._meta.progressToken` (undefined when there is none), or null when
 * `params` or `_meta` repeats a key, so the token the mux rewrites is the one the server reads.
 */
function progressSpan(
  text: string,
  paramsSpan: Span | undefined,
  params: JsonObject | undefined,
): Span | undefined | null {
  const meta = params?._meta;
  if (!paramsSpan || !isObject(meta)) return undefined;
  // No token anywhere in the text, nor an escape that could spell one: nothing the server could
  // read as a token the mux did not rewrite, whatever repeats (params stay unscanned, as in a
  // request without `_meta`).
  if (!("progressToken" in meta) && !text.includes('"progressToken"') && !text.includes("\\u")) return undefined;
  const token = meta.progressToken;
  const p = scanObject(text, paramsSpan[0]);
  if (!p || p.members !== Object.keys(params as JsonObject).length) return null;
  const metaSpan = p.keys.get("_meta");
  const m = metaSpan ? scanObject(text, metaSpan[0]) : null;
  if (!m || m.members !== Object.keys(meta).length) return null;
  if (typeof token !== "string" && typeof token !== "number") return undefined;
  return m.keys.get("progressToken");
}
