/**
 * YAML host files (Continue, Goose) through the `yaml` Document API. An edit changes the
 * entry's node in a parsed document, prints it with the file's indentation, and splices only
 * that entry's text back into the original, so the rest of the file keeps every byte.
 * @module
 */

import { type Document, isMap, isScalar, isSeq, type Node, parseDocument, type YAMLMap } from "yaml";
import type { Container, DocumentFormat, EditOp, EntryLocation } from "./document.ts";

/** YAML maps, and Continue's list of named objects. */
export const yamlFormat: DocumentFormat = {
  parse(text) {
    return load(text).toJS();
  },

  entries(text, container) {
    return locate(load(text), container).map(({ name, node }) => {
      const range = node.range as [number, number, number];
      return { name, value: node.toJSON(), start: range[0], end: range[1] } satisfies EntryLocation;
    });
  },

  edit(text, container, name, ops: EditOp[]) {
    const doc = load(text);
    const found = locate(doc, container).find((e) => e.name === name);
    if (!found) throw new Error(`entry "${name}" not found`);
    const node = found.node as YAMLMap;
    if (!isMap(node)) throw new Error(`entry "${name}" is not a map`);
    for (const op of ops) {
      if (op.remove) {
        node.deleteIn(op.path);
        continue;
      }
      const fresh = doc.createNode(op.value) as Node;
      const old = node.getIn(op.path, true);
      if ((isSeq(old) || isMap(old)) && old.flow && (isSeq(fresh) || isMap(fresh))) fresh.flow = true;
      if (isMap(node) && node.flow && (isSeq(fresh) || isMap(fresh))) fresh.flow = true;
      node.setIn(op.path, fresh);
    }
    const printed = doc.toString({ lineWidth: 0, ...detectIndent(text) });
    const again = locate(load(printed), container).find((e) => e.name === name);
    if (!again) throw new Error(`entry "${name}" lost while printing`);
    const [start, end] = found.node.range as [number, number, number];
    const [newStart, newEnd] = again.node.range as [number, number, number];
    return text.slice(0, start) + printed.slice(newStart, newEnd) + text.slice(end);
  },
};

function load(text: string): Document.Parsed {
  const doc = parseDocument(text, { keepSourceTokens: false, uniqueKeys: false });
  if (doc.errors.length > 0) throw new SyntaxError((doc.errors[0] as Error).message);
  return doc;
}

function locate(doc: Document.Parsed, container: Container): { name: string; node: Node }[] {
  const coll = doc.getIn(container.path, true);
  const out: { name: string; node: Node }[] = [];
  if (container.list) {
    if (!isSeq(coll)) return out;
    for (const item of coll.items) {
      if (!isMap(item)) continue;
      const name = item.get("name");
      if (typeof name === "string") out.push({ name, node: item as Node });
    }
    return out;
  }
  if (!isMap(coll)) return out;
  for (const pair of coll.items) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    if ((typeof key === "string" || typeof key === "number") && pair.value && typeof pair.value === "object")
      out.push({ name: String(key), node: pair.value as Node });
  }
  return out;
}

/** The file's indentation step and whether sequences are indented under their key. */
function detectIndent(text: string): { indent: number; indentSeq: boolean } {
  const lines = text.split(/\r?\n/);
  let indent = 0;
  let indentSeq = true;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = /^( +)\S/.exec(line);
    if (m && !line.trimStart().startsWith("#")) {
      const n = (m[1] as string).length;
      if (indent === 0 || n < indent) indent = n;
    }
    if (/^\s*[^\s#-][^:]*:\s*$/.test(line)) {
      const next = lines.slice(i + 1).find((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
      const own = /^ */.exec(line)?.[0].length ?? 0;
      if (next && /^ *- /.test(next) && (/^ */.exec(next)?.[0].length ?? 0) === own) indentSeq = false;
    }
  }
  return { indent: indent || 2, indentSeq };
}
