//! The goro side of the benchmark workloads of `shared/bench/WORKLOADS.md`.
//!
//! Usage (one workload per process, like the Go anchors' `go run . <name>`):
//!
//! ```text
//! cargo bench --bench workloads -- list        # the workload names, one a line
//! cargo bench --bench workloads -- pingpong    # run one workload
//! cargo bench --bench workloads -- all         # run every workload in turn
//! GORO_BENCH_SCALE=0.01 cargo bench --bench workloads -- all   # CI smoke run
//! ```
//!
//! Every workload mirrors the Go anchor (`shared/anchors/go/main.go`) line by
//! line: same sizes, same shape, same result check. It prints one line per
//! figure, `goro W<n>.<name> <figure> <value>`, with the anchors' figure names,
//! and exits non-zero (printing `FAIL: ...` on stderr) when the check fails.
//! A watchdog thread fails the process when a workload has not finished after
//! `GORO_BENCH_WATCHDOG` seconds (default 120), so a lost wake-up is reported
//! as a failure instead of a hang.
//!
//! `GORO_BENCH_SCALE` (a float, default 1) multiplies every size, for a quick
//! smoke run; figures of a scaled run are not comparable with the anchors.
//!
//! goro code here uses only the public API of `shared/API.md`: `goro::run`
//! (the program's main G, `GOMAXPROCS` Ps), `goro::go`, `goro::chan`,
//! `goro::select!`, `goro::sync::{WaitGroup, Mutex, RwMutex}`, `goro::context`,
//! `goro::time::sleep`, `goro::gosched`, `goro::net` (W15-W17) and
//! `goro::blocking` (W20).
//!

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// Each module holds the workloads of one API area.
#[path = "workloads/blocking.rs"]
mod blocking_w;
#[path = "workloads/chan.rs"]
mod chan_w;
#[path = "workloads/ctx.rs"]
mod ctx_w;
#[path = "workloads/net.rs"]
mod net_w;
#[path = "workloads/park.rs"]
mod park_w;
#[path = "workloads/sched.rs"]
mod sched_w;
#[path = "workloads/select.rs"]
mod select_w;
#[path = "workloads/sync.rs"]
mod sync_w;
#[path = "workloads/timers.rs"]
mod timers_w;

/// The workload names, in the anchors' order (`go run . list`).
const NAMES: [&str; 23] = [
    "pingpong",
    "spsc/0",
    "spsc/1",
    "spsc/1024",
    "mpmc/0",
    "mpmc/1024",
    "mpsc/1024",
    "select_rx",
    "select_both",
    "spawn",
    "spawn_chain",
    "yield",
    "parked",
    "ctx_tree",
    "timers",
    "waitgroup",
    "ctx_cancel",
    "tcp_echo",
    "tcp_connect",
    "tcp_idle",
    "mutex",
    "rwmutex",
    "blocking_calls",
];

/// Every workload's function, by name.
fn available() -> Vec<(&'static str, fn())> {
    [
        chan_w::WORKLOADS,
        select_w::WORKLOADS,
        sched_w::WORKLOADS,
        park_w::WORKLOADS,
        ctx_w::WORKLOADS,
        timers_w::WORKLOADS,
        net_w::WORKLOADS,
        sync_w::WORKLOADS,
        blocking_w::WORKLOADS,
    ]
    .concat()
}

