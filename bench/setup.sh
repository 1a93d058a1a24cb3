#!/usr/bin/env bash
# Installs the benchmark's own tools into git-ignored folders of this checkout
# (nothing from here is needed by the gateway or by `npm test`):
#   .tools/bin/oha           the load generator (crates.io, built with cargo)
#   .venv-bench/             LiteLLM's proxy (PyPI), a peer gateway
#   bench/peers/node_modules Portkey's gateway (npm), a peer gateway
# Safe to run again: it skips what is already in place. A peer that fails to
# install is reported and skipped by the harness; oha is required.
set -euo pipefail
cd "$(dirname "$0")/.."

OHA_VERSION=1.16.0
LITELLM_VERSION=1.102.4  # newer releases need a certifi newer than the registry here serves

mkdir -p .tools/bin
if ! .tools/bin/oha --version 2>/dev/null | grep -q "$OHA_VERSION"; then
  echo "bench setup: building oha $OHA_VERSION with cargo (a few minutes)"
  cargo install --quiet --root .tools oha --version "$OHA_VERSION" --locked
fi

stamp=".venv-bench/.installed-litellm-$LITELLM_VERSION"
if [ ! -f "$stamp" ]; then
  echo "bench setup: installing litellm[proxy]==$LITELLM_VERSION into .venv-bench"
  python3 -m venv .venv-bench
  if .venv-bench/bin/pip install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"; then
    touch "$stamp"
  else
    echo "bench setup: LiteLLM did not install; the harness will skip it" >&2
  fi
fi

# Portkey's gateway lives in its own package folder, so the project's
# package.json and lock stay lean (bench/peers/package.json pins it).
if [ ! -d bench/peers/node_modules/@portkey-ai/gateway ]; then
  echo "bench setup: installing Portkey's gateway into bench/peers"
  if ! (cd bench/peers && npm ci --no-audit --no-fund --silent); then
    echo "bench setup: Portkey's gateway did not install; the harness will skip it" >&2
  fi
fi
echo "bench setup: done ($(.tools/bin/oha --version))"
