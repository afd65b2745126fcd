/**
 * `mux wizard`: the three-step flow of `hosts/wizard.ts` with `@inquirer/prompts`.
 * @module
 */

import { resolve } from "node:path";
import { defineCommand } from "citty";
import { hostContext } from "../hosts/hosts.ts";
import { runWizard } from "../hosts/wizard.ts";
import { findProxy } from "./hosts.ts";
import { fail } from "./logger.ts";

/** The `wizard` subcommand. */
export const wizardCommand = defineCommand({
  meta: { name: "wizard", description: "Guided set-up: pick servers, pick hosts, save (or preview with --dry-run)" },
  args: {
    "dry-run": { type: "boolean", description: "Show the diffs instead of writing" },
    config: { type: "string", description: "The mux config to write (default: the per-user one)" },
    proxy: { type: "string", description: "Absolute path of mux-proxy" },
  },
  async run({ args }) {
    if (!process.stdin.isTTY) fail("the wizard needs a terminal; use mux scan / mux rewire instead");
    const { checkbox, select } = await import("@inquirer/prompts");
    const outcome = await runWizard({
      ctx: hostContext(),
      proxy: findProxy(args.proxy),
      dryRun: args["dry-run"],
      configFile: args.config,
      print: (text) => process.stdout.write(`${text}\n`),
      prompts: {
        checkbox: (o) => checkbox({ message: o.message, choices: o.choices, pageSize: 15 }),
        select: (o) => select({ message: o.message, choices: o.choices }),
      },
      transport: "ask",
      // URL entries cannot start the daemon: offer the login service that keeps it running.
      onHttp: async (configFile) => {
        const answer = await select({
          message: "URL entries need the daemon running. Install the login service now?",
          choices: [
            { name: `Yes: mux service install --config ${configFile}`, value: "yes" },
            { name: "No, I will start it myself", value: "no" },
          ],
        });
        if (answer !== "yes") return;
        const { installService, renderService } = await import("../service/login.ts");
        const { findInstalled } = await import("./installed.ts");
        const file = renderService({ mux: findInstalled("mux"), config: resolve(configFile), path: process.env.PATH });
        const r = installService(file);
        process.stdout.write(`installed ${file.path}\n`);
        for (const t of r.todo) process.stdout.write(`  run: ${t}\n`);
      },
    }).catch((err: unknown) => {
      if (err instanceof Error && err.name === "ExitPromptError") return "exit" as const;
      throw err;
    });
    process.exit(outcome === "nothing" ? 1 : 0);
  },
});
