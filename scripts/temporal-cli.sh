#!/usr/bin/env bash
# Prints the path of a Temporal CLI that can run `temporal server start-dev`, building it if needed.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the cache, then `go install` into the cache.
# The cache lives outside the repo so a clean clone on the same machine does not rebuild it.
set -euo pipefail

VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
CACHE_DIR="${BLUEGREEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen}/temporal-cli"

if [[ -n "${TEMPORAL_CLI:-}" ]]; then
  if [[ -x "$TEMPORAL_CLI" ]]; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file" >&2; exit 1
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi

try_version() {
  local v="$1" bin="$CACHE_DIR/$1/temporal"
  if [[ -x "$bin" ]]; then echo "$bin"; return 0; fi
  command -v go >/dev/null 2>&1 || {
    echo "No Temporal CLI found and no Go toolchain to build one. Install it with 'brew install temporal'" >&2
    echo "or from https://temporal.io/setup/install-temporal-cli, or set TEMPORAL_CLI=/path/to/temporal." >&2
    return 2; }
  mkdir -p "$CACHE_DIR/$v"
  echo "Building Temporal CLI $v with go install (first time only, a few minutes)..." >&2
  # Later tags carry a `replace` directive that `go install pkg@version` refuses; these tags do not.
  if GOBIN="$CACHE_DIR/$v" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/temporalio/cli/cmd/temporal@$v" >&2; then
    echo "$bin"; return 0
  fi
  return 1
}

for v in "$VERSION" v1.5.0 v1.4.1; do
  if try_version "$v"; then exit 0; fi
  rc=$?
  [[ $rc -eq 2 ]] && exit 1
  echo "go install of Temporal CLI $v failed; trying an older tag" >&2
done
echo "Could not provision the Temporal CLI" >&2
exit 1
