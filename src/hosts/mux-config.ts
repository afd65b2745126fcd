/**
 * Write mux services into a mux config file (JSON, YAML or TOML by extension): a fresh file
 * for `scan --write-config`, or added services in an existing one (its comments and other
 * services kept) for `rewire`. Files are written 0600: env values may hold secrets.
 * @module
 */

import { existsSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import { parse as parseToml } from "smol-toml";
import { parseDocument } from "yaml";
import { findConfig, readConfigFile } from "../config/load.ts";
import { configDir } from "../config/paths.ts";
import { detectFormatting } from "./formats/json.ts";
import { scanToml, tomlKey, tomlValue } from "./formats/toml-spans.ts";
import type { ServiceSpec } from "./service-spec.ts";
import { ensureDir, writeAtomic } from "./state.ts";

/** The config `rewire` adds services to: the one `mux serve` finds, else `<configDir>/config.yaml`. */
export function defaultMuxConfig(env: Record<string, string | undefined> = process.env, explicit?: string): string {
  return findConfig(explicit, env) ?? join(configDir(env), "config.yaml");
}

/** The config entry of one service, with snake_case keys. */
export function serviceEntry(spec: ServiceSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { socket: spec.socket, cmd: spec.cmd };
  if (spec.args.length > 0) out.args = spec.args;
  if (Object.keys(spec.env).length > 0) out.env = spec.env;
  if (spec.cwd !== undefined) out.cwd = spec.cwd;
  out.share = spec.share;
  if (spec.serial) out.max_concurrent_requests = 1;
  // Clients bring their env (forwarded secrets, host-expanded variables): the service allows
  // exactly those names, and a child started without them would be of no use.
  if (spec.forward.length > 0) {
    out.forward_env = spec.forward;
    out.lazy_start = true;
  }
  return out;
}

/**
 * A service already in the config whose share setting (or its absence: `global`) differs from
 * what rewire chose for the entry: the config's is kept, never overwritten.
 */
export interface KeptShare {
  service: string;
  /** What the config says (`share`, or `client` from `mode: isolated` / `isolated: true`), undefined when nothing. */
  share?: string;
  wanted: string;
  reason: string;
}

/** Render a whole config for `specs` in the format of `path`'s extension. */
export function renderConfig(path: string, specs: ServiceSpec[]): string {
  return addToText(path, "", specs).text;
}

/**
 * Add services missing from the config at `path` (matched by socket), naming each after its
 * entry and suffixing the id when the name is taken. Returns the name of every spec's service.
 */
export function addServices(
  path: string,
  specs: ServiceSpec[],
  options: { dryRun?: boolean; from?: string } = {},
): { names: Map<string, string>; added: string[]; text: string; before: string; kept: KeptShare[] } {
  // `from`: plan on this text instead of the file's (a dry run after a planned `ensureHttp`).
  const before = options.from ?? (existsSync(path) ? readConfigFile(path) : "");
  const result = addToText(path, before, specs);
  if (!options.dryRun && result.added.length > 0) {
    ensureDir(dirname(path));
    writeAtomic(path, result.text, 0o600);
  }
  return { ...result, before };
}

/**
 * The config's HTTP front (`http` top-level key): what it says, or `listen` added to it when it
 * has none (so URL entries have a daemon to reach).
 */
export function ensureHttp(
  path: string,
  listen: string,
  options: { dryRun?: boolean } = {},
): { listen: string; tokenFile?: string; auth?: string; added: boolean; text: string; before: string } {
  const before = existsSync(path) ? readConfigFile(path) : "";
  const format = formatOf(path);
  const data = (
    before.trim() === ""
      ? {}
      : format === "json"
        ? JSON.parse(before)
        : format === "toml"
          ? parseToml(before)
          : (parseDocument(before).toJS() ?? {})
  ) as { http?: unknown };
  const http = data.http;
  if (typeof http === "string") return { listen: http, added: false, text: before, before };
  if (typeof http === "object" && http !== null) {
    const h = http as { listen?: unknown; token_file?: unknown; auth?: unknown };
    if (typeof h.listen === "string")
      return {
        listen: h.listen,
        tokenFile: typeof h.token_file === "string" ? h.token_file : undefined,
        auth: typeof h.auth === "string" ? h.auth : undefined,
        added: false,
        text: before,
        before,
      };
  }
  let text: string;
  if (format === "json") {
    const base = before.trim() === "" ? "{}\n" : before;
    text = applyEdits(base, modify(base, ["http"], listen, { formattingOptions: detectFormatting(base) }));
  } else if (format === "yaml") {
    const doc = parseDocument(before.trim() === "" ? "{}\n" : before);
    doc.set("http", listen);
    text = doc.toString({ lineWidth: 0 });
  } else text = `http = ${tomlValue(listen)}\n${before}`; // top-level keys come before the tables
  if (!options.dryRun) {
    ensureDir(dirname(path));
    writeAtomic(path, text, 0o600);
  }
  return { listen, added: true, text, before };
}

/**
 * Take back an `http = "<listen>"` that {@link ensureHttp} added (when no URL entry came of
 * it); anything else under `http` is the user's and stays.
 */
export function removeHttp(path: string, listen: string): boolean {
  if (!existsSync(path)) return false;
  const text = readConfigFile(path);
  const format = formatOf(path);
  let out: string;
  if (format === "json") {
    if ((JSON.parse(text) as { http?: unknown }).http !== listen) return false;
    out = applyEdits(text, modify(text, ["http"], undefined, {}));
  } else if (format === "yaml") {
    const doc = parseDocument(text);
    if (doc.get("http") !== listen) return false;
    doc.delete("http");
    out = doc.toString({ lineWidth: 0 });
  } else {
    if ((parseToml(text) as { http?: unknown }).http !== listen) return false;
    const kv = scanToml(text).find((st) => st.type === "kv" && st.table.length === 0 && st.key.join(".") === "http");
    if (!kv) return false;
    out = text.slice(0, kv.lineStart) + text.slice(kv.lineEnd);
  }
  writeAtomic(path, out, 0o600);
  return true;
}

/**
 * Each service's share policy as the config at `path` sets it (`share`, else `client` for
 * `mode: isolated` / `isolated: true`, else `global`, the default); empty when it cannot be read.
 */
export function serviceShares(path: string): Record<string, string> {
  try {
    if (!existsSync(path)) return {};
    const services = servicesIn(formatOf(path), readConfigFile(path));
    return Object.fromEntries(Object.entries(services).map(([name, s]) => [name, shareOf(s) ?? "global"]));
  } catch {
    return {};
  }
}

/** Remove services from the config at `path` (missing ones are ignored); returns those removed. */
export function removeServices(path: string, names: string[], options: { dryRun?: boolean } = {}): string[] {
  if (!existsSync(path) || names.length === 0) return [];
  const text = readConfigFile(path);
  const format = formatOf(path);
  const present = names.filter((n) => servicesIn(format, text)[n] !== undefined);
  if (present.length === 0) return [];
  let out = text;
  for (const name of present) out = removeOne(format, out, name);
  if (!options.dryRun) writeAtomic(path, out, 0o600);
  return present;
}

// --- internal ---

function removeOne(format: Format, text: string, name: string): string {
  if (format === "json") return applyEdits(text, modify(text, ["servers", name], undefined, {}));
  if (format === "yaml") {
    const doc = parseDocument(text);
    doc.deleteIn(["servers", name]);
    return doc.toString({ lineWidth: 0 });
  }
  const stmts = scanToml(text);
  const cuts: [number, number][] = [];
  stmts.forEach((st, i) => {
    const full = st.type === "header" ? st.path : [...st.table, ...st.key];
    if (full[0] !== "servers" || full[1] !== name) return;
    if (st.type === "kv") {
      if (st.table.length < 2) cuts.push([st.lineStart, st.lineEnd]);
      return;
    }
    const next = stmts.slice(i + 1).find((x) => x.type === "header");
    cuts.push([st.lineStart, next ? next.lineStart : text.length]);
  });
  let out = text;
  for (const [start, end] of cuts.sort((x, y) => y[0] - x[0])) {
    // Take the blank line `addServices` put before the table with it.
    const a = start >= 2 && out.slice(start - 2, start) === "\n\n" && end >= out.length ? start - 1 : start;
    out = out.slice(0, a) + out.slice(end);
  }
  return out;
}

function addToText(
  path: string,
  text: string,
  specs: ServiceSpec[],
): { names: Map<string, string>; added: string[]; text: string; kept: KeptShare[] } {
  const format = formatOf(path);
  const existing = servicesIn(format, text);
  const names = new Map<string, string>();
  const added: string[] = [];
  const kept: KeptShare[] = [];
  let out = text;
  for (const spec of specs) {
    if (names.has(spec.id)) continue;
    const same = Object.entries(existing).find(([, s]) => s.socket === spec.socket);
    if (same) {
      names.set(spec.id, same[0]);
      const has = shareOf(same[1]);
      if ((has ?? "global") !== spec.share)
        kept.push({ service: same[0], share: has, wanted: spec.share, reason: spec.shareReason });
      continue;
    }
    let name = spec.name;
    if (existing[name]) name = `${spec.name}-${spec.id.slice(0, 4)}`;
    const entry = serviceEntry(spec);
    existing[name] = entry as { socket?: string };
    names.set(spec.id, name);
    added.push(name);
    out = insert(format, out, name, entry);
  }
  return { names, added, text: out, kept };
}

type Format = "json" | "yaml" | "toml";

/** The share a service entry sets, if any (`mode`/`isolated` are the older spellings of `client`/`global`). */
function shareOf(service: unknown): string | undefined {
  const s = (typeof service === "object" && service !== null ? service : {}) as {
    share?: unknown;
    mode?: unknown;
    isolated?: unknown;
  };
  if (typeof s.share === "string") return s.share;
  if (s.isolated === true || s.mode === "isolated") return "client";
  if (s.isolated === false || s.mode === "shared") return "global";
  return undefined;
}

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  return ext === ".json" ? "json" : ext === ".toml" ? "toml" : "yaml";
}

