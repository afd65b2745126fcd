/**
 * How the shared child's `roots/list` is answered when several clients declare roots
 * (routing spec §2.4). Pure functions; the router supplies each client's roots.
 * @module
 */

/** One MCP root. */
export interface Root {
  uri: string;
  name?: string;
}

/**
 * - `intersection` (default): only what every roots-capable client shares. A client can never
 *   reach, through the shared server, a folder it did not itself expose.
 * - `union`: everything any client exposes (widens each client's reach; opt-in).
 * - `first`: the roots of the longest-connected roots-capable client.
 * - `none`: the mux does not declare `roots` to the server at all.
 */
export type RootsPolicy = "intersection" | "union" | "first" | "none";

/** All roots policies, for validation. */
export const ROOTS_POLICIES: readonly RootsPolicy[] = ["intersection", "union", "first", "none"];

/** Combine per-client root lists (oldest client first) according to `policy`. */
export function combineRoots(policy: RootsPolicy, perClient: Root[][]): Root[] {
  if (policy === "none" || perClient.length === 0) return [];
  if (policy === "first") return perClient[0] ?? [];
  if (policy === "union") return dedupe(perClient.flat());
  // intersection: a root survives if every client has a root containing it.
  const candidates = dedupe(perClient.flat());
  return candidates.filter((r) => perClient.every((roots) => roots.some((mine) => contains(mine.uri, r.uri))));
}

// --- internal ---

function contains(parent: string, child: string): boolean {
  if (parent === child) return true;
  const p = parent.endsWith("/") ? parent : `${parent}/`;
  return child.startsWith(p);
}

function dedupe(roots: Root[]): Root[] {
  const seen = new Map<string, Root>();
  for (const r of roots) if (!seen.has(r.uri)) seen.set(r.uri, r);
  return [...seen.values()];
}
