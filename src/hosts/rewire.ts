/**
 * `rewire`, `restore` and `rewire --status` as library calls. Rewire replaces only the launch
 * keys of selected stdio entries with `mux-proxy --socket <abs>`, adds the matching services
 * to the mux config, backs each file up before its first change, records every original
 * entry's exact text, and writes atomically after re-checking that nobody changed the file.
 * Restore puts entries back one by one, refusing entries the user changed since.
 * @module
 */

import { createTwoFilesPatch } from "diff";
import { MuxError } from "../errors.ts";
import type { SharePolicy } from "../mux/options.ts";
import { VERSION } from "../version.ts";
import { applyOps, type Container, type DocumentFormat, type EditOp, sameValue } from "./formats/document.ts";
import { HOSTS, type HostContext, type HostFile, type HostId, hostById, policyWarnings } from "./hosts.ts";
import {
  FORMATS,
  type HostEntry,
  type HostSelection,
  type LoadedFile,
  loadFile,
  matches,
  selectedFiles,
} from "./inventory.ts";

export type { HostSelection } from "./inventory.ts";

import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { defaultHttpListen, defaultTokenFile, resolvePath } from "../config/paths.ts";
import { loadOrCreateToken } from "../http/token.ts";
import { addServices, defaultMuxConfig, ensureHttp, removeHttp, removeServices, serviceShares } from "./mux-config.ts";
import type { ServiceSpec } from "./service-spec.ts";
import { droppedWithWarning, httpOps, proxyArgs, rewireOps, URL_ENTRIES } from "./shapes.ts";
import { listReasons } from "./share-policy.ts";
import {
  backupFile,
  hashOf,
  type RewireRecord,
  readState,
  recordId,
  replaceIfUnchanged,
  stateDir,
  withLock,
  writeAtomic,
  writeState,
} from "./state.ts";

export interface RewireOptions extends HostSelection {
  /** Absolute path of the `mux-proxy` executable written into host files. */
  proxy: string;
  /** Override forceable refusals (a relative command, variables the daemon cannot resolve). */
  force?: boolean;
  /**
   * The share policy of every new service instead of the classification (`share-policy.ts`);
   * a service already in the config keeps its own.
   */
  share?: SharePolicy;
  /** Plan and diff only; write nothing. */
  dryRun?: boolean;
  /** The mux config receiving the services (default: the one `mux serve` finds). */
  configFile?: string;
  now?: Date;
  /**
   * `http`: hosts that take URL entries get one for the daemon's Streamable HTTP front (its
   * `http` setting, added as `httpListen` when the config has none); the others keep stdio.
   * Given explicitly, entries rewired the other way are switched (their original is kept).
   */
  transport?: "stdio" | "http";
  /** Where the HTTP front listens when the config does not say (default: the per-user `defaultHttpListen`). */
  httpListen?: string;
  /** Services the caller added to the config for this rewire (the wizard): recorded as added, so restore removes them. */
  addedServices?: string[];
  /**
   * Called with each host file after its backup, right before the last check and the rename:
   * where a test plays a host writing its file at the worst moment.
   */
  beforeReplace?: (path: string) => void;
}

/** One host file's change. */
export interface FileChange {
  host: HostId;
  path: string;
  diff: string;
  entries: {
    name: string;
    service?: string;
    socket?: string;
    url?: string;
    switched?: boolean;
    /** The service's share policy (the config's when it had one) and why. */
    share?: string;
    shareReason?: string;
  }[];
}

/** An entry left alone, and why. */
export interface Skipped {
  host: HostId;
  path: string;
  name: string;
  reason: string;
}

export interface RewireResult {
  changes: FileChange[];
  skipped: Skipped[];
  /** Entries already going through this mux. */
  unchanged: Skipped[];
  /** Hosts whose files we do not write: what to change by hand. */
  instructions: string[];
  config: { path: string; added: string[]; diff: string };
  warnings: string[];
  /** How to make each changed host pick up the change. */
  reload: string[];
  /** With `transport: http`: the HTTP base the URL entries point at (`http://127.0.0.1:<port>/mcp`). */
  httpBase?: string;
}

