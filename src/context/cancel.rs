//! The cancel tree: Go's `cancelCtx` and `timerCtx` (src/context/context.go:
//! `cancelCtx.cancel`, `propagateCancel`, `removeChild`).
//!
//! Every cancellable context is one [`CancelCtx`]: one small allocation
//! (40 bytes plus the `Arc` counts on 64-bit targets, a 64-byte malloc
//! chunk; building a big tree costs mostly fresh memory, so size is
//! speed). It is registered in the child set ([`Children`]) of its nearest
//! cancellable ancestor (its "parent node") and remembers its index there,
//! so leaving the set is O(1). The parent holds its children *weakly*: an
//! entry is a plain pointer, and a child unlinks itself when its last
//! handle goes (its `Drop`), so a forgotten child leaks nothing. The set
//! also holds `after_func` registrations (strongly: they must run). A
//! deadline node's timer holds it weakly too ([`WeakNode`]): the node's
//! `Drop` stops the timer, so a forgotten deadline context is freed at
//! once with its ancestors' values, not at its deadline.
//!
//! `err` is an atomic, read without the lock. The node's lock is a one-byte
//! `Mutex<()>` packed beside `err`, `kind` and `slot`, guarding an
//! `UnsafeCell` reached only through [`CancelCtx::locked`]. The parts most
//! nodes never need — the child set, the cause, the lazily made done
//! channel and the deadline timer (deadline.rs) — live in one [`Extra`] box
//! under the node's lock, made on first use: a leaf that is never waited
//! on, never given a cause and has no timer allocates nothing but its node.
//!
//! # Invariants
//!
//! - `err` goes from 0 to an error code once, under the node's own lock;
//!   the cause is stored in the same critical section.
//! - A node's `inner` is touched only inside [`CancelCtx::locked`], i.e.
//!   under that node's lock.
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
//!   This also lets a leaving child's removal update the `slot` of the
//!   sibling moved into its place.
//! - A deadline node's timer points at it only while the node's memory is
//!   allocated: the cancel disarms it under the node's lock (before the
//!   parent may write `DETACHED`), and the `Drop` before the free (see
//!   deadline.rs).
//!
//! # Deadlock safety
//!
//! Lock order is parent before child (a child is always younger): cancel
//! holds a node's lock while it cancels each child, which takes the child's
//! lock, recursively down the tree (as Go does). The only other lock a node
//! takes is its parent node's, to unlink (`detach`, in `cancel` and in
//! `Drop`), and it does so never holding its own lock (a deadline node's
//! `Drop` then takes its own lock alone, to take its timer out). Nothing
//! that could run user code or drop a context (closing done channels,
//! starting after-funcs, stopping timers, dropping causes) happens under a
//! context lock: it is collected in a [`Deferred`]
//! and done after every lock is released. Since the tree has no cycles and
//! every nested acquisition goes downwards, no cycle of waits can form.
//! `deadline` and `cause` take one node's lock alone. The other locks of
//! this module are leaves, never held while taking a
//! context lock or while cancelling: an after-func's one-shot slot
//! (afterfunc.rs) and a deadline timer's slot (deadline.rs; the cancel
//! takes it under the node's lock to disarm the timer).

use super::afterfunc::Entry;
use super::deadline::DeadlineTimer;
use super::{Cause, Context, ContextError};
use crate::chan::{Receiver, Sender};
use crate::loom::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering, fence};
use crate::loom::{Arc, Mutex, UnsafeCell};
use std::ptr::NonNull;
use std::time::Instant;

/// `slot` value of a node (or after-func entry) that is in no child set.
pub(crate) const DETACHED: u32 = u32::MAX;

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

/// A weak pointer to a child node; valid under its parent's lock.
pub(crate) struct ChildPtr(NonNull<CancelCtx>);

// SAFETY: the pointee is a `CancelCtx`, which is Send + Sync; the pointer is
// only dereferenced under the parent's lock, where the invariants keep the
// pointee alive.
unsafe impl Send for ChildPtr {}

