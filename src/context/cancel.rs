//! The cancel tree: Go's `cancelCtx` and `timerCtx` (src/context/context.go:
//! `cancelCtx.cancel`, `propagateCancel`, `removeChild`).
//!
//! Every cancellable context is one [`CancelCtx`] (one allocation). It is
//! registered in the child set of its nearest cancellable ancestor (its
//! "parent node"), a [`Slab`], and remembers its index there, so leaving
//! the set is O(1). The parent holds its children *weakly*: a slab entry is
//! a plain pointer, and a child unlinks itself when its last handle goes
//! (its `Drop`), so a forgotten child leaks nothing. The set also holds
//! `after_func` registrations (strongly: they must run).
//!
//! `err` is an atomic, read without the lock; the cause, the child set, the
//! lazily made done channel and the deadline timer (deadline.rs) live under
//! the node's lock.
//!
//! # Invariants
//!
//! - `err` goes from 0 to an error code once, under the node's own lock;
//!   the cause is stored in the same critical section.
//! - A node whose `err` is set has an empty child set, and no child is
//!   ever added to it afterwards (registration checks `err` under the
//!   parent node's lock and cancels the new child instead).
//! - `slot` is `DETACHED` or the index of this node in its parent node's
//!   child set. It is changed only under the parent node's lock (or before
//!   the node is shared). The parent writes `DETACHED` as its *last* access
//!   to a child, so a child that reads `DETACHED` may be freed.
//! - A pointer in a child set is valid while the set's lock is held: the
//!   child's `Drop` takes that lock to unlink itself (unless it already
//!   reads `DETACHED`), so it cannot finish while the parent looks at it.
//!
//! # Deadlock safety
//!
//! Lock order is parent before child (a child is always younger): cancel
//! holds a node's lock while it cancels each child, which takes the child's
//! lock, recursively down the tree (as Go does). The only other lock a node
//! takes is its parent node's, to unlink (`detach`, in `cancel` and in
//! `Drop`), and it does so never holding its own lock. Nothing that could
//! run user code or drop a context (closing done channels, starting
//! after-funcs, stopping timers whose closures own contexts, dropping
//! causes) happens under a context lock: it is collected in a [`Deferred`]
//! and done after every lock is released. Since the tree has no cycles and
//! every nested acquisition goes downwards, no cycle of waits can form.
//! The other locks of this module are leaves, never held while taking a
//! context lock or while cancelling: an after-func's one-shot slot
//! (afterfunc.rs) and a deadline timer's slot (deadline.rs).

use super::deadline::DeadlineTimer;
use super::{Cause, Context, ContextError};
use crate::chan::{Receiver, Sender};
use crate::loom::atomic::{AtomicU8, AtomicUsize, Ordering};
use crate::loom::{Arc, Mutex};
use crate::sync::slab::Slab;
use std::ptr::NonNull;
use std::time::Instant;

/// `slot` value of a node that is in no child set.
const DETACHED: usize = usize::MAX;

/// `err` codes.
const ERR_NONE: u8 = 0;
const ERR_CANCELED: u8 = 1;
const ERR_DEADLINE: u8 = 2;

fn err_code(e: ContextError) -> u8 {
    match e {
        ContextError::Canceled => ERR_CANCELED,
        ContextError::DeadlineExceeded => ERR_DEADLINE,
    }
}

fn err_from_code(c: u8) -> Option<ContextError> {
    match c {
        ERR_CANCELED => Some(ContextError::Canceled),
        ERR_DEADLINE => Some(ContextError::DeadlineExceeded),
        _ => None,
    }
}

/// How a node was made (for `Display`, like Go's `contextName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `with_cancel` / `with_cancel_cause`
    Cancel,
    /// `with_deadline` / `with_timeout`
    Deadline,
}

/// One entry of a child set.
pub(crate) enum Child {
    /// A cancellable child context, held weakly (see the invariants).
    Ctx(ChildPtr),
    /// An `after_func` registration, held strongly.
    Func(Arc<super::afterfunc::Entry>),
}

/// A weak pointer to a child node; valid under its parent's lock.
pub(crate) struct ChildPtr(NonNull<CancelCtx>);

// SAFETY: the pointee is a `CancelCtx`, which is Send + Sync; the pointer is
// only dereferenced under the parent's lock, where the invariants keep the
// pointee alive.
unsafe impl Send for ChildPtr {}

