#!/usr/bin/env bash
# Key-broker load benchmark: full KBS flows (auth → dev evidence → attest → resource →
# JWE decrypt) against a local `sealrun broker serve --insecure-http`, at 2, 8 and 32
# concurrent clients. Prints one table row per run, plus the broker's own CPU time per
# release (from /proc/PID/stat). Not a test: nothing passes or fails on a time.
#
#   benches/broker.sh                      # build release, 2/8/32 clients × 10 s
#   CLIENTS="1 4" DURATION=5 benches/broker.sh
#   SEALRUN=/path/to/sealrun benches/broker.sh   # skip the build, use this binary
#   STATE_DIR=/dev/shm benches/broker.sh   # key store + audit log on tmpfs (no fsync cost)
#
# Needs: cargo (unless SEALRUN is set), jq, python3 (for a free port), GNU coreutils.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENTS="${CLIENTS:-2 8 32}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/sealrun-target}"

if [[ -z "${SEALRUN:-}" ]]; then
    # The build lock is shared with the other users of this checkout; the benchmark itself
    # runs outside it.
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" flock /tmp/sealrun-cargo.lock cargo build --release -p sealrun)
    SEALRUN="$TARGET/release/sealrun"
fi
[[ -x "$SEALRUN" ]] || { echo "broker.sh: $SEALRUN is not an executable" >&2; exit 1; }

TMP="$(mktemp -d "${STATE_DIR:-${TMPDIR:-/tmp}}/sealrun-broker-bench.XXXXXX")"
BROKER_PID=""
cleanup() {
    if [[ -n "$BROKER_PID" ]]; then
        kill "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

IMAGE="sha256:$(printf 'bench-model-image' | sha256sum | cut -d' ' -f1)"
RESOURCE="models/key/bench"
cat >"$TMP/policy.toml" <<EOF
version = 1

[attestation]
allow_dev = true
tee = ["dev"]

[[keys.entries]]
id = "$RESOURCE"
image_digest = "$IMAGE"
require_tee = ["dev"]
EOF
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/kek.hex")
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/admin.token")
(umask 077 && head -c 32 /dev/urandom >"$TMP/model.key")

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
"$SEALRUN" broker serve --insecure-http --listen "127.0.0.1:$PORT" \
    --policy "$TMP/policy.toml" --keys "$TMP/keys.json" --kek-file "$TMP/kek.hex" \
    --audit "$TMP/audit.log" --admin-token-file "$TMP/admin.token" 2>"$TMP/broker.err" &
BROKER_PID=$!
for _ in $(seq 100); do
    curl -sf "$URL/metrics" >/dev/null 2>&1 && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$TMP/broker.err" >&2; exit 1; }
    sleep 0.1
done
"$SEALRUN" broker keys put --broker "$URL" --admin-token-file "$TMP/admin.token" \
    --from-file "$TMP/model.key" "$RESOURCE"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat"; }
HZ="$(getconf CLK_TCK)"

echo
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')); state dir $(df -T "$TMP" | awk 'NR==2{print $2}') ($TMP)"
echo "broker: $SEALRUN broker serve (2 tokio workers), dev policy, file key store, audit log fsync'd per record"
echo "clients: sealrun attest bench on the same machine; ${DURATION} s measured after ${WARMUP} s warm-up"
echo
printf '%7s %9s %6s %10s %8s %8s %8s %8s | %7s %7s %7s %7s %7s | %11s\n' \
    clients releases errors 'rel/s' 'p50 ms' 'p90 ms' 'p99 ms' 'max ms' auth evid attest resrc decrypt 'broker CPU'
printf '%7s %9s %6s %10s %8s %8s %8s %8s | %39s | %11s\n' '' '' '' '' '' '' '' '' \
    'client-side phase means (ms)' 'ms/release'
for n in $CLIENTS; do
    ticks0="$(cpu_ticks)"
    rc=0
    "$SEALRUN" attest bench --broker "$URL" --clients "$n" --duration "$DURATION" --warmup "$WARMUP" \
        --resource "$RESOURCE" --image-digest "$IMAGE" --policy "$TMP/policy.toml" --output json \
        >"$TMP/run-$n.json" || rc=$?
    ticks1="$(cpu_ticks)"
    if [[ ! -s "$TMP/run-$n.json" ]]; then
        echo "clients $n: sealrun attest bench failed (exit $rc)" >&2
        continue
    fi
    jq -r --argjson ticks "$((ticks1 - ticks0))" --argjson hz "$HZ" '
        def f(x): x * 100 | round / 100;
        [ .clients, .completed, .errors_total, f(.releases_per_s),
          f(.latency_ms.p50), f(.latency_ms.p90), f(.latency_ms.p99), f(.latency_ms.max),
          f(.phases.auth.mean_ms), f(.phases.evidence.mean_ms), f(.phases.attest.mean_ms),
          f(.phases.resource.mean_ms), f(.phases.decrypt.mean_ms),
          (if (.server_releases // 0) > 0 then f($ticks / $hz * 1000 / .server_releases) else "n/a" end)
        ] | @tsv' "$TMP/run-$n.json" |
        awk -F'\t' '{printf "%7s %9s %6s %10s %8s %8s %8s %8s | %7s %7s %7s %7s %7s | %11s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14}'
    jq -r '.errors | to_entries[] | "        error \(.key): \(.value.count) (first: \(.value.first))"' "$TMP/run-$n.json"
done
echo
echo "audit log: $(wc -l <"$TMP/audit.log") records; $("$SEALRUN" attest audit verify "$TMP/audit.log" 2>&1 | tail -n1)"
