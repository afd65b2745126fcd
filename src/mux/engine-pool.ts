/**
 * The engines of one service and which client each serves: the shared child, one child per
 * distinct forwarded env, one per workspace (`share = "workspace"`, with its grace period and
 * `max_workspaces`), or one per client (`share = "client"`, `max_isolated_children`). The
 * service asks it for a client's engine, tells it when a client forwards env, names its
 * workspace or goes, and reads its engines for status. Making an engine (its options, record
 * hooks and cache) is the service's business: the pool gets a factory.
 * @module
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkspaceHint } from "../protocol/hello.ts";
import { RpcErrorCode } from "../protocol/rpc-error.ts";
import type { MuxClient } from "./client.ts";
import type { Engine } from "./engine.ts";
import type { MuxLogger } from "./logger.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import { resolveWorkspace } from "./workspace.ts";

/** Makes an engine: with a forwarded env, in a workspace folder, with the shared child's cache file. */
export type EngineFactory = (env?: Record<string, string>, workspace?: string, cache?: string) => Engine;

/** A workspace's child. */
export interface WorkspaceChild {
  engine: Engine;
  /** The folder it runs in. */
  dir: string;
  key: string;
  source: string;
  /** Set while it has no client: ends it after the grace period. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Which engine serves which client, for every sharing mode. */
export class EnginePool {
  /** The shared engine (undefined unless `share = "global"`). */
  readonly shared: Engine | undefined;
  /** Per-client engines (`share = "client"`). */
  private readonly isolated = new Map<MuxClient, Engine>();
  /** Shared mode: one engine per distinct env forwarded by clients' proxies (`mcp-mux/hello`). */
  private readonly byEnv = new Map<string, Engine>();
  /** Clients served by an env or workspace engine instead of the shared one. */
  private readonly moved = new Map<MuxClient, Engine>();
  /** `share = "workspace"`: one child per workspace (and forwarded env), by key. */
  private readonly byWorkspace = new Map<string, WorkspaceChild>();
  /** The private empty folder the no-workspace child runs in (made on first use). */
  private noWorkspaceDir: string | undefined;
  /** Restarts of engines that have already closed. */
  pastRestarts = 0;
  /** Requests served by engines that are gone. */
  pastRequests = 0;

  constructor(
    private readonly options: ResolvedServiceOptions,
    private readonly logger: MuxLogger,
    private readonly make: EngineFactory,
    /** Something changed that status shows (an engine closed, a client moved). */
    private readonly touch: () => void,
    sharedCache?: string,
  ) {
    if (options.share === "global") this.shared = make(undefined, undefined, sharedCache);
  }

  /** The engine serving `client`, if it has one yet. */
  of(client: MuxClient): Engine | undefined {
    return this.moved.get(client) ?? this.shared ?? this.isolated.get(client);
  }

  /** Every engine. */
  all(): Engine[] {
    if (this.shared) return [this.shared, ...this.byEnv.values()];
    return [...this.isolated.values(), ...[...this.byWorkspace.values()].map((w) => w.engine)];
  }

  /** Every client with an engine: the shared one's, the isolated ones, the moved ones. */
  clients(): MuxClient[] {
    const own = this.shared ? [...this.shared.router.clients] : [...this.isolated.keys()];
    return [...own, ...this.moved.keys()];
  }

  /** The workspace children. */
  workspaces(): Iterable<WorkspaceChild> {
    return this.byWorkspace.values();
  }

  /** A new client: on the shared engine when there is one (isolated clients get theirs at their first request). */
  attach(client: MuxClient): void {
    this.shared?.router.attach(client);
  }

  /**
   * A proxy forwarded the env its host resolved (names already allowed): serve this client
   * from the child running with exactly that env (shared with other clients sending the same
   * values), or, in isolated mode, from its own child started with it.
   */
  forwardEnv(client: MuxClient, env: Record<string, string>): void {
    if (!this.shared) {
      const old = this.isolated.get(client);
      if (old) {
        old.router.detach(client, "restarting with the forwarded env");
        this.isolated.delete(client);
        this.retire(old);
        void old.close();
      }
      this.own(client, env);
      return;
    }
    const key = envKeyOf(env);
    let engine = this.byEnv.get(key);
    if (!engine && this.byEnv.size >= this.options.maxEnvChildren) {
      client.refusal = `too many distinct forwarded environments for service "${this.options.serviceName}" (max_env_children = ${this.options.maxEnvChildren})`;
      this.logger.warn(`client ${client.id}: ${client.refusal}`);
      return;
    }
    if (!engine) {
      engine = this.make(env);
      this.byEnv.set(key, engine);
      engine.start(this.options.lazyStart);
      this.logger.info(`starting a child for a client with forwarded env (${Object.keys(env).join(", ")})`);
    }
    this.shared.router.detach(client, "served by the child with its forwarded env");
    engine.router.attach(client);
    this.moved.set(client, engine);
  }

  /** Isolated mode: start this client's own child, unless `max_isolated_children` are running. */
  own(client: MuxClient, env?: Record<string, string>): Engine | undefined {
    if (this.isolated.size >= this.options.maxIsolatedChildren) {
      client.refusalCode = RpcErrorCode.LimitReached;
      client.refusal = `too many isolated servers for service "${this.options.serviceName}" (max_isolated_children = ${this.options.maxIsolatedChildren}); reconnect once a client has left`;
      this.logger.warn(`client ${client.id}: ${client.refusal}`);
      return undefined;
    }
    const engine = this.make(env);
    this.isolated.set(client, engine);
    engine.router.attach(client);
    engine.start(this.options.lazyStart);
    return engine;
  }

