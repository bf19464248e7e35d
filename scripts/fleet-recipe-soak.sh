#!/usr/bin/env bash
# The README's fleet recipe left running: one redis-server, one kelviq-mock, two axum-app
# instances sharing them, a request every 0.5 s per instance and customer, a plan change
# every ~100 rounds. At the end it prints the status codes, every warning or error the
# instances logged, and their kelviq_fleet_* metrics (expected: no warning, no reconnect,
# kelviq_fleet_subscriber_connected 1 on both).
# Usage: scripts/fleet-recipe-soak.sh [seconds, default 600]   (logs in a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
cargo build -q -p kelviq-examples -p kelviq-mock --bins
bin="$PWD/target/debug"
dir=$(mktemp -d)
cd "$dir"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
redis-server --port 6390 --save "" --appendonly no > redis.log 2>&1 & pids+=($!)
"$bin/kelviq-mock" --port 4110 --webhook-url http://127.0.0.1:3101/webhooks/kelviq \
  --webhook-secret whsec_example > mock.log 2>&1 & pids+=($!)
sleep 1
export KELVIQ_API_KEY=kelviq_test_token KELVIQ_BASE_URL=http://127.0.0.1:4110 \
  KELVIQ_EDGE_URL=http://127.0.0.1:4111
"$bin/axum-app" --redis redis://127.0.0.1:6390 --port 3101 > a.log 2>&1 & pids+=($!)
"$bin/axum-app" --redis redis://127.0.0.1:6390 --port 3102 > b.log 2>&1 & pids+=($!)
sleep 3
end=$((SECONDS + seconds))
round=0
while [ "$SECONDS" -lt "$end" ]; do
  for port in 3101 3102; do
    for key in free-key pro-key; do
      curl -s -o /dev/null -w '%{http_code}\n' -H "x-api-key: $key" "localhost:$port/reports" >> codes.log
    done
  done
  round=$((round + 1))
  if [ $((round % 100)) -eq 0 ]; then
    plan=$([ $((round % 200)) -eq 0 ] && echo free || echo pro)
    curl -s -o /dev/null -X POST -H 'Authorization: Bearer kelviq_test_token' \
      -H 'content-type: application/json' \
      http://127.0.0.1:4110/_mock/customers/cust_free/plan -d "{\"plan\": \"$plan\"}"
  fi
  sleep 0.5
done
echo "== status codes"; sort codes.log | uniq -c
echo "== warnings and errors"; grep -i -e warn -e error a.log b.log || echo none
for port in 3101 3102; do
  echo "== kelviq_fleet_* on :$port"
  curl -s "localhost:$port/metrics" | grep '^kelviq_fleet' || true
done
echo "logs in $dir"
