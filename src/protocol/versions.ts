/**
 * MCP protocol versions the mux understands, and per-client version negotiation
 * (routing spec §3.3).
 * @module
 */

/** Versions the mux can serve, newest first. */
export const SUPPORTED_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

/** The version the mux asks the child for. */
export const LATEST_VERSION = SUPPORTED_VERSIONS[0];

/**
 * Choose the version to answer a client with, given what it asked for and what the child
 * session speaks. An older version we can serve is honoured; anything newer or unknown gets
 * the child's version (the spec lets a server answer "another version it supports").
 */
export function negotiateVersion(requested: unknown, childVersion: string): string {
  if (typeof requested !== "string") return childVersion;
  const known = (SUPPORTED_VERSIONS as readonly string[]).includes(requested);
  if (known && requested <= childVersion) return requested;
  return childVersion;
}

/** Remove server capabilities that do not exist in `version`. */
export function capabilitiesFor(version: string, caps: Record<string, unknown>): Record<string, unknown> {
  const out = { ...caps };
  if (version < "2025-11-25") delete out.tasks;
  if (version < "2025-03-26") delete out.completions;
  return out;
}

/** Modern (stateless, per-request `_meta`) revisions the mux serves, newest first. */
export const MODERN_VERSIONS = ["2026-07-28"] as const;

/** The reserved `_meta` keys of a modern request's envelope (protocol-2026 §1.1). */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
} as const;

/** True when a request's params claim a modern era (its `_meta` names a protocol version). */
export function claimsModern(params: unknown): boolean {
  if (typeof params !== "object" || params === null) return false;
  const meta = (params as Record<string, unknown>)._meta;
  return typeof meta === "object" && meta !== null && META.protocolVersion in meta;
}

/** True for a modern version the mux serves. */
export function isModernVersion(version: unknown): boolean {
  return typeof version === "string" && (MODERN_VERSIONS as readonly string[]).includes(version);
}
