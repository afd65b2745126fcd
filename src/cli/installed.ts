/**
 * Finding the installed `mux` and `mux-proxy`: what host entries and login services point at.
 * Never a build inside a clone (`<clone>/dist/…`): those paths break when the clone moves.
 * @module
 */

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fail } from "./logger.ts";

/**
 * The absolute path of an installed `name`: `explicit` (or `envVar`) as given, else next to
 * this `mux`, on PATH, or in `$INSTALL_DIR` (default ~/.local/bin). Exits with a message when
 * only a clone's build exists, or nothing.
 */
export function findInstalled(name: "mux" | "mux-proxy", explicit?: string, envVar?: string): string {
  for (const c of [explicit, envVar ? process.env[envVar] : undefined]) {
    if (!c) continue;
    if (!existsSync(c)) fail(`no ${name} at ${c}`);
    return resolve(c);
  }
  const home = process.env.HOME ?? "";
  const candidates = [
    join(dirname(process.execPath), name),
    Bun.which(name) ?? undefined,
    join(process.env.INSTALL_DIR || join(home, ".local", "bin"), name),
  ].filter((c): c is string => !!c && existsSync(c));
  const installed = candidates.find((c) => !insideClone(c));
  if (installed) return resolve(installed);
  // The flag that names the path (`mux rewire`/`mux wizard --proxy`, `mux service install --mux`).
  const flag = name === "mux" ? "mux service install --mux" : "--proxy";
  if (candidates.length > 0)
    fail(
      `only a build inside a clone was found (${candidates[0]}); paths into a clone break when it moves. ` +
        `Install mcp-mux (sh install.sh in the clone puts it in ~/.local/bin), or pass ${flag} ${resolve(candidates[0] as string)} to use that build anyway`,
    );
  return fail(`cannot find the ${name} executable; install mcp-mux, or pass its absolute path with ${flag} <path>`);
}

// --- internal ---

/** A build in a checkout's dist folder (`<clone>/dist/<name>` next to an mcp-mux package.json). */
function insideClone(path: string): boolean {
  const dir = dirname(resolve(path));
  if (!dir.endsWith("/dist")) return false;
  try {
    return /"name":\s*"mcp-mux"/.test(readFileSync(join(dirname(dir), "package.json"), "utf8"));
  } catch {
    return false;
  }
}
