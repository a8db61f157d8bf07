//! `time::timeout` (tokio's `time::timeout`): a future raced against a
//! sleep, for the waits that are not channels (Go writes a `select` with
//! `time.After` beside the work).
//!
//! [`Timeout`] owns the inner future and a [`Sleep`]. Each poll polls the
//! inner future first (a value that is ready wins over an elapsed timer),
//! then the sleep; when the sleep completes first the inner future is
//! dropped in place at once (it is cancelled, not left to the caller's
//! drop) and [`Elapsed`] is returned. The inner future is pinned inside
//! the `Timeout` (structural pinning: it is never moved, only dropped in
//! place).

use super::Sleep;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs `fut` with a time limit: `Ok` with its output if it completes
/// within `d`, `Err(Elapsed)` otherwise, in which case `fut` is dropped
/// (cancelled) when the limit passes (Go: a `select` on the work and
/// `time.After(d)`; tokio: `time::timeout`).
///
/// Blocking: parks the G (or, under [`block_on`](crate::block_on), the
/// thread) until either happens. Fairness: a `fut` that is ready when the
/// limit has also passed wins (it is polled first); a zero `d` still polls
/// `fut` once. A `d` too long to represent never elapses. Cancel safety:
/// dropping the `Timeout` drops `fut` and stops the timer; whatever `fut`
/// did before is kept, so `timeout` is as cancel safe as `fut` is.
///
/// # Examples
///
/// ```
/// use goro::time::{Elapsed, sleep, timeout};
/// use std::time::Duration;
/// goro::run(async {
///     // The work finishes in time.
///     let v = timeout(Duration::from_secs(10), async { 7 }).await;
///     assert_eq!(v, Ok(7));
///     // It does not: the sleep is cancelled and Err comes back.
///     let slow = sleep(Duration::from_secs(3600));
///     let r = timeout(Duration::from_millis(5), slow).await;
///     assert_eq!(r, Err(Elapsed::new()));
///     // A receive with a time limit.
///     let (_tx, rx) = goro::chan::<u32>(0);
///     assert!(timeout(Duration::from_millis(5), rx.recv()).await.is_err());
/// });
/// ```
///
/// Outside a runtime, with [`block_on`](crate::block_on):
///
/// ```
/// use goro::time::timeout;
/// use std::time::Duration;
/// let (_tx, rx) = goro::chan::<u32>(0);
/// let r = goro::block_on(timeout(Duration::from_millis(5), rx.recv()));
/// assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
/// ```
pub fn timeout<F: IntoFuture>(d: Duration, fut: F) -> Timeout<F::IntoFuture> {
    Timeout {
        fut: Some(fut.into_future()),
        sleep: super::sleep(d),
    }
}

/// The future returned by [`timeout`].
///
/// # Examples
///
/// ```
/// use goro::time::{Timeout, timeout};
/// use std::time::Duration;
/// let t: Timeout<_> = timeout(Duration::from_secs(1), async { "done" });
/// assert_eq!(goro::block_on(t), Ok("done"));
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Timeout<F> {
    /// The inner future; `None` once it completed or was cancelled.
    /// Structurally pinned.
    fut: Option<F>,
    /// Not structurally pinned (`Sleep` is `Unpin`).
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is structurally pinned: it is only reached through
        // the `Pin` below and dropped in place (`Pin::set`), never moved;
        // `Timeout` has no `Drop` impl and is `Unpin` only when `F` is.
        // `sleep` is not pinned (it is `Unpin`), so a plain `&mut` is fine.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above; `this.fut` is never moved out of.
        let mut fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let Some(inner) = fut.as_mut().as_pin_mut() else {
            panic!("`Timeout` polled after completion");
        };
        if let Poll::Ready(v) = inner.poll(cx) {
            fut.set(None);
            return Poll::Ready(Ok(v));
        }
        match this.sleep.poll_timer(cx) {
            Poll::Ready(()) => {
                fut.set(None); // cancelled now, not when the caller drops us
                Poll::Ready(Err(Elapsed(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error of a [`timeout`] whose time limit passed first.
///
/// Implements [`std::error::Error`]; converts to an [`std::io::Error`] of
/// kind [`TimedOut`](std::io::ErrorKind::TimedOut).
///
/// # Examples
///
/// ```
/// use goro::time::Elapsed;
/// let e = Elapsed::new();
/// assert_eq!(e.to_string(), "deadline has elapsed");
/// let io: std::io::Error = e.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Elapsed(());

impl Elapsed {
    /// The error value (for comparisons in tests and matches).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::time::{Elapsed, timeout};
    /// use std::time::Duration;
    /// let r = goro::block_on(timeout(Duration::ZERO, std::future::pending::<()>()));
    /// assert_eq!(r, Err(Elapsed::new()));
    /// ```
    pub const fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
