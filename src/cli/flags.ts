/**
 * Service flags shared by `mux serve` (single service and config mode): their citty
 * definitions and their parse into option overrides (unset flags stay undefined, so the config
 * file and then the defaults fill them in).
 * @module
 */

import { type ChildCapabilities, ROUTABLE_CAPABILITIES } from "../mux/handshake.ts";
import { type ServiceOptions, SHARE_POLICIES, type SharePolicy, type WorkspaceKeyMode } from "../mux/options.ts";
import { ROOTS_POLICIES, type RootsPolicy } from "../mux/roots.ts";
import type { AmbiguousRoute } from "../mux/router.ts";
import { fail } from "./logger.ts";

/** citty arg definitions of every per-service flag. */
export const serviceFlags = {
  "service-name": { type: "string", description: "Name in logs and status (default: socket file name)" },
  "max-active-clients": { type: "string", description: "Clients with requests in flight at once (default 5)" },
  "max-concurrent-requests": {
    type: "string",
    description: "Requests at the server at once, across clients (1: one at a time; default 0, no limit)",
  },
  "lazy-start": { type: "boolean", description: "Start the server on the first request" },
  "max-request-bytes": { type: "string", description: "Largest client message (default 1048576)" },
  "request-timeout-ms": { type: "string", description: "Request deadline (default 30000)" },
  "restart-backoff-ms": { type: "string", description: "First restart delay (default 1000)" },
  "restart-backoff-max-ms": { type: "string", description: "Largest restart delay (default 30000)" },
  "max-restarts": { type: "string", description: "Consecutive failures before giving up (default 5, 0 = never)" },
  "healthy-after-ms": { type: "string", description: "Uptime that resets the failure count (default 60000)" },
  "status-file": { type: "string", description: "Write JSON status snapshots here" },
  "roots-policy": { type: "string", description: "intersection (default) | union | first | none" },
  "ambiguous-route": { type: "string", description: "error (default) | most-recent" },
  isolated: { type: "boolean", description: "Give each client its own server process (state not shared)" },
  "child-capabilities": {
    type: "string",
    description:
      "Client capabilities the server is told about: auto (first client's, default) | all | none | a list (sampling,elicitation,roots)",
  },
  "forward-env": { type: "string", description: "Variables a client's mux-proxy --env may forward (A,B)" },
  "max-env-children": { type: "string", description: "Servers for distinct forwarded environments (default 8)" },
  share: {
    type: "string",
    description: "global (one server for all, default) | workspace (one per project folder) | client (= --isolated)",
  },
  "workspace-key": { type: "string", description: "With --share workspace: path (exact folder, default) | git-root" },
  "max-workspaces": { type: "string", description: "With --share workspace: workspace servers at once (default 16)" },
  "workspace-grace-ms": {
    type: "string",
    description: "With --share workspace: stop a workspace's server this long after its last client (default 60000)",
  },
  "max-isolated-children": {
    type: "string",
    description: "With --isolated: children at once, socket and HTTP clients together (default 16)",
  },
  "max-client-inflight": {
    type: "string",
    description: "Requests in flight per client before it is not read (default 64)",
  },
  "client-stall-timeout-ms": {
    type: "string",
    description: "Disconnect a client that reads none of its queued answers for this long (default 30000)",
  },
} as const;

/** Parse the per-service flags that were given. */
export function parseServiceFlags(args: Record<string, unknown>): Partial<ServiceOptions> {
  return {
    serviceName: args["service-name"] as string | undefined,
    maxActiveClients: int(args, "max-active-clients", 1),
    maxConcurrentRequests: int(args, "max-concurrent-requests", 0),
    lazyStart: args["lazy-start"] as boolean | undefined,
    maxRequestBytes: int(args, "max-request-bytes", 1024),
    requestTimeoutMs: int(args, "request-timeout-ms", 1),
    restartBackoffMs: int(args, "restart-backoff-ms", 0),
    restartBackoffMaxMs: int(args, "restart-backoff-max-ms", 0),
    maxRestarts: int(args, "max-restarts", 0),
    healthyAfterMs: int(args, "healthy-after-ms", 0),
    statusFile: args["status-file"] as string | undefined,
    rootsPolicy: oneOf(args, "roots-policy", ROOTS_POLICIES) as RootsPolicy | undefined,
    ambiguousRoute: oneOf(args, "ambiguous-route", ["error", "most-recent"]) as AmbiguousRoute | undefined,
    isolated: args.isolated as boolean | undefined,
    childCapabilities: capabilities(args["child-capabilities"]),
    forwardEnv: list(args["forward-env"]),
    maxEnvChildren: int(args, "max-env-children", 0),
    maxIsolatedChildren: int(args, "max-isolated-children", 1),
    share: oneOf(args, "share", SHARE_POLICIES) as SharePolicy | undefined,
    workspaceKey: oneOf(args, "workspace-key", ["path", "git-root"]) as WorkspaceKeyMode | undefined,
    maxWorkspaces: int(args, "max-workspaces", 1),
    workspaceGraceMs: int(args, "workspace-grace-ms", 0),
    maxClientInflight: int(args, "max-client-inflight", 1),
    clientStallTimeoutMs: int(args, "client-stall-timeout-ms", 1),
  };
}

/** Split a comma list flag. */
export function list(value: unknown): string[] | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

// --- internal ---

function capabilities(raw: unknown): ChildCapabilities | undefined {
  if (raw === undefined) return undefined;
  const value = String(raw);
  if (value === "auto" || value === "all") return value;
  if (value === "none") return [];
  const names = list(value) ?? [];
  const bad = names.find((n) => !(ROUTABLE_CAPABILITIES as readonly string[]).includes(n));
  if (bad)
    fail(
      `--child-capabilities: unknown capability ${bad} (auto, all, none, or a list of ${ROUTABLE_CAPABILITIES.join(", ")})`,
    );
  return names as ChildCapabilities;
}

function int(args: Record<string, unknown>, name: string, min: number): number | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${String(raw)}`);
  return n;
}

function oneOf(args: Record<string, unknown>, name: string, allowed: readonly string[]): string | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !allowed.includes(raw)) fail(`--${name} must be one of ${allowed.join(", ")}`);
  return raw;
}
