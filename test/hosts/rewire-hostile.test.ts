/**
 * rewire / restore / scan against hostile host files: a symlink into another user's file, a
 * huge file, a FIFO and /dev/zero named as the host file. Each is refused with its reason,
 * quickly, and nothing is written anywhere (host file, mux config, state). A file that changes
 * during the rewire is in rewire-field.test.ts.
 */

import { afterAll, expect, test } from "bun:test";
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { restoreHosts, rewireHosts } from "../../src/hosts/rewire.ts";
import { scanHosts } from "../../src/hosts/scan.ts";
import { MAX_HOST_FILE_BYTES, readState } from "../../src/hosts/state.ts";
import { FIXTURE_DIR, fixtureHome, HOST_FIXTURES, type HostFixture, PROXY } from "./fixtures.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const cursor = HOST_FIXTURES.find((x) => x.host === "cursor") as HostFixture;
const NOBODY = 65534;
const root = process.getuid?.() === 0;

function home() {
  const h = fixtureHome([]);
  homes.push(h.home);
  const path = h.pathOf(cursor);
  mkdirSync(dirname(path), { recursive: true });
  return { ...h, path, opts: { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile } };
}

/** Nothing of ours was written: no state, no backups, no mux config. */
function nothingWritten(h: { stateDir: string; configFile: string }): void {
  expect(existsSync(h.configFile)).toBe(false);
  expect(existsSync(join(h.stateDir, "state.json"))).toBe(false);
  expect(existsSync(join(h.stateDir, "backups"))).toBe(false);
}

test.skipIf(!root)(
  "a host file that is a symlink to another user's file is refused, for rewire and restore",
  async () => {
    const h = home();
    const theirs = join(h.home, "other", "mcp.json");
    mkdirSync(dirname(theirs), { recursive: true });
    copyFileSync(join(FIXTURE_DIR, cursor.fixture), theirs);
    chownSync(theirs, NOBODY, NOBODY);
    symlinkSync(theirs, h.path);
    const before = readFileSync(theirs, "utf8");
    const result = await rewireHosts(h.opts);
    expect(result.changes).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual([
      `${h.path} (→ ${theirs}) is owned by uid ${NOBODY}, not by you (uid 0): another user's file is never edited; left alone`,
    ]);
    expect(readFileSync(theirs, "utf8")).toBe(before);
    expect(statSync(theirs).uid).toBe(NOBODY);
    nothingWritten(h);
    expect(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).hosts[0]?.files[0]?.error).toContain("another user's file");

    // Rewired while it was ours, then swapped for a link into another user's copy: restore refuses.
    unlinkSync(h.path);
    copyFileSync(join(FIXTURE_DIR, cursor.fixture), h.path);
    expect((await rewireHosts(h.opts)).changes).toHaveLength(1);
    copyFileSync(h.path, theirs);
    chownSync(theirs, NOBODY, NOBODY);
    const rewired = readFileSync(theirs, "utf8");
    unlinkSync(h.path);
    symlinkSync(theirs, h.path);
    const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(restored.restored).toEqual([]);
    // Cursor's three entries (memory, gh, files) were rewired.
    expect(restored.refused.map((r) => r.reason)).toEqual(
      Array(3).fill(expect.stringContaining("another user's file is never edited")),
    );
    expect(readFileSync(theirs, "utf8")).toBe(rewired);
    expect(readState(h.stateDir).records).toHaveLength(3);
  },
);

test.skipIf(!root)("a host file owned by another user (no symlink) is refused too", async () => {
  const h = home();
  copyFileSync(join(FIXTURE_DIR, cursor.fixture), h.path);
  chownSync(h.path, NOBODY, NOBODY);
  const result = await rewireHosts(h.opts);
  expect(result.skipped[0]?.reason).toContain(`is owned by uid ${NOBODY}, not by you`);
  expect(readFileSync(h.path, "utf8")).toBe(readFileSync(join(FIXTURE_DIR, cursor.fixture), "utf8"));
  nothingWritten(h);
});

test("a huge host file is refused with its size before it is read; nothing is written", async () => {
  const h = home();
  // Sparse: it costs no disk, and reading it would be the bug.
  writeFileSync(h.path, '{"mcpServers":{"m":{"command":"mcp-server-memory"}}}');
  truncateSync(h.path, MAX_HOST_FILE_BYTES + 1);
  const mtime = statSync(h.path).mtimeMs;
  const result = await rewireHosts(h.opts);
  expect(result.skipped.map((s) => s.reason)).toEqual([
    `${h.path} is ${MAX_HOST_FILE_BYTES + 1} bytes, more than the ${MAX_HOST_FILE_BYTES} a host file may have; left alone`,
  ]);
  expect(statSync(h.path).size).toBe(MAX_HOST_FILE_BYTES + 1);
  expect(statSync(h.path).mtimeMs).toBe(mtime);
  nothingWritten(h);
  expect(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).hosts[0]?.files[0]?.error).toContain("more than the");
});

test("a FIFO or /dev/zero as the host file: a clear error at once, no hang, for scan, rewire and restore", async () => {
  for (const kind of ["FIFO", "/dev/zero"] as const) {
    const h = home();
    const make = () => {
      rmSync(h.path, { force: true });
      if (kind === "FIFO") expect(Bun.spawnSync(["mkfifo", h.path]).exitCode).toBe(0);
      else symlinkSync("/dev/zero", h.path);
    };
    const why = kind === "FIFO" ? "is not a regular file (a FIFO)" : "is not a regular file (a character device)";
    make();
    expect(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).hosts[0]?.files[0]?.error).toContain(why);
    const result = await rewireHosts(h.opts);
    expect(result.changes).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual([expect.stringContaining(why)]);
    nothingWritten(h);
    // Rewired as a real file, then replaced: restore refuses with the reason.
    rmSync(h.path);
    copyFileSync(join(FIXTURE_DIR, cursor.fixture), h.path);
    expect((await rewireHosts(h.opts)).changes).toHaveLength(1);
    make();
    const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(restored.restored).toEqual([]);
    expect(restored.refused.map((r) => r.reason)).toEqual(Array(3).fill(expect.stringContaining(why)));
    expect(readState(h.stateDir).records).toHaveLength(3);
  }
});
