//! `goro::context`: Go's `context` package (src/context/context.go).
//!
//! This file owns the public [`Context`] handle, its constructors
//! (`background`, `with_cancel`, `with_deadline`, `with_value`,
//! `without_cancel`, ...), the cancel functions, [`cause`], and
//! [`ContextError`]. The cancel tree (Go's `cancelCtx`/`timerCtx`,
//! `propagateCancel`, `removeChild`) is in cancel.rs, `AfterFunc` in
//! afterfunc.rs, the deadline timer (`timerCtx.timer`) in deadline.rs.
//! Callbacks (`after_func`, deadline timers) start Gs through the runtime's
//! one spawner; the package uses the runtime, channels and timers, and
//! nothing of `goro::sync`.
//!
//! A [`Context`] is an enum over the kinds of context: the two empty roots,
//! a cancellable node (`NodeRef`, a counted pointer to one 40-byte
//! allocation per `with_cancel`), a value node, and a `without_cancel`
//! node. Value nodes cache their nearest cancellable ancestor, so `err`,
//! `done` and `cause` are O(1) on any context; `deadline` walks up to the
//! nearest deadline node and `value` up the chain, like Go.
//!
//! Lock order: see cancel.rs (`# Invariants`, `# Deadlock safety`).

mod afterfunc;
mod cancel;
mod deadline;

pub use afterfunc::{AfterFuncStop, after_func};

use crate::loom::Arc;
use cancel::{CancelCtx, Kind, NodeRef};
use std::any::{Any, TypeId};
use std::fmt;
use std::time::{Duration, Instant};

/// Why a context is done: Go's `context.Canceled` and
/// `context.DeadlineExceeded`.
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// cancel.cancel();
/// let err = ctx.err().unwrap();
/// assert_eq!(err, ContextError::Canceled);
/// assert_eq!(err.to_string(), "context canceled");
/// assert_eq!(ContextError::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// The context was cancelled (`context canceled`).
    Canceled,
    /// The context's deadline passed (`context deadline exceeded`).
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// The cause of a cancellation (Go's `Cause`): any error, shared.
///
/// # Examples
///
/// ```
/// use goro::context::{self, Cause};
/// let why: Cause = std::sync::Arc::new(std::io::Error::other("shutting down"));
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel(Some(why.clone()));
/// assert!(std::sync::Arc::ptr_eq(&context::cause(&ctx).unwrap(), &why));
/// ```
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// A cancellation signal, deadline and values carried across API
/// boundaries: Go's `context.Context`.
///
/// A cheap `Clone + Send + Sync` handle. Make one with [`background`] or
/// [`todo`](todo()), derive children with [`with_cancel`], [`with_deadline`],
/// [`with_timeout`], [`with_value`], [`without_cancel`]. Cancelling a
/// context cancels all contexts derived from it.
///
/// - [`err`](Context::err) is lock-free; [`done`](Context::done) gives a
///   channel closed on cancel (for `select!`), made on first use.
/// - A parent holds its children weakly: a child whose handles and cancel
///   function were all dropped is removed from its parent, even if never
///   cancelled (Go relies on the garbage collector for this).
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let child = context::with_value(&ctx, 7u32);
/// assert_eq!(child.err(), None);
/// cancel.cancel();
/// assert_eq!(child.err(), Some(ContextError::Canceled));
/// assert_eq!(child.value::<u32>(), Some(7));
/// ```
#[derive(Clone)]
pub struct Context {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Background,
    Todo,
    Cancel(NodeRef),
    Value(Arc<ValueCtx>),
    WithoutCancel(Arc<WithoutCancelCtx>),
}

/// Go's `valueCtx`. Immutable.
struct ValueCtx {
    parent: Context,
    /// The parent's nearest cancellable ancestor (cached).
    node: Option<NodeRef>,
    key: TypeId,
    name: &'static str,
    value: Box<dyn Any + Send + Sync>,
}

/// Go's `withoutCancelCtx`. Immutable.
struct WithoutCancelCtx {
    parent: Context,
}

impl Context {
    /// The nearest cancellable node of this context (itself, or the one its
    /// value nodes lead to); `None` if this context is never done.
    #[inline]
    fn cancel_node(&self) -> Option<&NodeRef> {
        match &self.repr {
            Repr::Cancel(c) => Some(c),
            Repr::Value(v) => v.node.as_ref(),
            Repr::Background | Repr::Todo | Repr::WithoutCancel(_) => None,
        }
    }

