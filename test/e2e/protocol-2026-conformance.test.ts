/**
 * The official suite's 2026-07-28 requirement set (`@modelcontextprotocol/conformance`
 * 0.2.0-alpha.12, installed as `conformance2026`) against `dist/mux serve --http … --http-no-auth`
 * with the SDK-based 2025-era fixture (`test/fixtures/conformance-server.ts`) as the child. The
 * scenarios pinned here must keep passing, all 50 of them since the tasks extension is translated
 * for a 2025-11-25 child with tasks (README "Streamable HTTP" lists them).
 */

import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, testScope } from "../helpers.ts";

const scope = testScope("bin");
const CONFORMANCE_2026 = join(ROOT, "node_modules/conformance2026/dist/index.js");
const FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");

/** Scenarios of the 2026-07-28 set that pass with the 2025-era child (all of them). */
const PASSING = [
  "server-stateless",
  "completion-complete",
  "tools-list",
  "tools-call-simple-text",
  "tools-call-image",
  "tools-call-audio",
  "tools-call-embedded-resource",
  "tools-call-mixed-content",
  "tools-call-error",
  "tools-call-with-progress",
  "server-sse-multiple-streams",
  "resources-list",
  "resources-read-text",
  "resources-read-binary",
  "resources-templates-read",
  "sep-2164-resource-not-found",
  "prompts-list",
  "prompts-get-simple",
  "prompts-get-with-args",
  "prompts-get-embedded-resource",
  "prompts-get-with-image",
  "dns-rebinding-protection",
  "caching",
  "input-required-result-basic-elicitation",
  "input-required-result-basic-sampling",
  "input-required-result-basic-list-roots",
  "input-required-result-request-state",
  "input-required-result-multiple-input-requests",
  "input-required-result-multi-round",
  "input-required-result-missing-input-response",
  "input-required-result-non-tool-request",
  "input-required-result-result-type",
  "input-required-result-unsupported-methods",
  "input-required-result-tampered-state",
  "input-required-result-capability-check",
  "input-required-result-ignore-extra-params",
  "input-required-result-validate-input",
  "tasks-status-notifications",
  "tasks-lifecycle",
  "tasks-capability-negotiation",
  "tasks-wire-fields",
  "tasks-request-state-removal",
  "tasks-mrtr-input",
  "tasks-request-headers",
  "tasks-dispatch-and-envelope",
  "tasks-required-task-error",
  "tasks-mrtr-composition",
  "http-header-validation",
  "json-schema-2020-12",
  "http-custom-header-server-validation",
];

test(
  "the 2026-07-28 requirement set: at least the scenarios that pass today still pass",
  async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "c.sock"),
      cmd: BUN,
      args: [FIXTURE],
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
    const ran = [...(out + err).matchAll(/^[✓✗] (\S+):/gm)].length;
    console.log(`conformance 2026-07-28: ${passed.length} of ${ran} scenarios passed`);
    expect(ran).toBe(50);
    expect(PASSING.filter((s) => !passed.includes(s))).toEqual([]);
    expect(passed.length).toBeGreaterThanOrEqual(PASSING.length);
    expect(passed.length).toBe(50);
  },
  { timeout: 600_000 },
);
