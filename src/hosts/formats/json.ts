/**
 * JSON and JSONC host files through `jsonc-parser` (the VS Code engine): tolerant parse,
 * entry regions from the syntax tree, minimal `modify` edits formatted like the file.
 * @module
 */

import {
  applyEdits,
  createScanner,
  type FormattingOptions,
  findNodeAtLocation,
  getNodeValue,
  modify,
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import { applyOps, type DocumentFormat, type EditOp, type EntryLocation } from "./document.ts";

const PARSE_OPTIONS = { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true };

/** JSON with comments and trailing commas allowed (strictness is checked by the caller). */
export const jsonFormat: DocumentFormat = {
  parse(text) {
    const root = tree(text);
    return root ? getNodeValue(root) : undefined;
  },

  entries(text, container) {
    const root = tree(text);
    const node = root && findNodeAtLocation(root, container.path);
    if (!node || node.type !== "object") return [];
    const out: EntryLocation[] = [];
    for (const prop of node.children ?? []) {
      const [key, value] = prop.children ?? [];
      if (!key || !value) continue;
      out.push({
        name: key.value as string,
        value: getNodeValue(value),
        start: value.offset,
        end: value.offset + value.length,
      });
    }
    return out;
  },

  edit(text, container, name, ops: EditOp[]) {
    // A one-line entry (`{"command":"x"}` in a compact file) stays one line: `modify` would
    // re-indent the whole document around an added key.
    const root = tree(text);
    const entry = root && findNodeAtLocation(root, [...container.path, name]);
    if (entry?.type === "object") {
      const source = text.slice(entry.offset, entry.offset + entry.length);
      if (!source.includes("\n") && !hasComment(source)) {
        const value = applyOps(getNodeValue(entry), ops);
        return text.slice(0, entry.offset) + oneLine(value, source) + text.slice(entry.offset + entry.length);
      }
    }
    const formattingOptions = detectFormatting(text);
    let out = text;
    for (const op of ops) {
      const path = [...container.path, name, ...op.path];
      const root = tree(out);
      const node = root && findNodeAtLocation(root, path);
      if (op.remove && !node) continue;
      if (op.remove && node?.parent) {
        const cut = removeProperty(out, node.parent);
        if (cut !== undefined) {
          out = cut;
          continue;
        }
      }
      // Keep a one-line array on one line.
      if (!op.remove && node?.type === "array" && Array.isArray(op.value)) {
        const source = out.slice(node.offset, node.offset + node.length);
        if (!source.includes("\n")) {
          const inline = `[${op.value.map((v) => JSON.stringify(v)).join(", ")}]`;
          out = out.slice(0, node.offset) + inline + out.slice(node.offset + node.length);
          continue;
        }
      }
      const edits = modify(out, path, op.remove ? undefined : op.value, op.remove ? {} : { formattingOptions });
      out = applyEdits(out, edits);
    }
    return out;
  },
};

/** Indentation and line ending of a file, for edits that look like the rest of it. */
export function detectFormatting(text: string): FormattingOptions {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const m = /\n([ \t]+)["}\]]/.exec(text);
  const indent = m?.[1] ?? "  ";
  const insertSpaces = !indent.startsWith("\t");
  return { insertSpaces, tabSize: insertSpaces ? indent.length : 1, eol };
}

/**
 * Remove one property with its own lines and its comma, leaving neighbours and comments on
 * other properties' lines alone. Undefined when the layout is unusual (then `modify` does it).
 */
function removeProperty(text: string, prop: Node): string | undefined {
  const parent = prop.parent;
  if (!parent || prop.type !== "property") return undefined;
  const siblings = parent.children ?? [];
  const index = siblings.indexOf(prop);
  const end = prop.offset + prop.length;
  const lineStart = text.lastIndexOf("\n", prop.offset - 1) + 1;
  const start = /^[ \t]*$/.test(text.slice(lineStart, prop.offset)) ? lineStart : prop.offset;
  const toLineEnd = (from: number): number => {
    const m = /^[ \t]*(\/\/[^\n]*)?\r?\n/.exec(text.slice(from));
    return m ? from + m[0].length : from;
  };
  const after = skipBlanks(text, end);
  if (text[after] === ",") {
    const stop = start === lineStart ? toLineEnd(after + 1) : after + 1;
    return text.slice(0, start) + text.slice(stop);
  }
  const stop = start === lineStart ? toLineEnd(end) : end;
  if (index === 0) return text.slice(0, start) + text.slice(stop);
  const prev = siblings[index - 1] as Node;
  const comma = skipBlanks(text, prev.offset + prev.length);
  if (text[comma] !== ",") return undefined;
  return text.slice(0, comma) + text.slice(comma + 1, start) + text.slice(stop);
}

/** Does a JSONC snippet hold a comment (outside strings)? */
function hasComment(source: string): boolean {
  const scanner = createScanner(source, false);
  for (let t = scanner.scan(); t !== 17 /* EOF */; t = scanner.scan())
    if (t === 12 /* LineCommentTrivia */ || t === 13 /* BlockCommentTrivia */) return true;
  return false;
}

/** `value` on one line, spaced like `source` (`{"a":1}` or `{ "a": 1 }`). */
function oneLine(value: unknown, source: string): string {
  const colon = /"\s*:\s/.test(source) ? ": " : ":";
  const comma = /,\s/.test(source) ? ", " : ",";
  const pad = /^\{\s/.test(source) ? " " : "";
  const render = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(render).join(comma)}]`;
    if (typeof v === "object" && v !== null) {
      const pairs = Object.entries(v).filter(([, x]) => x !== undefined);
      if (pairs.length === 0) return "{}";
      return `{${pad}${pairs.map(([k, x]) => `${JSON.stringify(k)}${colon}${render(x)}`).join(comma)}${pad}}`;
    }
    return JSON.stringify(v);
  };
  return render(value);
}

function skipBlanks(text: string, pos: number): number {
  while (text[pos] === " " || text[pos] === "\t") pos++;
  return pos;
}

function tree(text: string): Node | undefined {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, PARSE_OPTIONS);
  if (errors.length > 0) {
    const e = errors[0] as ParseError;
    const line = text.slice(0, e.offset).split("\n").length;
    throw new SyntaxError(`line ${line}: ${printParseErrorCode(e.error)}`);
  }
  return root;
}
