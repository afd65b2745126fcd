/**
 * Task ownership: task id → the client whose request created it. Only the owner sees the
 * task's status, lists it, gets or cancels it, and receives requests related to it. Tasks that
 * 2026-07-28 clients created over a legacy child are kept here too (by principal).
 * @module
 */

import { isObject, type JsonObject } from "../../protocol/message.ts";
import type { MuxClient } from "../client.ts";

/**
 * A 2025-11-25 task of the child that a 2026-07-28 client created (`era2026/legacy-tasks.ts`):
 * its principal, what that call declared, the child's last word on it, its parked questions.
 */
export interface BridgedTask {
  taskId: string;
  /** The principal (`ownerOf`): one socket connection, or the HTTP front. */
  owner: string;
  /** The owning connection when it is a socket one (its tasks go with it). */
  ownerClient: MuxClient | undefined;
  capabilities: JsonObject;
  /** The child's task object as it last said (2025-11-25 field names). */
  task: JsonObject;
  /** Questions of the child for it, not answered yet: key → the child's request. */
  inputs: Map<string, { childRawId: string; method: string; params: JsonObject }>;
  ordinals: Map<string, number>;
  /** The child's `tasks/result` answer, once it came. */
  final: { result: JsonObject } | { error: { code: number; message: string; data?: unknown } } | undefined;
  /** A child `tasks/result` is open for it. */
  resultOpen: boolean;
  /** Who waits for `final`. */
  onFinal: ((final: NonNullable<BridgedTask["final"]>) => void)[];
  /** Past this (epoch ms) it is forgotten. */
  expiresAt: number;
}

/** The task owners of one child. */
export class TaskOwners {
  private readonly owners = new Map<string, MuxClient>();
  private readonly modern = new Map<string, BridgedTask>();

  /** A modern client's task over this legacy child; beyond `max`, the oldest are forgotten. */
  noteBridged(t: BridgedTask, max: number): void {
    this.modern.delete(t.taskId);
    this.modern.set(t.taskId, t);
    for (const id of this.modern.keys()) {
      if (this.modern.size <= max) break;
      this.modern.delete(id);
    }
  }

  /** A modern client's task by id, unless it expired. */
  bridged(taskId: string): BridgedTask | undefined {
    const t = this.modern.get(taskId);
    if (t && t.expiresAt <= Date.now()) {
      this.modern.delete(taskId);
      return undefined;
    }
    return t;
  }

  dropBridged(taskId: string): void {
    this.modern.delete(taskId);
  }

  /** `client` created task `taskId`. */
  note(taskId: string, client: MuxClient): void {
    this.owners.set(taskId, client);
  }

  /** Tasks with a known owner (none: nothing keeps the child awake for a task). */
  get size(): number {
    const now = Date.now();
    let live = 0;
    for (const t of this.modern.values()) if (t.expiresAt > now && !TERMINAL.has(String(t.task.status))) live++;
    return this.owners.size + live;
  }

  owner(taskId: string): MuxClient | undefined {
    return this.owners.get(taskId);
  }

  /** The owner of the task a message's `_meta` says it relates to, if known. */
  relatedOwner(params: JsonObject | undefined): MuxClient | undefined {
    const related = (params?._meta as JsonObject | undefined)?.["io.modelcontextprotocol/related-task"];
    const taskId = isObject(related) ? related.taskId : undefined;
    return typeof taskId === "string" ? this.owners.get(taskId) : undefined;
  }

  /**
   * A client left: its tasks have no owner any more. Returns its 2026-07-28 tasks over this
   * legacy child that had not ended (nobody can reach them now: the caller cancels them).
   */
  dropClient(client: MuxClient): BridgedTask[] {
    for (const [id, owner] of this.owners) if (owner === client) this.owners.delete(id);
    const orphans: BridgedTask[] = [];
    for (const [id, t] of this.modern) {
      if (t.ownerClient !== client) continue;
      this.modern.delete(id);
      if (!TERMINAL.has(String(t.task.status)) && t.expiresAt > Date.now()) orphans.push(t);
    }
    return orphans;
  }

  /** The child is gone: its tasks with it. */
  clear(): void {
    this.owners.clear();
    this.modern.clear();
  }
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
