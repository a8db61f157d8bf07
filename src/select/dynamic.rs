//! `goro::Select`: the run-time form of `select` (Go's `reflect.Select`),
//! for a number of cases known only at run time.
//!
//! Each case is a boxed `RecvCase`/`SendCase` behind a small object-safe
//! trait ([`Entry`]); `select`/`try_select` hand them all to the same
//! `selectgo` the macro uses. The result of the winning case stays in its
//! case until [`SelectedOperation::recv`] / [`SelectedOperation::send_result`]
//! take it; those check that the caller names the right channel and kind
//! (same channel object ⇒ same element type) before downcasting.
//!
//! A send case's value is consumed when the case wins; from then on the case
//! behaves as a nil channel (never chosen again). Receive cases can win any
//! number of times, so one `Select` can serve a fan-in loop.
//!
//! # Soundness against leaks
//! `select()` parks the boxed cases' sudogs in their channels, and they
//! must not be freed or reused while linked (`selectgo`'s contract). The
//! `SelectGo` lives in the `select()` future, which borrows the `Select`
//! mutably; `parked` is set before it is polled and cleared by a guard
//! that drops after it (so after it unlinked everything). If that future is
//! leaked (`Box::pin` then `mem::forget`: its borrow ends without a drop),
//! `parked` stays set: `select`, `try_select` and `remove` panic instead of
//! touching the cases, and `Select`'s drop leaks the boxes, so a pointer a
//! channel still holds stays valid. Adding cases moves only the `Slot`s
//! (the boxes stay put). `try_select` pins its `SelectGo` in its own frame
//! and drops it before returning. Leaking the `Select` itself leaks the
//! boxes as well.

use super::selectgo::{Case, RecvCase, SendCase, selectgo};
use crate::chan::{Receiver, SendError, Sender};
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Which operation a case performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Recv,
    Send,
    /// A removed case, a nil channel, or a send case whose value is spent.
    Nil,
}

/// One type-erased case of a [`Select`].
trait Entry<'a>: Send {
    /// The case, as `selectgo` sees it.
    fn case(&mut self) -> &mut (dyn Case + 'a);
    /// Drops the result of a won case nobody took.
    fn discard(&mut self);
}

/// A receive case and its channel.
struct RecvEntry<'a, T> {
    case: RecvCase<'a, T>,
}

/// A send case and its channel.
struct SendEntry<'a, T> {
    case: SendCase<'a, T>,
}

impl<'a, T: Send + 'a> Entry<'a> for RecvEntry<'a, T> {
    fn case(&mut self) -> &mut (dyn Case + 'a) {
        &mut self.case
    }
    fn discard(&mut self) {
        drop(self.case.take());
    }
}

impl<'a, T: Send + 'a> Entry<'a> for SendEntry<'a, T> {
    fn case(&mut self) -> &mut (dyn Case + 'a) {
        &mut self.case
    }
    fn discard(&mut self) {
        drop(self.case.take());
    }
}

/// A case slot: the erased case, its kind and its channel's identity.
struct Slot<'a> {
    entry: Box<dyn Entry<'a> + 'a>,
    kind: Kind,
    /// Identity of the channel (its shared state's address); null for nil.
    chan: *const (),
}

// SAFETY: `chan` is only compared, never dereferenced; the entry is `Send`.
unsafe impl Send for Slot<'_> {}
// SAFETY: a `Slot` is only used through `&mut`; `&Slot` exposes nothing.
unsafe impl Sync for Slot<'_> {}

/// A nil case: never chosen (used for removed and spent cases).
fn nil_entry<'a>() -> Box<dyn Entry<'a> + 'a> {
    Box::new(RecvEntry::<'a, ()> {
        case: RecvCase::new(None),
    })
}

