/**
 * Refuse unknown options before a command runs (citty would ignore them): `mux serve --sockt x`
 * names `--sockt` and suggests `--socket`, instead of failing later on a missing `--socket`.
 * @module
 */

import type { ArgsDef, CommandDef } from "citty";
import { suggest } from "../config/suggest.ts";

// biome-ignore lint/suspicious/noExplicitAny: citty's command type is generic over its args
type AnyCommand = CommandDef<any>;

/** The first unknown option in `argv` for the command it selects, as a message; else undefined. */
export async function unknownOption(root: AnyCommand, argv: string[]): Promise<string | undefined> {
  let cmd = root;
  let path = [await nameOf(root)];
  let i = 0;
  // Walk down the subcommands named by the leading words.
  for (; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word.startsWith("-")) break;
    const subs = await resolve(cmd.subCommands);
    if (!subs) break;
    const next = subs[word];
    if (!next) return undefined; // citty reports an unknown command itself
    cmd = (await resolve(next)) as AnyCommand;
    path = [...path, word];
  }
  const defs = ((await resolve(cmd.args)) ?? {}) as ArgsDef;
  const long = new Map<string, string>();
  const short = new Set<string>(["h"]);
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    long.set(name, def.type ?? "string");
    long.set(camel(name), def.type ?? "string");
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat()) {
      if (a.length === 1) short.add(a);
      else long.set(a, def.type ?? "string");
    }
    if (def.type === "boolean") long.set(`no-${name}`, "boolean");
  }
  long.set("help", "boolean");
  if (path.length === 1) long.set("version", "boolean");
  for (; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === "--") break;
    if (token.startsWith("--")) {
      const [name = "", value] = token.slice(2).split("=", 2);
      const type = long.get(name);
      if (type === undefined) {
        const names = [...long.keys()].filter((k) => k === k.toLowerCase());
        const hint = names.find((k) => name.length >= 3 && k.startsWith(name)) ?? suggest(name, names);
        return `unknown option --${name} for ${path.join(" ")}${hint ? ` (did you mean --${hint}?)` : ""}; see ${path.join(" ")} --help`;
      }
      if (type === "string" && value === undefined) i++; // its value
    } else if (token.startsWith("-") && token.length > 1 && !/^-\d/.test(token)) {
      for (const letter of token.slice(1))
        if (!short.has(letter) && !(path.length === 1 && letter === "v"))
          return `unknown option -${letter} for ${path.join(" ")}; see ${path.join(" ")} --help`;
    }
  }
  return undefined;
}

// --- internal ---

async function resolve<T>(value: T | (() => T | Promise<T>) | Promise<T> | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

async function nameOf(cmd: AnyCommand): Promise<string> {
  const meta = await resolve(cmd.meta);
  return meta?.name ?? "mux";
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
