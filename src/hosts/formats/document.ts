/**
 * One interface over the three host file formats: list the server entries under a container
 * with the byte region each occupies, and edit keys of one entry so that only that region
 * changes (the caller verifies this). JSON/JSONC use `jsonc-parser`, YAML the `yaml`
 * Document API, TOML our span scanner.
 * @module
 */

/** Where a host keeps its servers: a key path to a map, or to a list keyed by `name`. */
export interface Container {
  path: string[];
  /** Continue: `mcpServers` is a list of objects with `name`. */
  list?: boolean;
}

/** One server entry and the region `[start, end)` of its value in the text. */
export interface EntryLocation {
  name: string;
  value: unknown;
  start: number;
  end: number;
  /** Set when the entry cannot be edited as one region (e.g. TOML keys spread over the file). */
  problem?: string;
}

/** Set (`value`) or remove one key (path relative to the entry). */
export interface EditOp {
  path: string[];
  value?: unknown;
  remove?: boolean;
}

/** A file format the rewriter can read and edit in place. */
export interface DocumentFormat {
  /** Parse the whole text (throws with a readable message when it is not valid). */
  parse(text: string): unknown;
  /** Entries under `container` (empty when the container is missing). */
  entries(text: string, container: Container): EntryLocation[];
  /** Apply `ops` to entry `name`; returns the whole new text. */
  edit(text: string, container: Container, name: string, ops: EditOp[]): string;
}

/** Apply `ops` to a plain copy of `value` (the value the edited entry must parse to). */
export function applyOps(value: unknown, ops: EditOp[]): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  for (const op of ops) {
    let target: Record<string, unknown> = copy;
    for (const key of op.path.slice(0, -1)) {
      if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const last = op.path[op.path.length - 1] as string;
    if (op.remove) delete target[last];
    else target[last] = op.value;
  }
  return copy;
}

/** Structural equality of plain JSON-like values (key order ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "bigint" || typeof b === "bigint") return String(a) === String(b);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameValue(v, bb[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
