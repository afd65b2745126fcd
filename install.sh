#!/usr/bin/env bash
# Build mcp-mux from this checkout and install `mux` and `mux-proxy` as standalone executables.
# Needs only Node and npm (or Bun): the pinned Bun comes from the npm registry into .tools/.
#   INSTALL_DIR  where the executables go (default: ~/.local/bin)
# Then: mux scan, mux rewire (or mux wizard), and mux serve --config <the config rewire printed>.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INSTALL_DIR="${INSTALL_DIR:-$HOME/.local/bin}"
BUN="$(bash "$ROOT/scripts/bootstrap.sh")"
(cd "$ROOT" && "$BUN" scripts/build.ts >&2)
mkdir -p "$INSTALL_DIR"
for exe in mux mux-proxy; do
  # Copy to a temp name and rename, so a running mux-proxy is never overwritten in place.
  cp "$ROOT/dist/$exe" "$INSTALL_DIR/.$exe.new"
  chmod 0755 "$INSTALL_DIR/.$exe.new"
  mv -f "$INSTALL_DIR/.$exe.new" "$INSTALL_DIR/$exe"
done
echo "installed $INSTALL_DIR/mux and $INSTALL_DIR/mux-proxy" >&2
case ":$PATH:" in
  *":$INSTALL_DIR:"*) ;;
  *) echo "note: $INSTALL_DIR is not on PATH; add it, or call $INSTALL_DIR/mux directly" >&2 ;;
esac
echo "next: $INSTALL_DIR/mux scan   (then: mux rewire --dry-run, mux rewire, or mux wizard)" >&2
