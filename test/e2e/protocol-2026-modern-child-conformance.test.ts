/**
 * The official suite's 2026-07-28 requirement set (`@modelcontextprotocol/conformance`
 * 0.2.0-alpha.12, installed as `conformance2026`) against `dist/mux serve --http … --http-no-auth
 * --era modern` with the 2026-era fixture (`test/fixtures/modern-server.ts`) as the child: all
 * 50 scenarios pass (README "MCP 2026-07-28" lists them).
 */

import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, testScope } from "../helpers.ts";

const scope = testScope("bin");
const CONFORMANCE_2026 = join(ROOT, "node_modules/conformance2026/dist/index.js");
const FIXTURE = join(ROOT, "test/fixtures/modern-server.ts");

test(
  "the 2026-07-28 requirement set with a modern child: all 50 scenarios pass",
  async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "c.sock"),
      cmd: BUN,
      args: [FIXTURE],
      era: "modern",
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const p = Bun.spawn({
      cmd: [
        BUN,
        CONFORMANCE_2026,
        "server",
        "--url",
        t.httpUrl as string,
        "--requirements",
        "2026-07-28",
        "--timeout",
        "8000",
      ],
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const passed = [...(out + err).matchAll(/^✓ (\S+):/gm)].map((m) => m[1] as string);
    const failed = [...(out + err).matchAll(/^✗ (\S+):/gm)].map((m) => m[1] as string);
    console.log(
      `conformance 2026-07-28 with a modern child: ${passed.length} of ${passed.length + failed.length} passed`,
    );
    expect(failed).toEqual([]);
    expect(passed.length).toBe(50);
  },
  { timeout: 600_000 },
);