/// A member's index as stored in its `slot` (never `DETACHED`).
fn slot_index(len: usize) -> u32 {
    match u32::try_from(len) {
        Ok(i) if i != DETACHED => i,
        _ => panic!("context: too many children of one context"),
    }
}

/// Gives a vector that has emptied out its memory back: at a quarter full
/// it halves, and empty it is freed, so a set that was large once does not
/// stay large.
fn shrink<T>(v: &mut Vec<T>) {
    if v.capacity() > 64 {
        if v.is_empty() {
            *v = Vec::new();
        } else if v.len() <= v.capacity() / 4 {
            v.shrink_to(v.capacity() / 2);
        }
    }
}

/// A node's child set (Go: `children map[canceler]struct{}`), in two
/// dense vectors, each member remembering its index in its `slot` so that
/// leaving is O(1): leaving moves the last member into the hole and updates
/// that member's `slot` (all under the node's lock).
/// - the child nodes: weak pointers (8 bytes a child);
/// - the after-func entries: strong references (they must run).
#[derive(Default)]
pub(crate) struct Children {
    ctxs: Vec<ChildPtr>,
    funcs: Vec<Arc<Entry>>,
}

impl Children {
    /// Adds a child node; returns its index.
    fn push_ctx(&mut self, child: ChildPtr) -> u32 {
        let idx = slot_index(self.ctxs.len());
        self.ctxs.push(child);
        idx
    }

    /// Removes the child node at `idx` (its `slot` is already DETACHED).
    fn remove_ctx(&mut self, idx: u32) {
        let i = idx as usize;
        debug_assert!(i < self.ctxs.len());
        self.ctxs.swap_remove(i);
        if let Some(ChildPtr(moved)) = self.ctxs.get(i) {
            // SAFETY: a member of our set is alive while our lock is held
            // (see the invariants); we hold it.
            let moved = unsafe { moved.as_ref() };
            moved.slot.store(idx, Ordering::Relaxed);
        }
        shrink(&mut self.ctxs);
    }

    /// Adds an after-func entry; returns its index.
    pub(crate) fn push_func(&mut self, e: Arc<Entry>) -> u32 {
        let idx = slot_index(self.funcs.len());
        self.funcs.push(e);
        idx
    }

    /// Removes `e` if it is the entry at its recorded index; marks it
    /// DETACHED. Returns it, to be dropped after the lock is released.
    pub(crate) fn remove_func(&mut self, e: &Arc<Entry>) -> Option<Arc<Entry>> {
        let idx = e.slot.load(Ordering::Relaxed);
        let i = idx as usize;
        if !self.funcs.get(i).is_some_and(|f| Arc::ptr_eq(f, e)) {
            return None;
        }
        e.slot.store(DETACHED, Ordering::Relaxed);
        let removed = self.funcs.swap_remove(i);
        if let Some(moved) = self.funcs.get(i) {
            moved.slot.store(idx, Ordering::Relaxed);
        }
        shrink(&mut self.funcs);
        Some(removed)
    }

    fn len(&self) -> usize {
        self.ctxs.len() + self.funcs.len()
    }

    fn capacity(&self) -> usize {
        self.ctxs.capacity() + self.funcs.capacity()
    }
}

/// Everything under a node's lock: only the rarely used parts, boxed on
/// first use, so that a plain `with_cancel` node is small (one small
/// allocation) and a leaf never allocates more. Reached only through
/// [`CancelCtx::locked`].
#[derive(Default)]
pub(crate) struct Inner {
    extra: Option<Box<Extra>>,
}

impl Inner {
    /// The extra parts, made on first use.
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The child set, if one was ever made.
    pub(crate) fn children(&mut self) -> Option<&mut Children> {
        self.extra.as_mut().map(|x| &mut x.children)
    }
}

