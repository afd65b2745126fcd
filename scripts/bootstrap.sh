#!/usr/bin/env bash
# Make sure the pinned Bun and the locked dependencies are present, then print Bun's path.
# Works on a fresh machine that has only Node and npm (Bun comes from the npm registry's `bun`
# package into .tools/), or one that already has the pinned Bun on PATH.
set -euo pipefail
BUN_VERSION="1.4.5"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/bun"

bun_ok() { [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "$BUN_VERSION" ]; }

BUN=""
if command -v bun >/dev/null 2>&1 && bun_ok "$(command -v bun)"; then
  BUN="$(command -v bun)"
else
  for candidate in "$TOOLS/node_modules/.bin/bun" "$TOOLS"/node_modules/@oven/bun-*/bin/bun; do
    if bun_ok "$candidate"; then BUN="$candidate"; break; fi
  done
  if [ -z "$BUN" ]; then
    echo "bootstrap: installing bun@$BUN_VERSION from the npm registry into .tools/bun" >&2
    mkdir -p "$TOOLS"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$TOOLS" "bun@$BUN_VERSION" >&2
    for candidate in "$TOOLS/node_modules/.bin/bun" "$TOOLS"/node_modules/@oven/bun-*/bin/bun; do
      if bun_ok "$candidate"; then BUN="$candidate"; break; fi
    done
  fi
fi
if [ -z "$BUN" ]; then
  echo "bootstrap: could not get a working bun $BUN_VERSION" >&2
  exit 1
fi

if [ ! -d "$ROOT/node_modules" ] || [ "$ROOT/bun.lock" -nt "$ROOT/node_modules" ]; then
  echo "bootstrap: installing dependencies (bun install --frozen-lockfile)" >&2
  (cd "$ROOT" && "$BUN" install --frozen-lockfile >&2)
  touch "$ROOT/node_modules"
fi
echo "$BUN"
