/**
 * mcp-mux library: share one stdio MCP server between many clients over a Unix socket.
 * Explicit named exports only; adding one is an API decision.
 * @module
 */

export type {
  DaemonHandle,
  DaemonOptions,
  DaemonOverrides,
  DaemonReloadResult,
  DaemonStatus,
} from "./config/daemon.ts";
export { startDaemon } from "./config/daemon.ts";
export type { ConfigFormat, LoadConfigOptions, MuxConfig } from "./config/load.ts";
export { ConfigError, findConfig, formatIssue, loadConfig, parseConfig } from "./config/load.ts";
export { configDir, controlSocketPath, defaultSocketPath, runtimeDir } from "./config/paths.ts";
export type { ConfigIssue } from "./config/schema.ts";
export type { MuxErrorCode } from "./errors.ts";
export { isMuxError, MuxError } from "./errors.ts";
export type { HealthOptions, HealthResult, HealthState } from "./health/health.ts";
export { checkHealth, HEALTH_EXIT_CODES } from "./health/health.ts";
export type { HostContext, HostId } from "./hosts/hosts.ts";
export { HOST_IDS, HOSTS, hostContext } from "./hosts/hosts.ts";
export type {
  RepairOptions,
  RepairResult,
  RestoreOptions,
  RestoreResult,
  RewireOptions,
  RewireResult,
  RewireStatusRow,
} from "./hosts/rewire.ts";
export { repairHosts, restoreHosts, rewireHosts, rewireStatus } from "./hosts/rewire.ts";
export type { ScannedServer, ScanReport } from "./hosts/scan.ts";
export { scanHosts } from "./hosts/scan.ts";
export { stateDir } from "./hosts/state.ts";
export type { WizardOptions, WizardOutcome, WizardPrompts } from "./hosts/wizard.ts";
export { runWizard } from "./hosts/wizard.ts";
export type { MuxLogger } from "./mux/logger.ts";
export type {
  ConfiguredService,
  ReloadResult,
  ServiceSet,
  ServiceStatus,
  ServicesHandle,
  ServicesOptions,
} from "./mux/multi.ts";
export { selectServices, startServices } from "./mux/multi.ts";
export type { OptionKind, OptionScope, OptionSpec } from "./mux/option-table.ts";
export { OPTIONS } from "./mux/option-table.ts";
export type { HttpOptions, MuxOptions, ServiceOptions } from "./mux/options.ts";
export { DEFAULTS } from "./mux/options.ts";
export type { RootsPolicy } from "./mux/roots.ts";
export type { AmbiguousRoute, ChildState } from "./mux/router.ts";
export type { MuxHandle } from "./mux/serve.ts";
export { startMux } from "./mux/serve.ts";
export type { StatusSnapshot } from "./mux/status.ts";
export { RpcErrorCode } from "./protocol/rpc-error.ts";
export type { ProxyOptions, ProxyOutput, ProxyResult } from "./proxy/proxy.ts";
export { runProxy } from "./proxy/proxy.ts";
