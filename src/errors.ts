/**
 * Local (in-process) errors of the mux library. JSON-RPC errors sent over the wire live in
 * `protocol/rpc-error.ts`; never send a `MuxError` as-is.
 * @module
 */

/** Every reason a library call can fail, as a string-literal union. */
export type MuxErrorCode =
  | "CONFIG_INVALID"
  | "SOCKET_IN_USE"
  | "SOCKET_PATH_TOO_LONG"
  | "SOCKET_PATH_INVALID"
  | "SPAWN_FAILED"
  | "CONNECT_FAILED"
  | "HEALTH_TIMEOUT"
  | "HEALTH_FAILED"
  | "CLOSED"
  | "HOST_FILE_INVALID"
  | "HOST_FILE_CHANGED"
  | "PROXY_NOT_FOUND"
  | "STATE_INVALID"
  | "STATE_LOCKED"
  | "DAEMON_START_FAILED"
  | "DAEMON_RUNNING"
  | "SERVICE_PATH_INVALID"
  | "DAEMON_STOPPED"
  | "SERVICE_UNSERVED"
  | "HTTP_UNAVAILABLE";

/** A typed error thrown by the library. `code` is stable; `message` is for humans. */
export class MuxError extends Error {
  override readonly name = "MuxError";
  readonly code: MuxErrorCode;

  constructor(code: MuxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Narrow an unknown thrown value to a `MuxError`. */
export function isMuxError(value: unknown): value is MuxError {
  return value instanceof MuxError;
}
