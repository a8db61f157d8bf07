//! Go's channels: `goro::chan::<T>(cap)` is `make(chan T, cap)`.
//!
//! This module owns the public handles ([`Sender`], [`Receiver`]), their
//! futures, and the error types. The algorithm lives in `hchan.rs` (Go's
//! `chansend`, `chanrecv`, `closechan` from `src/runtime/chan.go`) and the
//! wait queues in `waitq.rs` (Go's `sudog`/`waitq`).
//!
//! Both handles are `Clone + Send + Sync`: any number of senders and
//! receivers (MPMC). A blocked operation parks the calling goroutine (or,
//! for the `*_blocking` variants, the calling thread), never spinning.
//!
//! # Fairness
//! Parked senders and receivers are served first-in first-out, as in Go.
//!
//! # Cancel safety
//! Dropping a pending [`SendFuture`] or [`RecvFuture`] never loses or
//! duplicates a value. A parked send that no receiver took yet is unlinked
//! and its value dropped with the future (nothing was sent). But a receiver
//! may take a parked send's value after the send's last poll: then the
//! value was delivered, although the dropped future never resolved; its
//! dropper cannot tell which happened (only `Ok` from an awaited send says
//! "sent"). A value already handed to a dropped receive goes back into the
//! channel (to another parked receiver, or the head of the buffer) and is
//! received by someone else. One edge has no Go counterpart (Go cannot
//! cancel a receive): if the channel is closed between the hand-off and the
//! drop, the close has already woken the other parked receivers with
//! `None`, and the value waits in the channel for a later receive (which
//! gets it before `None`). A program that cancels receives on a channel
//! that is being closed, and needs every value, drains it with `try_recv`
//! after its receive loop ends.
//!
//! # Soundness of the parked futures
//! A parked [`SendFuture`]/[`RecvFuture`] links a sudog that lives inside
//! the future itself into the channel's wait queue; the channel writes
//! through that pointer until the future's drop unlinks it. The sudog is
//! linked only from `poll`, which takes `Pin<&mut Self>`, and Pin's drop
//! guarantee covers it: from the moment a value is pinned, its memory is
//! neither freed nor reused until its `drop` has run. Safe code can pin only
//! in ways that keep this: `Box::pin` (a `mem::forget` of the box leaks the
//! memory, so the pointer stays valid for good), `pin!` (the future lives in
//! the current frame: forgetting the `Pin<&mut F>` forgets a reference, not
//! the future, which is dropped at the end of its scope or while unwinding
//! before the frame is reused), or pinning inside an enclosing future that
//! is itself pinned (the same argument, one level up). `Pin::new_unchecked`
//! is `unsafe` and hands this guarantee to its caller. A leaked parked
//! operation stays linked: a peer may still complete it (the value leaks
//! with it) and wake its waker; the channel may even be freed meanwhile,
//! which is harmless because a channel's drop never walks its queues and a
//! sudog holds no pointer to its channel. The `Stream` impl's sudog is
//! boxed and owned by the `Receiver`, whose drop unlinks it (a forgotten
//! `Receiver` leaks the box). `select!` and `Select` keep their sudogs in
//! their cases, which they do not pin: `goro::select` explains their rule.
//!
//! ```
//! let (tx, rx) = goro::chan::<i32>(1);
//! tx.send_blocking(1).unwrap();
//! assert_eq!(rx.recv_blocking(), Some(1));
//! drop(tx);
//! assert_eq!(rx.recv_blocking(), None);
//! ```

mod hchan;
pub(crate) mod waitq;

pub(crate) use hchan::{HChan, RecvOp, RecvTry, SendOp, SendTry};

