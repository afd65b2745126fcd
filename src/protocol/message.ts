/**
 * JSON-RPC message types and the one place where a wire line becomes a typed message.
 * Every classified message keeps its original text and the span of its `id`, so ids can be
 * rewritten by splicing and restored byte-identical.
 * @module
 */

import { fastIdSpan, type Span, scanArray, scanObject } from "./scan.ts";

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
  idSpan: Span;
}

/** A notification: has `method`, no `id`. */
export interface NotificationMessage {
  kind: "notification";
  text: string;
  method: string;
  params: JsonObject | undefined;
}

/** A response: has `id` and `result` or `error`. */
export interface ResponseMessage {
  kind: "response";
  text: string;
  id: RequestId | null;
  rawId: string;
  idSpan: Span | undefined;
  result: unknown;
  error: { code: number; message: string; data?: unknown } | undefined;
}

/** A JSON array (a 2025-03-26 batch): element spans into `text`. */
export interface BatchMessage {
  kind: "batch";
  text: string;
  items: Span[];
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

/** Parse and classify one line of JSON-RPC text. */
export function parseMessage(text: string): Message {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: "parse-error", reason: error instanceof Error ? error.message : String(error) };
  }
  if (Array.isArray(value)) {
    const items = scanArray(text);
    if (!items) return { kind: "invalid", rawId: "null", reason: "unreadable batch" };
    return { kind: "batch", text, items };
  }
  if (!isObject(value)) return { kind: "invalid", rawId: "null", reason: "message is not a JSON object" };
  return classifyObject(text, value);
}

/** True for a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for a valid MCP request id: a string or an integer (never null). */
export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
}

// --- internal ---

function classifyObject(text: string, obj: JsonObject): Message {
  const hasId = "id" in obj;
  const idSpan = hasId ? (fastIdSpan(text) ?? scanObject(text)?.keys.get("id")) : undefined;
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
    return { kind: "request", text, method: obj.method, params: p, id: obj.id, rawId, idSpan };
  }
  if ("method" in obj) return { kind: "invalid", rawId: readableId, reason: '"method" must be a string' };
  if (hasId && ("result" in obj || "error" in obj)) {
    const id = isRequestId(obj.id) ? obj.id : null;
    const error = isObject(obj.error) ? (obj.error as ResponseMessage["error"]) : undefined;
    return { kind: "response", text, id, rawId, idSpan, result: obj.result, error };
  }
  return { kind: "invalid", rawId: readableId, reason: "neither a request, a notification nor a response" };
}
