//! sysmon: the runtime's monitor thread (Go's `sysmon`, `retake`,
//! `checkdead` and the `schedtrace` timer in proc.go).
//!
//! One thread per runtime, started with the first M. Each round it sleeps
//! 20 µs, doubling after 50 idle rounds up to 10 ms, and sleeps deeply
//! (until poked by `startm`/`blocking`, the next schedtrace line, or, with
//! deadlock detection on, the earliest timer) while every P is idle and no
//! blocking call is in progress. Each round it:
//! - refreshes the coarse clock used for wait times in dumps;
//! - retakes Ps (see `m.rs`, "Retake"): the P of a G inside `blocking` for
//!   more than one round when the P has work, an M waits for a P, or
//!   nobody else is free, or for more than 10 ms regardless (`blocking`
//!   itself hands off at once a P that had work when the call began); the
//!   P of a G stuck in one poll for more than 10 ms (Go's forcePreemptNS; a
//!   future blocking its thread) when that P has queued Gs or timers, or an
//!   M waits for a P (`pwait`). The P goes to another M (`handoffp`);
//! - wakes an M when a timer is overdue and every M is busy;
//! - checks for deadlock (when enabled) and prints `GODEBUG=schedtrace`.

use super::owner::IN_SYSCALL;
use super::sched::Sched;
use crate::loom::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Go's forcePreemptNS: a poll longer than this loses its P.
const FORCE_PREEMPT: Duration = Duration::from_millis(10);

/// What sysmon saw of one P's `pollgen` (Go: `sysmontick`).
#[derive(Clone, Copy, Default)]
struct Seen {
    pollgen: u64,
    since: Option<Instant>,
}

/// The sysmon thread's body.
pub(crate) fn sysmon(sched: Arc<Sched>) {
    let mut seen: Vec<Seen> = Vec::new();
    let mut idle_rounds = 0u32;
    let mut delay = Duration::from_micros(20);
    let trace = super::trace::SchedTrace::from_env();
    let mut next_trace = trace.as_ref().map(|t| sched.epoch + t.period);
    let mut dead = super::trace::DeadlockWatch::default();
    while !sched.shutdown.load(Ordering::Acquire) {
        if idle_rounds == 0 {
            delay = Duration::from_micros(20);
        } else if idle_rounds > 50 {
            delay = (delay * 2).min(Duration::from_millis(10));
        }
        let all_idle = sched.npidle.load(Ordering::SeqCst)
            >= sched.gomaxprocs.load(Ordering::Relaxed)
            && sched.nsyscall.load(Ordering::SeqCst) == 0;
        if all_idle && sched.detect_deadlock && dead.check(&sched) {
            return;
        }
        let deep = all_idle && !dead.pending();
        let sleep = if deep {
            // deep sleep: nothing runs, nothing can need retaking
            deep_sleep_until(&sched, next_trace)
                .map(|t| t.saturating_duration_since(Instant::now()))
        } else {
            Some(delay)
        };
        sched.sysmon_sleep(sleep, deep);
        let now = sched.now();
        let retook = retake(&sched, &mut seen, now);
        let kicked = kick_timers(&sched, now);
        super::netpoll::sysmon_poll(&sched); // [netpoll] 10 ms
        idle_rounds = if retook || kicked {
            0
        } else {
            idle_rounds.saturating_add(1)
        };
        if let (Some(t), Some(at)) = (trace.as_ref(), next_trace) {
            if now >= at {
                t.print(&sched, now);
                next_trace = Some(at + t.period);
            }
        }
    }
}

/// When a deep sleep ends: the next schedtrace line, and, with deadlock
/// detection on, just after the earliest timer. A timer that fires without
/// waking any G leaves the runtime as quiet as before, and nothing else
/// would wake sysmon to check it again (Go runs `checkdead` when the last
/// M goes idle; here sysmon looks once the timer is due). The 1 ms after
/// the timer lets an M fire it first (else `kick_timers` does).
fn deep_sleep_until(sched: &Sched, next_trace: Option<Instant>) -> Option<Instant> {
    let timer = sched
        .earliest_timer()
        .filter(|_| sched.detect_deadlock)
        .map(|w| w + Duration::from_millis(1));
    match (next_trace, timer) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Go's `retake`. True if any P was taken.
fn retake(sched: &Arc<Sched>, seen: &mut Vec<Seen>, now: Instant) -> bool {
    let n = sched.gomaxprocs.load(Ordering::Relaxed);
    if seen.len() < n {
        seen.resize(n, Seen::default());
    }
    let mut took = false;
    for (i, s) in seen.iter_mut().enumerate().take(n) {
        let Some(p) = sched.p(i) else { continue };
        let v = p.owner.load();
        if v & 1 == 0 {
            *s = Seen::default();
            continue;
        }
        if s.pollgen != v {
            *s = Seen {
                pollgen: v,
                since: Some(now),
            };
            continue;
        }
        let held = now.saturating_duration_since(s.since.unwrap_or(now));
        let has_work = p.has_local_work() || !p.timers.is_empty();
        let worth = if v & IN_SYSCALL != 0 {
            // Go: keep the P for a short syscall if it has nothing queued
            // and other Ms are spinning or Ps idle. An M waiting for a P
            // (back from its own blocking call) is work too.
            has_work
                || sched.npwait.load(Ordering::Relaxed) > 0
                || sched.nmspinning.load(Ordering::SeqCst) + sched.npidle.load(Ordering::SeqCst)
                    == 0
                || held >= FORCE_PREEMPT
        } else {
            held >= FORCE_PREEMPT
                && (has_work
                    || sched.npwait.load(Ordering::Relaxed) > 0
                    || (sched.global_len() > 0 && sched.npidle.load(Ordering::SeqCst) == 0))
        };
        if !worth {
            continue;
        }
        if !p.owner.try_retake(v) {
            continue;
        }
        *s = Seen::default();
        sched.handoffp(p);
        took = true;
    }
    took
}

/// An overdue timer with no M looking at it (every M busy in long polls):
/// fire it from here, as Go's sysmon starts an M for it.
fn kick_timers(sched: &Arc<Sched>, now: Instant) -> bool {
    let late = sched
        .earliest_timer()
        .is_some_and(|w| now >= w + Duration::from_millis(1));
    if late {
        sched.run_all_timers(now);
    }
    late
}
