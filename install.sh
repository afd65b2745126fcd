#!/bin/sh
# Install mcp-mux (`mux`, and `mux-proxy`: a symbolic link to it):
#
#   curl -fsSL https://github.com/mcp-mux/mcp-mux/releases/latest/download/install.sh | sh
#
# Plain POSIX sh (dash, bash, busybox ash). It picks the release archive for this OS, CPU and
# libc, checks it against SHA256SUMS, checks that the executable runs here (as mux and as
# mux-proxy), and moves it into INSTALL_DIR with an atomic rename, then points mux-proxy at it
# with another rename (a running mux-proxy keeps its old file; a mux-proxy file of the older
# two-file layout is replaced the same way, so host configs naming it keep working). Run inside
# a clone (`sh install.sh`), it builds and installs that clone instead.
#
# INSTALL_DIR must be a folder you own (or root's), that nobody else may write to: another
# user who could write there could swap the executables your hosts run. A symbolic link is
# followed and its target checked the same way.
#
# Settings (environment):
#   INSTALL_DIR      where the executables go (default: ~/.local/bin)
#   MUX_VERSION      a release such as 0.2.0 (default: the latest)
#   MUX_BASE_URL     where the release files are (default: the project's GitHub releases)
#   MUX_FROM_SOURCE  1: build from source even when a release exists
#   MUX_REPO, MUX_REF  the repository and ref a source build clones (default: main)
#   MUX_NO_LOCK      1: let a source build resolve dependencies instead of using bun.lock
#   MUX_OS, MUX_ARCH, MUX_LIBC  override what is detected (linux|darwin, x64|arm64, gnu|musl)
#
# Everything is in functions and main runs on the last line: a truncated download runs nothing.

set -eu

REPO_DEFAULT="https://github.com/mcp-mux/mcp-mux"

say() {
	printf 'mux-install: %s\n' "$*" >&2
}

die() {
	say "error: $*"
	exit 1
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# sh_quote WORD: WORD as the shell reads it back (single-quoted when it needs quoting).
sh_quote() {
	case "$1" in
	*[!A-Za-z0-9_./~+-]* | '') printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# sh_quote_dq WORD: WORD escaped for use inside double quotes.
sh_quote_dq() {
	printf '%s' "$1" | sed 's/[\\"$`]/\\&/g'
}

detect_target() {
	os="${MUX_OS:-$(uname -s)}"
	arch="${MUX_ARCH:-$(uname -m)}"
	case "$os" in
	Linux | linux) os=linux ;;
	Darwin | darwin) os=darwin ;;
	*) die "unsupported OS: $os (mcp-mux runs on Linux and macOS)" ;;
	esac
	case "$arch" in
	x86_64 | amd64 | x64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) die "unsupported architecture: $arch (mcp-mux ships x64 and arm64)" ;;
	esac
	libc="${MUX_LIBC:-}"
	if [ -z "$libc" ]; then
		libc=gnu
		if [ "$os" = linux ]; then
			if ls /lib/ld-musl-* >/dev/null 2>&1 || (ldd --version 2>&1 | grep -qi musl); then libc=musl; fi
		fi
	fi
	target="$os-$arch"
	if [ "$libc" = musl ]; then target="$target-musl"; fi
}

# fetch URL FILE: download with curl or wget; fails on HTTP errors.
fetch() {
	if have curl; then
		curl -fsSL --retry 2 -o "$2" "$1"
	elif have wget; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed; install one of them and run this again"
	fi
}

sha256_of() {
	if have sha256sum; then
		sha256sum "$1" | cut -d' ' -f1
	elif have shasum; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		die "neither sha256sum nor shasum is installed: cannot verify the download"
	fi
}