    /// Why this context is done, or `None` while it is not: Go's `Err()`.
    ///
    /// Lock-free (one atomic load). Once `Some`, it never changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context::{self, ContextError};
    /// assert_eq!(context::background().err(), None);
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    #[inline]
    pub fn err(&self) -> Option<ContextError> {
        self.cancel_node().and_then(|c| c.err())
    }

    /// Whether this context is done (`err().is_some()`). Lock-free.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// assert!(!ctx.is_done());
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    #[inline]
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// A channel that is closed when this context is done: Go's `Done()`.
    ///
    /// Use it in `select!` (`recv(ctx.done()) -> _ => ...`) or await
    /// `ctx.done().recv()` (it yields `None` once done). Made on first
    /// call (later calls share it); for a context that is never done
    /// (`background()`, `without_cancel`) it is never closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let done = ctx.done();
    /// assert!(done.try_recv().is_err());
    /// cancel.cancel();
    /// assert_eq!(done.recv_blocking(), None); // closed
    /// ```
    ///
    /// In `select!`, Go's `case <-ctx.Done():`:
    ///
    /// ```
    /// use goro::context;
    /// use std::time::Duration;
    /// let stopped_early = goro::run(async {
    ///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
    ///     let (_tx, jobs) = goro::chan::<u32>(0);
    ///     goro::select! {
    ///         recv(jobs) -> _ => false,
    ///         recv(ctx.done()) -> _ => true,
    ///     }
    /// });
    /// assert!(stopped_early);
    /// ```
    pub fn done(&self) -> crate::chan::Receiver<()> {
        match self.cancel_node() {
            Some(n) => n.done(),
            None => never_done(),
        }
    }

    /// Waits until this context is done and returns its error (a
    /// convenience over [`done`](Context::done)); never completes for a
    /// context that is never done. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context::{self, ContextError};
    /// let err = goro::run(async {
    ///     let (ctx, cancel) = context::with_cancel(&context::background());
    ///     drop(goro::go(async move { cancel.cancel() }));
    ///     ctx.cancelled().await
    /// });
    /// assert_eq!(err, ContextError::Canceled);
    /// ```
    pub async fn cancelled(&self) -> ContextError {
        if let Some(e) = self.err() {
            return e;
        }
        let done = self.done();
        let _ = done.recv().await;
        self.err().unwrap_or(ContextError::Canceled)
    }

    /// When this context will be cancelled by a deadline, if ever: Go's
    /// `Deadline()`. Inherited: a child has its parent's deadline unless
    /// its own is earlier. Like Go, walks up to the nearest context made by
    /// `with_deadline`/`with_timeout` (and briefly takes its lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// use std::time::{Duration, Instant};
    /// assert_eq!(context::background().deadline(), None);
    /// let at = Instant::now() + Duration::from_secs(60);
    /// let (ctx, _cancel) = context::with_deadline(&context::background(), at);
    /// let (child, _cancel_child) = context::with_cancel(&ctx);
    /// assert_eq!(child.deadline(), Some(at));
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.cancel_node().and_then(|c| c.deadline())
    }

    /// The value of type `V` stored by the nearest [`with_value`] on this
    /// context's chain (the key is the type), cloned: Go's `Value(key)`.
    ///
    /// Walks up the chain like Go: O(depth).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct User(&'static str);
    /// let ctx = context::with_value(&context::background(), User("ana"));
    /// let ctx = context::with_value(&ctx, User("bo")); // shadows the first
    /// assert_eq!(ctx.value::<User>(), Some(User("bo")));
    /// assert_eq!(ctx.value::<u64>(), None);
    /// ```
    pub fn value<V: Any + Clone>(&self) -> Option<V> {
        self.value_ref::<V>().cloned()
    }

    /// Like [`value`](Context::value), borrowing the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// let ctx = context::with_value(&context::background(), vec![1, 2, 3]);
    /// assert_eq!(ctx.value_ref::<Vec<i32>>().map(Vec::len), Some(3));
    /// ```
    pub fn value_ref<V: Any>(&self) -> Option<&V> {
        let want = TypeId::of::<V>();
        let mut c = self;
        loop {
            c = match &c.repr {
                Repr::Background | Repr::Todo => return None,
                Repr::Cancel(n) => &n.parent,
                Repr::WithoutCancel(w) => &w.parent,
                Repr::Value(v) => {
                    if v.key == want {
                        return v.value.downcast_ref::<V>();
                    }
                    &v.parent
                }
            };
        }
    }

    /// Number of entries in this context's child set (children and
    /// after-funcs); for tests of the weak child edges.
    #[doc(hidden)]
    pub fn __num_children(&self) -> usize {
        match &self.repr {
            Repr::Cancel(c) => c.num_children(),
            _ => 0,
        }
    }

    /// Capacity of this context's child set storage; for tests.
    #[doc(hidden)]
    pub fn __children_capacity(&self) -> usize {
        match &self.repr {
            Repr::Cancel(c) => c.children_capacity(),
            _ => 0,
        }
    }
}

