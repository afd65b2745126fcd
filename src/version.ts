/**
 * The version and commit of this build. `scripts/build.ts` sets them at build time; run from
 * source, the version comes from package.json and the commit is "source".
 * @module
 */

import pkg from "../package.json" with { type: "json" };

declare const MUX_BUILD_VERSION: string | undefined;
declare const MUX_BUILD_COMMIT: string | undefined;

/** The mcp-mux version (`0.2.0`). */
export const VERSION: string = typeof MUX_BUILD_VERSION === "string" ? MUX_BUILD_VERSION : pkg.version;

/** The commit this build was made from (12 hex digits), or "source". */
export const COMMIT: string = typeof MUX_BUILD_COMMIT === "string" ? MUX_BUILD_COMMIT : "source";

/** `0.2.0 (abcdef123456)`: what `--version` prints. */
export const VERSION_LINE = `${VERSION} (${COMMIT})`;
