/** Adversarial child lines against the routing rules (src/mux/rules.ts), in process. */

import { describe, expect, test } from "bun:test";
import { makeRouter, ready, session } from "./fakes.ts";

const deep = (n: number): string => `${"[".repeat(n)}${"]".repeat(n)}`;

describe("attack: child lines", () => {
  test("a task status whose taskId or status nests absurdly deep names no task and throws nothing", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = session(router);
    for (const line of [
      `{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":${deep(200_000)},"status":"completed"}}`,
      `{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"t1","status":${deep(200_000)}}}`,
    ])
      expect(() => router.childLine(line)).not.toThrow();
    expect(c.port.messages).toEqual([]);
  });
});