/// The parts of a node most contexts never use.
#[derive(Default)]
pub(crate) struct Extra {
    /// A deadline node's own deadline (Go: `timerCtx.deadline`); set before
    /// the node is shared, never changed. `None` in other nodes.
    deadline: Option<Instant>,
    /// Children and after-funcs registered here (Go: `children`).
    pub(crate) children: Children,
    /// The cause given to the winning cancel; `None` means "the error itself".
    cause: Option<Cause>,
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
    /// Number of [`NodeRef`]s to this node; see there.
    refs: AtomicUsize,
    /// The context this one was made from: values, `Display`, and the
    /// parent node (its nearest cancellable ancestor). Immutable.
    pub(crate) parent: Context,
    /// Error code; written once under `lock` (Release), read anywhere
    /// without the lock (Acquire, pairing with that store).
    err: AtomicU8,
    /// Immutable.
    pub(crate) kind: Kind,
    /// The node's lock (one byte: it shares a word with `err`, `kind` and
    /// `slot`), guarding `inner`.
    lock: Mutex<()>,
    /// Index in the parent node's child set or `DETACHED`; written under
    /// the parent node's lock (see the invariants).
    slot: AtomicU32,
    /// Read and written only under `lock`, through [`CancelCtx::locked`].
    inner: UnsafeCell<Inner>,
}

/// A counted reference to a node: `Arc<CancelCtx>` with one count instead
/// of `Arc`'s two (nodes are never held by a `Weak`; a parent's edge to a
/// child is a [`ChildPtr`]), which keeps a node at 40 bytes.
pub(crate) struct NodeRef(NonNull<CancelCtx>);

// SAFETY: a NodeRef is a shared reference to a `CancelCtx` that is Send and
// Sync, kept alive by the count, exactly like `Arc<CancelCtx>`.
unsafe impl Send for NodeRef {}
// SAFETY: as above.
unsafe impl Sync for NodeRef {}

impl NodeRef {
    /// Moves `node` (whose `refs` is 1) to the heap.
    fn new(node: CancelCtx) -> NodeRef {
        debug_assert_eq!(node.refs.load(Ordering::Relaxed), 1);
        NodeRef(NonNull::from(Box::leak(Box::new(node))))
    }
}

/// A pointer to a node that does not keep it alive: the deadline timer's
/// (deadline.rs), so a context whose handles were all dropped is freed at
/// once, not at its deadline.
pub(crate) struct WeakNode(NonNull<CancelCtx>);

// SAFETY: a WeakNode is only dereferenced (in `upgrade`) while the node's
// memory is allocated, as the caller of `upgrade` guarantees; the node is
// Send + Sync.
unsafe impl Send for WeakNode {}

impl NodeRef {
    /// A weak pointer to this node.
    pub(crate) fn downgrade(&self) -> WeakNode {
        WeakNode(self.0)
    }
}

impl WeakNode {
    /// A counted reference to the node, unless its count already reached 0
    /// (its last handle is gone and it is being freed).
    ///
    /// # Safety
    /// The node's memory must still be allocated (its `Drop` may have
    /// started but not finished): deadline.rs keeps this so by emptying the
    /// slot that holds this pointer before the node is freed.
    pub(crate) unsafe fn upgrade(&self) -> Option<NodeRef> {
        // SAFETY: the memory is allocated (the caller's guarantee); only
        // the atomic count is read before the upgrade succeeds.
        let node = unsafe { self.0.as_ref() };
        let mut n = node.refs.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            // Relaxed, as in `NodeRef::clone`: the node was published to
            // this thread through the slot's lock, and the count's RMWs are
            // totally ordered with the final decrement in `NodeRef::drop`.
            match node
                .refs
                .compare_exchange(n, n + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(NodeRef(self.0)),
                Err(cur) => n = cur,
            }
        }
    }
}

impl std::ops::Deref for NodeRef {
    type Target = CancelCtx;

    #[inline]
    fn deref(&self) -> &CancelCtx {
        // SAFETY: our count keeps the node alive.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for NodeRef {
    #[inline]
    fn clone(&self) -> NodeRef {
        // Relaxed, as in `Arc::clone`: a new reference is made from one
        // that already keeps the node alive.
        let old = self.refs.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            // As `Arc`: a count this large means leaked references.
            std::process::abort();
        }
        NodeRef(self.0)
    }
}