/// The function running workload `name`, if built in.
fn find(avail: &[(&'static str, fn())], name: &str) -> Option<fn()> {
    avail.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn main() {
    // `cargo bench` appends `--bench`; ignore flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [arg] = args.as_slice() else {
        eprintln!("usage: workloads <workload>|list|all");
        std::process::exit(2);
    };
    if scale() != 1.0 {
        eprintln!(
            "goro workloads: GORO_BENCH_SCALE={} (figures not comparable)",
            scale()
        );
    }
    let avail = available();
    match arg.as_str() {
        "list" => NAMES.iter().for_each(|n| println!("{n}")),
        "all" => run_all(&avail),
        name if NAMES.contains(&name) => {
            let Some(f) = find(&avail, name) else {
                fail(&format!("{name}: listed but has no function"));
            };
            watchdog(name);
            f();
        }
        name => {
            eprintln!("unknown workload {name:?} (see `list`)");
            std::process::exit(2);
        }
    }
}

/// Runs every workload in turn (the smoke run); the first failed check
/// ends the process.
fn run_all(avail: &[(&'static str, fn())]) {
    for name in NAMES {
        let Some(f) = find(avail, name) else {
            fail(&format!("{name}: listed but has no function"));
        };
        let t = Instant::now();
        watchdog(name);
        f();
        eprintln!("  ok {name} ({:.0} ms)", ms(t.elapsed()));
    }
}

// ---- shared helpers -------------------------------------------------------

/// Bumped each time a workload starts, so an old watchdog sees it finished.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Fails the process if the workload started now has not finished after
/// `GORO_BENCH_WATCHDOG` seconds (default 120): a lost message or wake-up
/// shows up as a G that waits forever.
fn watchdog(name: &str) {
    let name = name.to_string();
    let secs: u64 = std::env::var("GORO_BENCH_WATCHDOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        if GENERATION.load(Ordering::Relaxed) == generation {
            fail(&format!(
                "{name}: no result after {secs} s (a lost message or a hang)"
            ));
        }
    });
}

/// `GORO_BENCH_SCALE` (default 1.0).
fn scale() -> f64 {
    std::env::var("GORO_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0)
}

/// `n` times the scale, rounded to a multiple of `unit` (at least `unit`),
/// so that splits such as N/4 stay exact.
pub(crate) fn scaled(n: u64, unit: u64) -> u64 {
    let s = ((n as f64 * scale()) / unit as f64).round() as u64;
    s.max(1) * unit
}

/// Prints `FAIL: msg` on stderr and exits with status 1.
pub(crate) fn fail(msg: &str) -> ! {
    eprintln!("FAIL: {msg}");
    std::process::exit(1);
}

/// Fails with the message unless `ok`.
pub(crate) fn check(ok: bool, msg: impl FnOnce() -> String) {
    if !ok {
        fail(&msg());
    }
}

/// 0 + 1 + ... + (n-1).
pub(crate) fn triangle(n: u64) -> u64 {
    n * (n - 1) / 2
}

/// Prints one figure in the anchors' format.
pub(crate) fn emit(w: &str, fig: &str, v: f64) {
    println!("goro {} {fig} {v:.3}", label(w));
}

/// Nanoseconds per item.
pub(crate) fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// Milliseconds.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// The workload label used in output: "W2.spsc/0" for "spsc/0".
fn label(w: &str) -> String {
    let id = match w.split('/').next().unwrap_or(w) {
        "pingpong" => "W1",
        "spsc" => "W2",
        "mpmc" => "W3",
        "mpsc" => "W4",
        "select_rx" => "W5",
        "select_both" => "W6",
        "spawn" => "W7",
        "spawn_chain" => "W8",
        "yield" => "W9",
        "parked" => "W10",
        "ctx_tree" => "W11",
        "timers" => "W12",
        "waitgroup" => "W13",
        "ctx_cancel" => "W14",
        "tcp_echo" => "W15",
        "tcp_connect" => "W16",
        "tcp_idle" => "W17",
        "mutex" => "W18",
        "rwmutex" => "W19",
        "blocking_calls" => "W20",
        _ => fail(&format!("unknown workload {w}")),
    };
    format!("{id}.{w}")
}

/// VmRSS of this process in bytes, from /proc/self/status (as the Go anchor).
pub(crate) fn vm_rss() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_else(|e| fail(&e.to_string()));
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kb: i64 = rest
                .split_whitespace()
                .next()
                .and_then(|k| k.parse().ok())
                .unwrap_or(-1);
            check(kb >= 0, || format!("parse VmRSS: {line:?}"));
            return kb * 1024;
        }
    }
    fail("no VmRSS")
}

/// Moves `t` to the heap for the rest of the process, as a Go closure
/// capturing a local by reference would (no reference counting per G).
pub(crate) fn leak<T>(t: T) -> &'static T {
    Box::leak(Box::new(t))
}
