/**
 * JSON and JSONC host files through `jsonc-parser` (the VS Code engine): tolerant parse,
 * entry regions from the syntax tree, minimal `modify` edits formatted like the file.
 * @module
 */

import {
  applyEdits,
  type FormattingOptions,
  findNodeAtLocation,
  getNodeValue,
  modify,
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import type { DocumentFormat, EditOp, EntryLocation } from "./document.ts";

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
    const formattingOptions = detectFormatting(text);
    let out = text;
    for (const op of ops) {
      const path = [...container.path, name, ...op.path];
      if (op.remove) {
        const root = tree(out);
        if (!root || !findNodeAtLocation(root, path)) continue;
      }
      const edits = modify(out, path, op.remove ? undefined : op.value, { formattingOptions });
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
