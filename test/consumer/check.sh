#!/usr/bin/env bash
# Type-checks a new project that uses jobterm from its packed tarball, as a
# user's would: `skipLibCheck: false`, ESM (.mts) and CommonJS (.cts, and
# `import x = require()`), under `module: node16` and under a bundler's
# resolution. Usage: test/consumer/check.sh <jobterm-x.y.z.tgz>
#
# The tarball is installed into test/consumer/node_modules (git-ignored);
# graphile-worker, pg, @types/node and TypeScript resolve from the repo's own
# node_modules one level up, as hoisted dependencies would in an app.
set -euo pipefail
tarball="$(realpath "$1")"
cd "$(dirname "$0")"
rm -rf node_modules
npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts "$tarball" >/dev/null
tsc=../../node_modules/.bin/tsc
for config in node16-esm node16-cjs bundler-esm bundler-cjs; do
  printf 'consumer: tsc -p tsconfig.%s.json (skipLibCheck false) ... ' "$config"
  "$tsc" -p "tsconfig.$config.json"
  echo ok
done
rm -rf node_modules