impl Drop for NodeRef {
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the Acquire fence below, so that every use
        // through other references happens before the free (as `Arc`).
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: that was the last reference; the node came from
        // `Box::leak` in `NodeRef::new`. Its `Drop` unlinks it from its
        // parent's set first.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

// SAFETY: the only field that is not Sync is `inner`, which is reached only
// through `locked`, under `lock`: together they are a `Mutex<Inner>`, which is
// Sync because `Inner` is Send (checked below).
unsafe impl Sync for CancelCtx {}

const _: () = {
    const fn is_send<T: Send>() {}
    const fn is_send_sync<T: Send + Sync>() {}
    is_send::<Inner>();
    // What `NodeRef`'s Send and Sync rely on.
    is_send_sync::<CancelCtx>();
};

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
    /// With `deadline`, a deadline node (Go's `timerCtx`, without its timer:
    /// see deadline.rs).
    pub(crate) fn make(parent: &Context, deadline: Option<Instant>) -> NodeRef {
        let (kind, extra) = match deadline {
            None => (Kind::Cancel, None),
            Some(d) => {
                let extra = Extra {
                    deadline: Some(d),
                    ..Extra::default()
                };
                (Kind::Deadline, Some(Box::new(extra)))
            }
        };
        let node = NodeRef::new(CancelCtx {
            refs: AtomicUsize::new(1),
            parent: parent.clone(),
            err: AtomicU8::new(ERR_NONE),
            kind,
            lock: Mutex::new(()),
            slot: AtomicU32::new(DETACHED),
            inner: UnsafeCell::new(Inner { extra }),
        });
        if let Some(p) = parent.cancel_node() {
            let ptr = ChildPtr(NonNull::from(&*node));
            let registered = p.register(|children| {
                // Under the parent's lock, before `node` is shared.
                let idx = children.push_ctx(ptr);
                node.slot.store(idx, Ordering::Relaxed);
            });
            if let Err((err, cause)) = registered {
                node.cancel(false, err, cause);
            }
        }
        node
    }

