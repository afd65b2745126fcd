/**
 * The tray helper is checked (owner, mode, hash) on every start and the file that was checked
 * is the one that runs (issue 20, item 8): a fresh private copy per start, never a file found
 * in the cache; a cache folder another user owns or may write to is refused; another user
 * cannot swap the copy between the check and the run. "Another user" is `nobody`, for real
 * (chown, and setpriv to act as it). Linux x86-64 only (where systray2 ships a helper).
 */

import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { HELPER_SHA256, trayHelper } from "../../src/tray/helper.ts";
import { ROOT } from "../helpers.ts";

const NOBODY = 65534;
const GENUINE = join(ROOT, "node_modules/systray2/traybin/tray_linux_release");
const supported = process.platform === "linux" && process.arch === "x64" && process.getuid?.() === 0;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A temporary cache home the other user may pass through (so its attempts are real). */
function cacheHome(): { env: Record<string, string>; tray: string } {
  const root = mkdtempSync(join(tmpdir(), "mux-tray-helper-"));
  roots.push(root);
  chmodSync(root, 0o755);
  return { env: { HOME: root, XDG_CACHE_HOME: join(root, "cache") }, tray: join(root, "cache", "mcp-mux", "tray") };
}

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Run a shell command as `nobody`; its exit code. */
function asNobody(script: string): number {
  const r = Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "sh", "-c", script], {
    stderr: "pipe",
  });
  return r.exitCode;
}

describe.skipIf(!supported)("the tray helper's file", () => {
  test("every start writes a fresh 0700 copy of ours with the pinned hash, removed after the run", async () => {
    const { env, tray } = cacheHome();
    const a = await trayHelper(env);
    const b = await trayHelper(env);
    expect(dirname(a.path)).not.toBe(dirname(b.path));
    for (const h of [a, b]) {
      expect(dirname(dirname(h.path))).toBe(tray);
      const file = statSync(h.path);
      const folder = statSync(dirname(h.path));
      expect([file.uid, file.mode & 0o777, folder.uid, folder.mode & 0o777]).toEqual([0, 0o700, 0, 0o700]);
      expect(sha(h.path)).toBe(HELPER_SHA256.linux as string);
    }
    a.remove();
    b.remove();
    expect(readdirSync(tray)).toEqual([]);
  });

  test("a cache folder another user owns, or others may write to, is refused: nothing is written there", async () => {
    for (const [what, spoil] of [
      ["the tray folder owned by nobody", (tray: string) => chownSync(tray, NOBODY, NOBODY)],
      ["the mcp-mux folder owned by nobody", (tray: string) => chownSync(dirname(tray), NOBODY, NOBODY)],
      ["a world-writable tray folder", (tray: string) => chmodSync(tray, 0o777)],
      ["a group-writable mcp-mux folder", (tray: string) => chmodSync(dirname(tray), 0o770)],
    ] as const) {
      const { env, tray } = cacheHome();
      mkdirSync(tray, { recursive: true, mode: 0o700 });
      spoil(tray);
      const refused = await trayHelper(env).then(
        (h) => `accepted ${h.path}`,
        (e: Error) => e.message,
      );
      expect(`${what}: ${refused}`).toMatch(
        /: cannot use the cache folder .*(belongs to uid 65534|other users can write)/,
      );
      expect(readdirSync(tray)).toEqual([]);
    }
  });

  /** A genuine helper where a previous version kept its copy, in a folder (and file) nobody owns. */
  function plant(tray: string): string {
    const planted = join(tray, (HELPER_SHA256.linux as string).slice(0, 16));
    mkdirSync(planted, { recursive: true });
    copyFileSync(GENUINE, join(planted, "mux-tray"));
    chmodSync(join(planted, "mux-tray"), 0o755);
    chownSync(join(planted, "mux-tray"), NOBODY, NOBODY);
    chownSync(planted, NOBODY, NOBODY);
    return planted;
  }

  test("a genuine helper planted in the cache by another user is never the one run", async () => {
    const { env, tray } = cacheHome();
    const planted = plant(tray);
    const h = await trayHelper(env);
    expect(dirname(h.path)).not.toBe(planted);
    expect(statSync(dirname(h.path)).uid).toBe(0);
    h.remove();
  });

  test("another user cannot swap the checked copy before it runs", async () => {
    const { env, tray } = cacheHome();
    plant(tray); // where a swap after the check worked: the other user's folder
    const h = await trayHelper(env);
    const marker = join(dirname(tray), "pwned");
    const evil = join(dirname(tray), "evil.sh");
    const swaps = [
      `printf '#!/bin/sh\\ntouch ${marker}\\n' > '${h.path}'`,
      `rm -f '${h.path}'`,
      `mv '${dirname(h.path)}' '${dirname(h.path)}.moved'`,
      `ln -sf '${evil}' '${h.path}'`,
    ];
    for (const swap of swaps) expect(`${swap}: ${asNobody(swap)}`).not.toMatch(/: 0$/);
    expect(sha(h.path)).toBe(HELPER_SHA256.linux as string);
    expect(existsSync(`${dirname(h.path)}.moved`)).toBe(false);
    h.remove();
  });
});