impl fmt::Display for Context {
    /// Go's `String()`: `context.Background.WithCancel.WithValue(u32)`...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Background => f.write_str("context.Background"),
            Repr::Todo => f.write_str("context.TODO"),
            Repr::Cancel(c) => match c.kind {
                Kind::Cancel => write!(f, "{}.WithCancel", c.parent),
                Kind::Deadline => {
                    let left = c
                        .deadline()
                        .map(|d| d.saturating_duration_since(Instant::now()));
                    write!(
                        f,
                        "{}.WithDeadline({:?})",
                        c.parent,
                        left.unwrap_or_default()
                    )
                }
            },
            Repr::Value(v) => write!(f, "{}.WithValue({})", v.parent, v.name),
            Repr::WithoutCancel(w) => write!(f, "{}.WithoutCancel", w.parent),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("name", &format_args!("{self}"))
            .field("err", &self.err())
            .finish()
    }
}

/// The root context: never cancelled, no values, no deadline. Go's
/// `context.Background()`. Allocates nothing.
///
/// # Examples
///
/// ```
/// use goro::context;
/// let ctx = context::background();
/// assert_eq!(ctx.err(), None);
/// assert_eq!(ctx.deadline(), None);
/// assert_eq!(ctx.to_string(), "context.Background");
/// ```
pub fn background() -> Context {
    Context {
        repr: Repr::Background,
    }
}

/// Like [`background`], for code that has not decided which context to
/// use yet: Go's `context.TODO()`.
///
/// # Examples
///
/// ```
/// use goro::context;
/// let ctx = context::todo();
/// assert_eq!(ctx.err(), None);
/// assert_eq!(ctx.to_string(), "context.TODO");
/// ```
pub fn todo() -> Context {
    Context { repr: Repr::Todo }
}

/// Cancels its context: Go's `context.CancelFunc`.
///
/// Cloneable; calling [`cancel`](CancelFunc::cancel) more than once (from
/// any clone, any thread) does nothing after the first. Dropping it does
/// *not* cancel (as in Go).
///
/// # Examples
///
/// ```
/// use goro::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let again = cancel.clone();
/// drop(cancel); // dropping does not cancel
/// assert!(!ctx.is_done());
/// again.cancel();
/// assert!(ctx.is_done());
/// ```
#[derive(Clone)]
pub struct CancelFunc {
    node: NodeRef,
}

impl CancelFunc {
    /// Cancels the context and its descendants with
    /// [`ContextError::Canceled`], and removes it from its parent. Never
    /// blocks for long (takes the context's and its parent's locks).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context::{self, ContextError};
    /// let (parent, _cancel_parent) = context::with_cancel(&context::background());
    /// let (ctx, cancel) = context::with_cancel(&parent);
    /// cancel.cancel();
    /// cancel.cancel(); // no effect
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// assert_eq!(parent.err(), None); // the parent is not affected
    /// ```
    pub fn cancel(&self) {
        self.node.cancel(true, ContextError::Canceled, None);
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc").finish_non_exhaustive()
    }
}

/// Cancels its context with a cause: Go's `context.CancelCauseFunc`.
///
/// Cloneable; the first cancel wins. Dropping it does not cancel.
///
/// # Examples
///
/// ```
/// use goro::context;
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel(None); // no cause: the cause is the error itself
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "context canceled");
/// ```
#[derive(Clone)]
pub struct CancelCauseFunc {
    node: NodeRef,
}