/// The run-time form of `select` (Go's `reflect.Select`): a list of receive
/// and send cases built at run time, one of which [`select`](Select::select)
/// completes.
///
/// Cases are numbered from 0 in the order they are added. Semantics are the
/// [`select!`](crate::select!) macro's: among ready cases one is chosen
/// uniformly at random; [`select`](Select::select) parks until a case is
/// ready (forever if every case is nil), [`try_select`](Select::try_select)
/// never parks; a receive from a closed, drained channel yields `None` and a
/// send on a closed channel yields `Err(SendError(value))`.
///
/// A `Select` can be selected on many times: a receive case stays armed; a
/// send case that won is spent and from then on behaves as a nil channel;
/// [`remove`](Select::remove) turns any case into a nil channel (Go's
/// `cases[i].Chan = reflect.Value{}`), keeping the other indices.
///
/// **Cancel safety**: dropping a pending [`select`](Select::select) future
/// loses nothing; unsent values stay in their cases.
///
/// # Examples
///
/// Fan-in over a run-time number of channels until all are closed:
///
/// ```
/// use goro::Select;
///
/// let chans: Vec<_> = (0..10).map(|_| goro::chan::<usize>(1)).collect();
/// for (i, (tx, _)) in chans.iter().enumerate() {
///     tx.try_send(i).unwrap();
///     tx.close();
/// }
/// let total = goro::block_on(async {
///     let mut sel = Select::new();
///     for (_, rx) in &chans {
///         sel.recv(rx);
///     }
///     let (mut total, mut open) = (0, chans.len());
///     while open > 0 {
///         let op = sel.select().await;
///         let i = op.index();
///         match op.recv(&chans[i].1) {
///             Some(v) => total += v,
///             None => {
///                 sel.remove(i);
///                 open -= 1;
///             }
///         }
///     }
///     total
/// });
/// assert_eq!(total, 45);
/// ```
pub struct Select<'a> {
    slots: Vec<Slot<'a>>,
    /// True while a `select()` future may have sudogs of these cases linked
    /// into channels. Cleared when that future completes or is dropped; it
    /// stays set only if the future was leaked (`mem::forget`), and then the
    /// cases must never be touched or freed again.
    parked: bool,
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.slots.len())
            .finish()
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a> Select<'a> {
    /// An empty select. Selecting with no (non-nil) cases parks forever
    /// (`select {}`); `try_select` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let mut sel = Select::new();
    /// assert!(sel.is_empty());
    /// assert!(sel.try_select().is_none()); // no case: nothing can be ready
    /// ```
    pub fn new() -> Self {
        Select {
            slots: Vec::new(),
            parked: false,
        }
    }

    /// Adds a receive case (`case v, ok := <-rx:`) and returns its index.
    /// `None` adds a nil channel, which is never chosen.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// use goro::chan::Receiver;
    /// let (tx, rx) = goro::chan::<i32>(1);
    /// let nil: Option<&Receiver<i32>> = None;
    /// let mut sel = Select::new();
    /// let i = sel.recv(&rx);
    /// let j = sel.recv(nil); // a nil channel: never chosen
    /// assert_eq!((i, j), (0, 1));
    /// tx.try_send(5).unwrap();
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.index(), i);
    /// assert_eq!(op.recv(&rx), Some(5));
    /// ```
    pub fn recv<T: Send + 'a>(&mut self, rx: impl Into<Option<&'a Receiver<T>>>) -> usize {
        let rx = rx.into();
        let chan = rx.map_or(std::ptr::null(), chan_id_recv);
        self.push(Slot {
            entry: Box::new(RecvEntry {
                case: RecvCase::new(rx),
            }),
            kind: if rx.is_some() { Kind::Recv } else { Kind::Nil },
            chan,
        })
    }

    /// Adds a send case (`case tx <- value:`) and returns its index. `None`
    /// adds a nil channel, which is never chosen (the value is dropped with
    /// the `Select`). If the case is never chosen, `value` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (tx, rx) = goro::chan::<String>(1);
    /// let mut sel = Select::new();
    /// let i = sel.send(&tx, "job".to_string());
    /// let op = goro::block_on(sel.select());
    /// assert_eq!(op.index(), i);
    /// op.send_result(&tx).unwrap();
    /// assert_eq!(rx.try_recv().as_deref(), Ok("job"));
    /// ```
    pub fn send<T: Send + 'a>(&mut self, tx: impl Into<Option<&'a Sender<T>>>, value: T) -> usize {
        let tx = tx.into();
        let chan = tx.map_or(std::ptr::null(), chan_id_send);
        self.push(Slot {
            entry: Box::new(SendEntry {
                case: SendCase::new(tx, value),
            }),
            kind: if tx.is_some() { Kind::Send } else { Kind::Nil },
            chan,
        })
    }

    /// Turns case `index` into a nil channel: it is never chosen again. Its
    /// unsent value, if any, is dropped. Other indices do not change.
    ///
    /// # Panics
    ///
    /// If `index` is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (tx1, rx1) = goro::chan::<i32>(1);
    /// let (tx2, rx2) = goro::chan::<i32>(1);
    /// tx1.try_send(1).unwrap();
    /// tx2.try_send(2).unwrap();
    /// let mut sel = Select::new();
    /// let a = sel.recv(&rx1);
    /// let b = sel.recv(&rx2);
    /// sel.remove(a); // stop watching rx1; b keeps its index
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.index(), b);
    /// assert_eq!(op.recv(&rx2), Some(2));
    /// assert_eq!(rx1.try_recv(), Ok(1)); // untouched
    /// ```
    pub fn remove(&mut self, index: usize) {
        self.check_not_leaked();
        let slot = self
            .slots
            .get_mut(index)
            .unwrap_or_else(|| panic!("goro::Select::remove: no case {index}"));
        slot.entry = nil_entry();
        slot.kind = Kind::Nil;
        slot.chan = std::ptr::null();
    }

    /// The number of cases added (including nil and removed ones).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (tx, rx) = goro::chan::<u8>(1);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// sel.send(&tx, 1);
    /// sel.remove(0);
    /// assert_eq!(sel.len(), 2); // removed cases keep their slot
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if no case was added.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (_tx, rx) = goro::chan::<u8>(0);
    /// let mut sel = Select::new();
    /// assert!(sel.is_empty());
    /// sel.recv(&rx);
    /// assert!(!sel.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn push(&mut self, slot: Slot<'a>) -> usize {
        self.slots.push(slot);
        self.slots.len() - 1
    }

    /// Waits until one case completes and returns it (Go's `reflect.Select`).
    /// Among ready cases one is chosen uniformly at random. Parks forever if
    /// every case is nil.
    ///
    /// Cancel safe: dropping the future before it completes loses nothing.
    ///
    /// # Examples
    ///
    /// Wait for the first of several workers to answer (cases built at run
    /// time):
    ///
    /// ```
    /// use goro::Select;
    /// let first = goro::run(async {
    ///     let chans: Vec<_> = (0..3).map(|_| goro::chan::<usize>(1)).collect();
    ///     for (i, (tx, _)) in chans.iter().enumerate() {
    ///         let tx = tx.clone();
    ///         // (a late answer finds the channel gone: ignore the error)
    ///         goro::go(async move { let _ = tx.send(i * 100).await; });
    ///     }
    ///     let mut sel = Select::new();
    ///     for (_, rx) in &chans {
    ///         sel.recv(rx);
    ///     }
    ///     let op = sel.select().await;
    ///     let i = op.index();
    ///     (i, op.recv(&chans[i].1).unwrap())
    /// });
    /// assert_eq!(first.1, first.0 * 100);
    /// ```
    pub async fn select(&mut self) -> SelectedOperation<'_, 'a> {
        self.check_not_leaked();
        let won = {
            let Select { slots, parked } = &mut *self;
            *parked = true;
            let mut cases = cases_of(slots);
            Parked {
                // SAFETY: `selectgo`'s contract: the cases are boxed in
                // `slots`, which this future borrows mutably, and the
                // `SelectGo` is awaited in place here. If this future is
                // dropped, the `SelectGo` is dropped (unlinking) before
                // the guard clears `parked`; if it is leaked, `parked`
                // stays set, and the `Select` never uses its cases again
                // (`check_not_leaked`) and leaks them when dropped.
                fut: unsafe { selectgo(&mut cases, true) },
                _flag: ClearOnDrop(parked),
            }
            .await
        };
        let index = won.expect("goro: selectgo returned no case while blocking");
        self.won(index)
    }

    /// Completes a ready case if there is one, choosing uniformly at random
    /// among ready cases; never parks (Go's `reflect.Select` with a
    /// `SelectDefault` case). `None` means no case was ready.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (tx, rx) = goro::chan::<i32>(0);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// // Nothing to receive and nobody sending: like a `select` with `default`.
    /// assert!(sel.try_select().is_none());
    /// drop(sel);
    /// tx.close();
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// let op = sel.try_select().unwrap(); // a closed channel is ready
    /// assert_eq!(op.recv(&rx), None);
    /// ```
    pub fn try_select(&mut self) -> Option<SelectedOperation<'_, 'a>> {
        self.check_not_leaked();
        let won = {
            let mut cases = cases_of(&mut self.slots);
            // SAFETY: `selectgo`'s contract: pinned in this frame and
            // dropped at the end of this block, before `cases`; nothing
            // here can leak it.
            let mut fut = pin!(unsafe { selectgo(&mut cases, false) });
            let mut cx = Context::from_waker(Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(won) => won,
                // A non-blocking selectgo completes on its first poll; if it
                // ever did not, dropping it here cancels it safely.
                Poll::Pending => None,
            }
        };
        won.map(|index| self.won(index))
    }

    /// Panics if a parked `select()` future was leaked: its cases may still
    /// be linked into channels, so they can be neither reused nor freed.
    fn check_not_leaked(&self) {
        assert!(
            !self.parked,
            "goro::Select: a parked select() future was leaked (mem::forget); \
             this Select can no longer be used"
        );
    }

    fn won(&mut self, index: usize) -> SelectedOperation<'_, 'a> {
        SelectedOperation {
            sel: self,
            index,
            done: false,
        }
    }
}