use crate::loom::Arc;
use crate::loom::atomic::Ordering;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Makes a channel of `T` with a buffer of `cap` values: Go's
/// `make(chan T, cap)`. `cap == 0` is unbuffered: a send completes only when
/// a receiver takes the value (rendezvous).
///
/// # Panics
///
/// With Go's `makechan: size out of range` if a buffer of `cap` values
/// cannot be allocated (its size overflows, exceeds Go's limit of 2^48
/// bytes, or the allocation fails): never a hang or an abort. A zero-sized
/// `T` allocates no buffer, whatever `cap` is.
///
/// ```
/// let (tx, rx) = goro::chan::<&str>(0);
/// let t = std::thread::spawn(move || tx.send_blocking("hi").unwrap());
/// assert_eq!(rx.recv_blocking(), Some("hi"));
/// t.join().unwrap();
/// ```
///
/// ```should_panic
/// // 2^64 - 1 bytes cannot be allocated: panics, as Go's make does.
/// let _ = goro::chan::<u8>(usize::MAX);
/// ```
#[track_caller]
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(HChan::new(cap));
    (
        Sender { chan: c.clone() },
        Receiver {
            chan: c,
            stream: None,
        },
    )
}

/// The sending half of a channel (`chan<- T`). Cloning adds a sender; when
/// the last sender is dropped the channel is closed.
///
/// # Examples
///
/// Several producers share one channel; it closes when the last sender is
/// dropped, which ends the consumer's loop:
///
/// ```
/// let n = goro::run(async {
///     let (tx, rx) = goro::chan::<u32>(0);
///     for id in 0..3 {
///         let tx = tx.clone();
///         goro::go(async move { tx.send(id).await.unwrap() });
///     }
///     drop(tx); // only the Gs' clones remain
///     let mut n = 0;
///     while let Some(_id) = rx.recv().await {
///         n += 1;
///     }
///     n
/// });
/// assert_eq!(n, 3);
/// ```
pub struct Sender<T> {
    chan: Arc<HChan<T>>,
}

/// The receiving half of a channel (`<-chan T`). Cloning adds a receiver;
/// when the last receiver is dropped every send fails with its value.
///
/// # Examples
///
/// A pool of workers sharing one job channel (each job is received once):
///
/// ```
/// use goro::sync::WaitGroup;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let sum = goro::run(async {
///     let (jobs, rx) = goro::chan::<u64>(8);
///     let sum = Arc::new(AtomicU64::new(0));
///     let wg = WaitGroup::new();
///     for _ in 0..3 {
///         let (rx, sum) = (rx.clone(), sum.clone());
///         wg.go(async move {
///             while let Some(j) = rx.recv().await {
///                 sum.fetch_add(j, Ordering::Relaxed);
///             }
///         });
///     }
///     for j in 1..=10 {
///         jobs.send(j).await.unwrap();
///     }
///     jobs.close();
///     wg.wait().await;
///     sum.load(Ordering::Relaxed)
/// });
/// assert_eq!(sum, 55);
/// ```
pub struct Receiver<T> {
    chan: Arc<HChan<T>>,
    /// The parked receive of the `Stream` impl (boxed once, on first use).
    stream: Option<Pin<Box<RecvState<T>>>>,
}

// ---- errors ---------------------------------------------------------------

/// A send that failed because the channel is closed or has no receivers
/// left; carries the value back. Go panics on a closed channel; goro
/// returns it.
///
/// The two causes are told apart by [`Sender::is_closed`], which is true
/// only once the channel was closed (`close`, or the last `Sender`
/// dropped): a failed send on a channel that is not closed failed because
/// every [`Receiver`] was dropped. The error's `Display` names both
/// causes, never claiming a close that did not happen (the value is all it
/// carries: the type is `SendError<T>(pub T)`).
///
/// # Examples
///
/// ```
/// let (tx, rx) = goro::chan::<String>(1);
/// drop(rx); // no receiver left: sends fail
/// let err = tx.send_blocking("lost".to_string()).unwrap_err();
/// assert_eq!(err.0, "lost"); // the value comes back
/// assert!(!tx.is_closed()); // not closed: every receiver is gone
/// assert_eq!(err.to_string(), "send on channel that is closed or has no receivers");
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] failed; carries the value back.
///
/// # Examples
///
/// ```
/// use goro::chan::TrySendError;
/// let (tx, rx) = goro::chan::<i32>(1);
/// assert_eq!(tx.try_send(1), Ok(()));
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The send would block: the buffer is full / no receiver is waiting.
    Full(T),
    /// The channel is closed, or has no receivers left
    /// ([`Sender::is_closed`] tells which).
    Closed(T),
}

