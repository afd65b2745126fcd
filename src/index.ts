/**
 * mcp-mux library: share one stdio MCP server between many clients over a Unix socket.
 * Explicit named exports only; adding one is an API decision.
 * @module
 */

export type { MuxErrorCode } from "./errors.ts";
export { isMuxError, MuxError } from "./errors.ts";
export type { HealthOptions, HealthResult, HealthState } from "./health/health.ts";
export { checkHealth, HEALTH_EXIT_CODES } from "./health/health.ts";
export type { MuxLogger } from "./mux/logger.ts";
export type { MuxOptions, ServiceOptions } from "./mux/options.ts";
export { DEFAULTS } from "./mux/options.ts";
export type { RootsPolicy } from "./mux/roots.ts";
export type { AmbiguousRoute, ChildState } from "./mux/router.ts";
export type { MuxHandle } from "./mux/serve.ts";
export { startMux } from "./mux/serve.ts";
export type { StatusSnapshot } from "./mux/status.ts";
export { RpcErrorCode } from "./protocol/rpc-error.ts";
export type { ProxyOptions, ProxyOutput, ProxyResult } from "./proxy/proxy.ts";
export { runProxy } from "./proxy/proxy.ts";
