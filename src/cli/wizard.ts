/**
 * `mux wizard`: the three-step flow of `hosts/wizard.ts` with `@inquirer/prompts`.
 * @module
 */

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
    }).catch((err: unknown) => {
      if (err instanceof Error && err.name === "ExitPromptError") return "exit" as const;
      throw err;
    });
    process.exit(outcome === "nothing" ? 1 : 0);
  },
});
