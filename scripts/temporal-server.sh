#!/usr/bin/env bash
# Provisions a Temporal server for `npm run stack` and the stack tests, and prints the directory that
# holds it: `temporal-server` (go.temporal.io/server/cmd/server), `temporal-sql-tool`
# (cmd/tools/sql) and `schema/` (the module's own SQL schema files, postgresql/v12/...).
# `scripts/temporal-server.sh ui` does the same for the standalone Temporal Web
# (github.com/temporalio/ui-server/v2, the version the Temporal CLI v1.5.1 embeds) and prints the
# path of `temporal-ui-server`.
# Built once with `go install` into a cache outside the repo (like scripts/temporal-cli.sh), so a
# clean clone on the same machine does not rebuild it. $TEMPORAL_SERVER_DIR / $TEMPORAL_UI_SERVER
# skip all of this.
set -euo pipefail

if [[ "${1:-server}" == ui ]]; then
  UI_VERSION="${TEMPORAL_UI_VERSION:-v2.42.1}"
  UI_DIR="${BLUEGREEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen}/temporal-ui/$UI_VERSION"
  if [[ -n "${TEMPORAL_UI_SERVER:-}" ]]; then
    if [[ -x "$TEMPORAL_UI_SERVER" ]]; then echo "$TEMPORAL_UI_SERVER"; exit 0; fi
    echo "TEMPORAL_UI_SERVER=$TEMPORAL_UI_SERVER is not an executable file" >&2; exit 1
  fi
  if [[ -x "$UI_DIR/temporal-ui-server" ]]; then echo "$UI_DIR/temporal-ui-server"; exit 0; fi
  command -v go >/dev/null 2>&1 || { echo "No Temporal Web in $UI_DIR and no Go toolchain to build it" >&2; exit 1; }
  mkdir -p "$UI_DIR"
  exec 9>"$UI_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [[ -x "$UI_DIR/temporal-ui-server" ]]; then echo "$UI_DIR/temporal-ui-server"; exit 0; fi
  stage="$(mktemp -d "$UI_DIR/.build-XXXXXX")"
  trap 'rm -rf "$stage"' EXIT
  t0=$(date +%s)
  echo "Building Temporal Web (ui-server $UI_VERSION) with go install (first time only)..." >&2
  GOBIN="$stage" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/temporalio/ui-server/v2/cmd/server@$UI_VERSION" >&2
  echo "  built in $(( $(date +%s) - t0 )) s" >&2
  mv "$stage/server" "$UI_DIR/temporal-ui-server"
  echo "$UI_DIR/temporal-ui-server"
  exit 0
fi

VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
ROOT="${BLUEGREEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen}/temporal-server"
DIR="$ROOT/$VERSION"

complete() {
  [[ -x "$1/temporal-server" && -x "$1/temporal-sql-tool" && -f "$1/schema/postgresql/v12/temporal/schema.sql" ]]
}

if [[ -n "${TEMPORAL_SERVER_DIR:-}" ]]; then
  if complete "$TEMPORAL_SERVER_DIR"; then echo "$TEMPORAL_SERVER_DIR"; exit 0; fi
  echo "TEMPORAL_SERVER_DIR=$TEMPORAL_SERVER_DIR lacks temporal-server, temporal-sql-tool or schema/postgresql" >&2
  exit 1
fi
if complete "$DIR"; then echo "$DIR"; exit 0; fi

command -v go >/dev/null 2>&1 || {
  echo "No Temporal server in $DIR and no Go toolchain to build one (go install go.temporal.io/server/cmd/server@$VERSION)." >&2
  echo "Install Go, or set TEMPORAL_SERVER_DIR to a directory with temporal-server, temporal-sql-tool and schema/." >&2
  exit 1; }

mkdir -p "$ROOT"
# Two builds at once (a test run and `npm run stack`) would waste the 2 cores: the second one waits.
exec 9>"$ROOT/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi   # (macOS has no flock: no lock there)
if complete "$DIR"; then echo "$DIR"; exit 0; fi

stage="$(mktemp -d "$ROOT/.build-XXXXXX")"
trap 'rm -rf "$stage"' EXIT
t0=$(date +%s)
echo "Building Temporal server $VERSION with go install (first time only, about 8 minutes on 2 cores)..." >&2
# v1.29.1's go.mod has no `replace` directive, so `go install pkg@version` accepts it.
GOBIN="$stage/bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "go.temporal.io/server/cmd/server@$VERSION" >&2
t1=$(date +%s)
echo "  server built in $((t1 - t0)) s; now the SQL schema tool..." >&2
GOBIN="$stage/bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "go.temporal.io/server/cmd/tools/sql@$VERSION" >&2
t2=$(date +%s)
echo "  schema tool built in $((t2 - t1)) s" >&2

# The schema files ship in the module itself; keep a copy next to the binaries (the module cache
# may be cleaned). `go mod download -json` names the module's directory in that cache.
moddir="$(go mod download -json "go.temporal.io/server@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$moddir/schema/postgresql" ]] || { echo "schema/postgresql not found in the module ($moddir)" >&2; exit 1; }
mkdir -p "$stage/out/schema"
cp -R "$moddir/schema/postgresql" "$stage/out/schema/"
chmod -R u+w,a+rX "$stage/out/schema"
mv "$stage/bin/server" "$stage/out/temporal-server"
mv "$stage/bin/sql" "$stage/out/temporal-sql-tool"
printf '%s\nserver %s s, sql tool %s s (go install on %s cores; cold only if the Go caches were empty)\n' "$VERSION" "$((t1 - t0))" "$((t2 - t1))" "$(nproc)" >"$stage/out/BUILD_INFO"
rm -rf "$DIR"
mv "$stage/out" "$DIR"
echo "$DIR"
