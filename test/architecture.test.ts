/** The layout rules of AGENTS.md, checked: the library never owns the process; imports point downward. */

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

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

/**
 * The static import graph of src/: file → files it imports. Value and type-only imports and
 * `export … from` count (a type-only circle is still two files that must change together);
 * a dynamic `import()` does not: it is a lazy load (a subcommand, an optional path), and the
 * module graph Bun builds at startup never contains it.
 */
const graph = new Map<string, string[]>(
  sources
    .filter((s) => s.path.endsWith(".ts"))
    .map(({ path, text }) => [
      path,
      [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom "(\.[^"]+)";/gms)].map((m) =>
        relative(SRC, resolve(dirname(join(SRC, path)), m[1] as string)),
      ),
    ]),
);

/**
 * A module's unit for the folder rule: its top folder under src/ (the areas of AGENTS.md's
 * dependency direction; `mux/routing` is part of `mux`), or the file itself at the top of src/.
 */
const unitOf = (path: string): string => path.split("/")[0] as string;

/** Strongly connected components with more than one node (Tarjan). */
function circles(edges: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("architecture", () => {
  test("no import circle between files", () => {
    const edges = new Map([...graph].map(([f, deps]) => [f, new Set(deps.filter((d) => graph.has(d)))]));
    expect(circles(edges)).toEqual([]);
  });

  test("no import circle between folders", () => {
    const edges = new Map<string, Set<string>>();
    for (const [f, deps] of graph) {
      const from = unitOf(f);
      if (!edges.has(from)) edges.set(from, new Set());
      for (const d of deps) if (graph.has(d) && unitOf(d) !== from) edges.get(from)?.add(unitOf(d));
    }
    expect(circles(edges).map((c) => c.join(" ⇄ "))).toEqual([]);
  });

  test("the circle check sees a circle (a two-file and a type-only one)", () => {
    const edges = new Map([
      ["a.ts", new Set(["b.ts"])],
      ["b.ts", new Set(["c.ts"])],
      ["c.ts", new Set(["a.ts"])],
      ["d.ts", new Set(["a.ts"])],
    ]);
    expect(circles(edges)).toEqual([["a.ts", "b.ts", "c.ts"]]);
    const typeOnly = 'import type { X } from "./b.ts";';
    expect([...typeOnly.matchAll(/^(?:import|export)\b[^;]*?\bfrom "(\.[^"]+)";/gms)].length).toBe(1);
  });

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