impl CancelCauseFunc {
    /// Cancels the context with [`ContextError::Canceled`] and the given
    /// cause (`None`: the cause is the error itself, like Go's `nil`).
    /// Idempotent: the first cancel's error and cause stick.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// use std::sync::Arc;
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// let io = std::io::Error::other("boom");
    /// cancel.cancel(Some(Arc::new(io)));
    /// assert_eq!(context::cause(&ctx).unwrap().to_string(), "boom");
    /// ```
    pub fn cancel(&self, cause: Option<Cause>) {
        self.node.cancel(true, ContextError::Canceled, cause);
    }
}

impl fmt::Debug for CancelCauseFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCauseFunc").finish_non_exhaustive()
    }
}

/// A child of `parent` with its own cancel function: Go's
/// `context.WithCancel`.
///
/// The child is done when `cancel` is called or when `parent` is done,
/// whichever happens first. One allocation; O(1) to create and to cancel.
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// let (parent, cancel_parent) = context::with_cancel(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent.cancel();
/// assert_eq!(child.err(), Some(ContextError::Canceled));
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    let node = CancelCtx::make(parent, None);
    (
        Context {
            repr: Repr::Cancel(node.clone()),
        },
        CancelFunc { node },
    )
}

/// Like [`with_cancel`], with a cancel function that takes a cause: Go's
/// `context.WithCancelCause`.
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// use std::sync::Arc;
/// let (parent, cancel) = context::with_cancel_cause(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel.cancel(Some(Arc::new(std::io::Error::other("disk full"))));
/// assert_eq!(child.err(), Some(ContextError::Canceled));
/// assert_eq!(context::cause(&child).unwrap().to_string(), "disk full");
/// ```
pub fn with_cancel_cause(parent: &Context) -> (Context, CancelCauseFunc) {
    let node = CancelCtx::make(parent, None);
    (
        Context {
            repr: Repr::Cancel(node.clone()),
        },
        CancelCauseFunc { node },
    )
}

/// A child of `parent` holding a value of type `V`, found by
/// [`Context::value::<V>()`](Context::value): Go's `context.WithValue`.
///
/// The key is the value's type: use a newtype per key, as Go code uses an
/// unexported key type.
///
/// # Examples
///
/// ```
/// use goro::context;
/// #[derive(Clone, Debug, PartialEq)]
/// struct RequestId(u64);
/// let ctx = context::with_value(&context::background(), RequestId(7));
/// let (child, _cancel) = context::with_cancel(&ctx);
/// assert_eq!(child.value::<RequestId>(), Some(RequestId(7)));
/// assert_eq!(child.value::<String>(), None);
/// ```
pub fn with_value<V: Any + Send + Sync>(parent: &Context, v: V) -> Context {
    Context {
        repr: Repr::Value(Arc::new(ValueCtx {
            parent: parent.clone(),
            node: parent.cancel_node().cloned(),
            key: TypeId::of::<V>(),
            name: std::any::type_name::<V>(),
            value: Box::new(v),
        })),
    }
}

/// A child of `parent` that keeps its values but is never cancelled and has
/// no deadline: Go's `context.WithoutCancel`.
///
/// # Examples
///
/// ```
/// use goro::context;
/// let (ctx, cancel) = context::with_cancel(&context::with_value(&context::background(), 1u8));
/// let detached = context::without_cancel(&ctx);
/// cancel.cancel();
/// assert!(ctx.err().is_some());
/// assert_eq!(detached.err(), None);
/// assert_eq!(detached.value::<u8>(), Some(1));
/// ```
pub fn without_cancel(parent: &Context) -> Context {
    Context {
        repr: Repr::WithoutCancel(Arc::new(WithoutCancelCtx {
            parent: parent.clone(),
        })),
    }
}

/// The cause of `ctx`'s cancellation: Go's `context.Cause`.
///
/// `None` while `ctx` is not done. When it is done: the cause given to the
/// cancel that won (for a child cancelled by its parent, the parent's
/// cause), or the [`ContextError`] itself when none was given.
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// assert!(context::cause(&ctx).is_none());
/// cancel.cancel();
/// let c = context::cause(&ctx).unwrap();
/// assert_eq!(c.downcast_ref::<ContextError>(), Some(&ContextError::Canceled));
/// ```
pub fn cause(ctx: &Context) -> Option<Cause> {
    ctx.cancel_node().and_then(|c| c.cause())
}