  /**
   * `share = "workspace"`: serve this client from its workspace's child (started in that
   * folder, shared by every client from it, with the same forwarded env), starting one if
   * none runs and fewer than `max_workspaces` do. A folder that is not usable is refused for
   * this client only.
   */
  joinWorkspace(
    client: MuxClient,
    hint: WorkspaceHint | undefined,
    env: Record<string, string> = {},
  ): Engine | undefined {
    const o = this.options;
    const ws = resolveWorkspace(hint, o.workspaceKey);
    if (ws && "error" in ws) {
      client.refusal = ws.error;
      client.refusalCode = RpcErrorCode.WorkspaceRefused;
      this.logger.warn(`client ${client.id}: ${ws.error}`);
      return undefined;
    }
    const dir = ws ? (o.workspaceKey === "git-root" ? ws.key : ws.dir) : this.scratch();
    const envKey = Object.keys(env).length > 0 ? envKeyOf(env) : "";
    const key = `${ws ? ws.key : ""}\u0000${envKey}`;
    let child = this.byWorkspace.get(key);
    if (!child) {
      if (this.byWorkspace.size >= o.maxWorkspaces) this.dropIdleWorkspace();
      if (this.byWorkspace.size >= o.maxWorkspaces) {
        client.refusalCode = RpcErrorCode.LimitReached;
        client.refusal = `too many workspaces for service "${o.serviceName}" (max_workspaces = ${o.maxWorkspaces}); reconnect once another workspace's last client has left`;
        this.logger.warn(`client ${client.id}: ${client.refusal}`);
        return undefined;
      }
      const engine = this.make(envKey ? env : undefined, dir);
      child = { engine, dir, key, source: ws?.source ?? "none", timer: undefined };
      this.byWorkspace.set(key, child);
      engine.start(o.lazyStart);
      this.logger.info(`starting a child in ${dir} (workspace from ${child.source})`);
    }
    if (child.timer) {
      clearTimeout(child.timer);
      child.timer = undefined;
    }
    client.workspace = dir;
    child.engine.router.attach(client);
    this.moved.set(client, child.engine);
    this.touch();
    return child.engine;
  }

  /** A client is gone: off its engine; an engine it leaves empty is closed (a workspace's after its grace). */
  release(client: MuxClient, reason: string): void {
    const moved = this.moved.get(client);
    if (moved) {
      moved.router.detach(client, reason);
      this.moved.delete(client);
      if (moved.router.clients.size > 0) return;
      const child = [...this.byWorkspace.values()].find((w) => w.engine === moved);
      if (child) return this.workspaceEmptied(child);
      for (const [key, e] of this.byEnv) if (e === moved) this.byEnv.delete(key);
      this.retire(moved);
      void moved.close().then(() => this.touch());
      return;
    }
    const engine = this.of(client);
    engine?.router.detach(client, reason);
    if (this.shared || !engine) return;
    this.isolated.delete(client);
    this.retire(engine);
    void engine.close().then(() => this.touch());
  }

  /** Close every engine (the service is shutting down). */
  async close(): Promise<void> {
    for (const w of this.byWorkspace.values()) if (w.timer) clearTimeout(w.timer);
    await Promise.all(this.all().map((e) => e.close()));
  }

  // --- internal ---

  /** A workspace child with no client left: stopped after the grace period, unless one comes. */
  private workspaceEmptied(child: WorkspaceChild): void {
    if (child.timer) clearTimeout(child.timer);
    child.timer = setTimeout(() => {
      if (child.engine.router.clients.size > 0 || this.byWorkspace.get(child.key) !== child) return;
      this.byWorkspace.delete(child.key);
      this.retire(child.engine);
      this.logger.info(`stopping the child in ${child.dir}: no client for ${this.options.workspaceGraceMs} ms`);
      void child.engine.close().then(() => this.touch());
    }, this.options.workspaceGraceMs);
    child.timer.unref?.();
  }

  /** At the cap: stop one workspace child that has no client now (waiting out its grace). */
  private dropIdleWorkspace(): void {
    for (const child of this.byWorkspace.values()) {
      if (child.engine.router.clients.size > 0) continue;
      if (child.timer) clearTimeout(child.timer);
      this.byWorkspace.delete(child.key);
      this.retire(child.engine);
      void child.engine.close();
      return;
    }
  }

  /** The private empty folder for clients without a workspace (never HOME). */
  private scratch(): string {
    this.noWorkspaceDir ??= mkdtempSync(
      join(tmpdir(), `mux-no-workspace-${this.options.serviceName.replace(/[^\w-]/g, "_")}-`),
    );
    return this.noWorkspaceDir;
  }

  /** An engine goes away: keep its counts in the service's totals. */
  private retire(engine: Engine): void {
    this.pastRestarts += engine.restarts;
    this.pastRequests += engine.router.requestsForwarded;
  }
}

/** The key of a forwarded env: its names and values, sorted. */
function envKeyOf(env: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(env)
      .sort()
      .map((k) => [k, env[k]]),
  );
}
