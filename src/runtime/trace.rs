//! What the runtime tells about itself: the goroutine dump (Go's
//! `runtime.Stack(buf, true)` / SIGQUIT traceback), the deadlock report
//! (Go's `checkdead`), and `GODEBUG=schedtrace=MS[,scheddetail=1]` lines
//! (Go's `schedtrace`).
//!
//! # The deadlock rule
//! Go's `checkdead` may assume every thread is the runtime's. Here a G may
//! also be woken by a thread that is not one of its runtime's Ms, which
//! the runtime cannot see (a `std::thread`, another runtime's G, a tokio
//! task). The check reports only when all of this holds, twice, 2 ms
//! apart, with the Ps' scheduling ticks unchanged in between:
//! - no G is runnable, none is being polled, and no M of the runtime is
//!   inside `goro::blocking` (Go: no M running);
//! - no timer is pending on any P (Go: no timers);
//! - every live G is parked on a goro primitive, none on another future's
//!   waker (wait reason none or `future`) or the network;
//! - no thread of the process is inside a goro blocking operation
//!   (`*_blocking`, `goro::block_on`, `wait_blocking`; `park.rs` counts
//!   them): such a thread may be the one that feeds these Gs.
//!
//! sysmon runs the check in its rounds while every P is idle. It keeps
//! looking (no deep sleep) while a G in the middle of a poll or a thread in
//! a goro blocking operation holds the report back, and wakes for the
//! earliest timer: none of those changes wakes it (Go runs `checkdead` as
//! the last M goes idle). A G waiting on a foreign waker is woken through
//! `ready`, which wakes sysmon.
//!
//! A plain thread doing anything else (sleeping, computing, waiting on
//! something that is not goro's) is invisible: if it was going to wake a
//! G, the report is false. `goro::run` assumes, as Go's `main` does, that
//! the program's concurrency is its Gs; the report ends with a note naming
//! that cause and the two ways out (do the thread's waiting inside
//! `goro::blocking` in a G, or run the program on a `Runtime` without
//! detection). The report travels to `run` as a [`DeadlockReport`], which
//! `run` raises as a new panic, so the panic hook prints it.
//!
//! Futures have no stacks, so an entry is the G's header line, in Go's
//! format, and where the G was created:
//!
//! ```text
//! goroutine 7 [chan receive, 2 minutes]:
//! created by goroutine 1 at src/main.rs:12:5
//! ```

use super::g::{self, GRef};
use super::sched::Sched;
use crate::loom::atomic::Ordering;
use crate::task::wait::WaitReason;
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One dump entry per live G of `sched`, in goid order, separated by blank
/// lines.
pub(crate) fn dump(sched: &Sched) -> String {
    let now_ns = sched
        .now()
        .saturating_duration_since(sched.epoch)
        .as_nanos() as u64;
    let mut out = String::new();
    for gr in sched.registry.snapshot() {
        if !out.is_empty() {
            out.push('\n');
        }
        entry(&mut out, &gr, now_ns);
    }
    out
}

fn entry(out: &mut String, gr: &GRef, now_ns: u64) {
    let h = gr.header();
    let state = h.state.load(Ordering::Acquire);
    let reason = WaitReason::from_u8(h.wait_reason.load(Ordering::Relaxed));
    let status = match state {
        g::IDLE if reason != WaitReason::None => reason.as_str().to_string(),
        g::IDLE => "waiting".to_string(),
        g::SCHEDULED => "runnable".to_string(),
        g::RUNNING | g::NOTIFIED => "running".to_string(),
        _ => "dead".to_string(),
    };
    let _ = write!(out, "goroutine {} [{}", h.id, status);
    if state == g::IDLE {
        let since = h.wait_since.load(Ordering::Relaxed);
        let mins = now_ns.saturating_sub(since) / 60_000_000_000;
        if mins >= 1 {
            let _ = write!(out, ", {mins} minutes");
        }
    }
    out.push_str("]:\n");
    let site = h.site;
    let creator = match h.parent {
        0 => "a thread".to_string(),
        p => format!("goroutine {p}"),
    };
    let _ = writeln!(
        out,
        "created by {creator} at {}:{}:{}",
        site.file(),
        site.line(),
        site.column()
    );
}

/// The first line of the deadlock report, Go's words.
pub(crate) const DEADLOCK: &str = "fatal error: all goroutines are asleep - deadlock!";

