/**
 * The 2026-07-28 request headers of the HTTP front (protocol-2026 §1.7): `MCP-Protocol-Version`
 * equal to the body's `_meta` version, `Mcp-Method` equal to `method`, `Mcp-Name` equal to the
 * name, URI or task id the body names (base64-sentinel values decoded first), and the envelope
 * itself, all checked before anything reaches the service.
 * @module
 */

import { isObject } from "../protocol/message.ts";
import { RpcErrorCode } from "../protocol/rpc-error.ts";
import { META } from "../protocol/versions.ts";
import type { EnvelopeCheck } from "./door.ts";
import { decodeHeaderValue } from "./param-headers.ts";

/** One request of a modern POST, as the front split it. */
export interface ModernIncoming {
  method?: string;
  params?: Record<string, unknown>;
}

/** A refusal of a modern POST (always HTTP 400, with the request's id). */
export interface HeaderProblem {
  code: number;
  message: string;
  data?: unknown;
}

/** Why a modern request's headers or envelope (checked by `envelope`, the mux's check) are refused, if they are. */
export function modernHeaderProblem(
  headers: Headers,
  m: ModernIncoming,
  envelope: EnvelopeCheck,
): HeaderProblem | undefined {
  const meta = isObject(m.params?._meta) ? m.params._meta : undefined;
  const bodyVersion = meta?.[META.protocolVersion];
  const headerVersion = headerValue(headers, "mcp-protocol-version");
  const mismatch = (message: string): HeaderProblem => ({ code: RpcErrorCode.HeaderMismatch, message });
  if (bodyVersion === undefined) return envelope(m.params);
  if (headerVersion === undefined) return mismatch("Header mismatch: MCP-Protocol-Version is required");
  if (headerVersion !== bodyVersion)
    return mismatch("Header mismatch: MCP-Protocol-Version differs from the request's _meta protocol version");
  const problem = envelope(m.params);
  if (problem) return problem;
  const method = headerValue(headers, "mcp-method");
  if (method === undefined) return mismatch("Header mismatch: Mcp-Method is required");
  if (method !== m.method) return mismatch("Header mismatch: Mcp-Method differs from the request's method");
  const key = m.method ? NAME_KEYS[m.method] : undefined;
  if (key) {
    const name = headerValue(headers, "mcp-name");
    const want = m.params?.[key];
    if (name === undefined) return mismatch("Header mismatch: Mcp-Name is required");
    if (typeof want !== "string" || name !== want)
      return mismatch(`Header mismatch: Mcp-Name differs from the request's ${key}`);
  }
  return undefined;
}

// --- internal ---

/** Which params member `Mcp-Name` mirrors, per method. */
const NAME_KEYS: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/** A header's value, whitespace around it removed and a base64 sentinel decoded; undefined when absent or unreadable. */
function headerValue(headers: Headers, name: string): string | undefined {
  const raw = headers.get(name);
  if (raw === null) return undefined;
  const value = decodeHeaderValue(raw);
  return typeof value === "string" ? value : undefined;
}
