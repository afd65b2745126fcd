/**
 * TOML host files (Codex) edited by splicing: a server may be a `[mcp_servers.x]` table (with
 * sub-tables), an inline table `x = { … }`, or dotted keys `mcp_servers.x.command = …`. Only
 * the value spans, lines or inline pairs of the keys that change are rewritten.
 * @module
 */

import { parse as parseToml } from "smol-toml";
import type { DocumentFormat, EditOp, EntryLocation } from "./document.ts";
import {
  scanInlineTable,
  scanToml,
  type TomlHeader,
  type TomlKeyValue,
  type TomlStatement,
  tomlValue,
} from "./toml-spans.ts";

type Form =
  | { kind: "table"; start: number; end: number; header: TomlHeader; stmts: TomlStatement[] }
  | { kind: "inline"; start: number; end: number; kv: TomlKeyValue }
  | { kind: "dotted"; start: number; end: number; kvs: TomlKeyValue[]; prefix: number };

/** Codex `config.toml`. */
export const tomlFormat: DocumentFormat = {
  parse(text) {
    return parseToml(text);
  },

  entries(text, container) {
    const data = parseToml(text) as Record<string, unknown>;
    let servers: unknown = data;
    for (const key of container.path) servers = (servers as Record<string, unknown> | undefined)?.[key];
    if (typeof servers !== "object" || servers === null) return [];
    const forms = findForms(text, container.path);
    return Object.entries(servers as Record<string, unknown>).map(([name, value]) => {
      const form = forms.get(name);
      if (!form || "problem" in form)
        return { name, value, start: 0, end: 0, problem: form?.problem ?? "its keys could not be located" };
      return { name, value, start: form.start, end: form.end } satisfies EntryLocation;
    });
  },

  edit(text, container, name, ops: EditOp[]) {
    const form = findForms(text, container.path).get(name);
    if (!form || "problem" in form) throw new Error(`entry "${name}": ${form?.problem ?? "not found"}`);
    if (form.kind === "inline") return editInline(text, form.kv, ops);
    if (form.kind === "dotted") return editDotted(text, form.kvs, form.prefix, ops);
    return editTable(text, form, ops);
  },
};

// --- internal ---