/// The report's last paragraph: the likely cause of a report when the
/// program's Gs are fed by threads the runtime cannot see, and the fixes.
pub(crate) const DEADLOCK_NOTE: &str = "\
goro: no goroutine can run, and no timer, goro::blocking call or goro blocking
operation (*_blocking, goro::block_on) of any thread is pending. If a thread
that is not one of this runtime's goroutines (a std::thread, another runtime)
was going to wake one of them, the runtime cannot see it: do that thread's
waiting inside goro::blocking in a goroutine, or run the program with
Runtime::builder().detect_deadlock(false).build().block_on(...) instead of
goro::run.";

/// The deadlock report on its way from sysmon to `run` (or a `block_on`
/// with detection), which raises the text as a new panic so that the panic
/// hook prints it (a G's own panic is resumed instead: the hook already
/// printed it where it happened).
pub(crate) struct DeadlockReport(pub(crate) String);

/// Detects Go's "all goroutines are asleep" across two sysmon rounds.
#[derive(Default)]
pub(crate) struct DeadlockWatch {
    /// Scheduling ticks summed over the Ps, when the quiet state was first
    /// seen with that sum, and how many full scans have agreed since.
    last: Option<(u64, Instant, u8)>,
    /// At the last check, a thread of the process was inside a goro
    /// blocking operation. Its leaving wakes nobody here, so sysmon keeps
    /// looking (no deep sleep) until it is gone.
    threads_busy: bool,
}

impl DeadlockWatch {
    /// Whether sysmon must not sleep deeply: a quiet state is being
    /// confirmed, or only a thread in a goro blocking operation (whose
    /// leaving pokes nobody) kept the last check from starting one.
    pub(crate) fn pending(&self) -> bool {
        self.last.is_some() || self.threads_busy
    }

    /// True once a deadlock was confirmed and reported. The cheap checks
    /// run every round; the scan of every G runs only once the Ps have been
    /// quiet for 2 ms, and a report needs two scans 2 ms apart that both
    /// find every G parked with the scheduler's ticks unchanged in between
    /// (so a G in the middle of being readied is never taken for asleep).
    pub(crate) fn check(&mut self, sched: &Sched) -> bool {
        self.threads_busy = crate::task::park::threads_in_blocking_ops() > 0;
        if !quiet(sched) {
            self.last = None;
            return false;
        }
        let ticks = tick_sum(sched);
        let now = Instant::now();
        match self.last {
            Some((t, at, scans)) if t == ticks => {
                if now.saturating_duration_since(at) < Duration::from_millis(2) {
                    return false;
                }
                match scan(sched) {
                    Scan::AllParked => {}
                    Scan::Polled => {
                        // A G in the middle of a poll with every P idle
                        // (one that lost its P): it parks without waking
                        // anyone, so keep watching, from a new window.
                        self.last = Some((tick_sum(sched), now, 0));
                        return false;
                    }
                    Scan::Foreign => {
                        // Its wake goes through `ready`, which wakes sysmon.
                        self.last = None;
                        return false;
                    }
                }
                if scans == 0 {
                    self.last = Some((t, now, 1)); // confirm once more
                    return false;
                }
                let msg = format!("{DEADLOCK}\n\n{}\n{DEADLOCK_NOTE}", dump(sched));
                sched.report_panic(Box::new(DeadlockReport(msg)));
                true
            }
            _ => {
                self.last = Some((ticks, now, 0));
                false
            }
        }
    }
}

fn tick_sum(sched: &Sched) -> u64 {
    let n = sched.gomaxprocs.load(Ordering::Relaxed);
    (0..n)
        .filter_map(|i| sched.p(i))
        .map(|p| u64::from(p.schedtick.load(Ordering::Relaxed)))
        .sum()
}

/// Go's checkdead conditions, the cheap half: nothing runnable, in a
/// blocking call or on a timer, no thread of the process inside a goro
/// blocking operation (module docs, "The deadlock rule"), and some G alive.
fn quiet(sched: &Sched) -> bool {
    if sched.global_len() > 0
        || sched.nsyscall.load(Ordering::SeqCst) > 0
        || crate::task::park::threads_in_blocking_ops() > 0
        || sched.any_local_work()
        || sched.registry.len() == 0
        || super::netpoll::io_waiters(sched) > 0
    // [netpoll] Go: netpollWaiters
    {
        return false;
    }
    let n = sched.gomaxprocs.load(Ordering::Relaxed);
    if (0..n).any(|i| sched.p(i).is_some_and(|p| !p.timers.is_empty())) {
        return false;
    }
    true
}

