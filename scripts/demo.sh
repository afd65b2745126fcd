#!/usr/bin/env bash
# Start a mux that shares one @modelcontextprotocol/server-memory between every MCP host that
# connects, and print how to point a host at it. Ctrl+C stops it (and the server) cleanly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUN="$(bash "$ROOT/scripts/bootstrap.sh")"
cd "$ROOT"
[ -x dist/mux ] && [ -x dist/mux-proxy ] && [ -z "$(find src -newer dist/mux -name '*.ts' | head -1)" ] || "$BUN" scripts/build.ts >&2
# The daemon's own default folder: never a shared /tmp one (another user could create it first).
if [ -n "${XDG_RUNTIME_DIR:-}" ]; then RUNTIME="$XDG_RUNTIME_DIR/mcp-mux"; else RUNTIME="${XDG_STATE_HOME:-$HOME/.local/state}/mcp-mux/run"; fi
SOCKET="${MUX_SOCKET:-$RUNTIME/memory.sock}"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}/mcp-mux"
mkdir -p "$DATA"
export MEMORY_FILE_PATH="${MEMORY_FILE_PATH:-$DATA/memory.jsonl}"
cat >&2 <<MSG

  mcp-mux: sharing @modelcontextprotocol/server-memory on $SOCKET

  Point any MCP host at it by using this command instead of the server's:
      $ROOT/dist/mux-proxy --socket $SOCKET
  e.g. in ~/.cursor/mcp.json or claude_desktop_config.json:
      "memory": { "command": "$ROOT/dist/mux-proxy", "args": ["--socket", "$SOCKET"] }
  Check it:   $ROOT/dist/mux health --socket $SOCKET
  Status:     $ROOT/dist/mux status --socket $SOCKET

MSG
exec "$ROOT/dist/mux" serve --socket "$SOCKET" --service-name memory --cmd "$ROOT/node_modules/.bin/mcp-server-memory"