function servicesIn(format: Format, text: string): Record<string, { socket?: string }> {
  if (text.trim() === "") return {};
  const data = (
    format === "json" ? JSON.parse(text) : format === "toml" ? parseToml(text) : parseDocument(text).toJS()
  ) as { servers?: Record<string, { socket?: string }> } | null;
  return { ...(data?.servers ?? {}) };
}

function insert(format: Format, text: string, name: string, entry: Record<string, unknown>): string {
  if (format === "json") {
    const base = text.trim() === "" ? "{}\n" : text;
    return applyEdits(base, modify(base, ["servers", name], entry, { formattingOptions: detectFormatting(base) }));
  }
  if (format === "yaml") {
    const doc = parseDocument(text.trim() === "" ? "servers: {}\n" : text);
    if (!doc.has("servers") || doc.get("servers") === null) doc.set("servers", doc.createNode({}));
    const servers = doc.get("servers", true) as { flow?: boolean };
    if (servers && typeof servers === "object") servers.flow = false;
    doc.setIn(["servers", name], doc.createNode(entry));
    return doc.toString({ lineWidth: 0 });
  }
  const lines = [`[servers.${tomlKey(name)}]`];
  for (const [k, v] of Object.entries(entry)) lines.push(`${k} = ${tomlValue(v)}`);
  const sep = text === "" ? "" : text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
  return `${text}${sep}${lines.join("\n")}\n`;
}
