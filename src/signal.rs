//! `goro::signal`: Go's `os/signal` (`Notify`, `Stop`, `Ignore`, `Reset`,
//! `Ignored`) on channels.
//!
//! This file owns the subscriptions: a list of (signal set, sender) under
//! one lock. Delivery is process-wide and lives in the runtime
//! (`runtime/sigqueue.rs`, Go's sigqueue.go): a signal-hook handler writes
//! to a self-pipe on the process poller, whose reader calls `deliver` here
//! with the set of signals received. `deliver` offers each signal to every
//! subscribed channel without blocking (`try_send`; a full channel misses
//! it, as in Go) and drops subscriptions whose receivers are all gone.
//! A signal that arrives when nobody is subscribed any more gets its
//! default action back and is raised again (Go: after `Stop`, the default
//! behaviour returns).
//!
//! SIGQUIT is not offered here: from the first runtime on, it prints the
//! goroutine dump of every runtime to standard error and exits with status
//! 2, as a Go program does.
//!
//! # Examples
//!
//! ```
//! use goro::signal::{self, Signal};
//!
//! goro::run(async {
//!     let sigs = signal::notify(&[Signal::User1]); // signal.Notify(c, syscall.SIGUSR1)
//!     signal::raise(Signal::User1).unwrap();        // as if `kill -USR1` from outside
//!     assert_eq!(sigs.recv().await, Some(Signal::User1));
//!     signal::stop(&sigs);
//! });
//! ```

use crate::chan::{Receiver, Sender};
use crate::loom::Mutex;
use crate::runtime::sigqueue::{self, DEFAULT, IGNORE, NOTIFY};
use std::fmt;
use std::sync::OnceLock;

/// A signal a program can subscribe to (Go's `os.Signal` values
/// `os.Interrupt`, `syscall.SIGTERM`, …).
///
/// # Examples
///
/// ```
/// use goro::signal::Signal;
/// assert_eq!(Signal::Interrupt.to_string(), "interrupt");
/// assert_eq!(Signal::Terminate.number(), 15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGINT` (Ctrl-C; Go's `os.Interrupt`).
    Interrupt,
    /// `SIGTERM` (the polite kill; Go's `syscall.SIGTERM`).
    Terminate,
    /// `SIGHUP` (the terminal went away).
    Hangup,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
}

const ALL: [Signal; 5] = [
    Signal::Interrupt,
    Signal::Terminate,
    Signal::Hangup,
    Signal::User1,
    Signal::User2,
];

impl Signal {
    /// The OS signal number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(goro::signal::Signal::Interrupt.number(), 2);
    /// ```
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
        }
    }

    fn bit(self) -> u64 {
        1 << self.number()
    }
}

impl fmt::Display for Signal {
    /// Go's `Signal.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "interrupt",
            Signal::Terminate => "terminated",
            Signal::Hangup => "hangup",
            Signal::User1 => "user defined signal 1",
            Signal::User2 => "user defined signal 2",
        })
    }
}

/// One `notify` call's channel and signal set.
struct Sub {
    /// The signals it wants (bit n: signal n).
    mask: u64,
    tx: Sender<Signal>,
}

/// Every subscription. Written by `notify`/`stop` and by `deliver`
/// (pruning dead ones); sends happen after the lock is released.
fn subs() -> &'static Mutex<Vec<Sub>> {
    static SUBS: OnceLock<Mutex<Vec<Sub>>> = OnceLock::new();
    SUBS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Whether every receiver of `tx`'s channel is gone.
fn dead(tx: &Sender<Signal>) -> bool {
    tx.hchan()
        .receivers
        .load(std::sync::atomic::Ordering::Acquire)
        == 0
}

/// Go's `signal.Notify`: a channel that receives `sigs` (all of
/// [`Signal`]'s values if empty) from now on. Each arriving signal is
/// offered to the channel without blocking: if its buffer (one slot per
/// signal asked for) is full, that delivery is dropped, as in Go. While
/// any channel wants a signal, its default action (terminating, for all
/// of these) is off.
///
/// Unsubscribe with [`stop`] or by dropping every receiver (then the next
/// such signal finds the subscription gone and gets its default action).
/// Works off any runtime too; delivery uses no thread per signal.
///
/// # Panics
/// If the signal handler cannot be installed (the process ran out of file
/// descriptors for the self-pipe), with the OS error.
///
/// # Examples
///
/// A graceful shutdown on SIGTERM:
///
/// ```
/// use goro::signal::{self, Signal};
///
/// goro::run(async {
///     let stop = signal::notify(&[Signal::Interrupt, Signal::Terminate]);
///     goro::go(async { signal::raise(Signal::Terminate).unwrap() });
///     goro::select! {
///         recv(stop) -> s => assert_eq!(s, Some(Signal::Terminate)),
///         recv(goro::time::after(std::time::Duration::from_secs(10))) -> _ => panic!("no signal"),
///     }
/// });
/// ```
#[track_caller]
pub fn notify(sigs: &[Signal]) -> Receiver<Signal> {
    let sigs = if sigs.is_empty() { &ALL[..] } else { sigs };
    let (tx, rx) = crate::chan::chan(sigs.len());
    let mask = sigs.iter().fold(0, |m, s| m | s.bit());
    sigqueue::set_deliver(deliver);
    subs().lock().push(Sub { mask, tx });
    for s in sigs {
        if let Err(e) = sigqueue::set_disposition(s.number(), NOTIFY) {
            panic!("signal: cannot handle {s}: {e}");
        }
    }
    rx
}

