/**
 * The bearer token of the HTTP front, kept in a file only its user can read: read when it
 * exists, created (0600, 256 random bits) when it does not.
 * @module
 */

import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { MuxError } from "../errors.ts";

/** The token in `path`, creating the file with a fresh token when it is missing. */
export function loadOrCreateToken(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const token = randomBytes(32).toString("base64url");
    const fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
      0o600,
    );
    try {
      writeSync(fd, `${token}\n`);
    } finally {
      closeSync(fd);
    }
    return token;
  }
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0)
    throw new MuxError(
      "CONFIG_INVALID",
      `the token file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  const token = readFileSync(path, "utf8").trim();
  if (token.length < 16)
    throw new MuxError("CONFIG_INVALID", `the token in ${path} is too short (16 characters at least)`);
  return token;
}