/// Why [`Receiver::try_recv`] failed.
///
/// # Examples
///
/// ```
/// use goro::chan::TryRecvError;
/// let (tx, rx) = goro::chan::<i32>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// tx.try_send(4).unwrap();
/// tx.close();
/// assert_eq!(rx.try_recv(), Ok(4)); // the buffer drains first
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// The receive would block: nothing buffered and no sender waiting.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<Vec<u8>>(0);
    /// tx.close();
    /// let err = goro::block_on(tx.send(vec![1, 2])).unwrap_err();
    /// assert_eq!(err.into_inner(), vec![1, 2]);
    /// drop(rx);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<String>(0);
    /// // Unbuffered and nobody is receiving: the value comes back.
    /// let err = tx.try_send("hello".to_string()).unwrap_err();
    /// assert_eq!(err.into_inner(), "hello");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
    /// Whether the send failed because the channel was full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<i32>(1);
    /// tx.try_send(1).unwrap();
    /// let err = tx.try_send(2).unwrap_err();
    /// assert!(err.is_full());
    /// assert!(!err.is_closed());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
    /// Whether the send failed because the channel was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<i32>(1);
    /// tx.close();
    /// let err = tx.try_send(1).unwrap_err();
    /// assert!(err.is_closed());
    /// assert!(!err.is_full());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}
/// The message of a send that failed on a closed channel or one without
/// receivers (the error cannot say which; `Sender::is_closed` can).
const SEND_FAILED: &str = "send on channel that is closed or has no receivers";

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SEND_FAILED)
    }
}
impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}
impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("send on full channel"),
            TrySendError::Closed(_) => f.write_str(SEND_FAILED),
        }
    }
}
impl<T> std::error::Error for TrySendError<T> {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receive on empty channel"),
            TryRecvError::Closed => f.write_str("receive on closed channel"),
        }
    }
}
impl std::error::Error for TryRecvError {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}

// ---- Sender -------------------------------------------------------------