/** Rewire the selected entries (see the module doc). */
export async function rewireHosts(options: RewireOptions): Promise<RewireResult> {
  if (!options.proxy.startsWith("/") && !/^[A-Za-z]:\\/.test(options.proxy))
    throw new MuxError("PROXY_NOT_FOUND", `mux-proxy path must be absolute, got ${options.proxy}`);
  const dir = options.stateDir ?? stateDir(options.ctx.env);
  const run = async () => {
    const state = readState(dir);
    const result: RewireResult = {
      changes: [],
      skipped: [],
      unchanged: [],
      instructions: [],
      config: { path: options.configFile ?? defaultMuxConfig(options.ctx.env), added: [], diff: "" },
      warnings: [],
      reload: [],
    };
    /** The transport an entry gets: a URL entry where the host takes one and no variable must travel. */
    // A workspace service's URL entry carries its project (`?workspace=`); a user-level entry
    // has none to carry, so it keeps mux-proxy, which tells the daemon the folder it runs in.
    const wanted = (e: HostEntry): "stdio" | "http" =>
      options.transport === "http" &&
      URL_ENTRIES[e.host] !== undefined &&
      (e.spec?.forward.length ?? 1) === 0 &&
      (e.spec?.share !== "workspace" || projectOf(e, options.ctx) !== undefined)
        ? "http"
        : "stdio";
    // Pass 1: decide, per file, which entries change and into which service.
    const plans: { loaded: LoadedFile; entries: HostEntry[] }[] = [];
    for (const file of selectedFiles(options)) {
      const loaded = loadFile(file, options.ctx, state.records, { force: options.force, share: options.share });
      if (loaded.error) {
        result.skipped.push({ host: file.host, path: file.path, name: "*", reason: loaded.error });
        continue;
      }
      const chosen: HostEntry[] = [];
      for (const e of loaded.entries.filter((x) => matches(options, x))) {
        const skip = (reason: string) => result.skipped.push({ host: e.host, path: file.path, name: e.name, reason });
        if (e.status === "managed") {
          const now = e.record?.transport ?? "stdio";
          if (!options.transport || !e.spec || !e.record || wanted(e) === now) {
            result.unchanged.push({
              host: e.host,
              path: file.path,
              name: e.name,
              reason: now === "http" ? "already a URL entry for the mux" : "already rewired",
            });
            continue;
          }
          // A switch between mux-proxy and URL entry, made from the recorded original.
          if (!sameValue(e.location.value, e.record.rewired.value))
            skip(
              `changed since it was rewired, so it is not switched to ${wanted(e) === "http" ? "a URL entry" : "mux-proxy"}: mux restore --force --host ${e.host} --server ${e.name}, then rewire again`,
            );
          else chosen.push(e);
          continue;
        }
        if (e.status === "foreign") skip(e.note ?? "already runs a mux proxy");
        else if (e.status !== "upstream") {
          // Remote and built-in entries are only worth a line when asked for by name.
          if (options.servers?.includes(e.name))
            skip(e.status === "remote" ? "remote server (nothing to share)" : (e.note ?? "not a stdio server"));
        } else if (!e.spec || e.problems.some((p) => !p.forceable || !options.force))
          skip(e.problems.map((p) => p.message + (p.forceable ? " (--force overrides)" : "")).join("; "));
        else if (file.assisted) result.instructions.push(instruction(e, options.proxy, e.spec, result.config.path));
        else {
          for (const p of e.problems) result.warnings.push(`${e.host} ${e.name}: ${p.message} (forced)`);
          if (e.spec.pinned)
            result.warnings.push(
              `${e.host} ${e.name}: share = "${e.spec.share}" (${e.spec.shareReason}) although ${listReasons(e.spec.pinned)}: ${baseOf(e, options.ctx)} is written in for the project folder`,
            );
          if (
            options.transport === "http" &&
            e.spec.share === "workspace" &&
            wanted(e) === "stdio" &&
            URL_ENTRIES[e.host] &&
            e.spec.forward.length === 0
          )
            result.warnings.push(
              `${e.host} ${e.name}: share = "workspace" and a ${e.scope} entry has no project folder to put in a URL; it runs mux-proxy, which tells the daemon the folder it runs in`,
            );
          const vars = e.spec.hostVars ?? [];
          if (vars.length > 0)
            result.warnings.push(
              `${e.host} ${e.name}: ${vars.map((v) => `$${v}`).join(", ")} ${vars.length > 1 ? "are" : "is"} expanded by the host from its own environment, which the daemon does not share; its proxy forwards ${e.spec.forward.join(", ")} (mux-proxy --env) and the daemon runs one child per distinct value`,
            );
          for (const k of droppedWithWarning(file.shape, e.location.value))
            result.warnings.push(`${e.host} ${e.name}: dropped "${k}" (a sandbox would block the mux socket)`);
          chosen.push(e);
        }
      }
      if (chosen.length > 0) plans.push({ loaded, entries: chosen });
    }
    const specs = plans.flatMap((p) => p.entries.map((e) => e.spec as ServiceSpec));
    const configExisted = existsSync(result.config.path);
    const configBefore = configExisted ? readFileSync(result.config.path, "utf8") : "";
    // The HTTP front (and its token) only when some entry becomes a URL entry.
    let http: { base: string; token?: string; listen: string; added: boolean; text: string } | undefined;
    if (plans.some((p) => p.entries.some((e) => wanted(e) === "http"))) {
      const front = ensureHttp(result.config.path, options.httpListen ?? defaultHttpListen(options.ctx.env), {
        dryRun: options.dryRun,
      });
      let token: string | undefined;
      if (front.auth !== "none") {
        const file = front.tokenFile
          ? resolvePath(front.tokenFile, dirname(result.config.path), options.ctx.env)
          : defaultTokenFile(options.ctx.env);
        token = options.dryRun && !existsSync(file) ? TOKEN_MARK : loadOrCreateToken(file);
      }
      http = { base: `${urlOf(front.listen)}/mcp`, token, listen: front.listen, added: front.added, text: front.text };
      result.httpBase = http.base;
    }
    const hide = (text: string): string =>
      http?.token && http.token !== TOKEN_MARK ? text.replaceAll(http.token, TOKEN_MARK) : text;
    const cfg = addServices(result.config.path, specs, {
      dryRun: options.dryRun,
      from: options.dryRun ? http?.text : undefined,
    });
    const addedByUs = new Set([...cfg.added, ...(options.addedServices ?? [])]);
    // Pass 2: edit and write each file, re-reading it if someone changed it meanwhile.
    const now = options.now ?? new Date();
    const done: { service: string; spec: ServiceSpec; http: boolean }[] = [];
    /** Edit and write one file as read in `loaded`; false when someone changed it meanwhile. */
    const writeFile = (loaded: LoadedFile, names: Set<string>): boolean => {
      const file = loaded.file;
      const skip = (e: HostEntry, reason: string) =>
        result.skipped.push({ host: file.host, path: file.path, name: e.name, reason });
      const picked = loaded.entries.filter(
        (e) =>
          names.has(e.name) &&
          e.spec &&
          (e.status === "upstream" ||
            (e.status === "managed" && e.record && wanted(e) !== (e.record.transport ?? "stdio"))),
      );
      // Entries switching transport are edited from their recorded original, put back first.
      const format = FORMATS[file.format];
      let base = loaded.text;
      const entries: HostEntry[] = [];
      for (const e of [...picked].sort((a, b) => b.location.start - a.location.start)) {
        const r = e.record;
        if (e.status !== "managed" || !r) {
          entries.push(e);
          continue;
        }
        if (!sameValue(e.location.value, r.rewired.value)) {
          skip(e, "changed since it was rewired, so it is not switched; mux restore --force, then rewire again");
          continue;
        }
        const next = base.slice(0, e.location.start) + r.original.text + base.slice(e.location.end);
        const back = safeEntries(format, next, e.container).find((x) => x.name === e.name);
        if (!back || !sameValue(back.value, r.original.value)) {
          skip(e, "its original text no longer fits the file; mux restore --force, then rewire again");
          continue;
        }
        base = next;
        entries.push({ ...e, location: { ...e.location, value: r.original.value } });
      }
      entries.reverse();
      const serviceOf = (e: HostEntry) => cfg.names.get((e.spec as ServiceSpec).id) ?? (e.spec as ServiceSpec).name;
      const urlFor = (e: HostEntry) => `${http?.base}/${serviceOf(e)}${workspaceQuery(e, options.ctx)}`;
      const edited = editEntries({ ...loaded, text: base }, entries, (e) =>
        wanted(e) === "http" && http
          ? httpOps(file.host, e.location.value, urlFor(e), http.token)
          : rewireOps(
              file.shape,
              e.location.value,
              options.proxy,
              (e.spec as ServiceSpec).socket,
              (e.spec as ServiceSpec).forward,
              result.config.path,
            ),
      );
      for (const f of edited.failed)
        result.skipped.push({ host: file.host, path: file.path, name: f.name, reason: f.reason });
      if (edited.done.length === 0) return true;
      const viaHttp = (e: HostEntry) => wanted(e) === "http" && http !== undefined;
      // A token in a file others can read is tightened to 0600 (restore puts the mode back).
      const withToken = http?.token !== undefined && edited.done.some((d) => viaHttp(d.entry));
      const tighten = withToken && (loaded.mode & 0o077) !== 0;
      const change: FileChange = {
        host: file.host,
        path: file.path,
        diff: hide(createTwoFilesPatch(file.path, file.path, loaded.text, edited.text)),
        entries: edited.done.map((d) => {
          const spec = d.entry.spec as ServiceSpec;
          const service = cfg.names.get(spec.id);
          const entry: FileChange["entries"][number] = { name: d.entry.name, service, socket: spec.socket };
          const kept = cfg.kept.find((k) => k.service === service);
          entry.share = kept ? (kept.share ?? "global") : spec.share;
          entry.shareReason = kept
            ? kept.share
              ? "set in the mux config"
              : "the mux config sets none"
            : spec.shareReason;
          if (viaHttp(d.entry)) entry.url = urlFor(d.entry);
          if (d.entry.status === "managed") entry.switched = true;
          return entry;
        }),
      };
      if (tighten)
        result.warnings.push(
          `${file.path} was readable by others (mode ${(loaded.mode & 0o777).toString(8)}); now 0600, as it holds the HTTP token (mux restore puts the mode back)`,
        );
      if (options.dryRun) {
        result.changes.push(change);
        for (const d of edited.done)
          done.push({ service: serviceOf(d.entry), spec: d.entry.spec as ServiceSpec, http: viaHttp(d.entry) });
        return true;
      }
      const written = commit(loaded, edited.text, dir, now, tighten ? 0o600 : undefined, options.beforeReplace);
      if (!written) return false;
      const earlierMode = state.records.find((r) => r.file === file.path && r.modeBefore !== undefined)?.modeBefore;
      for (const d of edited.done) {
        const spec = d.entry.spec as ServiceSpec;
        const id = recordId(file.host, file.path, d.entry.container, d.entry.name);
        const service = serviceOf(d.entry);
        const addedService =
          addedByUs.has(service) ||
          state.records.some((r) => r.configFile === result.config.path && r.service === service && r.addedService);
        const previous = d.entry.status === "managed" ? d.entry.record : undefined;
        state.records = state.records.filter((r) => r.id !== id);
        const record: RewireRecord = {
          id,
          host: file.host,
          scope: d.entry.scope,
          file: file.path,
          container: d.entry.container,
          name: d.entry.name,
          format: file.format,
          shape: file.shape,
          original: previous?.original ?? { value: d.entry.location.value, text: d.before },
          rewired: { value: d.value, text: d.after },
          serviceId: spec.id,
          service,
          addedService,
          socket: spec.socket,
          configFile: result.config.path,
          transport: viaHttp(d.entry) ? "http" : "stdio",
          backup: previous?.backup ?? written.backup,
          preHash: previous?.preHash ?? hashOf(loaded.bytes),
          postHash: written.postHash,
          muxVersion: VERSION,
          at: now.toISOString(),
        };
        const modeBefore = tighten ? loaded.mode : earlierMode;
        if (modeBefore !== undefined) record.modeBefore = modeBefore;
        state.records.push(record);
        done.push({ service, spec, http: viaHttp(d.entry) });
      }
      writeState(dir, state);
      result.changes.push(change);
      return true;
    };
    for (const plan of plans) {
      const file = plan.loaded.file;
      const names = new Set(plan.entries.map((e) => e.name));
      let finished = writeFile(plan.loaded, names);
      for (let retry = 0; retry < 2 && !finished; retry++) {
        const again = loadFile(file, options.ctx, state.records, { force: options.force, share: options.share });
        finished = again.error ? true : writeFile(again, names);
        if (again.error) result.skipped.push({ host: file.host, path: file.path, name: "*", reason: again.error });
      }
      if (!finished)
        result.skipped.push({
          host: file.host,
          path: file.path,
          name: "*",
          reason: "the file kept changing while we edited it (is the host writing it?); nothing was written, try again",
        });
    }
    // Services and the HTTP front that no written entry uses are taken back out of the config.
    const used = new Set(done.map((d) => d.service));
    const unused = cfg.added.filter((n) => !used.has(n));
    result.config.added = cfg.added.filter((n) => used.has(n));
    const keepHttp = http !== undefined && done.some((d) => d.http);
    if (!options.dryRun) {
      if (done.length === 0) {
        // Nothing written: the config goes back to its exact bytes (or away, if we created it).
        if (!configExisted) rmSync(result.config.path, { force: true });
        else if (readFileSync(result.config.path, "utf8") !== configBefore)
          writeAtomic(result.config.path, configBefore, 0o600);
      } else {
        if (unused.length > 0) removeServices(result.config.path, unused);
        if (http?.added && !keepHttp) removeHttp(result.config.path, http.listen);
      }
    }
    if (!keepHttp) delete result.httpBase;
    else if (http?.added) result.warnings.push(`added http = "${http.listen}" to ${result.config.path}`);
    for (const k of cfg.kept) {
      if (!used.has(k.service)) continue;
      result.warnings.push(
        k.share === undefined
          ? `service ${k.service} in ${result.config.path} has no share setting, so one child serves every project; for these entries rewire would write share = "${k.wanted}" (${k.reason}): add it to the service if that is right`
          : `service ${k.service} keeps share = "${k.share}" from ${result.config.path} (rewire would write "${k.wanted}": ${k.reason}); edit the config to change it`,
      );
    }
    for (const [id, name] of cfg.names) {
      const spec = specs.find((x) => x.id === id);
      if (spec?.serial && result.config.added.includes(name))
        result.warnings.push(
          `service ${name}: max_concurrent_requests = 1 (${spec.serial}; hosts sharing it now take turns; remove the setting to let requests overlap)`,
        );
    }
    const configAfter = options.dryRun
      ? addServices(
          result.config.path,
          done.map((d) => d.spec),
          { dryRun: true, from: keepHttp ? http?.text : configBefore },
        ).text
      : existsSync(result.config.path)
        ? readFileSync(result.config.path, "utf8")
        : "";
    if (configAfter !== configBefore)
      result.config.diff = createTwoFilesPatch(result.config.path, result.config.path, configBefore, configAfter);
    if (options.transport === "http") {
      const stdioOnly = [...new Set(plans.map((p) => p.loaded.file.host))].filter((h) => !URL_ENTRIES[h]);
      if (stdioOnly.length > 0)
        result.warnings.push(`${stdioOnly.join(", ")} take no URL entries: their entries run mux-proxy instead`);
    }
    if (keepHttp) {
      for (const p of plans)
        for (const e of p.entries)
          if (URL_ENTRIES[p.loaded.file.host] && (e.spec as ServiceSpec).forward.length > 0)
            result.warnings.push(
              `${e.host} ${e.name}: variables only the host can resolve (${(e.spec as ServiceSpec).forward.join(", ")}) cannot travel in a URL entry; it runs mux-proxy --env instead`,
            );
      if (result.changes.length > 0)
        result.warnings.push(
          `URL entries cannot start the daemon: keep it running from login with: mux service install --config ${result.config.path}`,
        );
    }
    for (const row of rewireStatus({ ctx: options.ctx, stateDir: dir, hosts: options.hosts }))
      if (row.state === "missing" || row.state === "file-missing")
        result.warnings.push(
          `${row.host} ${row.name} was rewired, but the host ${row.state === "missing" ? "deleted the entry" : "file is gone"}: mux restore --forget clears the record`,
        );
    const changedHosts = new Set(result.changes.map((c) => c.host));
    if (changedHosts.has("claude-code")) result.warnings.push(...policyWarnings(options.ctx));
    for (const h of HOSTS) if (changedHosts.has(h.id)) result.reload.push(`${h.label}: ${h.reload}`);
    return result;
  };
  return options.dryRun ? run() : withLock(dir, run);
}

