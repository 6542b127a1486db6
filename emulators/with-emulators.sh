#!/usr/bin/env bash
# Runs a command with the local AWS emulators started and their endpoints,
# plus dummy credentials and a region, in its environment; stops them after.
#
#   emulators/with-emulators.sh go test ./...
#
# Installs the pinned npm packages (npm ci) the first time. SIGINT, SIGTERM
# and SIGHUP stop the command (its whole process group) and then the
# emulators.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/install.sh"

logs="$here/logs"
mkdir -p "$logs"
# A file of this run's own: a second run never touches the first's.
envfile=$(mktemp "${TMPDIR:-/tmp}/rewardrelay-emulators.XXXXXX")
rm -f "$envfile"

node "$here/run.js" --endpoints-file "$envfile" --log-dir "$logs" ${EMULATORS:+--only "$EMULATORS"} 2>>"$logs/emulators.log" &
pid=$!
child=
cleanup() {
  if [ -n "$child" ]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$envfile"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

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

# The command runs in a process group of its own (job control), so that a
# signal to this script reaches it and everything it started: bash would
# wait for a foreground command before running a trap.
set -m
"$@" &
child=$!
set +m
status=0
wait "$child" || status=$?
child=
exit "$status"