impl Drop for Select<'_> {
    fn drop(&mut self) {
        if self.parked {
            // A parked select() future was leaked: its sudogs may still be
            // linked into channels and point into these boxed cases. Leak
            // them too, so those pointers stay valid.
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}

/// The erased cases, in index order, for `selectgo`.
fn cases_of<'s>(slots: &'s mut [Slot<'_>]) -> Vec<&'s mut dyn Case> {
    let mut cases: Vec<&'s mut dyn Case> = Vec::with_capacity(slots.len());
    for slot in slots {
        cases.push(slot.entry.case());
    }
    cases
}

/// Clears `Select::parked` when dropped.
struct ClearOnDrop<'f>(&'f mut bool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        *self.0 = false;
    }
}

/// The `selectgo` future of `Select::select` plus the flag guard. Fields
/// drop in declaration order: the `SelectGo` (which unlinks every sudog)
/// first, then the guard clears `parked`. If this future is leaked, neither
/// runs and `parked` stays set.
struct Parked<'c, 'f> {
    fut: super::selectgo::SelectGo<'c>,
    _flag: ClearOnDrop<'f>,
}

impl Future for Parked<'_, '_> {
    type Output = Option<usize>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        // SAFETY: structural pinning of `fut`: it is never moved out of
        // `Parked`, and `Parked` has no `Drop` impl and is `!Unpin` through it.
        let fut = unsafe { self.map_unchecked_mut(|p| &mut p.fut) };
        fut.poll(cx)
    }
}