export interface RestoreOptions extends Omit<HostSelection, "includeProject"> {
  /** Restore entries changed since the rewire too. */
  force?: boolean;
  dryRun?: boolean;
  /**
   * Forget the records of entries the host deleted (or whose file is gone): there is nothing to
   * put back, and the services only they used are removed from the mux config.
   */
  forget?: boolean;
}

export interface RestoreResult {
  changes: FileChange[];
  restored: Skipped[];
  refused: Skipped[];
  /** Services the rewire had added and no rewired entry uses any more, removed per config. */
  removedServices: { config: string; services: string[] }[];
  /** Records forgotten (`forget`): their entries were gone. */
  forgotten: Skipped[];
}

/** Put rewired entries back, one by one (see the module doc). */
export async function restoreHosts(options: RestoreOptions): Promise<RestoreResult> {
  const dir = options.stateDir ?? stateDir(options.ctx.env);
  const run = async () => {
    const state = readState(dir);
    const result: RestoreResult = { changes: [], restored: [], refused: [], removedServices: [], forgotten: [] };
    const gone: RewireRecord[] = [];
    /** An entry with nothing to restore: forgotten with `forget`, else refused with the way out. */
    const missing = (r: RewireRecord, path: string, what: string): void => {
      if (options.forget) {
        gone.push(r);
        result.forgotten.push({ host: r.host, path, name: r.name, reason: what });
      } else
        result.refused.push({ host: r.host, path, name: r.name, reason: `${what}; mux restore --forget clears it` });
    };
    const restoredRecords: RewireRecord[] = [];
    const chosen = state.records.filter(
      (r) =>
        (!options.hosts?.length || options.hosts.includes(r.host)) &&
        (!options.servers?.length || options.servers.includes(r.name)),
    );
    const byFile = Map.groupBy(chosen, (r) => r.file);
    for (const [path, records] of byFile) {
      const refuse = (r: RewireRecord, reason: string) =>
        result.refused.push({ host: r.host, path, name: r.name, reason });
      const host = hostById((records[0] as RewireRecord).host);
      const file = host?.files(options.ctx).find((f) => f.path === path) ?? fileFromRecord(records[0] as RewireRecord);
      let loaded: LoadedFile;
      try {
        loaded = loadFile(file, options.ctx, state.records);
      } catch {
        for (const r of records) missing(r, path, "the file is gone (its backup is in the state directory)");
        continue;
      }
      if (loaded.error) {
        for (const r of records) refuse(r, loaded.error);
        continue;
      }
      const format = FORMATS[file.format];
      let text = loaded.text;
      const done: RewireRecord[] = [];
      for (const r of records) {
        const loc = format.entries(text, r.container).find((e) => e.name === r.name);
        if (!loc) {
          missing(r, path, "the entry was deleted from the file since the rewire; nothing to put back");
          continue;
        }
        if (!sameValue(loc.value, r.rewired.value) && !options.force) {
          refuse(r, "the entry was changed since it was rewired; --force restores it anyway");
          continue;
        }
        const next = text.slice(0, loc.start) + r.original.text + text.slice(loc.end);
        const back = safeEntries(format, next, r.container).find((e) => e.name === r.name);
        if (!back || !sameValue(back.value, r.original.value) || (file.strictJson && !isStrictJson(next))) {
          refuse(r, "the original text no longer fits the file; restore it by hand from the backup");
          continue;
        }
        text = next;
        done.push(r);
      }
      if (done.length === 0) continue;
      const change: FileChange = {
        host: file.host,
        path,
        diff: createTwoFilesPatch(path, path, loaded.text, text),
        entries: done.map((r) => ({ name: r.name })),
      };
      result.changes.push(change);
      for (const r of done) result.restored.push({ host: r.host, path, name: r.name, reason: "restored" });
      if (options.dryRun) continue;
      // The mode a rewire tightened for a token comes back once no entry with a token is left.
      const ids = new Set(done.map((r) => r.id));
      const ofFile = state.records.filter((r) => r.file === path);
      const left = ofFile.filter((r) => !ids.has(r.id));
      const modeBefore = ofFile.find((r) => r.modeBefore !== undefined)?.modeBefore;
      const mode =
        modeBefore !== undefined && loaded.mode === 0o600 && !left.some((r) => r.transport === "http")
          ? modeBefore
          : undefined;
      if (!commit(loaded, text, dir, undefined, mode)) {
        for (const r of done) refuse(r, "the file changed while we edited it; try again");
        result.restored = result.restored.filter((x) => x.path !== path);
        continue;
      }
      state.records = state.records.filter((r) => !ids.has(r.id));
      if (mode !== undefined) for (const r of left) delete r.modeBefore;
      writeState(dir, state);
      restoredRecords.push(...done);
    }
    if (gone.length > 0 && !options.dryRun) {
      const ids = new Set(gone.map((r) => r.id));
      state.records = state.records.filter((r) => !ids.has(r.id));
      writeState(dir, state);
      restoredRecords.push(...gone);
    }
    // Services the rewire added and nothing uses any more go too (their children would idle).
    const unused = restoredRecords.filter(
      (r) => r.addedService && !state.records.some((x) => x.configFile === r.configFile && x.service === r.service),
    );
    for (const [config, records] of Map.groupBy(unused, (r) => r.configFile)) {
      const services = removeServices(config, [...new Set(records.map((r) => r.service))]);
      if (services.length > 0) result.removedServices.push({ config, services });
    }
    return result;
  };
  return options.dryRun ? run() : withLock(dir, run);
}