/// Everything under a node's lock.
pub(crate) struct Inner {
    /// Children and after-funcs registered here (Go: `children`).
    pub(crate) children: Slab<Child>,
    /// The cause given to the winning cancel; `None` means "the error itself".
    cause: Option<Cause>,
    /// The rarely used parts, boxed on first use so that a plain
    /// `with_cancel` node stays small (one small allocation).
    extra: Option<Box<Extra>>,
}

/// The parts of a node most contexts never use.
#[derive(Default)]
struct Extra {
    /// The deadline timer (Go: `timerCtx.timer`), stopped by the cancel.
    timer: Option<DeadlineTimer>,
    /// The done channel, made on first `done()` (Go: `done atomic.Value`,
    /// made lazily too). The cancel takes the sender and closes it.
    done_tx: Option<Sender<()>>,
    done_rx: Option<Receiver<()>>,
}

/// A cancellable context node (Go's `cancelCtx`, and `timerCtx` when it has
/// a deadline of its own).
pub(crate) struct CancelCtx {
    /// The context this one was made from: values, `Display`, and the
    /// parent node (its nearest cancellable ancestor). Immutable.
    pub(crate) parent: Context,
    /// Immutable.
    pub(crate) kind: Kind,
    /// The effective deadline (own or inherited). Immutable.
    pub(crate) deadline: Option<Instant>,
    /// Error code; written once under `inner`'s lock (Release), read
    /// anywhere without the lock (Acquire, pairing with that store).
    err: AtomicU8,
    /// Index in the parent node's child set or `DETACHED`; written under
    /// the parent node's lock (see the invariants).
    slot: AtomicUsize,
    pub(crate) inner: Mutex<Inner>,
}

/// Work collected under the locks and done after they are released.
#[derive(Default)]
pub(crate) struct Deferred {
    close: Vec<Sender<()>>,
    funcs: Vec<Arc<super::afterfunc::Entry>>,
    timers: Vec<DeadlineTimer>,
    causes: Vec<Cause>,
}

impl Deferred {
    /// Closes the done channels, stops timers, starts after-funcs.
    pub(crate) fn run(self) {
        if self.close.is_empty()
            && self.funcs.is_empty()
            && self.timers.is_empty()
            && self.causes.is_empty()
        {
            return;
        }
        for tx in self.close {
            tx.close();
        }
        for t in self.timers {
            t.stop();
        }
        for f in self.funcs {
            f.fire();
        }
        drop(self.causes);
    }
}

impl CancelCtx {
    /// A new node under `parent`, registered in the parent node's child set
    /// (Go's `withCancel` + `propagateCancel`). If the parent is already
    /// done the new node is cancelled at once with the parent's error/cause.
    pub(crate) fn new(parent: &Context, kind: Kind, deadline: Option<Instant>) -> Arc<CancelCtx> {
        let node = Arc::new(CancelCtx {
            parent: parent.clone(),
            kind,
            deadline,
            err: AtomicU8::new(ERR_NONE),
            slot: AtomicUsize::new(DETACHED),
            inner: Mutex::new(Inner {
                children: Slab::new(),
                cause: None,
                extra: None,
            }),
        });
        if let Some(p) = parent.cancel_node() {
            let ptr = ChildPtr(NonNull::from(&*node));
            if let Err((err, cause)) = p.register(Child::Ctx(ptr), |idx| {
                // Under the parent's lock, before `node` is shared.
                node.slot.store(idx, Ordering::Relaxed);
            }) {
                node.cancel(false, err, cause);
            }
        }
        node
    }

    /// Adds `child` to this node's set unless this node is done, in which
    /// case its error and cause are returned. `on_insert` gets the index,
    /// under the lock.
    pub(crate) fn register(
        &self,
        child: Child,
        on_insert: impl FnOnce(usize),
    ) -> Result<(), (ContextError, Option<Cause>)> {
        let mut inner = self.inner.lock();
        if let Some(e) = self.err() {
            return Err((e, inner.cause.clone()));
        }
        let idx = inner.children.insert(child);
        on_insert(idx);
        Ok(())
    }

    /// The error, read without the lock (Go's `Err`).
    #[inline]
    pub(crate) fn err(&self) -> Option<ContextError> {
        // Acquire: pairs with the Release store in `cancel_locked`.
        err_from_code(self.err.load(Ordering::Acquire))
    }

