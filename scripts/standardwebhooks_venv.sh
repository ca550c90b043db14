#!/usr/bin/env bash
# Prints the path of a Python that has the `standardwebhooks` package (PyPI, pinned), making its
# venv under the user's cache first when missing. tests/api/events.rs verifies real deliveries
# with it: an implementation of Standard Webhooks independent of the one the server uses.
set -euo pipefail
STANDARDWEBHOOKS_VERSION=1.1.0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/belvo-bff/standardwebhooks-venv"
stamp="$venv/.pinned-$STANDARDWEBHOOKS_VERSION"
# Tests run this at once on a machine without the venv: one makes it while the others wait
# (without the lock, one removed the venv another was installing into).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -e "$stamp" ]; then
  printf '==> installing standardwebhooks %s in %s\n' "$STANDARDWEBHOOKS_VERSION" "$venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "standardwebhooks==$STANDARDWEBHOOKS_VERSION" >&2
  touch "$stamp"
fi
printf '%s\n' "$venv/bin/python"