/** One line per record: where it is, which service, and whether the file still matches. */
export interface RewireStatusRow {
  host: HostId;
  path: string;
  name: string;
  service: string;
  socket: string;
  /** The URL of a URL entry (`transport: http`). */
  url?: string;
  /** The service's share policy as its mux config sets it (absent when the config or service is gone). */
  share?: string;
  state: "rewired" | "changed" | "missing" | "file-missing";
  /** The mux-proxy the entry runs, and whether that file still exists. */
  proxy?: string;
  proxyMissing?: boolean;
  at: string;
}

/** What is rewired where. */
export function rewireStatus(options: Omit<HostSelection, "includeProject">): RewireStatusRow[] {
  const dir = options.stateDir ?? stateDir(options.ctx.env);
  const records = readState(dir).records.filter((r) => !options.hosts?.length || options.hosts.includes(r.host));
  const shares = new Map<string, Record<string, string>>();
  const shareIn = (config: string) => {
    const known = shares.get(config);
    if (known) return known;
    const read = serviceShares(config);
    shares.set(config, read);
    return read;
  };
  return records.map((r) => {
    const row: RewireStatusRow = {
      host: r.host,
      path: r.file,
      name: r.name,
      service: r.service,
      socket: r.socket,
      state: "rewired",
      at: r.at,
    };
    const key = URL_ENTRIES[r.host]?.url;
    const url = r.transport === "http" && key ? (r.rewired.value as Record<string, unknown> | null)?.[key] : undefined;
    if (typeof url === "string") row.url = url;
    const share = shareIn(r.configFile)[r.service];
    if (share !== undefined) row.share = share;
    try {
      const loaded = loadFile(fileFromRecord(r), options.ctx, [r]);
      const entry = loaded.entries.find((e) => e.name === r.name && sameContainer(e.container, r.container));
      row.state = !entry ? "missing" : sameValue(entry.location.value, r.rewired.value) ? "rewired" : "changed";
      if (entry?.launch) {
        row.proxy = entry.launch.command;
        row.proxyMissing = !existsSync(entry.launch.command);
      }
    } catch {
      row.state = "file-missing";
    }
    return row;
  });
}

