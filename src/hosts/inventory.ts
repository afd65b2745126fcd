/**
 * Read host files into classified entries: stdio servers ready to rewire (`upstream`),
 * entries we rewired (`managed`, with the original from the state file), other muxes'
 * proxies (`foreign`), remote and built-in entries. Shared by scan, rewire and restore.
 * @module
 */

import { isMuxError, MuxError } from "../errors.ts";
import type { SharePolicy } from "../mux/options.ts";
import type { Container, DocumentFormat, EntryLocation } from "./formats/document.ts";
import { jsonFormat } from "./formats/json.ts";
import { tomlFormat } from "./formats/toml.ts";
import { yamlFormat } from "./formats/yaml.ts";
import {
  existingHostFiles,
  type FileFormat,
  HOSTS,
  type HostContext,
  type HostFile,
  type HostId,
  hostById,
  type Scope,
} from "./hosts.ts";
import { type ServiceSpec, type SpecProblem, serviceSpec } from "./service-spec.ts";
import { type Launch, proxySocket, readEntry } from "./shapes.ts";
import { type RewireRecord, readHostFile, recordId } from "./state.ts";

/** How an entry stands. */
export type EntryStatus = "upstream" | "managed" | "foreign" | "remote" | "other";

/** One server entry of one host file. */
export interface HostEntry {
  host: HostId;
  file: HostFile;
  scope: Scope;
  container: Container;
  name: string;
  location: EntryLocation;
  status: EntryStatus;
  /** The launch written in the file now. */
  launch?: Launch;
  /** The real server: the launch of an upstream, the recorded original of a managed entry. */
  upstream?: Launch;
  /** The service the upstream maps to (when it can be shared). */
  spec?: ServiceSpec;
  /** Reasons a rewire skips the entry (forceable ones are overridden by `--force`). */
  problems: SpecProblem[];
  record?: RewireRecord;
  /** Socket of a proxy entry. */
  socket?: string;
  note?: string;
}

/** A host file read from disk. */
export interface LoadedFile {
  file: HostFile;
  /** The file whose bytes we read and write (symlinks followed). */
  target: string;
  bytes: Uint8Array;
  /** The file's permission bits when read. */
  mode: number;
  /** Text without a UTF-8 byte-order mark (re-added on write). */
  text: string;
  bom: boolean;
  entries: HostEntry[];
  error?: string;
}

export const FORMATS: Record<FileFormat, DocumentFormat> = {
  json: jsonFormat,
  jsonc: jsonFormat,
  toml: tomlFormat,
  yaml: yamlFormat,
};

/** Which entries an operation applies to. */
export interface HostSelection {
  ctx: HostContext;
  /** Host ids (default: all). */
  hosts?: string[];
  /** Entry names (default: all). */
  servers?: string[];
  /** Only entries of these services (ids from scan; default: all). */
  serviceIds?: string[];
  /** Include project and local scopes (default: user files only). */
  includeProject?: boolean;
  /** State directory (default {@link stateDir}). */
  stateDir?: string;
}

/** Host files the selection covers (existing ones only). */
export function selectedFiles(options: HostSelection): HostFile[] {
  const hosts = options.hosts?.length ? HOSTS.filter((h) => options.hosts?.includes(h.id)) : HOSTS;
  const unknown = (options.hosts ?? []).filter((h) => !hostById(h));
  if (unknown.length > 0)
    throw new MuxError(
      "HOST_FILE_INVALID",
      `unknown host ${unknown.join(", ")}; known: ${HOSTS.map((h) => h.id).join(", ")}`,
    );
  return existingHostFiles(options.ctx, hosts).filter((f) => options.includeProject || f.scope === "user");
}

/** Does an entry fall under the selection (names, services, scopes)? */
export function matches(options: HostSelection, e: HostEntry): boolean {
  if (options.servers?.length && !options.servers.includes(e.name)) return false;
  if (options.serviceIds && !(e.spec && options.serviceIds.includes(e.spec.id))) return false;
  return options.includeProject === true || e.scope === "user";
}

/** Read and classify one host file. */
export function loadFile(
  file: HostFile,
  ctx: HostContext,
  records: RewireRecord[],
  options: { force?: boolean; share?: SharePolicy } = {},
): LoadedFile {
  let read: ReturnType<typeof readHostFile>;
  try {
    read = readHostFile(file.path);
  } catch (err) {
    // A missing file throws (restore tells it apart); an unsafe one is reported and left alone.
    if (!isMuxError(err)) throw err;
    return {
      file,
      target: file.path,
      bytes: new Uint8Array(),
      mode: 0,
      text: "",
      bom: false,
      entries: [],
      error: err.message,
    };
  }
  const { target, bytes, mode } = read;
  let text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  const bom = text.charCodeAt(0) === 0xfeff;
  if (bom) text = text.slice(1);
  const loaded: LoadedFile = { file, target, bytes, mode, text, bom, entries: [] };
  const format = FORMATS[file.format];
  let data: unknown;
  try {
    data = format.parse(text);
  } catch (err) {
    loaded.error = `cannot parse ${file.path}: ${(err as Error).message}`;
    return loaded;
  }
  for (const { container, scope } of file.containers(data)) {
    let locations: EntryLocation[];
    try {
      locations = format.entries(text, container);
    } catch (err) {
      loaded.error = `cannot read ${file.path}: ${(err as Error).message}`;
      return loaded;
    }
    for (const location of locations) {
      const read = readEntry(file.shape, location.value);
      const entry: HostEntry = {
        host: file.host,
        file,
        scope,
        container,
        name: location.name,
        location,
        status: read.kind === "stdio" ? "upstream" : read.kind === "remote" ? "remote" : "other",
        problems: [],
      };
      if (read.note) entry.note = read.note;
      if (read.launch) entry.launch = read.launch;
      if (read.kind === "remote") {
        // A URL entry a rewire wrote (for the HTTP front) is ours, with the original to restore.
        const id = recordId(file.host, file.path, container, location.name);
        const record = records.find((r) => r.id === id && r.transport === "http");
        if (record) {
          entry.status = "managed";
          entry.record = record;
          const original = readEntry(file.shape, record.original.value).launch;
          if (original) entry.upstream = original;
        }
      }
      const proxy = read.launch && proxySocket(read.launch);
      if (proxy) {
        if (proxy.socket) entry.socket = proxy.socket;
        const id = recordId(file.host, file.path, container, location.name);
        const record = records.find((r) => r.id === id);
        entry.status = record ? "managed" : "foreign";
        if (record) {
          entry.record = record;
          const original = readEntry(file.shape, record.original.value).launch;
          if (original) entry.upstream = original;
        } else entry.note = `already runs ${proxy.proxy}; not wrapped again`;
      } else if (read.launch) entry.upstream = read.launch;
      if (entry.upstream && entry.status !== "foreign") {
        const base = scope === "user" ? ctx.home : scope === "local" ? (container.path[1] as string) : ctx.project;
        const { spec, problems } = serviceSpec(location.name, entry.upstream, {
          env: ctx.env,
          base,
          force: options.force ?? false,
          share: options.share,
        });
        if (spec) entry.spec = spec;
        entry.problems = problems;
      }
      if (location.problem) entry.problems.push({ message: location.problem, forceable: false });
      loaded.entries.push(entry);
    }
  }
  return loaded;
}