impl<T> Sender<T> {
    /// Sends `v` (Go's `ch <- v`), parking the calling goroutine until a
    /// receiver takes it (unbuffered) or it is buffered. On a closed channel,
    /// or once every receiver is gone, resolves to `Err(SendError(v))`
    /// (Go panics instead).
    ///
    /// Fairness: parked senders complete in FIFO order.
    /// Cancel safety: the value is sent at most once and never lost
    /// silently. Dropped before its first poll, the future sends nothing.
    /// Dropped while parked, it sent nothing unless a receiver took the
    /// value since its last poll (then it was delivered); its dropper
    /// cannot tell which. Once it resolved `Ok`, the value was sent.
    ///
    /// ```
    /// let (tx, rx) = goro::chan(1);
    /// goro::block_on(async { tx.send(5).await.unwrap() });
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    #[inline]
    pub fn send(&self, v: T) -> SendFuture<'_, T> {
        SendFuture {
            chan: &self.chan,
            value: Some(v),
            op: SendOp::new(),
        }
    }

    /// Sends without blocking (Go's `select { case ch <- v: default: }`):
    /// `Full(v)` if it would block, `Closed(v)` if the channel is closed or
    /// has no receivers. Never parks; a full channel is detected without
    /// taking the lock.
    ///
    /// ```
    /// use goro::chan::TrySendError;
    /// let (tx, _rx) = goro::chan(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    #[inline]
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.chan.try_send(v) {
            SendTry::Sent(_) => Ok(()),
            SendTry::Full(v) => Err(TrySendError::Full(v)),
            SendTry::Closed(v) => Err(TrySendError::Closed(v)),
        }
    }

    /// [`send`](Sender::send) for ordinary threads: blocks the thread (inside
    /// a goroutine, the P is handed off while it blocks). Works with no
    /// runtime at all.
    ///
    /// ```
    /// let (tx, rx) = goro::chan(1);
    /// tx.send_blocking(3).unwrap();
    /// assert_eq!(rx.recv_blocking(), Some(3));
    /// ```
    pub fn send_blocking(&self, v: T) -> Result<(), SendError<T>> {
        match self.try_send(v) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(v)) => Err(SendError(v)),
            Err(TrySendError::Full(v)) => crate::runtime::block_on(self.send(v)),
        }
    }

    /// Closes the channel (Go's `close(ch)`): parked and later receivers
    /// drain the buffer and then get `None`; parked and later senders get
    /// `Err`. Panics with `close of closed channel` if already closed (the
    /// panic names the caller's line).
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<i32>(0);
    /// tx.close();
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    #[track_caller]
    pub fn close(&self) {
        self.chan.close(false);
    }

    /// Number of values buffered (Go's `len(ch)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<i32>(4);
    /// assert_eq!(tx.len(), 0);
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert_eq!(tx.len(), 2); // len(ch)
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }
    /// Whether no value is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<i32>(2);
    /// assert!(tx.is_empty());
    /// tx.try_send(1).unwrap();
    /// assert!(!tx.is_empty());
    /// rx.try_recv().unwrap();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The buffer size (Go's `cap(ch)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<i32>(8);
    /// assert_eq!(tx.cap(), 8); // cap(ch)
    /// let (unbuffered, _rx2) = goro::chan::<i32>(0);
    /// assert_eq!(unbuffered.cap(), 0);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }
    /// Whether the channel has been closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<i32>(0);
    /// let tx2 = tx.clone();
    /// assert!(!tx2.is_closed());
    /// tx.close(); // closing through one handle closes the channel for all
    /// assert!(tx2.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }
    /// Whether both handles refer to the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _ra) = goro::chan::<i32>(0);
    /// let (b, _rb) = goro::chan::<i32>(0);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    pub(crate) fn hchan(&self) -> &HChan<T> {
        &self.chan
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender must see every other sender's sends.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close(true);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("cap", &self.cap())
            .field("closed", &self.is_closed())
            .finish()
    }
}

// ---- Receiver -----------------------------------------------------------

