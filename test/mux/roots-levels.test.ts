import { describe, expect, test } from "bun:test";
import { effectiveLevel, passesLevel } from "../../src/mux/levels.ts";
import { combineRoots } from "../../src/mux/roots.ts";

describe("roots policies", () => {
  const a = [{ uri: "file:///home/u/proj" }, { uri: "file:///home/u/notes" }];
  const b = [{ uri: "file:///home/u/proj/sub" }, { uri: "file:///etc" }];
  test("intersection keeps only what every client exposes", () => {
    expect(combineRoots("intersection", [a, b])).toEqual([{ uri: "file:///home/u/proj/sub" }]);
  });
  test("union, first and none", () => {
    expect(combineRoots("union", [a, b]).length).toBe(4);
    expect(combineRoots("first", [a, b])).toEqual(a);
    expect(combineRoots("none", [a, b])).toEqual([]);
  });
  test("a prefix that is not a path boundary does not count", () => {
    expect(combineRoots("intersection", [[{ uri: "file:///a/b" }], [{ uri: "file:///a/bc" }]])).toEqual([]);
  });
});

describe("log levels", () => {
  test("the child gets the most verbose level asked for", () => {
    expect(effectiveLevel(["error", "info"], undefined)).toBe("info");
    expect(effectiveLevel(["warning"], "info")).toBe("warning");
  });
  test("an unset client keeps the server default, or debug once a level was set", () => {
    expect(effectiveLevel([undefined, "error"], undefined)).toBeUndefined();
    expect(effectiveLevel([undefined, "error"], "error")).toBe("debug");
  });
  test("per-client filtering", () => {
    expect(passesLevel("info", "error")).toBe(false);
    expect(passesLevel("critical", "error")).toBe(true);
    expect(passesLevel("debug", undefined)).toBe(true);
  });
});
