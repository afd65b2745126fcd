/**
 * AGENTS.md's size rule for the routing core and the transports (issue 19): no class over
 * about 300 lines and no function over about 120, unless a comment right above it starts with
 * `Over 300 lines` / `Over 120 lines` and says why. Measured on the TypeScript syntax tree.
 */

import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import * as ts from "typescript";

const SRC = join(import.meta.dir, "..", "src");
/** The routing core and the transports. */
const SCOPE = [
  "mux/router.ts",
  "mux/rules.ts",
  "mux/handshake.ts",
  "mux/slots.ts",
  "mux/deadlines.ts",
  "mux/engine.ts",
  "mux/engine-pool.ts",
  "mux/service.ts",
  "mux/door.ts",
  "mux/client.ts",
  "mux/socket-transport.ts",
  "mux/socket-client.ts",
  "mux/routing/",
  "mux/era2026/",
  "http/front.ts",
  "http/session.ts",
  "http/sessions.ts",
  "http/body.ts",
  "http/modern.ts",
  "proxy/",
];
/** A little over the round numbers, as the rule says "about". */
const MAX_CLASS = 320;
const MAX_FUNCTION = 130;

const all = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? all(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

/** Every class or function over its limit with no reason beside it: `file: kind name (lines)`. */
function oversized(file: string, text: string): string[] {
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const line = (pos: number) => src.getLineAndCharacterOfPosition(pos).line;
  const out: string[] = [];
  const excused = (node: ts.Node, what: string): boolean =>
    (ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []).some((r) =>
      text
        .slice(r.pos, r.end)
        .replace(/^[/*\s]+/gm, " ")
        .includes(`Over ${what} lines`),
    );
  const visit = (node: ts.Node): void => {
    const lines = line(node.getEnd()) - line(node.getStart()) + 1;
    const isFunction =
      ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node);
    const parent = node.parent as ts.Node | undefined;
    const holder = parent && ts.isVariableDeclaration(parent) ? parent.parent.parent : node;
    if (ts.isClassDeclaration(node) && lines > MAX_CLASS && !excused(node, "300"))
      out.push(`${file}: class ${node.name?.text} (${lines} lines)`);
    if (isFunction && lines > MAX_FUNCTION && !excused(holder, "120")) {
      const name =
        (node as ts.FunctionDeclaration).name?.getText(src) ??
        (parent && ts.isVariableDeclaration(parent) ? parent.name.getText(src) : "(anonymous)");
      out.push(`${file}: function ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

test("the routing core and the transports: no class over ~300 lines, no function over ~120, unless a comment says why", () => {
  const files = all(SRC)
    .map((f) => relative(SRC, f))
    .filter((f) => SCOPE.some((s) => (s.endsWith("/") ? f.startsWith(s) : f === s)));
  expect(files.length).toBeGreaterThan(20);
  expect(files.flatMap((f) => oversized(f, readFileSync(join(SRC, f), "utf8")))).toEqual([]);
});

test("the size check sees an oversized class and function, and takes a reason", () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const x${i} = ${i};`).join("\n");
  const big = `function f() {\n${body(140)}\n}\nclass C {\n  m() {}\n${body(330)}\n}\n`;
  expect(oversized("x.ts", big)).toEqual(["x.ts: function f (142 lines)", "x.ts: class C (333 lines)"]);
  const told = `/** Over 120 lines: one table. */\nfunction f() {\n${body(140)}\n}\n`;
  expect(oversized("x.ts", told)).toEqual([]);
});