impl<T> Receiver<T> {
    /// Receives a value (Go's `v, ok := <-ch`), parking the calling goroutine
    /// until one is available. `None` once the channel is closed and drained.
    ///
    /// Fairness: parked receivers are served in FIFO order.
    /// Cancel safety: dropping the future never loses a value; a value that
    /// was already handed to it goes back into the channel.
    ///
    /// ```
    /// let (tx, rx) = goro::chan(1);
    /// tx.try_send(7).unwrap();
    /// assert_eq!(goro::block_on(rx.recv()), Some(7));
    /// ```
    #[inline]
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            chan: &self.chan,
            op: RecvOp::new(),
        }
    }

    /// Receives without blocking (Go's `select { case v := <-ch: default: }`):
    /// `Empty` if it would block, `Closed` if closed and drained. Never
    /// parks; an empty channel is detected without taking the lock.
    ///
    /// ```
    /// use goro::chan::TryRecvError;
    /// let (tx, rx) = goro::chan::<u8>(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.chan.try_recv() {
            RecvTry::Got(v, _) => Ok(v),
            RecvTry::Empty => Err(TryRecvError::Empty),
            RecvTry::Closed => Err(TryRecvError::Closed),
        }
    }

    /// [`recv`](Receiver::recv) for ordinary threads: blocks the thread
    /// (inside a goroutine, the P is handed off). Works with no runtime.
    ///
    /// ```
    /// let (tx, rx) = goro::chan(0);
    /// std::thread::spawn(move || tx.send_blocking(1).unwrap());
    /// assert_eq!(rx.recv_blocking(), Some(1));
    /// ```
    pub fn recv_blocking(&self) -> Option<T> {
        match self.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Closed) => None,
            Err(TryRecvError::Empty) => crate::runtime::block_on(self.recv()),
        }
    }

    /// A blocking iterator over received values (Go's `for v := range ch`);
    /// ends when the channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = goro::chan(3);
    /// for i in 0..3 { tx.try_send(i).unwrap(); }
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Number of values buffered (Go's `len(ch)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<i32>(4);
    /// for i in 0..3 {
    ///     tx.try_send(i).unwrap();
    /// }
    /// assert_eq!(rx.len(), 3);
    /// rx.try_recv().unwrap();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }
    /// Whether no value is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<i32>(1);
    /// assert!(rx.is_empty());
    /// tx.try_send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The buffer size (Go's `cap(ch)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = goro::chan::<u8>(16);
    /// assert_eq!(rx.cap(), 16);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }
    /// Whether the channel has been closed (values may still be buffered).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<i32>(1);
    /// tx.try_send(1).unwrap();
    /// drop(tx); // the last sender closes the channel
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.try_recv(), Ok(1)); // buffered values are still received
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }
    /// Whether both handles refer to the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_ta, a) = goro::chan::<i32>(0);
    /// let (_tb, b) = goro::chan::<i32>(0);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    pub(crate) fn hchan(&self) -> &HChan<T> {
        &self.chan
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
            stream: None,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(s) = self.stream.as_mut() {
            // SAFETY: the op is pinned in its box and never moved out.
            let s = unsafe { s.as_mut().get_unchecked_mut() };
            self.chan.cancel_recv(&mut s.op);
        }
        // AcqRel: the last receiver must see every other receiver's work.
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.receivers_gone();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("cap", &self.cap())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The pinned receive state behind the `Stream` impl.
struct RecvState<T> {
    op: RecvOp<T>,
}

/// `Receiver<T>` as a `Stream` (Go's `for v := range ch`): yields each
/// received value, ends when the channel is closed and drained.
///
/// # Cancel safety: what a dropped `next()` leaves behind
///
/// A `Stream` is told nothing when the future polling it (`next()`,
/// `try_next()`, a combinator) is dropped, so a pending `poll_next` cannot
/// be withdrawn the way a dropped [`RecvFuture`] withdraws its receive.
/// Precisely, once `poll_next` returned `Pending` and nobody polls again:
///
/// * the receive stays parked in the channel, owned by this `Receiver`: it
///   takes its turn among parked receivers, and a sender may complete into
///   it (an unbuffered send then returns `Ok` although no task is
///   receiving yet);
/// * a value that reached it is kept, in order, and is what the next
///   `poll_next` returns: nothing is lost or duplicated;
/// * dropping the `Receiver` cancels the parked receive; a value already
///   handed to it goes back into the channel, to another receiver;
/// * the waker of the last `poll_next` is woken when the receive
///   completes, even if its task has moved on.
///
/// So `rx.next()` inside a loop that drops it (a racing timeout, say) loses
/// nothing, but for Go's exact rendezvous (no send completes before a
/// receive is really waiting) use [`Receiver::recv`], which is cancel safe
/// in the stronger sense.
///
/// ```
/// use futures_core::Stream;
/// use std::pin::Pin;
/// use std::task::{Context, Poll, Waker};
/// let (tx, mut rx) = goro::chan::<i32>(0);
/// let cx = &mut Context::from_waker(Waker::noop());
/// // A `next()` polled once, then dropped: the receive stays parked...
/// assert!(Pin::new(&mut rx).poll_next(cx).is_pending());
/// // ...so an unbuffered send completes into it,
/// assert_eq!(tx.try_send(1), Ok(()));
/// // and the next poll returns the value.
/// assert_eq!(Pin::new(&mut rx).poll_next(cx), Poll::Ready(Some(1)));
/// ```
impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    /// Receives the next value; `None` once closed and drained. See the
    /// impl's docs for what a pending poll leaves parked.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let st = this
            .stream
            .get_or_insert_with(|| Box::pin(RecvState { op: RecvOp::new() }));
        // SAFETY: the op stays in its box; we never move it out.
        let st = unsafe { st.as_mut().get_unchecked_mut() };
        this.chan.poll_recv(&mut st.op, cx.waker())
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Blocking iterator returned by [`Receiver::iter`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = goro::chan::<i32>(0);
/// let producer = std::thread::spawn(move || {
///     for i in 1..=3 {
///         tx.send_blocking(i).unwrap();
///     }
///     // tx dropped here: closes the channel and ends the loop below
/// });
/// let mut got = Vec::new();
/// for v in &rx {
///     // for v := range ch
///     got.push(v);
/// }
/// producer.join().unwrap();
/// assert_eq!(got, vec![1, 2, 3]);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv_blocking()
    }
}