/// Identity of a receiver's channel.
fn chan_id_recv<T>(rx: &Receiver<T>) -> *const () {
    (rx.hchan() as *const crate::chan::HChan<T>).cast()
}

/// Identity of a sender's channel.
fn chan_id_send<T>(tx: &Sender<T>) -> *const () {
    (tx.hchan() as *const crate::chan::HChan<T>).cast()
}

/// The case a [`Select`] completed. Take its result with
/// [`recv`](SelectedOperation::recv) (receive cases) or
/// [`send_result`](SelectedOperation::send_result) (send cases); dropping it
/// instead drops the received value or the send's result.
///
/// # Examples
///
/// ```
/// use goro::Select;
/// let (in_tx, in_rx) = goro::chan::<i32>(1);
/// let (out_tx, out_rx) = goro::chan::<i32>(1);
/// in_tx.try_send(10).unwrap();
/// out_tx.try_send(0).unwrap(); // out is full: only the receive is ready
/// let mut sel = Select::new();
/// let r = sel.recv(&in_rx);
/// let _s = sel.send(&out_tx, 20);
/// let op = goro::block_on(sel.select());
/// assert_eq!(op.index(), r); // only the receive could complete
/// assert_eq!(op.recv(&in_rx), Some(10));
/// drop(sel); // the unsent 20 is dropped with its case
/// assert_eq!(out_rx.try_recv(), Ok(0));
/// assert!(out_rx.try_recv().is_err());
/// ```
#[must_use = "a received value is dropped unless taken with `recv`"]
pub struct SelectedOperation<'s, 'a> {
    sel: &'s mut Select<'a>,
    index: usize,
    /// Set once the result was taken.
    done: bool,
}