/** Options of {@link repairHosts}. */
export interface RepairOptions extends Omit<HostSelection, "includeProject"> {
  /** The mux-proxy to point entries at. */
  proxy: string;
  dryRun?: boolean;
}

/** What a repair did. */
export interface RepairResult {
  repaired: { host: HostId; path: string; name: string; from: string }[];
  refused: Skipped[];
  changes: FileChange[];
}

/**
 * Re-point rewired entries whose mux-proxy no longer exists (a moved or deleted clone, an
 * uninstalled build) at `proxy`, keeping their socket, config and forwarded variables; the
 * records follow, so `mux restore` still puts the originals back.
 */
export async function repairHosts(options: RepairOptions): Promise<RepairResult> {
  const dir = options.stateDir ?? stateDir(options.ctx.env);
  const run = async () => {
    const state = readState(dir);
    const result: RepairResult = { repaired: [], refused: [], changes: [] };
    const chosen = state.records.filter(
      (r) =>
        (!options.hosts?.length || options.hosts.includes(r.host)) &&
        (!options.servers?.length || options.servers.includes(r.name)),
    );
    for (const [path, records] of Map.groupBy(chosen, (r) => r.file)) {
      let loaded: LoadedFile;
      try {
        loaded = loadFile(fileFromRecord(records[0] as RewireRecord), options.ctx, state.records);
      } catch {
        continue;
      }
      const entries: { entry: HostEntry; record: RewireRecord; from: string }[] = [];
      for (const r of records) {
        const entry = loaded.entries.find((e) => e.name === r.name && sameContainer(e.container, r.container));
        const from = entry?.launch?.command;
        if (!entry?.launch || !from || from === options.proxy || existsSync(from)) continue;
        if (!sameValue(entry.location.value, r.rewired.value)) {
          result.refused.push({
            host: r.host,
            path,
            name: r.name,
            reason: "the entry was changed since it was rewired",
          });
          continue;
        }
        entries.push({ entry, record: r, from });
      }
      if (entries.length === 0) continue;
      const edited = editEntries(
        loaded,
        entries.map((x) => x.entry),
        (e) => {
          const a = proxyArgs(e.launch as NonNullable<HostEntry["launch"]>);
          return rewireOps(loaded.file.shape, e.location.value, options.proxy, a.socket ?? "", a.forward, a.config);
        },
      );
      for (const f of edited.failed)
        result.refused.push({ host: loaded.file.host, path, name: f.name, reason: f.reason });
      if (edited.done.length === 0) continue;
      result.changes.push({
        host: loaded.file.host,
        path,
        diff: createTwoFilesPatch(path, path, loaded.text, edited.text),
        entries: edited.done.map((d) => ({ name: d.entry.name })),
      });
      for (const d of edited.done) {
        const x = entries.find((y) => y.entry === d.entry);
        if (x) result.repaired.push({ host: x.record.host, path, name: x.record.name, from: x.from });
      }
      if (options.dryRun) continue;
      if (!commit(loaded, edited.text, dir)) {
        result.refused.push({
          host: loaded.file.host,
          path,
          name: "*",
          reason: "the file changed while we edited it; try again",
        });
        result.repaired = result.repaired.filter((r) => r.path !== path);
        continue;
      }
      for (const d of edited.done) {
        const x = entries.find((y) => y.entry === d.entry);
        if (x) x.record.rewired = { value: d.value, text: d.after };
      }
      writeState(dir, state);
    }
    return result;
  };
  return options.dryRun ? run() : withLock(dir, run);
}