    /// Runs `f` on the parts under this node's lock, holding the lock.
    /// `f` must not take this node's lock again (it may take a child's).
    #[inline]
    pub(crate) fn locked<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let _guard = self.lock.lock();
        // SAFETY: `inner` is only reached through this function, under
        // `lock`, which we hold until `f` returns; `f` cannot re-enter it
        // for this node (it would deadlock on `lock` first), so this is
        // the only reference.
        self.inner.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// The effective deadline: that of the nearest deadline node among this
    /// node and its ancestors (a deadline node is made only when earlier
    /// than its parent's, so the nearest is the earliest), read under that
    /// node's lock (taken alone). Go's `Deadline`, which walks up the same
    /// way.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let mut n = self;
        loop {
            match n.kind {
                Kind::Deadline => {
                    return n.locked(|inner| inner.extra.as_ref().and_then(|x| x.deadline));
                }
                Kind::Cancel => n = n.parent.cancel_node()?,
            }
        }
    }

    /// Runs `add` on this node's child set, under its lock, unless this
    /// node is done, in which case its error and cause are returned.
    pub(crate) fn register(
        &self,
        add: impl FnOnce(&mut Children),
    ) -> Result<(), (ContextError, Option<Cause>)> {
        self.locked(|inner| {
            if let Some(e) = self.err() {
                let cause = inner.extra.as_ref().and_then(|x| x.cause.clone());
                return Err((e, cause));
            }
            add(&mut inner.extra().children);
            Ok(())
        })
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
        let cause = self.locked(|inner| inner.extra.as_ref().and_then(|x| x.cause.clone()));
        Some(cause.unwrap_or_else(|| std::sync::Arc::new(err) as Cause))
    }

    /// The done channel (Go's `Done`), made on first use; closed at once
    /// if this node is already done.
    pub(crate) fn done(&self) -> Receiver<()> {
        let (rx, close_now) = self.locked(|inner| {
            let extra = inner.extra();
            if let Some(rx) = &extra.done_rx {
                return (rx.clone(), None);
            }
            let (tx, rx) = crate::chan::chan(0);
            extra.done_rx = Some(rx.clone());
            if self.err().is_some() {
                (rx, Some(tx))
            } else {
                extra.done_tx = Some(tx);
                (rx, None)
            }
        });
        // Closed after the lock is released.
        if let Some(tx) = close_now {
            tx.close();
        }
        rx
    }

    /// Stores the deadline timer, or hands it back if already done.
    pub(crate) fn set_timer(&self, t: DeadlineTimer) -> Option<DeadlineTimer> {
        self.locked(|inner| {
            if self.err().is_some() {
                return Some(t);
            }
            inner.extra().timer = Some(t);
            None
        })
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
        self.locked(|inner| {
            if self.err.load(Ordering::Relaxed) != ERR_NONE {
                // Dropped after the locks are released.
                d.causes.extend(cause);
                return false;
            }
            // Release: pairs with the Acquire loads in `err`.
            self.err.store(err_code(err), Ordering::Release);
            if inner.extra.is_none() && cause.is_none() {
                // A node with no children, done channel, timer or cause:
                // the common leaf. Nothing more to do.
                return true;
            }
            let extra = inner.extra();
            extra.cause = cause.clone();
            if let Some(t) = extra.timer.take() {
                // Disarmed now, under our lock: once a parent marks us
                // DETACHED we may be freed before `d` runs (deadline.rs).
                d.causes.extend(t.disarm());
                d.timers.push(t);
            }
            d.close.extend(extra.done_tx.take());
            d.funcs.extend(std::mem::take(&mut extra.children.funcs));
            for ChildPtr(p) in std::mem::take(&mut extra.children.ctxs) {
                // SAFETY: a child in our set is alive while we hold our lock
                // (its Drop unlinks under this lock unless it reads
                // DETACHED, which we store only below, as our last use).
                let c = unsafe { p.as_ref() };
                c.cancel_locked(err, cause.clone(), d);
                // Release: pairs with the Acquire load in `detach`; after
                // this store the child may be freed.
                c.slot.store(DETACHED, Ordering::Release);
            }
            true
        })
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
        p.locked(|inner| {
            let idx = self.slot.load(Ordering::Relaxed);
            if idx == DETACHED {
                return;
            }
            self.slot.store(DETACHED, Ordering::Relaxed);
            let children = inner.children();
            debug_assert!(children.is_some(), "a registered child has a set");
            if let Some(children) = children {
                debug_assert!(std::ptr::eq(children.ctxs[idx as usize].0.as_ptr(), self));
                children.remove_ctx(idx);
            }
        });
    }

    /// Number of entries in this node's child set (tests).
    pub(crate) fn num_children(&self) -> usize {
        self.locked(|inner| inner.children().map_or(0, |c| c.len()))
    }

    /// Capacity of this node's child set storage (tests).
    pub(crate) fn children_capacity(&self) -> usize {
        self.locked(|inner| inner.children().map_or(0, |c| c.capacity()))
    }
}

impl Drop for CancelCtx {
    /// The last handle is gone: leave the parent's set (the weak edge) and
    /// stop the deadline timer (nothing can observe it any more).
    fn drop(&mut self) {
        self.detach();
        if self.kind == Kind::Deadline {
            let timer = self.locked(|inner| inner.extra.as_mut().and_then(|x| x.timer.take()));
            if let Some(t) = timer {
                t.stop();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn cancel_node_is_small() {
        // One 40-byte allocation (a 48-byte malloc chunk) a with_cancel
        // node on 64-bit targets: the W11 tree's build time is mostly memory.
        if cfg!(target_pointer_width = "64") {
            assert!(std::mem::size_of::<super::CancelCtx>() <= 40);
        }
    }
}