impl fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl<'a> SelectedOperation<'_, 'a> {
    /// The index of the completed case (from 0, in the order added).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (tx_a, rx_a) = goro::chan::<&str>(1);
    /// let (_tx_b, rx_b) = goro::chan::<&str>(1);
    /// tx_a.try_send("a").unwrap();
    /// let mut sel = Select::new();
    /// let a = sel.recv(&rx_a);
    /// let _b = sel.recv(&rx_b);
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.index(), a); // only case `a` was ready
    /// assert_eq!(op.recv(&rx_a), Some("a"));
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The result of the completed receive case: `Some(v)`, or `None` if the
    /// channel is closed and drained.
    ///
    /// # Panics
    ///
    /// If the completed case is not a receive from `rx`'s channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// let (tx, rx) = goro::chan::<u32>(2);
    /// tx.try_send(1).unwrap();
    /// tx.close();
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// let got: Vec<_> = (0..2).map(|_| sel.try_select().unwrap().recv(&rx)).collect();
    /// assert_eq!(got, vec![Some(1), None]); // the value, then "closed"
    /// ```
    pub fn recv<T: 'a>(mut self, rx: &Receiver<T>) -> Option<T> {
        let slot = &mut self.sel.slots[self.index];
        if slot.kind != Kind::Recv || slot.chan != chan_id_recv(rx) {
            panic!(
                "goro::Select: the selected operation (case {}) is not a receive from this channel",
                self.index
            );
        }
        let entry: *mut (dyn Entry<'a> + 'a) = &mut *slot.entry;
        // SAFETY: the slot is a receive case on the very channel object `rx`
        // refers to (same shared-state address, checked above, and that
        // object is alive: the case borrows it for 'a). A channel object has
        // one element type, so the entry is a `RecvEntry<'a, T>`.
        let entry = unsafe { &mut *entry.cast::<RecvEntry<'a, T>>() };
        let v = entry.case.take();
        self.done = true;
        v
    }

    /// The result of the completed send case: `Ok(())` if the value was
    /// delivered, `Err(SendError(value))` if the channel was closed.
    ///
    /// # Panics
    ///
    /// If the completed case is not a send on `tx`'s channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::Select;
    /// use goro::chan::SendError;
    /// let (tx, rx) = goro::chan::<i32>(1);
    /// tx.close();
    /// let mut sel = Select::new();
    /// sel.send(&tx, 7);
    /// let op = sel.try_select().unwrap(); // a send on a closed channel is ready
    /// assert_eq!(op.send_result(&tx), Err(SendError(7)));
    /// drop(rx);
    /// ```
    pub fn send_result<T: 'a>(mut self, tx: &Sender<T>) -> Result<(), SendError<T>> {
        let slot = &mut self.sel.slots[self.index];
        if slot.kind != Kind::Send || slot.chan != chan_id_send(tx) {
            panic!(
                "goro::Select: the selected operation (case {}) is not a send on this channel",
                self.index
            );
        }
        let entry: *mut (dyn Entry<'a> + 'a) = &mut *slot.entry;
        // SAFETY: as in `recv`: same channel object ⇒ a `SendEntry<'a, T>`.
        let entry = unsafe { &mut *entry.cast::<SendEntry<'a, T>>() };
        let r = entry.case.take();
        self.done = true;
        r
    }
}

impl Drop for SelectedOperation<'_, '_> {
    fn drop(&mut self) {
        let slot = &mut self.sel.slots[self.index];
        if !self.done {
            slot.entry.discard();
        }
        if slot.kind == Kind::Send {
            // The value is spent: the case is a nil channel from now on.
            slot.entry = nil_entry();
            slot.kind = Kind::Nil;
            slot.chan = std::ptr::null();
        }
    }
}