/// A child of `parent` cancelled at `deadline`: Go's `context.WithDeadline`.
/// Equivalent to [`with_deadline_cause`] with no cause.
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// use std::time::{Duration, Instant};
/// let at = Instant::now() + Duration::from_millis(5);
/// let (ctx, _cancel) = context::with_deadline(&context::background(), at);
/// assert_eq!(ctx.deadline(), Some(at));
/// assert_eq!(ctx.done().recv_blocking(), None); // closed at the deadline
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// ```
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    with_deadline_cause(parent, deadline, None)
}

/// [`with_deadline`] at `now + timeout`: Go's `context.WithTimeout`.
///
/// A `timeout` too long to represent as an [`Instant`] (such as
/// [`Duration::MAX`]) is a deadline that never comes: the child has its
/// parent's deadline, like [`with_cancel`] (as `time::sleep` saturates).
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// use std::time::Duration;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
/// assert_eq!(ctx.done().recv_blocking(), None); // closed at the deadline
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// ```
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    with_timeout_cause(parent, timeout, None)
}

/// [`with_deadline_cause`] at `now + timeout`: Go's
/// `context.WithTimeoutCause`. A `timeout` too long to represent never
/// comes, as for [`with_timeout`].
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// use std::{sync::Arc, time::Duration};
/// let why = Arc::new(std::io::Error::other("too slow"));
/// let (ctx, _cancel) =
///     context::with_timeout_cause(&context::background(), Duration::from_millis(5), Some(why));
/// assert_eq!(ctx.done().recv_blocking(), None);
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "too slow");
/// ```
pub fn with_timeout_cause(
    parent: &Context,
    timeout: Duration,
    cause: Option<Cause>,
) -> (Context, CancelFunc) {
    match Instant::now().checked_add(timeout) {
        Some(deadline) => with_deadline_cause(parent, deadline, cause),
        // A deadline that never comes: only the parent can end the child.
        None => with_cancel(parent),
    }
}

/// A child of `parent` done at `deadline` with
/// [`ContextError::DeadlineExceeded`] and `cause` (or when cancelled, or
/// when `parent` is done): Go's `context.WithDeadlineCause`.
///
/// If `parent`'s deadline is already earlier, this is [`with_cancel`]. A
/// deadline in the past gives a context that is already done. Call
/// `cancel` when done with it, as in Go: that stops the deadline timer at
/// once. The timer does not keep the context alive: once its handles,
/// derived contexts, cancel function and [`AfterFuncStop`]s are all
/// dropped, the context is freed (with what it holds of its ancestors) and
/// its timer stopped, and its [`after_func`] functions never run.
///
/// # Examples
///
/// ```
/// use goro::context::{self, ContextError};
/// use std::{sync::Arc, time::{Duration, Instant}};
/// let why = Arc::new(std::io::Error::other("missed the train"));
/// // A deadline in the past: done at once.
/// let past = Instant::now() - Duration::from_millis(1);
/// let (ctx, _cancel) = context::with_deadline_cause(&context::background(), past, Some(why));
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "missed the train");
/// ```
pub fn with_deadline_cause(
    parent: &Context,
    deadline: Instant,
    cause: Option<Cause>,
) -> (Context, CancelFunc) {
    if let Some(cur) = parent.deadline() {
        if cur <= deadline {
            // The parent's deadline is earlier: it will do.
            return with_cancel(parent);
        }
    }
    let node = CancelCtx::make(parent, Some(deadline));
    let now = Instant::now();
    if deadline <= now {
        node.cancel(true, ContextError::DeadlineExceeded, cause);
    } else {
        deadline::arm_deadline(&node, deadline - now, cause);
    }
    (
        Context {
            repr: Repr::Cancel(node.clone()),
        },
        CancelFunc { node },
    )
}

/// The done channel of contexts that are never done: one process-wide
/// channel whose sender is never dropped.
fn never_done() -> crate::chan::Receiver<()> {
    static NEVER: std::sync::OnceLock<(crate::chan::Sender<()>, crate::chan::Receiver<()>)> =
        std::sync::OnceLock::new();
    NEVER.get_or_init(|| crate::chan::chan(0)).1.clone()
}