// ---- futures --------------------------------------------------------------

/// The future of [`Sender::send`]. Resolves to `Ok(())` once the value is
/// received or buffered, `Err(SendError(v))` if the channel is closed or
/// has no receivers left. Nothing happens until it is polled; dropped
/// before its first poll it sends nothing, dropped while parked it may
/// already have delivered its value (see the [module docs](self)).
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let (tx, _rx) = goro::chan::<i32>(1);
/// tx.send(1); // error: the value is not sent until the future is awaited
/// ```
///
/// # Examples
///
/// ```
/// let (tx, rx) = goro::chan::<i32>(0);
/// // A send future does nothing until awaited; dropping it sends nothing.
/// drop(tx.send(1));
/// assert!(rx.try_recv().is_err());
/// let t = std::thread::spawn(move || goro::block_on(tx.send(2)));
/// assert_eq!(rx.recv_blocking(), Some(2));
/// assert!(t.join().unwrap().is_ok());
/// ```
#[must_use = "the value is not sent until the future is `.await`ed (dropping it drops the value)"]
pub struct SendFuture<'a, T> {
    chan: &'a HChan<T>,
    value: Option<T>,
    op: SendOp<T>,
}

/// The future of [`Receiver::recv`]. Resolves to `Some(v)`, or `None` once
/// the channel is closed and drained. Nothing happens until it is polled;
/// dropping it never loses a value.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let (_tx, rx) = goro::chan::<i32>(1);
/// rx.recv(); // error: nothing is received until the future is awaited
/// ```
///
/// # Examples
///
/// ```
/// goro::run(async {
///     let (tx, rx) = goro::chan::<&str>(1);
///     let recv = rx.recv(); // not started yet
///     tx.send("hi").await.unwrap();
///     assert_eq!(recv.await, Some("hi"));
/// });
/// ```
#[must_use = "nothing is received until the future is `.await`ed"]
pub struct RecvFuture<'a, T> {
    chan: &'a HChan<T>,
    op: RecvOp<T>,
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the pinned future; the sudog
        // inside `op` stays where it is.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.op.parked {
            std::task::ready!(crate::runtime::coop_proceed(cx));
        }
        this.chan
            .poll_send(&mut this.op, &mut this.value, cx.waker())
            .map_err(SendError)
    }
}

impl<T> Drop for SendFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Only a parked operation has anything to undo (the common,
        // completed case costs no call).
        if self.op.parked {
            self.chan.cancel_send(&mut self.op);
        }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.op.parked {
            std::task::ready!(crate::runtime::coop_proceed(cx));
        }
        this.chan.poll_recv(&mut this.op, cx.waker())
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Only a parked operation has anything to undo (the common,
        // completed case costs no call).
        if self.op.parked {
            self.chan.cancel_recv(&mut self.op);
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("parked", &self.op.parked)
            .finish()
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("parked", &self.op.parked)
            .finish()
    }
}
