/**
 * The tray helper executable (systray2's prebuilt Go helper, getlantern/systray), embedded in
 * the build and written once to the per-user cache to be run: `<cache>/tray/<sha256>/`, a
 * 0700 folder of this user's, the file written under a temporary name, made executable and
 * renamed; an existing copy is re-hashed before every use. Only the target OS's helper is in
 * a release binary: its entry (src/bin/mux-<os>.ts) embeds it and hands its path over here.
 * @module
 */

import { createHash } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensurePrivateDir } from "../client/safe-path.ts";
import { cacheDir } from "../config/paths.ts";

/** SHA-256 of each embedded helper (systray2 2.1.4), checked on the bytes before they run. */
export const HELPER_SHA256: Record<string, string> = {
  linux: "f61eee19036c0af93e2bb0e5b9fff0bd413469aff5ea1261b8fcfe9e2c027c04",
  darwin: "b406fe6d13d1ba66f901a07267ecfcf1b615e9c8b3410287be576706bd737791",
  win32: "ae61c63ece1392fc64abbfbd40de782f5b2a7b7d83e93f8b640a20395ae6e8a0",
};

/**
 * The path of a runnable helper for this OS, extracted if needed. Throws with a reason a user
 * can act on (no helper for this OS or CPU, an unsafe or unwritable cache folder).
 */
export async function trayHelper(env: Record<string, string | undefined> = process.env): Promise<string> {
  const embedded = await embeddedHelper();
  if (!embedded || (process.arch !== "x64" && process.platform !== "darwin"))
    throw new Error(
      `no tray helper for ${process.platform}-${process.arch} (systray2 ships it for x86-64 Linux, macOS and Windows only)`,
    );
  const expected = HELPER_SHA256[process.platform] as string;
  const dir = join(cacheDir(env), "tray", expected.slice(0, 16));
  const file = join(dir, process.platform === "win32" ? "mux-tray.exe" : "mux-tray");
  if (existsSync(file) && sha256(readFileSync(file)) === expected) return file;
  const bytes = new Uint8Array(await Bun.file(embedded).arrayBuffer());
  const actual = sha256(bytes);
  if (actual !== expected) throw new Error(`the embedded tray helper has SHA-256 ${actual}, expected ${expected}`);
  try {
    ensurePrivateDir(dir);
  } catch (error) {
    throw new Error(`cannot use the cache folder ${dir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, bytes, { mode: 0o700, flag: "wx" });
  chmodSync(temp, 0o700);
  renameSync(temp, file);
  return file;
}

// --- internal ---

/** Set by the per-OS entry of the build (src/bin/mux-<os>.ts) to the embedded helper's path. */
let embedded: string | undefined;

/** Where the build embedded this OS's helper (see src/bin/mux-linux.ts). */
export function setEmbeddedTrayHelper(path: string): void {
  embedded = path;
}

async function embeddedHelper(): Promise<string | undefined> {
  if (embedded) return embedded;
  // Run from the sources: the helper in node_modules.
  const file = { linux: "tray_linux_release", darwin: "tray_darwin_release", win32: "tray_windows_release.exe" }[
    process.platform as string
  ];
  if (!file) return undefined;
  try {
    return Bun.resolveSync(`systray2/traybin/${file}`, import.meta.dir);
  } catch {
    return undefined;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