function findForms(text: string, base: string[]): Map<string, Form | { problem: string }> {
  const stmts = scanToml(text);
  const byName = new Map<string, Form | { problem: string }>();
  const starts = (path: string[], prefix: string[]) => prefix.every((p, i) => path[i] === p);
  const seen = new Map<string, number[]>(); // statement indexes touching each server
  stmts.forEach((s, i) => {
    const full = s.type === "header" ? s.path : [...s.table, ...s.key];
    if (full.length > base.length && starts(full, base)) {
      const name = full[base.length] as string;
      seen.set(name, [...(seen.get(name) ?? []), i]);
    }
  });
  for (const [name, idx] of seen) {
    const first = stmts[idx[0] as number] as TomlStatement;
    const last = idx[idx.length - 1] as number;
    const contiguous = idx.every((v, k) => k === 0 || v === (idx[k - 1] as number) + 1);
    const own = [...base, name];
    if (first.type === "header" && first.path.length === own.length && !first.array) {
      // Table form: the header, its statements, and sub-tables, as long as nothing else is between.
      const inside = idx.map((i) => stmts[i] as TomlStatement);
      if (!contiguous) {
        byName.set(name, { problem: "its sub-tables are spread over the file; move them under its table" });
        continue;
      }
      // The region ends with the entry's last statement: blank lines and comments before the
      // next table belong to the file, not to the entry (a host may add a table right there).
      const end = (stmts[last] as TomlStatement).lineEnd;
      byName.set(name, { kind: "table", start: first.lineStart, end, header: first, stmts: inside });
      continue;
    }
    if (first.type === "kv" && idx.length === 1 && first.key.length + first.table.length === own.length) {
      if (text[first.valueStart] !== "{") {
        byName.set(name, { problem: "it is not a table" });
        continue;
      }
      byName.set(name, { kind: "inline", start: first.valueStart, end: first.valueEnd, kv: first });
      continue;
    }
    const kvs = idx.map((i) => stmts[i] as TomlStatement);
    if (!contiguous || kvs.some((s) => s.type !== "kv")) {
      byName.set(name, { problem: "its keys are spread over the file; keep them together" });
      continue;
    }
    const kv = kvs as TomlKeyValue[];
    const prefix = own.length - (first as TomlKeyValue).table.length;
    byName.set(name, {
      kind: "dotted",
      start: (kv[0] as TomlKeyValue).lineStart,
      end: (kv[kv.length - 1] as TomlKeyValue).lineEnd,
      kvs: kv,
      prefix,
    });
  }
  return byName;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

function applySplices(text: string, splices: Splice[]): string {
  let out = text;
  for (const s of [...splices].sort((a, b) => b.start - a.start))
    out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

/**
 * Splices for statements whose key (relative to the entry) starts with an op's key. New keys
 * go together, in the ops' order: on the `command` line when that line goes (a stdio entry
 * becoming a URL entry), else right after it (or after the last statement).
 */
function lineSplices(
  text: string,
  kvs: TomlKeyValue[],
  rel: (kv: TomlKeyValue) => string[],
  ops: EditOp[],
  newLine: (kv: TomlKeyValue, key: string, value: unknown) => string,
): Splice[] {
  const splices: Splice[] = [];
  const done = new Set<string>();
  const removed = new Set<TomlKeyValue>();
  for (const kv of kvs) {
    const key = rel(kv);
    const op = ops.find((o) => o.path[0] === key[0]);
    if (!op) continue;
    if (op.remove || key.length > 1) {
      removed.add(kv);
      continue;
    }
    splices.push({ start: kv.valueStart, end: kv.valueEnd, text: tomlValue(op.value) });
    done.add(op.path[0] as string);
  }
  const anchor = kvs.find((kv) => rel(kv)[0] === "command") ?? kvs.findLast((kv) => !removed.has(kv)) ?? kvs[0];
  const added = ops.filter((op) => !op.remove && !done.has(op.path[0] as string));
  let insert: Splice | undefined;
  if (anchor && added.length > 0) {
    const eol = text.slice(anchor.lineStart, anchor.lineEnd).endsWith("\r\n") ? "\r\n" : "\n";
    const lead = text.slice(anchor.lineStart, anchor.keyStart);
    const lines = added.map((op) => `${lead}${newLine(anchor, op.path[0] as string, op.value)}${eol}`).join("");
    if (removed.has(anchor)) {
      insert = { start: anchor.lineStart, end: anchor.lineEnd, text: lines };
      removed.delete(anchor);
    } else {
      const at = anchor.lineEnd;
      insert = { start: at, end: at, text: text.slice(at - 1, at) === "\n" || at === 0 ? lines : eol + lines };
    }
  }
  for (const kv of removed) splices.push({ start: kv.lineStart, end: kv.lineEnd, text: "" });
  if (insert) splices.push(insert);
  return splices;
}

function editTable(text: string, form: Extract<Form, { kind: "table" }>, ops: EditOp[]): string {
  const own = form.header.path;
  const splices: Splice[] = [];
  // Sub-tables of removed keys (e.g. `[mcp_servers.x.env]`) go with their statements.
  const removedTables = new Set(ops.filter((o) => o.remove).map((o) => o.path[0]));
  const stmts = form.stmts;
  for (let i = 0; i < stmts.length; i++) {
    const s = stmts[i] as TomlStatement;
    if (s.type !== "header" || s.path.length <= own.length || !removedTables.has(s.path[own.length])) continue;
    const next = stmts.slice(i + 1).find((t) => t.type === "header");
    splices.push({ start: s.lineStart, end: next ? next.lineStart : form.end, text: "" });
  }
  const direct = stmts.filter((s): s is TomlKeyValue => s.type === "kv" && s.table.length === own.length);
  splices.push(
    ...lineSplices(
      text,
      direct,
      (kv) => kv.key,
      ops,
      (_kv, key, value) => `${key} = ${tomlValue(value)}`,
    ),
  );
  if (direct.length === 0) {
    // A table holding only sub-tables: put new keys right under the header.
    for (const op of ops.filter((o) => !o.remove))
      splices.push({
        start: form.header.lineEnd,
        end: form.header.lineEnd,
        text: `${op.path[0]} = ${tomlValue(op.value)}\n`,
      });
  }
  return applySplices(text, dropInside(splices));
}

function editDotted(text: string, kvs: TomlKeyValue[], prefix: number, ops: EditOp[]): string {
  const rel = (kv: TomlKeyValue) => kv.key.slice(prefix);
  return applySplices(
    text,
    lineSplices(text, kvs, rel, ops, (anchor, key, value) => {
      const source = text.slice(anchor.keyStart, anchor.keyEnd);
      const last = rel(anchor)[rel(anchor).length - 1] as string;
      const cut = source.lastIndexOf(last);
      return `${source.slice(0, cut)}${key} = ${tomlValue(value)}`;
    }),
  );
}

function editInline(text: string, kv: TomlKeyValue, ops: EditOp[]): string {
  const pairs = scanInlineTable(text, kv.valueStart, kv.valueEnd);
  const parts: string[] = [];
  const done = new Set<string>();
  for (const p of pairs) {
    const op = ops.find((o) => o.path[0] === p.key[0]);
    if (!op) parts.push(text.slice(p.start, p.end));
    else if (!op.remove && !done.has(op.path[0] as string)) {
      parts.push(`${text.slice(p.start, p.valueStart).replace(/\s*=\s*$/, "")} = ${tomlValue(op.value)}`);
      done.add(op.path[0] as string);
    }
  }
  for (const op of ops)
    if (!op.remove && !done.has(op.path[0] as string)) parts.push(`${op.path[0]} = ${tomlValue(op.value)}`);
  const inner = parts.join(", ");
  return text.slice(0, kv.valueStart) + (inner ? `{ ${inner} }` : "{}") + text.slice(kv.valueEnd);
}

/** Drop splices that sit inside a larger removal (a removed sub-table's own lines). */
function dropInside(splices: Splice[]): Splice[] {
  return splices.filter(
    (s) =>
      !splices.some(
        (o) => o !== s && o.text === "" && o.start <= s.start && s.end <= o.end && o.end - o.start > s.end - s.start,
      ),
  );
}
