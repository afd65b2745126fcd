/**
 * The hello line a mux-proxy sends first is untrusted input: hostile shapes are refused or
 * dropped, never passed on as they came.
 */

import { expect, test } from "bun:test";
import { bigHelloRefusal, MAX_HELLO_VALUE_BYTES, readHello } from "../../src/protocol/hello.ts";

const hello = (params: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ jsonrpc: "2.0", method: "mcp-mux/hello", params, ...extra });

test("not a hello: other lines, a hello with an id, unparsable text", () => {
  expect(readHello('{"jsonrpc":"2.0","id":1,"method":"ping"}')).toBeUndefined();
  expect(readHello(hello({ env: {} }, { id: 1 }))).toBeUndefined();
  expect(readHello('{"method":"mcp-mux/hello",')).toBeUndefined();
});

test("the workspace hint keeps string fields only, and the host pid only when it is a plausible pid", () => {
  const odd = readHello(
    hello({
      workspace: { cwd: 7, projectDir: ["/x"], codexRoot: "/ok", explicit: "/never-from-a-hello" },
      hostPid: -4,
    }),
  );
  expect(odd).toEqual({ env: {}, workspace: { codexRoot: "/ok" }, hostPid: undefined });
  for (const hostPid of [0, 1.5, 2 ** 31, "123", null, 1e300])
    expect((readHello(hello({ hostPid })) as { hostPid?: number }).hostPid).toBeUndefined();
  expect((readHello(hello({ hostPid: 4242 })) as { hostPid?: number }).hostPid).toBe(4242);
  expect((readHello(hello({ workspace: "/not-an-object" })) as { workspace?: unknown }).workspace).toBeUndefined();
  expect((readHello(hello({ workspace: {} })) as { workspace?: unknown }).workspace).toBeUndefined();
});

test("env values that are not strings, hold NUL or are too long are refused with the reason", () => {
  expect(readHello(hello({ env: { A: 1 } }))).toEqual({ refusal: 'forwarded variable "A" is not a string' });
  expect(readHello(hello({ env: { A: "a\u0000b" } }))).toMatchObject({ refusal: expect.stringContaining("NUL") });
  expect(readHello(hello({ env: { A: "x".repeat(MAX_HELLO_VALUE_BYTES + 1) } }))).toMatchObject({
    refusal: expect.stringContaining("too long"),
  });
  expect(readHello(hello({ env: { A: "multi\nline" } }))).toMatchObject({ env: { A: "multi\nline" } });
  expect(bigHelloRefusal('{"method":"mcp-mux/hello","params":{', "}}", 10_000_000)).toContain("too big");
  expect(bigHelloRefusal('{"method":"tools/call"', "}", 10_000_000)).toBeUndefined();
});