    /// The cause (Go's `Cause`): `None` if not done.
    pub(crate) fn cause(&self) -> Option<Cause> {
        let err = self.err()?;
        let inner = self.inner.lock();
        Some(match &inner.cause {
            Some(c) => c.clone(),
            None => std::sync::Arc::new(err) as Cause,
        })
    }

    /// The done channel (Go's `Done`), made on first use; closed at once
    /// if this node is already done.
    pub(crate) fn done(&self) -> Receiver<()> {
        let mut inner = self.inner.lock();
        let extra = inner.extra.get_or_insert_with(Box::default);
        if let Some(rx) = &extra.done_rx {
            return rx.clone();
        }
        let (tx, rx) = crate::chan::chan(0);
        extra.done_rx = Some(rx.clone());
        if self.err().is_some() {
            drop(inner);
            tx.close();
        } else {
            extra.done_tx = Some(tx);
        }
        rx
    }

    /// Stores the deadline timer, or hands it back if already done.
    pub(crate) fn set_timer(&self, t: DeadlineTimer) -> Option<DeadlineTimer> {
        let mut inner = self.inner.lock();
        if self.err().is_some() {
            return Some(t);
        }
        inner.extra.get_or_insert_with(Box::default).timer = Some(t);
        None
    }

    /// Cancels this node and every descendant (Go's `cancelCtx.cancel`).
    /// The first cancel wins; later ones change nothing. With
    /// `remove_from_parent` the node also leaves its parent's child set.
    pub(crate) fn cancel(&self, remove_from_parent: bool, err: ContextError, cause: Option<Cause>) {
        let mut deferred = Deferred::default();
        let first = self.cancel_locked(err, cause, &mut deferred);
        if first && remove_from_parent {
            self.detach();
        }
        deferred.run();
    }

    /// Takes this node's lock, marks it done and cancels its children under
    /// it (parent before child). False if it was already done.
    fn cancel_locked(&self, err: ContextError, cause: Option<Cause>, d: &mut Deferred) -> bool {
        let mut inner = self.inner.lock();
        if self.err.load(Ordering::Relaxed) != ERR_NONE {
            drop(inner);
            d.causes.extend(cause);
            return false;
        }
        inner.cause = cause.clone();
        if let Some(extra) = inner.extra.as_mut() {
            d.timers.extend(extra.timer.take());
            d.close.extend(extra.done_tx.take());
        }
        // Release: pairs with the Acquire loads in `err`.
        self.err.store(err_code(err), Ordering::Release);
        for child in inner.children.drain() {
            match child {
                Child::Ctx(ChildPtr(p)) => {
                    // SAFETY: a child in our set is alive while we hold our
                    // lock (its Drop unlinks under this lock unless it reads
                    // DETACHED, which we store only below, as our last use).
                    let c = unsafe { p.as_ref() };
                    c.cancel_locked(err, cause.clone(), d);
                    // Release: pairs with the Acquire load in `detach`; after
                    // this store the child may be freed.
                    c.slot.store(DETACHED, Ordering::Release);
                }
                Child::Func(f) => d.funcs.push(f),
            }
        }
        true
    }

    /// Leaves the parent node's child set (Go's `removeChild`). Takes only
    /// the parent's lock, never holding this node's.
    fn detach(&self) {
        // Acquire: pairs with the parent's Release store of DETACHED.
        if self.slot.load(Ordering::Acquire) == DETACHED {
            return;
        }
        let Some(p) = self.parent.cancel_node() else {
            return;
        };
        let removed = {
            let mut inner = p.inner.lock();
            let idx = self.slot.load(Ordering::Relaxed);
            if idx == DETACHED {
                None
            } else {
                self.slot.store(DETACHED, Ordering::Relaxed);
                inner.children.remove(idx)
            }
        };
        debug_assert!(match &removed {
            Some(Child::Ctx(ChildPtr(q))) => std::ptr::eq(q.as_ptr(), self),
            None => true,
            Some(Child::Func(_)) => false,
        });
    }

    /// Number of entries in this node's child set (tests).
    pub(crate) fn num_children(&self) -> usize {
        self.inner.lock().children.len()
    }

    /// Capacity of this node's child set storage (tests).
    pub(crate) fn children_capacity(&self) -> usize {
        self.inner.lock().children.capacity()
    }
}

impl Drop for CancelCtx {
    /// The last handle is gone: leave the parent's set (the weak edge).
    fn drop(&mut self) {
        self.detach();
    }
}