check_install_dir() {
	mkdir -p "$INSTALL_DIR" 2>/dev/null || die "cannot create INSTALL_DIR $INSTALL_DIR"
	real=$(cd -P "$INSTALL_DIR" 2>/dev/null && pwd -P) || die "cannot enter INSTALL_DIR $INSTALL_DIR"
	shown="$INSTALL_DIR"
	if [ "$real" != "$INSTALL_DIR" ] && [ -L "$INSTALL_DIR" ]; then shown="$INSTALL_DIR (a link to $real)"; fi
	# ls -ldn: mode, links, owner uid, group gid, ...; ls -ld for the group's name (no globbing of the path).
	set -f
	# shellcheck disable=SC2046
	set -- $(ls -ldn "$real/" 2>/dev/null) "" "" ""
	mode="$1" owner="$3"
	# shellcheck disable=SC2046
	set -- $(ls -ld "$real/" 2>/dev/null) "" "" "" ""
	group_name="$4"
	set +f
	me=$(id -u)
	if [ "$owner" != "$me" ] && [ "$owner" != 0 ]; then
		die "INSTALL_DIR $shown belongs to another user (uid $owner): refusing to install there (set INSTALL_DIR to a folder you own)"
	fi
	case "$mode" in
	????????w*) die "INSTALL_DIR $shown may be written by every user ($mode): refusing to install there" ;;
	?????w*)
		if [ "$group_name" != "$(id -un)" ]; then
			die "INSTALL_DIR $shown may be written by the group $group_name ($mode): refusing to install there (chmod g-w it, or set INSTALL_DIR to a folder only you can write)"
		fi
		;;
	esac
	probe="$INSTALL_DIR/.mux-install-probe.$$"
	if ! (: >"$probe") 2>/dev/null; then die "INSTALL_DIR $shown is not writable (set INSTALL_DIR to a folder you own)"; fi
	rm -f "$probe"
	for exe in mux mux-proxy; do
		if [ -d "$INSTALL_DIR/$exe" ]; then die "$INSTALL_DIR/$exe is a folder: move it away and run this again"; fi
	done
}

# install_from DIR: the executable from DIR into INSTALL_DIR by an atomic rename, then
# mux-proxy as a symbolic link to it, also by a rename (it replaces a link, or the separate
# mux-proxy file of the older two-file layout, in one step: the name never goes missing and a
# running proxy keeps its file). Every step is checked: this runs where `set -e` does not apply.
install_from() {
	[ -f "$1/mux" ] || die "mux is missing from the build"
	new="$INSTALL_DIR/.mux.new.$$"
	link="$INSTALL_DIR/.mux-proxy.new.$$"
	cp "$1/mux" "$new" || die "cannot copy mux into $INSTALL_DIR: nothing installed"
	chmod 0755 "$new" || die "cannot make $new executable: nothing installed"
	"$new" --version >/dev/null 2>&1 || die "the copy of mux in $INSTALL_DIR does not run: nothing installed"
	ln -s mux "$link" || die "cannot create the mux-proxy link in $INSTALL_DIR: nothing installed"
	mv -f "$new" "$INSTALL_DIR/mux" || die "cannot move mux into place in $INSTALL_DIR"
	mv -f "$link" "$INSTALL_DIR/mux-proxy" || die "cannot move the mux-proxy link into place in $INSTALL_DIR"
}

cleanup() {
	if [ -n "${work:-}" ] && [ -d "$work" ]; then rm -rf "$work"; fi
	if [ -n "${INSTALL_DIR:-}" ]; then rm -f "$INSTALL_DIR/.mux.new.$$" "$INSTALL_DIR/.mux-proxy.new.$$"; fi
}

