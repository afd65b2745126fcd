/**
 * Lines the routing core builds: its error answers (failed service, duplicate id, timeout),
 * synthetic responses for callbacks, span splicing over text or bytes, and the id of an
 * oversized request guessed from its head and tail.
 * @module
 */

import type { ResponseMessage } from "../../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../../protocol/rpc-error.ts";
import { type Span, splice } from "../../protocol/scan.ts";

/** The error for a request to a failed service. */
export function failedError(rawId: string, reason: string | undefined): string {
  return errorLine(rawId, RpcErrorCode.ServiceFailed, `MCP server unavailable: ${reason ?? "service failed"}`);
}

/** The error for a request whose id is already in flight. */
export function duplicateError(rawId: string): string {
  return errorLine(
    rawId,
    RpcErrorCode.InvalidRequest,
    "Invalid Request: this id is already used by a request in flight",
  );
}

/** The error for a request that ran out of time (`context` says where it waited). */
export function timeoutError(rawId: string, ms: number, context: string): string {
  return errorLine(
    rawId,
    RpcErrorCode.RequestTimeout,
    `Request timed out after ${ms} ms${context ? ` ${context}` : ""}`,
    {
      timeoutMs: ms,
    },
  );
}

/** The shutdown answer. */
export function shuttingDown(rawId: string): string {
  return errorLine(rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down");
}

/** A response made up by the mux, for a callback waiting on the child (timeout, exit, shutdown). */
export function syntheticError(code: number, message: string): ResponseMessage {
  return {
    kind: "response",
    text: "",
    id: null,
    rawId: "null",
    key: "",
    idSpan: undefined,
    result: undefined,
    error: { code, message },
  };
}

/** The text of a wire line given in pieces (only for the rare big answer inside a batch). */
export function wireText(parts: readonly (string | Uint8Array)[]): string {
  return parts.map((p) => (typeof p === "string" ? p : textDecoder.decode(p))).join("");
}

/** Apply span edits (non-overlapping) to a text. */
export function spliceAll(text: string, edits: [Span, string][]): string {
  let out = text;
  for (const [span, value] of [...edits].sort((a, b) => b[0][0] - a[0][0])) out = splice(out, span, value);
  return out;
}

/** Apply span edits to bytes without copying them: the pieces between edits are views. */
export function spliceBytes(bytes: Uint8Array, edits: [Span, string][]): (string | Uint8Array)[] {
  const parts: (string | Uint8Array)[] = [];
  let at = 0;
  for (const [span, value] of [...edits].sort((a, b) => a[0][0] - b[0][0])) {
    parts.push(bytes.subarray(at, span[0]), value);
    at = span[1];
  }
  parts.push(bytes.subarray(at));
  return parts;
}

/**
 * Find the id of an oversized request from its first and last bytes (the SDK writes `id` last;
 * other clients write it first). Returns undefined for a notification, which is never answered,
 * and "null" for a request whose id could not be located.
 */
export function guessRawId(head: string, tail: string): string | undefined {
  const value = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
  const fromTail = new RegExp(String.raw`"id"\s*:\s*${value}\s*\}\s*$`).exec(tail);
  if (fromTail) return fromTail[1];
  const fromHead = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${value}`).exec(head);
  if (fromHead) return fromHead[1];
  return /"id"\s*:/.test(head) || /"id"\s*:/.test(tail) ? "null" : undefined;
}

const textDecoder = new TextDecoder();
