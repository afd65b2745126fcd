/**
 * Task ownership: task id → the client whose request created it. Only the owner sees the
 * task's status, lists it, gets or cancels it, and receives requests related to it.
 * @module
 */

import { isObject, type JsonObject } from "../../protocol/message.ts";
import type { MuxClient } from "../client.ts";

/** The task owners of one child. */
export class TaskOwners {
  private readonly owners = new Map<string, MuxClient>();

  /** `client` created task `taskId`. */
  note(taskId: string, client: MuxClient): void {
    this.owners.set(taskId, client);
  }

  /** Tasks with a known owner (none: nothing keeps the child awake for a task). */
  get size(): number {
    return this.owners.size;
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

  /** A client left: its tasks have no owner any more. */
  dropClient(client: MuxClient): void {
    for (const [id, owner] of this.owners) if (owner === client) this.owners.delete(id);
  }

  /** The child is gone: its tasks with it. */
  clear(): void {
    this.owners.clear();
  }
}