# The release: returns 2 when there is none for this target (the caller builds from source).
install_release() {
	version="${MUX_VERSION:-latest}"
	if [ -n "${MUX_BASE_URL:-}" ]; then
		base="${MUX_BASE_URL%/}"
	elif [ "$version" = latest ]; then
		base="$REPO_DEFAULT/releases/latest/download"
	else
		base="$REPO_DEFAULT/releases/download/v${version#v}"
	fi
	if ! fetch "$base/SHA256SUMS" "$work/SHA256SUMS" 2>/dev/null; then
		say "no release found at $base"
		return 2
	fi
	archive=$(grep -E "  mux-[^ ]+-$target\.tar\.gz\$" "$work/SHA256SUMS" | head -n 1 | sed 's/^[0-9a-f]*  //') || true
	if [ -z "$archive" ]; then
		say "no release archive for $target at $base"
		return 2
	fi
	expected=$(grep -E "  $archive\$" "$work/SHA256SUMS" | head -n 1 | cut -d' ' -f1)
	say "downloading $archive"
	fetch "$base/$archive" "$work/$archive" || die "download of $base/$archive failed"
	actual=$(sha256_of "$work/$archive") || die "cannot compute the checksum of $archive: nothing installed"
	[ "$actual" = "$expected" ] || die "checksum mismatch for $archive (expected $expected, got $actual): nothing installed"
	[ -n "$expected" ] || die "SHA256SUMS has no checksum for $archive: nothing installed"
	mkdir "$work/unpacked" || die "cannot create $work/unpacked: nothing installed"
	tar -xzf "$work/$archive" -C "$work/unpacked" || die "cannot unpack $archive: nothing installed"
	dir="$work/unpacked/${archive%.tar.gz}"
	"$dir/mux" --version >/dev/null 2>&1 || die "the mux executable does not run on this machine: nothing installed"
	# The archive's mux-proxy is a link to mux: run under that name, it must be the proxy.
	"$dir/mux-proxy" --version 2>/dev/null | grep -q '^mux-proxy ' || die "mux does not run as mux-proxy on this machine: nothing installed"
	install_from "$dir"
}

# bun_for ROOT: print a Bun to build with (the pinned one from the npm registry if needed).
bun_for() {
	pinned=$(sed -n 's/.*"packageManager": *"bun@\([^"]*\)".*/\1/p' "$1/package.json")
	if have bun && [ "$(bun --version 2>/dev/null)" = "$pinned" ]; then
		command -v bun
		return
	fi
	tools="$1/.tools/bun"
	for candidate in "$tools/node_modules/.bin/bun" "$tools"/node_modules/@oven/bun-*/bin/bun; do
		if [ -x "$candidate" ] && [ "$("$candidate" --version 2>/dev/null)" = "$pinned" ]; then
			printf '%s\n' "$candidate"
			return
		fi
	done
	have npm || die "building from source needs Bun $pinned or Node.js with npm"
	say "installing bun@$pinned from the npm registry into $tools"
	mkdir -p "$tools"
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tools" "bun@$pinned" >&2 || die "cannot install bun@$pinned"
	for candidate in "$tools/node_modules/.bin/bun" "$tools"/node_modules/@oven/bun-*/bin/bun; do
		if [ -x "$candidate" ]; then
			printf '%s\n' "$candidate"
			return
		fi
	done
	die "cannot find the bun executable after installing it"
}

# install_source ROOT: build the checkout at ROOT and install its executables.
install_source() {
	root="$1"
	bun=$(bun_for "$root")
	say "building $root with $bun"
	if [ "${MUX_NO_LOCK:-}" = 1 ]; then
		(cd "$root" && "$bun" install >&2) || die "installing dependencies failed"
	elif [ ! -d "$root/node_modules" ]; then
		(cd "$root" && "$bun" install --frozen-lockfile >&2) || die "installing dependencies failed (bun.lock; set MUX_NO_LOCK=1 to resolve them afresh)"
	fi
	(cd "$root" && "$bun" scripts/build.ts --out "$work/build" >&2) || die "the build failed"
	"$work/build/mux" --version >/dev/null 2>&1 || die "the built mux does not run"
	install_from "$work/build"
}

