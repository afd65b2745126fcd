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
