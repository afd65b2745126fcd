#!/usr/bin/env bash
# The whole gate on a fresh clone: bootstrap Bun and dependencies, typecheck, lint, build the
# executables, run every test. Ends with a line "N passed, N failed".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUN="$(bash "$ROOT/scripts/bootstrap.sh")"
export PATH="$(dirname "$BUN"):$PATH"
cd "$ROOT"
exec "$BUN" run check
