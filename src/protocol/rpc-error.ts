/**
 * JSON-RPC error codes the mux sends on the wire, and builders for error lines. Every code
 * here is documented in the README ("Error codes").
 * @module
 */

/** Numeric JSON-RPC error codes used by the mux. */
export const RpcErrorCode = {
  /** The line is not valid JSON. */
  ParseError: -32700,
  /** Valid JSON but not a JSON-RPC message (or a reused in-flight id, or an empty batch). */
  InvalidRequest: -32600,
  /** Method unknown to the mux before initialize, or a capability nobody offers. */
  MethodNotFound: -32601,
  /** Invalid params (e.g. unknown log level, a task owned by another client). */
  InvalidParams: -32602,
  /** Internal mux error. */
  InternalError: -32603,
  /** The request was not answered within `request_timeout_ms` (same code as the MCP SDK). */
  RequestTimeout: -32001,
  /**
   * The MCP server process exited or restarted while the request was in flight, or (from
   * `mux-proxy`) the daemon went away after the request was sent: it may have run.
   */
  ServerExited: -32030,
  /** The service is in the `failed` state (restart limit reached or command cannot start). */
  ServiceFailed: -32031,
  /** The request exceeded `max_request_bytes`; `data.limit` holds the limit. */
  MessageTooLarge: -32032,
  /** The mux is shutting down. */
  ShuttingDown: -32033,
  /** A server→client request could not be routed to exactly one capable client. */
  NoRoute: -32034,
  /** The client's forwarded environment was refused (a name the service does not allow, or too many distinct values). */
  EnvRefused: -32035,
  /** (`mux-proxy`) No daemon listens on the socket and it could not be started; the message says why. */
  DaemonUnavailable: -32036,
  /** (`mux-proxy`) The daemon went away before the request was sent whole: it did not run; safe to retry. */
  RequestNotSent: -32037,
  /**
   * MCP's "URL elicitation required" (a server's error, passed through): its `data.elicitations`
   * name the elicitations the client must complete, so the mux notes who owns them.
   */
  UrlElicitationRequired: -32042,
  /** A limit of the mux was reached for this client (`max_isolated_children`): every request of that client gets it. */
  LimitReached: -32038,
  /** The client's workspace folder was refused (missing, not a directory, another user's, control characters, too long, relative): every request of that client gets it. */
  WorkspaceRefused: -32039,
  /**
   * The MCP server exited before it answered `initialize` (it cannot start: a missing command
   * or package, a crash at start); the message holds the reason and its last stderr lines,
   * `data` holds `reason`, `stderr` (lines) and `retrying` (the mux keeps trying).
   */
  ServerStartFailed: -32040,
  /** (2026-07-28) A standard HTTP header is missing, malformed or differs from the body (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`). */
  HeaderMismatch: -32020,
  /** (2026-07-28) Handling the request needs a client capability this request did not declare; `data.requiredCapabilities` names it. */
  MissingRequiredClientCapability: -32021,
  /** (2026-07-28) The request's protocol version is not served; `data` holds `supported` and `requested`. */
  UnsupportedProtocolVersion: -32022,
} as const;

/** One of the codes above. */
export type RpcErrorCodeValue = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** The `error` member of a JSON-RPC error response. */
export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * Serialize an error response. `rawId` is the id's exact JSON text (`"null"` when unknown),
 * spliced as-is so the client gets its id back byte-identical.
 */
export function errorLine(rawId: string, code: number, message: string, data?: unknown): string {
  const body: RpcErrorBody = data === undefined ? { code, message } : { code, message, data };
  return `{"jsonrpc":"2.0","id":${rawId},"error":${JSON.stringify(body)}}`;
}

/** Serialize a success response with a raw id. */
export function resultLine(rawId: string, result: unknown): string {
  return `{"jsonrpc":"2.0","id":${rawId},"result":${JSON.stringify(result)}}`;
}