/// What the scan of every live G found.
enum Scan {
    /// Every G is parked on a goro primitive.
    AllParked,
    /// A G is being polled (or queued): not asleep.
    Polled,
    /// A G waits on another future's waker, which may still wake it.
    Foreign,
}

/// The other half of the check: every live G is parked on a goro
/// primitive (none being polled, none waiting on a foreign future that
/// could still wake it).
fn scan(sched: &Sched) -> Scan {
    let mut polled = false;
    let parked = sched.registry.all(|h| {
        if h.state.load(Ordering::Acquire) != g::IDLE {
            polled = true;
            return false;
        }
        WaitReason::from_u8(h.wait_reason.load(Ordering::Relaxed)).is_goro_primitive()
    });
    match (parked, polled) {
        (true, _) => Scan::AllParked,
        (false, true) => Scan::Polled,
        (false, false) => Scan::Foreign,
    }
}

/// `GODEBUG=schedtrace=MS[,scheddetail=1]`.
pub(crate) struct SchedTrace {
    pub(crate) period: Duration,
    detail: bool,
}

impl SchedTrace {
    /// Parsed from the `GODEBUG` environment variable, if it asks for it.
    pub(crate) fn from_env() -> Option<SchedTrace> {
        let v = std::env::var("GODEBUG").ok()?;
        Self::parse(&v)
    }

    pub(crate) fn parse(v: &str) -> Option<SchedTrace> {
        let mut period = None;
        let mut detail = false;
        for kv in v.split(',') {
            match kv.trim().split_once('=') {
                Some(("schedtrace", ms)) => {
                    period = ms
                        .parse::<u64>()
                        .ok()
                        .filter(|&m| m > 0)
                        .map(Duration::from_millis)
                }
                Some(("scheddetail", d)) => detail = d == "1",
                _ => {}
            }
        }
        Some(SchedTrace {
            period: period?,
            detail,
        })
    }

    /// Prints one `SCHED` line (and, with scheddetail, one line per P and
    /// per G) to standard error.
    pub(crate) fn print(&self, sched: &Arc<Sched>, now: Instant) {
        let mut s = line(sched, now);
        if self.detail {
            detail(&mut s, sched);
        }
        eprint!("{s}");
    }
}

/// Go's `SCHED` line.
pub(crate) fn line(sched: &Sched, now: Instant) -> String {
    let n = sched.gomaxprocs.load(Ordering::Relaxed);
    let ps: Vec<_> = (0..n).filter_map(|i| sched.p(i)).collect();
    let q: Vec<String> = ps.iter().map(|p| p.runq.len().to_string()).collect();
    let t: Vec<String> = ps
        .iter()
        .map(|p| p.schedtick.load(Ordering::Relaxed).to_string())
        .collect();
    format!(
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} needspinning={} idlethreads={} runqueue={} [ {} ] schedticks=[ {} ]\n",
        now.saturating_duration_since(sched.epoch).as_millis(),
        n,
        sched.npidle.load(Ordering::Relaxed),
        sched.mcount.load(Ordering::Relaxed) + 1,
        sched.nmspinning.load(Ordering::Relaxed),
        u8::from(sched.needspinning.load(Ordering::Relaxed)),
        sched.nmidle.load(Ordering::Relaxed),
        sched.global_len(),
        q.join(" "),
        t.join(" "),
    )
}

fn detail(s: &mut String, sched: &Sched) {
    let n = sched.gomaxprocs.load(Ordering::Relaxed);
    for i in 0..n {
        let Some(p) = sched.p(i) else { continue };
        let _ = writeln!(
            s,
            "  P{}: status={} schedtick={} runqsize={} timerslen={}",
            i,
            p.status.load(Ordering::Relaxed),
            p.schedtick.load(Ordering::Relaxed),
            p.runq.len(),
            p.timers.len()
        );
    }
    for gr in sched.registry.snapshot() {
        let h = gr.header();
        let reason = WaitReason::from_u8(h.wait_reason.load(Ordering::Relaxed));
        let _ = writeln!(
            s,
            "  G{}: status={}({})",
            h.id,
            h.state.load(Ordering::Relaxed),
            reason.as_str()
        );
    }
}