clone_and_install() {
	have git || die "building from source needs git"
	repo="${MUX_REPO:-$REPO_DEFAULT.git}"
	ref="${MUX_REF:-main}"
	say "cloning $repo at $ref"
	git clone --quiet --depth 1 --branch "$ref" "$repo" "$work/src" 2>/dev/null || git clone --quiet "$repo" "$work/src" || die "cannot clone $repo"
	(cd "$work/src" && git checkout --quiet "$ref") || die "no ref $ref in $repo"
	install_source "$work/src"
}

# The clone this script sits in, when run as `sh install.sh` (not when piped).
own_clone() {
	case "$0" in
	*install.sh) ;;
	*) return 1 ;;
	esac
	here=$(cd "$(dirname "$0")" 2>/dev/null && pwd) || return 1
	[ -f "$here/package.json" ] && [ -f "$here/src/bin/mux.ts" ] && grep -q '"name": *"mcp-mux"' "$here/package.json" || return 1
	printf '%s\n' "$here"
}

# The folders of the tools MCP servers are usually started with, as this shell finds them:
# put first on the PATH of a daemon a host starts (mux reads the file each time), so every
# server gets the same node/npx/uvx whichever host started it. Written once; edits are kept.
write_path_file() {
	case "$(uname -s)" in
	Darwin) cfg="$HOME/Library/Application Support/mcp-mux" ;;
	*) cfg="${XDG_CONFIG_HOME:-$HOME/.config}/mcp-mux" ;;
	esac
	file="$cfg/path"
	if [ -e "$file" ]; then return 0; fi
	dirs=""
	for tool in node npx bun bunx uv uvx python3 docker deno; do
		found=$(command -v "$tool" 2>/dev/null) || continue
		case "$found" in /*) ;; *) continue ;; esac
		dir=$(dirname "$found")
		case "$dir" in *:* | *"
"*) continue ;; esac
		case "
$dirs
" in *"
$dir
"*) ;; *) dirs="${dirs:+$dirs
}$dir" ;; esac
	done
	mkdir -p "$cfg" 2>/dev/null || return 0
	{
		printf '%s\n' "# Folders put first on the PATH of an mcp-mux daemon that a host starts (one per line)," \
			"# so every MCP server finds the same node, npx, uvx... whichever host started it." \
			"# Written by install.sh from the PATH it ran with; edit it freely. MUX_DAEMON_PATH overrides it."
		if [ -n "$dirs" ]; then printf '%s\n' "$dirs"; fi
	} >"$file.new.$$" 2>/dev/null && mv -f "$file.new.$$" "$file" && say "wrote $file (the folders of your node, npx, ... for the daemon's PATH)"
	rm -f "$file.new.$$"
}

main() {
	INSTALL_DIR="${INSTALL_DIR:-${HOME:?HOME is not set}/.local/bin}"
	work=$(mktemp -d 2>/dev/null || mktemp -d -t mux-install) || die "cannot create a temporary folder"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	check_install_dir
	if clone=$(own_clone); then
		install_source "$clone"
	else
		detect_target
		if [ "${MUX_FROM_SOURCE:-}" = 1 ]; then
			clone_and_install
		else
			status=0
			install_release || status=$?
			if [ "$status" = 2 ]; then
				say "building from source instead"
				clone_and_install
			elif [ "$status" != 0 ]; then
				exit "$status"
			fi
		fi
	fi
	say "installed $("$INSTALL_DIR/mux" --version) into $INSTALL_DIR"
	write_path_file
	case ":${PATH:-}:" in
	*":$INSTALL_DIR:"*)
		say "$INSTALL_DIR is on your PATH"
		say "next: mux wizard"
		;;
	*)
		say "$INSTALL_DIR is not on your PATH; add this line to your shell's profile (~/.profile, ~/.bashrc, ~/.zshrc):"
		say "  export PATH=\"$(sh_quote_dq "$INSTALL_DIR"):\$PATH\""
		say "next: $(sh_quote "$INSTALL_DIR/mux") wizard"
		;;
	esac
}

main "$@"
