/** The layout rules of AGENTS.md, checked: the library never owns the process; imports point downward. */

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const SRC = join(import.meta.dir, "..", "src");
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
const sources = files(SRC).map((f) => ({ path: relative(SRC, f), text: readFileSync(f, "utf8") }));
const imports = (text: string): { spec: string; typeOnly: boolean }[] =>
  [...text.matchAll(/^import (type )?[^;]*? from "([^"]+)";/gms)].map((m) => ({
    spec: m[2] as string,
    typeOnly: !!m[1],
  }));

describe("architecture", () => {
  test("only src/cli and src/bin exit, handle signals, read argv or import citty/inquirer", () => {
    for (const { path, text } of sources) {
      if (path.startsWith("cli/") || path.startsWith("bin/")) continue;
      expect({ path, hit: /process\.exit|process\.on\(|process\.argv|from "citty"|@inquirer/.exec(text)?.[0] }).toEqual(
        { path, hit: undefined },
      );
    }
  });

  test("imports point downward: mux/proxy/health/client never import config or cli; protocol imports nothing above it", () => {
    for (const { path, text } of sources) {
      for (const { spec, typeOnly } of imports(text)) {
        if (/^(mux|proxy|health|client|protocol)\//.test(path)) {
          expect({ path, spec, bad: /\.\.\/(cli|config)\//.test(spec) }).toEqual({ path, spec, bad: false });
        }
        if (path.startsWith("protocol/"))
          expect({ path, spec, bad: /\.\.\/(mux|client|cli|config)\//.test(spec) }).toEqual({ path, spec, bad: false });
        if (path.startsWith("config/"))
          expect({ path, spec, typeOnly, bad: /\.\.\/(cli|hosts)\//.test(spec) }).toMatchObject({ bad: false });
        if (/^(mux|proxy|health|client|protocol)\//.test(path))
          expect({ path, spec, bad: spec.includes("../hosts/") }).toEqual({ path, spec, bad: false });
        if (path.startsWith("hosts/"))
          expect({ path, spec, bad: spec.includes("/cli/") }).toEqual({ path, spec, bad: false });
      }
    }
  });

  test("the public entry uses explicit named exports only, and every src file is on the AGENTS.md map", () => {
    const index = readFileSync(join(SRC, "index.ts"), "utf8");
    expect(index).not.toContain("export *");
    const agents = readFileSync(join(SRC, "..", "AGENTS.md"), "utf8");
    for (const { path } of sources)
      expect({ path, mapped: agents.includes(`src/${path}`) }).toEqual({ path, mapped: true });
  });
});
