/**
 * Progress tokens given to the child: mux token → owning client, its original token text and
 * request key; tokens kept alive by tasks until the task is terminal.
 * @module
 */

import type { MuxClient } from "../client.ts";

/** Whose progress a mux token is. */
export interface ProgressOwner {
  client: MuxClient;
  /** The client's own token, as raw JSON text (spliced back byte-identically). */
  rawToken: string;
  /** The key of the client request it belongs to. */
  key: string;
}

/** The progress tokens of one child. */
export class ProgressTokens {
  private readonly owners = new Map<number, ProgressOwner>();
  private readonly byTask = new Map<string, number>();

  /** The child may report progress on `token` for `owner`. */
  give(token: number, owner: ProgressOwner): void {
    this.owners.set(token, owner);
  }

  owner(token: number): ProgressOwner | undefined {
    return this.owners.get(token);
  }

  /** The request is over: later progress on this token is dropped. */
  release(token: number | undefined): void {
    if (token !== undefined) this.owners.delete(token);
  }

  /** The request created a task: the token lives until the task is terminal. */
  keepForTask(taskId: string, token: number): void {
    this.byTask.set(taskId, token);
  }

  /** A task reached a terminal status: release the token it kept alive. */
  taskTerminal(taskId: string): void {
    const token = this.byTask.get(taskId);
    if (token === undefined) return;
    this.byTask.delete(taskId);
    this.owners.delete(token);
  }

  /** Tokens given out now (tests, status). */
  get size(): number {
    return this.owners.size;
  }

  /** The child is gone: no token is valid any more. */
  clear(): void {
    this.owners.clear();
    this.byTask.clear();
  }
}