/// Go's `signal.Stop`: `rx`'s channel receives no more signals; a signal
/// no channel wants any more gets its default action back.
///
/// # Examples
///
/// ```
/// use goro::signal::{self, Signal};
/// let rx = signal::notify(&[Signal::User2]);
/// signal::stop(&rx);
/// assert!(!signal::ignored(Signal::User2));
/// ```
pub fn stop(rx: &Receiver<Signal>) {
    let mut subs = subs().lock();
    let dropped: Vec<Sub> = extract(&mut subs, |s| {
        std::ptr::eq(s.tx.hchan(), rx.hchan()) || dead(&s.tx)
    });
    let wanted = subs.iter().fold(0, |m, s| m | s.mask);
    drop(subs);
    for s in ALL {
        if dropped.iter().any(|d| d.mask & s.bit() != 0)
            && wanted & s.bit() == 0
            && sigqueue::disposition(s.number()) == NOTIFY
        {
            let _ = sigqueue::set_disposition(s.number(), DEFAULT);
        }
    }
    drop(dropped); // after the lock: dropping a sender may wake a receiver
}

/// Go's `signal.Ignore`: the signals are discarded (subscriptions to them
/// stop receiving them too, until [`notify`] asks again).
///
/// # Examples
///
/// ```
/// use goro::signal::{self, Signal};
/// signal::ignore(&[Signal::Hangup]);
/// assert!(signal::ignored(Signal::Hangup));
/// signal::raise(Signal::Hangup).unwrap(); // nothing happens
/// signal::reset(&[Signal::Hangup]);
/// assert!(!signal::ignored(Signal::Hangup));
/// ```
pub fn ignore(sigs: &[Signal]) {
    for s in sigs {
        let _ = sigqueue::set_disposition(s.number(), IGNORE);
    }
}

/// Go's `signal.Reset`: the signals get their default action back
/// (subscriptions to them stop receiving them, until [`notify`] asks
/// again).
pub fn reset(sigs: &[Signal]) {
    for s in sigs {
        let _ = sigqueue::set_disposition(s.number(), DEFAULT);
    }
}

/// Go's `signal.Ignored`: whether `sig` is ignored by [`ignore`].
pub fn ignored(sig: Signal) -> bool {
    sigqueue::disposition(sig.number()) == IGNORE
}

/// Sends `sig` to this process (Go: `syscall.Kill(os.Getpid(), sig)`),
/// for tests and self-contained examples.
///
/// # Examples
///
/// ```
/// use goro::signal::{self, Signal};
/// let rx = signal::notify(&[Signal::User1]);
/// signal::raise(Signal::User1).unwrap();
/// assert_eq!(rx.recv_blocking(), Some(Signal::User1));
/// signal::stop(&rx);
/// ```
pub fn raise(sig: Signal) -> std::io::Result<()> {
    signal_hook::low_level::raise(sig.number())
}

/// Removes the elements matching `f`, returning them.
fn extract(v: &mut Vec<Sub>, mut f: impl FnMut(&Sub) -> bool) -> Vec<Sub> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if f(&v[i]) {
            out.push(v.swap_remove(i));
        } else {
            i += 1;
        }
    }
    out
}

/// Called by the runtime's signal reader with the signals received (bit
/// n: signal n): offers each to its subscribers; a signal with none left
/// gets its default action and is raised again.
fn deliver(pending: u64) {
    let mut targets: Vec<(Signal, Sender<Signal>)> = Vec::new();
    let mut orphans = Vec::new();
    let dead_subs;
    {
        let mut subs = subs().lock();
        dead_subs = extract(&mut subs, |s| dead(&s.tx));
        for sig in ALL.iter().copied().filter(|s| pending & s.bit() != 0) {
            if sigqueue::disposition(sig.number()) != NOTIFY {
                continue; // ignored or reset since it was received
            }
            let mut any = false;
            for s in subs.iter().filter(|s| s.mask & sig.bit() != 0) {
                targets.push((sig, s.tx.clone()));
                any = true;
            }
            if !any {
                orphans.push(sig);
            }
        }
    }
    drop(dead_subs);
    for (sig, tx) in targets {
        let _ = tx.try_send(sig);
    }
    for sig in orphans {
        let _ = sigqueue::set_disposition(sig.number(), DEFAULT);
        sigqueue::raise(sig.number());
    }
}
