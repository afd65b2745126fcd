/**
 * `checkHealth`: a real MCP `ping` through the service socket, plus the daemon's status, with
 * every failure mode told apart.
 * @module
 */

import { connectFailureKind, connectRpc } from "../client/rpc.ts";
import { isObject } from "../protocol/message.ts";
import { RpcErrorCode } from "../protocol/rpc-error.ts";

/** Options of {@link checkHealth}. */
export interface HealthOptions {
  socket: string;
  /** Deadline for connecting and for the ping answer (default 3000 ms). */
  timeoutMs?: number;
  /** Ping a dormant service too (which wakes its server); by default it is reported `dormant`. */
  wake?: boolean;
}

/**
 * The outcome kinds, each with its own CLI exit code (see `HEALTH_EXIT_CODES`). `healthy`
 * means the MCP server itself answered the ping (the mux forwards it); `starting` means the
 * daemon answers but its server is still starting, initializing, restarting or waking;
 * `dormant` means the daemon answers and its server is stopped while idle (not pinged, so not
 * woken, unless `wake`).
 */
export type HealthState = "healthy" | "failed" | "no-socket" | "refused" | "timeout" | "error" | "starting" | "dormant";

/** Exit codes of `mux health` per outcome (`failed` also when its server cannot start: it exits before `initialize`). */
export const HEALTH_EXIT_CODES: Record<HealthState, number> = {
  healthy: 0,
  failed: 1,
  "no-socket": 2,
  refused: 3,
  timeout: 4,
  error: 5,
  starting: 6,
  dormant: 7,
};

/** Child states in which the server has not answered yet but may soon. */
const STARTING_STATES = new Set(["lazy", "starting", "waiting", "initializing", "restarting", "waking"]);

/** Result of a health check. */
export interface HealthResult {
  ok: boolean;
  state: HealthState;
  socket: string;
  /** One line for humans. */
  message: string;
  latencyMs?: number;
  /** The daemon's status snapshot, when it gave one. */
  status?: Record<string, unknown>;
}

/** Ping the service behind `socket`. Never throws. */
export async function checkHealth(options: HealthOptions): Promise<HealthResult> {
  const { socket } = options;
  const timeoutMs = options.timeoutMs ?? 3000;
  let conn: Awaited<ReturnType<typeof connectRpc>>;
  try {
    conn = await connectRpc(socket, timeoutMs);
  } catch (error) {
    const kind = connectFailureKind(error);
    const message = error instanceof Error ? error.message : String(error);
    const state: HealthState =
      kind === "missing" ? "no-socket" : kind === "refused" ? "refused" : kind === "timeout" ? "timeout" : "error";
    return { ok: false, state, socket, message };
  }
  try {
    // The status first: a server that cannot start is named at once, without waiting for a
    // ping that would only time out.
    const statusAnswer = await conn.request("mcp-mux/status", undefined, timeoutMs);
    const status = isObject(statusAnswer.result) ? statusAnswer.result : undefined;
    if (status?.state === "failed")
      return { ok: false, state: "failed", socket, message: String(status.failReason ?? "service failed"), status };
    if (status?.startFailure && status.state !== "ready") {
      const why = String(status.lastRestartReason ?? status.startFailure);
      return {
        ok: false,
        state: "failed",
        socket,
        message: `the MCP server cannot start (mux retries): ${why}`,
        status,
      };
    }
    if (status?.state === "dormant" && !options.wake) {
      const name = ` (service "${String(status.service)}")`;
      const message = `dormant: the server is stopped while idle and the next request wakes it${name}; --wake pings it`;
      return { ok: true, state: "dormant", socket, message, status };
    }
    const pinged = performance.now();
    // A dormant server is woken only when asked (the mux answers a plain ping for it).
    const params = options.wake ? { _meta: { "mcp-mux/wake": true } } : undefined;
    const pong = await conn.request("ping", params, timeoutMs);
    const latencyMs = Math.round((performance.now() - pinged) * 10) / 10;
    const error = isObject(pong.error) ? pong.error : undefined;
    if (error?.code === RpcErrorCode.ServiceFailed || status?.state === "failed") {
      const why = String(error?.message ?? status?.failReason ?? "service failed");
      return { ok: false, state: "failed", socket, message: why, status, latencyMs };
    }
    if ((pong.timedOut || error) && STARTING_STATES.has(String(status?.state))) {
      const since =
        typeof status?.childUptimeMs === "number" ? ` for ${Math.round(status.childUptimeMs / 1000)} s` : "";
      const message = `the MCP server has not answered yet: it is ${String(status?.state)}${since}`;
      return { ok: false, state: "starting", socket, message, status };
    }
    if (pong.timedOut)
      return {
        ok: false,
        state: "timeout",
        socket,
        message: `the MCP server did not answer ping within ${timeoutMs} ms`,
        status,
      };
    if (error) return { ok: false, state: "error", socket, message: String(error.message), status, latencyMs };
    const name = status ? ` (service "${String(status.service)}", ${String(status.state)})` : "";
    return {
      ok: true,
      state: "healthy",
      socket,
      message: `healthy: the server answered ping in ${latencyMs} ms${name}`,
      latencyMs,
      status,
    };
  } finally {
    conn.close();
  }
}