// --- internal ---

/** The project folder of a project or local entry (what its `${workspaceFolder}` means), undefined for a user entry. */
function projectOf(e: HostEntry, ctx: HostContext): string | undefined {
  if (e.scope === "project") return ctx.project;
  if (e.scope === "local" && typeof e.container.path[1] === "string") return e.container.path[1];
  return undefined;
}

/** Where a pinned entry's project folder is (as `loadFile` gives `serviceSpec`). */
function baseOf(e: HostEntry, ctx: HostContext): string {
  return projectOf(e, ctx) ?? ctx.home;
}

/** `?workspace=<project>` for the URL entry of a `share = "workspace"` service (the daemon checks it like any client input). */
function workspaceQuery(e: HostEntry, ctx: HostContext): string {
  const project = e.spec?.share === "workspace" ? projectOf(e, ctx) : undefined;
  return project === undefined ? "" : `?workspace=${encodeURIComponent(project)}`;
}

/** What stands for the HTTP token in diffs (and in a dry run's entries when no token exists yet). */
const TOKEN_MARK = "<token>";

/** The URL of a listen address (`0.0.0.0` and `::` are reached on loopback). */
function urlOf(listen: string): string {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen.trim());
  if (!m) throw new MuxError("CONFIG_INVALID", `the mux config's http listen address must be HOST:PORT, got ${listen}`);
  const host = m[1] === "0.0.0.0" ? "127.0.0.1" : m[1] === "[::]" ? "[::1]" : m[1];
  return `http://${host}:${m[2]}`;
}

