/** `mux status` output of untrusted text (folder names, a server's stderr in a reason): nothing reaches the terminal raw. */

import { expect, test } from "bun:test";
import { renderStatusTable } from "../../src/cli/status.ts";

test("workspace folders and failure reasons with escapes, bidi overrides and newlines are shown with ? in their place", () => {
  const out = renderStatusTable(
    [
      {
        service: "kg",
        state: "failed",
        failReason: "exit 1: \x1b]0;owned\x07\x1b[2Jgone",
        workspaces: [{ dir: "/home/u/evil\u202Egnp.exe\nfake line", state: "ready", pid: 1, clients: 1, requests: 0 }],
      },
    ] as never,
    { color: false },
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
  expect(out).toContain("/home/u/evil?gnp.exe?fake line");
  expect(out).toContain("exit 1: ?]0;owned??[2Jgone");
});
