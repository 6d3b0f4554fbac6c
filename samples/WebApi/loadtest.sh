#!/usr/bin/env bash
# Load test of the WebApi sample on loopback (README, "Serving over HTTP"): publishes the app, starts it on a free
# port of 127.0.0.1, checks one prediction, then runs wrk (Debian package `wrk`) with 16 connections for 30 s against
# POST /predict (one house per request, loadtest.lua) after a 5 s warm-up, and prints requests/s, p50/p99 latency and
# the errors. It stops the server it started, and only that one. Not part of .ci/run: it puts the machine under full
# load for about 40 s. Usage: samples/WebApi/loadtest.sh [seconds=30] [connections=16]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-30}"
connections="${2:-16}"
command -v wrk > /dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2> /dev/null || true; wait "$server" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "Publishing samples/WebApi (Release) ..."
dotnet publish "$here/WebApi.csproj" -c Release -o "$work/app" --nologo -v quiet > "$work/publish.log" 2>&1 \
  || { cat "$work/publish.log" >&2; exit 1; }
echo "Published: $(du -sh "$work/app" | cut -f1) in $work/app"

# Port 0: the server picks a free port and logs it; the model is trained and saved into the temporary folder.
dotnet "$work/app/WebApi.dll" --urls http://127.0.0.1:0 --ModelPath "$work/model.zip" --ReloadOnChange false \
  --Logging:LogLevel:Default Warning --Logging:LogLevel:Microsoft.Hosting.Lifetime Information > "$work/server.log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 600); do
  url="$(grep -o 'Now listening on: http://127.0.0.1:[0-9]*' "$work/server.log" | head -1 | sed 's/Now listening on: //')" || true
  [ -n "$url" ] && break
  kill -0 "$server" 2> /dev/null || { cat "$work/server.log" >&2; echo "the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/server.log" >&2; echo "the server did not start within 60 s" >&2; exit 1; }
echo "Server at $url: $(curl -sf "$url/health")"
echo "One prediction of samples/WebApi/house.json: $(curl -sf "$url/predict" -H 'Content-Type: application/json' -d @"$here/house.json")"

cd "$here"
export LOADTEST_BODY="$here/house.json"
echo "Warm-up: wrk 5 s ..."
wrk -t2 -c"$connections" -d5s -s loadtest.lua "$url/predict" > "$work/warmup.txt"
echo "Measuring: wrk -t2 -c$connections -d${seconds}s on loopback ..."
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s loadtest.lua "$url/predict" | tee "$work/wrk.txt"
kill -0 "$server" 2> /dev/null || { echo "the server died during the test" >&2; cat "$work/server.log" >&2; exit 1; }

result="$(grep '^RESULT ' "$work/wrk.txt")"
get() { echo "$result" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2; }
errors=$(( $(get non2xx) + $(get connect_errors) + $(get read_errors) + $(get write_errors) + $(get timeouts) ))
echo
echo "Summary: $(get requests) requests in $(get duration_s) s with $connections connections: $(get rps) requests/s," \
  "latency p50 $(get p50_ms) ms, p99 $(get p99_ms) ms (max $(get max_ms) ms), errors $errors" \
  "(non-2xx $(get non2xx), socket: connect $(get connect_errors), read $(get read_errors), write $(get write_errors), timeouts $(get timeouts))"
[ "$errors" -eq 0 ]