interface Edited {
  text: string;
  done: { entry: HostEntry; before: string; after: string; value: unknown }[];
  failed: { name: string; reason: string }[];
}

/** Apply each entry's ops in turn; an edit that would touch bytes outside its entry is refused. */
function editEntries(loaded: LoadedFile, entries: HostEntry[], opsOf: (e: HostEntry) => EditOp[]): Edited {
  const file = loaded.file;
  const format = FORMATS[file.format];
  const out: Edited = { text: loaded.text, done: [], failed: [] };
  for (const e of entries) {
    const text = out.text;
    const ops = opsOf(e);
    const expected = applyOps(e.location.value, ops);
    try {
      const loc = format.entries(text, e.container).find((x) => x.name === e.name);
      if (!loc) throw new Error("entry not found");
      const next = format.edit(text, e.container, e.name, ops);
      const after = format.entries(next, e.container).find((x) => x.name === e.name);
      if (!after) throw new Error("entry lost");
      const outsideSame =
        after.start === loc.start &&
        next.slice(0, loc.start) === text.slice(0, loc.start) &&
        next.slice(after.end) === text.slice(loc.end);
      if (!outsideSame) throw new Error("the edit would change bytes outside the entry");
      if (!sameValue(after.value, expected)) throw new Error("the edited entry does not read back as intended");
      if (file.strictJson && !isStrictJson(next)) throw new Error("the result would not be strict JSON");
      out.text = next;
      out.done.push({
        entry: e,
        before: text.slice(loc.start, loc.end),
        after: next.slice(after.start, after.end),
        value: expected,
      });
    } catch (err) {
      out.failed.push({ name: e.name, reason: `could not edit safely: ${(err as Error).message}` });
    }
  }
  return out;
}

/** Back the file up and replace it (with `mode`, else its own), unless someone changed it since `loaded` was read. */
function commit(
  loaded: LoadedFile,
  text: string,
  dir: string,
  now = new Date(),
  mode?: number,
  beforeReplace?: (path: string) => void,
): { backup: string; postHash: string } | undefined {
  const bytes = new TextEncoder().encode((loaded.bom ? "\uFEFF" : "") + text);
  let backup = "";
  const ok = replaceIfUnchanged(
    loaded.target,
    loaded.bytes,
    bytes,
    () => {
      backup = backupFile(dir, loaded.file.host, loaded.file.path, loaded.bytes, now);
      beforeReplace?.(loaded.file.path);
    },
    mode,
  );
  return ok ? { backup, postHash: hashOf(bytes) } : undefined;
}

function instruction(e: HostEntry, proxy: string, spec: ServiceSpec, config: string): string {
  const host = hostById(e.host);
  return (
    `${host?.label ?? e.host} (${e.file.path}): ${e.file.assisted}. ` +
    `Change server "${e.name}" to command ${proxy} with arguments --socket ${spec.socket} --config ${config}, ` +
    `remove its env, then ${host?.reload ?? "reload the host"}.`
  );
}

function fileFromRecord(r: RewireRecord): HostFile {
  return {
    host: r.host,
    path: r.file,
    scope: r.scope,
    format: r.format,
    shape: r.shape,
    strictJson: r.format === "json",
    containers: () => [{ container: r.container, scope: r.scope }],
  };
}

function sameContainer(a: Container, b: Container): boolean {
  return a.path.join("\u0000") === b.path.join("\u0000");
}

function safeEntries(format: DocumentFormat, text: string, container: Container) {
  try {
    return format.entries(text, container);
  } catch {
    return [];
  }
}

function isStrictJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
