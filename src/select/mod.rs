//! Go's `select` statement: the [`select!`](crate::select!) macro and the
//! run-time form [`Select`] (Go's `reflect.Select`).
//!
//! This module owns the surface: parsing the macro's cases, evaluating the
//! operands once in source order, the single-case fast paths Go's compiler
//! uses (`selectnbsend`, `selectnbrecv`, a plain `chansend`/`chanrecv`), the
//! operand traits [`RecvOperand`]/[`SendOperand`] and the type-erased
//! [`Select`]. The algorithm itself (Go's `selectgo`: a random poll order,
//! locking every channel in address order, three passes, one sudog per case
//! sharing one "done" word) lives in `selectgo.rs`. `selectgo` is `unsafe`
//! (its parked cases must outlive it); the macro's expansion is its sound
//! caller by construction, so `select!` needs no `unsafe` from its user
//! (`selectgo.rs` gives the argument).
//!
//! # Semantics (Go's, exactly)
//!
//! * **Evaluation**: every channel operand and every send value is evaluated
//!   exactly once, in source order, before anything else happens.
//! * **Fairness**: if several cases are ready, one is chosen uniformly at
//!   random (a fresh random permutation per select), so no case starves.
//! * **Blocking**: with a `default` case the select never parks: if no case is
//!   ready, `default` runs. Without one it parks the calling G (or, under
//!   [`block_on`](crate::block_on), the thread) until a case can complete.
//!   `select! {}` parks forever.
//! * **Nil channels**: an operand `None` (an `Option<&Receiver<T>>` or
//!   `Option<&Sender<T>>`) is Go's nil channel: that case is never chosen.
//! * **Closed channels**: a receive from a closed, drained channel is ready
//!   and yields `None`; a send on a closed channel (or one whose receivers are
//!   all gone) is ready and yields `Err(SendError(value))` — Go panics there.
//! * **Send values** of cases that were not chosen are dropped, unsent.
//! * **Bodies** run in the enclosing scope after the operation completed and
//!   after the borrows of the operands ended, so `.await`, `?`, `break`,
//!   `continue` and `return` work, and a body may reassign the channel
//!   variable (Go's `ch = nil` idiom).
//! * **Cancel safety**: dropping a parked `select!` (e.g. from an outer
//!   timeout) unlinks every waiting case; no value is lost or duplicated. A
//!   value a sender already handed to the dropped select goes back into its
//!   channel, and a send case that did not complete keeps its value (which
//!   is then dropped with the future).
//!
//! # Examples
//!
//! A receive with a timeout (Go's `select` with `time.After`):
//!
//! ```
//! use std::time::Duration;
//! let got = goro::run(async {
//!     let (tx, rx) = goro::chan::<i32>(0);
//!     goro::go(async move { tx.send(1).await.unwrap() });
//!     goro::select! {
//!         recv(rx) -> v => v,
//!         recv(goro::time::after(Duration::from_secs(10))) -> _ => None,
//!     }
//! });
//! assert_eq!(got, Some(1));
//! ```

mod dynamic;
mod selectgo;

pub use dynamic::{Select, SelectedOperation};
#[doc(hidden)]
pub use selectgo::{
    Case, PollOrder, RecvCase, SelectGo, SendCase, coop_spend, coop_yield_point, selectgo,
    wake as __wake,
};

use crate::chan::{Receiver, Sender};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a `recv(…)` case of [`select!`](crate::select!) accepts: a channel
/// to receive from, or `None` for Go's nil channel.
///
/// Implemented for [`Receiver<T>`], references to anything implementing
/// it, and `Option`s of those (`None` is a nil channel, never chosen).
///
/// # Examples
///
/// A helper generic over the operand, so callers may pass a channel, a
/// reference, or an `Option` (`None` is Go's nil channel, never chosen):
///
/// ```
/// use goro::chan::Receiver;
/// use goro::select::RecvOperand;
/// async fn first(a: impl RecvOperand<Item = i32>, b: &Receiver<i32>) -> Option<i32> {
///     goro::select! {
///         recv(a) -> v => v,
///         recv(b) -> v => v,
///     }
/// }
/// let (tx_a, rx_a) = goro::chan::<i32>(1);
/// let (tx_b, rx_b) = goro::chan::<i32>(1);
/// tx_a.try_send(1).unwrap();
/// tx_b.try_send(2).unwrap();
/// let nil: Option<&Receiver<i32>> = None;
/// assert_eq!(goro::block_on(first(nil, &rx_b)), Some(2)); // only b can be chosen
/// assert_eq!(goro::block_on(first(&rx_a, &rx_b)), Some(1)); // b is empty now
/// ```
pub trait RecvOperand {
    /// The channel's element type.
    type Item;
    /// The receiver to poll, or `None` for a nil channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::chan::Receiver;
    /// use goro::select::RecvOperand;
    /// let (_tx, rx) = goro::chan::<u8>(0);
    /// assert!(rx.as_receiver().unwrap().same_channel(&rx));
    /// let maybe: Option<&Receiver<u8>> = None; // a nil channel
    /// assert!(maybe.as_receiver().is_none());
    /// ```
    fn as_receiver(&self) -> Option<&Receiver<Self::Item>>;
}

/// What a `send(…)` case of [`select!`](crate::select!) accepts: a channel
/// to send on, or `None` for Go's nil channel.
///
/// Implemented for [`Sender<T>`], references to anything implementing it,
/// and `Option`s of those (`None` is a nil channel, never chosen).
///
/// # Examples
///
/// ```
/// use goro::chan::Sender;
/// use goro::select::SendOperand;
/// let (tx, rx) = goro::chan::<i32>(1);
/// let mut out: Option<&Sender<i32>> = Some(&tx);
/// assert!(out.as_sender().is_some());
/// goro::block_on(async {
///     goro::select! {
///         send(out, 1) -> res => res.unwrap(),
///     }
/// });
/// out = None; // disable the case: a nil channel
/// assert!(out.as_sender().is_none());
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub trait SendOperand {
    /// The channel's element type.
    type Item;
    /// The sender to use, or `None` for a nil channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::chan::Sender;
    /// use goro::select::SendOperand;
    /// let (tx, _rx) = goro::chan::<u8>(0);
    /// assert!((&tx).as_sender().unwrap().same_channel(&tx));
    /// let maybe: Option<&Sender<u8>> = None; // a nil channel
    /// assert!(maybe.as_sender().is_none());
    /// ```
    fn as_sender(&self) -> Option<&Sender<Self::Item>>;
}

impl<T> RecvOperand for Receiver<T> {
    type Item = T;
    fn as_receiver(&self) -> Option<&Receiver<T>> {
        Some(self)
    }
}

impl<R: RecvOperand + ?Sized> RecvOperand for &R {
    type Item = R::Item;
    fn as_receiver(&self) -> Option<&Receiver<R::Item>> {
        (**self).as_receiver()
    }
}

impl<R: RecvOperand + ?Sized> RecvOperand for &mut R {
    type Item = R::Item;
    fn as_receiver(&self) -> Option<&Receiver<R::Item>> {
        (**self).as_receiver()
    }
}

impl<R: RecvOperand> RecvOperand for Option<R> {
    type Item = R::Item;
    fn as_receiver(&self) -> Option<&Receiver<R::Item>> {
        self.as_ref().and_then(|r| r.as_receiver())
    }
}

impl<T> SendOperand for Sender<T> {
    type Item = T;
    fn as_sender(&self) -> Option<&Sender<T>> {
        Some(self)
    }
}

impl<S: SendOperand + ?Sized> SendOperand for &S {
    type Item = S::Item;
    fn as_sender(&self) -> Option<&Sender<S::Item>> {
        (**self).as_sender()
    }
}

impl<S: SendOperand + ?Sized> SendOperand for &mut S {
    type Item = S::Item;
    fn as_sender(&self) -> Option<&Sender<S::Item>> {
        (**self).as_sender()
    }
}

impl<S: SendOperand> SendOperand for Option<S> {
    type Item = S::Item;
    fn as_sender(&self) -> Option<&Sender<S::Item>> {
        self.as_ref().and_then(|s| s.as_sender())
    }
}

/// Used by [`select!`](crate::select!): the receiver behind a `recv` operand.
#[doc(hidden)]
#[inline]
pub fn __as_recv<R: RecvOperand + ?Sized>(operand: &R) -> Option<&Receiver<R::Item>> {
    operand.as_receiver()
}

/// Used by [`select!`](crate::select!): the sender behind a `send` operand.
#[doc(hidden)]
#[inline]
pub fn __as_send<S: SendOperand + ?Sized>(operand: &S) -> Option<&Sender<S::Item>> {
    operand.as_sender()
}

/// Used by [`select!`](crate::select!): Go's `block()` — parks forever
/// (`select {}`), wait reason `select (no cases)`.
#[doc(hidden)]
pub fn __park_forever() -> ParkForever {
    ParkForever(crate::runtime::WaitReason::SelectNoCases)
}

/// Used by [`select!`](crate::select!): a lone receive case on a nil
/// channel parks forever (`chan receive (nil chan)`), as `<-nilch` does.
#[doc(hidden)]
pub fn __park_forever_recv_nil() -> ParkForever {
    ParkForever(crate::runtime::WaitReason::ChanReceiveNilChan)
}

/// Used by [`select!`](crate::select!): a lone send case on a nil channel
/// parks forever (`chan send (nil chan)`), as `nilch <- v` does.
#[doc(hidden)]
pub fn __park_forever_send_nil() -> ParkForever {
    ParkForever(crate::runtime::WaitReason::ChanSendNilChan)
}

/// The future of [`__park_forever`]: never ready, holds no waker.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ParkForever(crate::runtime::WaitReason);

impl Future for ParkForever {
    type Output = Infallible;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Infallible> {
        crate::runtime::set_wait_reason(self.0);
        Poll::Pending
    }
}

/// Go's `select` statement: waits on several channel operations and runs
/// the body of the one that completes.
///
/// ```text
/// goro::select! {
///     recv(rx) -> v => { /* v: Option<T>; None once rx is closed and drained */ },
///     send(tx, value) -> res => { /* res: Result<(), SendError<T>> */ },
///     recv(other) => { /* binding omitted: the value is dropped */ },
///     default => { /* no case was ready */ },
/// }
/// ```
///
/// Replaces Go's `select { case v, ok := <-rx: … case tx <- value: … default: … }`.
///
/// * **Operands** are borrowed, never moved (so `recv(rx)` works in a loop):
///   a [`Receiver`]/[`Sender`] place or temporary (`goro::time::after(d)`,
///   `ctx.done()`), a reference to one, or an `Option<&Receiver<T>>` /
///   `Option<&Sender<T>>` where `None` is a nil channel (never chosen). Every
///   operand and send value is evaluated once, in source order.
/// * **Fairness**: among ready cases one is chosen uniformly at random.
/// * **Blocking**: with `default` it never parks; without, it parks until a
///   case completes; `select! {}` parks forever. A single case (with or
///   without `default`) compiles to the plain channel operation (`recv`,
///   `send`, `try_recv`, `try_send`), as Go's compiler does, with the same
///   semantics.
/// * **Results**: a receive binds `Option<T>` (`None`: closed and drained);
///   a send binds `Result<(), SendError<T>>` (`Err` gives the value back when
///   the channel is closed — a closed channel's send case is ready and never
///   loses to `default`). Values of send cases not chosen are dropped.
/// * **Bodies** are a block (optionally followed by a comma) or an
///   expression followed by a comma (the last one may omit it). They run in
///   the enclosing scope after every operand borrow ended: `.await`, `?`,
///   `break`, `continue`, `return` work and the body may reassign the channel
///   variable. The macro must be used inside async code; from a plain thread
///   wrap it in [`goro::block_on`](crate::block_on).
/// * **Cancel safety**: dropping the enclosing future while the select is
///   parked loses and duplicates nothing (see the [module docs](mod@crate::select)).
/// * **Size**: each case costs a few levels of macro recursion, so one
///   `select!` holds up to about 40 cases under the default
///   `recursion_limit`; for more, or for cases known only at run time, use
///   [`Select`].
///
/// # Examples
///
/// Fan-in with a nil-channel idiom: stop selecting a channel once it is
/// closed by turning its operand into `None`.
///
/// ```
/// let (tx1, rx1) = goro::chan::<i32>(4);
/// let (tx2, rx2) = goro::chan::<i32>(4);
/// tx1.try_send(1).unwrap();
/// tx2.try_send(2).unwrap();
/// drop((tx1, tx2)); // both channels are now closed (after their buffered value)
///
/// let sum = goro::block_on(async {
///     let (mut a, mut b) = (Some(&rx1), Some(&rx2));
///     let mut sum = 0;
///     while a.is_some() || b.is_some() {
///         goro::select! {
///             recv(a) -> v => match v { Some(x) => sum += x, None => a = None },
///             recv(b) -> v => match v { Some(x) => sum += x, None => b = None },
///         }
///     }
///     sum
/// });
/// assert_eq!(sum, 3);
/// ```
///
/// A non-blocking send with `default`:
///
/// ```
/// let (tx, rx) = goro::chan::<&str>(1);
/// let sent = goro::block_on(async {
///     let mut sent = 0;
///     for msg in ["a", "b"] {
///         goro::select! {
///             send(tx, msg) -> res => { res.unwrap(); sent += 1 },
///             default => {}, // buffer full: "b" is dropped
///         }
///     }
///     sent
/// });
/// assert_eq!(sent, 1);
/// assert_eq!(rx.try_recv(), Ok("a"));
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@cases [] @default [] @rest $($tokens)*)
    };
}

/// Parses the cases of [`select!`] into a normal form:
/// `(recv (operand) (pattern) {body})`, `(send (operand, value) (pattern) {body})`
/// and at most one default body.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Done: generate.
    (@cases [$($c:tt)*] @default [$($d:tt)*] @rest) => {
        $crate::__select_gen!(@cases [$($c)*] @default [$($d)*])
    };
    // recv(rx) -> pat => body
    (@cases [$($c:tt)*] @default $d:tt @rest recv($($a:tt)*) -> $p:pat => $b:block, $($r:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* (recv ($($a)*) ($p) $b)] @default $d @rest $($r)*)
    };
    (@cases [$($c:tt)*] @default $d:tt @rest recv($($a:tt)*) -> $p:pat => $b:block $($r:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* (recv ($($a)*) ($p) $b)] @default $d @rest $($r)*)
    };
    (@cases [$($c:tt)*] @default $d:tt @rest recv($($a:tt)*) -> $p:pat => $b:expr, $($r:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* (recv ($($a)*) ($p) { $b })] @default $d @rest $($r)*)
    };
    (@cases [$($c:tt)*] @default $d:tt @rest recv($($a:tt)*) -> $p:pat => $b:expr) => {
        $crate::__select_parse!(@cases [$($c)* (recv ($($a)*) ($p) { $b })] @default $d @rest)
    };
    // recv(rx) => body (value dropped)
    (@cases $c:tt @default $d:tt @rest recv($($a:tt)*) => $($r:tt)*) => {
        $crate::__select_parse!(@cases $c @default $d @rest recv($($a)*) -> _ => $($r)*)
    };
    // send(tx, v) -> pat => body
    (@cases [$($c:tt)*] @default $d:tt @rest send($($a:tt)*) -> $p:pat => $b:block, $($r:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* (send ($($a)*) ($p) $b)] @default $d @rest $($r)*)
    };
    (@cases [$($c:tt)*] @default $d:tt @rest send($($a:tt)*) -> $p:pat => $b:block $($r:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* (send ($($a)*) ($p) $b)] @default $d @rest $($r)*)
    };
    (@cases [$($c:tt)*] @default $d:tt @rest send($($a:tt)*) -> $p:pat => $b:expr, $($r:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* (send ($($a)*) ($p) { $b })] @default $d @rest $($r)*)
    };
    (@cases [$($c:tt)*] @default $d:tt @rest send($($a:tt)*) -> $p:pat => $b:expr) => {
        $crate::__select_parse!(@cases [$($c)* (send ($($a)*) ($p) { $b })] @default $d @rest)
    };
    // send(tx, v) => body (result dropped)
    (@cases $c:tt @default $d:tt @rest send($($a:tt)*) => $($r:tt)*) => {
        $crate::__select_parse!(@cases $c @default $d @rest send($($a)*) -> _ => $($r)*)
    };
    // default => body
    (@cases $c:tt @default [] @rest default => $b:block, $($r:tt)*) => {
        $crate::__select_parse!(@cases $c @default [$b] @rest $($r)*)
    };
    (@cases $c:tt @default [] @rest default => $b:block $($r:tt)*) => {
        $crate::__select_parse!(@cases $c @default [$b] @rest $($r)*)
    };
    (@cases $c:tt @default [] @rest default => $b:expr, $($r:tt)*) => {
        $crate::__select_parse!(@cases $c @default [{ $b }] @rest $($r)*)
    };
    (@cases $c:tt @default [] @rest default => $b:expr) => {
        $crate::__select_parse!(@cases $c @default [{ $b }] @rest)
    };
    (@cases $c:tt @default [$($d:tt)+] @rest default $($r:tt)*) => {
        ::core::compile_error!("select!: more than one `default` case")
    };
    (@cases $c:tt @default $d:tt @rest $($r:tt)+) => {
        ::core::compile_error!(
            "select!: expected `recv(rx) -> v => body`, `send(tx, value) -> res => body` \
             or `default => body`"
        )
    };
}

/// Chooses the expansion: `select! {}`, default only, the single-case fast
/// paths (Go's `walkSelectCases` special cases), or the general `selectgo`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_gen {
    // select {}: park forever.
    (@cases [] @default []) => {
        match $crate::select::__park_forever().await {}
    };
    // Only default.
    (@cases [] @default [$db:tt]) => {
        $db
    };
    // One receive, no default: a plain blocking receive (nil: park forever).
    (@cases [(recv ($rx:expr $(,)?) ($p:pat) $b:tt)] @default []) => {{
        let __res = {
            let __op = &$rx;
            match $crate::select::__as_recv(__op) {
                ::core::option::Option::Some(__rx) => __rx.recv().await,
                ::core::option::Option::None => {
                    match $crate::select::__park_forever_recv_nil().await {}
                }
            }
        };
        let $p = __res;
        $b
    }};
    // One send, no default: a plain blocking send (nil: park forever).
    (@cases [(send ($tx:expr, $v:expr $(,)?) ($p:pat) $b:tt)] @default []) => {{
        let __res = {
            let __op = &$tx;
            let __val = $v;
            match $crate::select::__as_send(__op) {
                ::core::option::Option::Some(__tx) => __tx.send(__val).await,
                ::core::option::Option::None => {
                    let _keep = __val;
                    match $crate::select::__park_forever_send_nil().await {}
                }
            }
        };
        let $p = __res;
        $b
    }};
    // One receive and default: Go's selectnbrecv (try_recv).
    (@cases [(recv ($rx:expr $(,)?) ($p:pat) $b:tt)] @default [$db:tt]) => {{
        let __res = {
            let __op = &$rx;
            match $crate::select::__as_recv(__op) {
                ::core::option::Option::Some(__rx) => match __rx.try_recv() {
                    ::core::result::Result::Ok(__v) => {
                        ::core::option::Option::Some(::core::option::Option::Some(__v))
                    }
                    ::core::result::Result::Err($crate::chan::TryRecvError::Closed) => {
                        ::core::option::Option::Some(::core::option::Option::None)
                    }
                    ::core::result::Result::Err($crate::chan::TryRecvError::Empty) => {
                        ::core::option::Option::None
                    }
                },
                ::core::option::Option::None => ::core::option::Option::None,
            }
        };
        match __res {
            ::core::option::Option::Some(__v) => {
                let $p = __v;
                $b
            }
            ::core::option::Option::None => $db,
        }
    }};
    // One send and default: Go's selectnbsend (try_send; Full -> default).
    (@cases [(send ($tx:expr, $v:expr $(,)?) ($p:pat) $b:tt)] @default [$db:tt]) => {{
        let __res = {
            let __op = &$tx;
            let __val = $v;
            match $crate::select::__as_send(__op) {
                ::core::option::Option::Some(__tx) => match __tx.try_send(__val) {
                    ::core::result::Result::Ok(()) => {
                        ::core::option::Option::Some(::core::result::Result::Ok(()))
                    }
                    ::core::result::Result::Err($crate::chan::TrySendError::Closed(__v)) => {
                        ::core::option::Option::Some(::core::result::Result::Err(
                            $crate::chan::SendError(__v),
                        ))
                    }
                    ::core::result::Result::Err($crate::chan::TrySendError::Full(_)) => {
                        ::core::option::Option::None
                    }
                },
                ::core::option::Option::None => ::core::option::Option::None,
            }
        };
        match __res {
            ::core::option::Option::Some(__v) => {
                let $p = __v;
                $b
            }
            ::core::option::Option::None => $db,
        }
    }};
    // The general case: selectgo.
    (@cases [$($c:tt)+] @default [$($d:tt)?]) => {
        $crate::__select_general!(@todo [$($c)+] @done [] @default [$($d)?])
    };
}

/// The general expansion. Each step names one case's variables; identifiers
/// written in a transcriber are hygienic per expansion, so the `__op`,
/// `__case`, `__res` of different steps are distinct variables.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_general {
    (@todo [($kind:ident $args:tt $p:tt $b:tt) $($rest:tt)*] @done [$($done:tt)*]
     @default $d:tt) => {
        $crate::__select_general!(
            @todo [$($rest)*]
            @done [$($done)* ($kind $args $p $b __op __case __res)]
            @default $d
        )
    };
    (@todo [] @done [$(($kind:ident $args:tt ($p:pat) $b:tt $op:ident $case:ident $res:ident))+]
     @default [$($d:tt)?]) => {{
        $( let mut $res = ::core::option::Option::None; )+
        {
            $( $crate::__select_case!($kind $args $op $case); )+
            // Pass 0 (see `PollOrder`): in a random order, complete the
            // first case that is ready, under its lock alone.
            let __order = $crate::select::PollOrder::new(
                [$( $crate::select::Case::chan_addr(&$case) != 0 ),+],
            );
            // Whether pass 0 completed a case; which one is told by the
            // cases' results (`take_result`), not by an index.
            let mut __done = false;
            if __order.runs_pass0() {
                if $crate::__select_case!(@block $($d)?) && !$crate::select::coop_spend() {
                    $crate::select::coop_yield_point().await;
                }
                // Indexed, not matched: the random choice selects data (which
                // case object), not code, so the branch predictor has nothing
                // random to guess when the cases share a type.
                let __cs: &mut [&mut dyn $crate::select::Case] = &mut [$( &mut $case ),+];
                for __j in 0..__order.live() {
                    let __k = __order.get(__j);
                    if let ::core::option::Option::Some(__w) = __cs[__k].try_alone() {
                        $crate::select::__wake(__w);
                        __done = true;
                        break;
                    }
                }
            }
            if !__done {
                let __cases: &mut [&mut dyn $crate::select::Case] =
                    &mut [$( &mut $case as &mut dyn $crate::select::Case ),+];
                let __block = $crate::__select_case!(@block $($d)?);
                // The winner, if any, is the case holding a result.
                // SAFETY: `selectgo`'s contract: the cases are locals of
                // this frame, declared before the `SelectGo`, which is a
                // temporary of this statement, awaited in place: it is
                // dropped at the end of the statement or, if the enclosing
                // future is dropped while it waits, before the cases; if
                // that future is leaked, the cases leak with it.
                let _ = unsafe { $crate::select::selectgo(__cases, __block) }
                    .after_pass0(__order.runs_pass0())
                    .await;
            }
            // Only the winner holds a result: take them all, without
            // branching on which one won.
            $( $res = $case.take_result(); )+
        }
        $(
            if let ::core::option::Option::Some(__v) = $res {
                let $p = __v;
                $b
            } else
        )+ {
            $crate::__select_case!(@default $($d)?)
        }
    }};
}

/// Per-case pieces of the general expansion: bind operand and case
/// (operand first, then the send value: Go's source order), the `block`
/// flag, and the default arm.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_case {
    (recv ($rx:expr $(,)?) $op:ident $case:ident) => {
        let $op = &$rx;
        let mut $case = $crate::select::RecvCase::new($crate::select::__as_recv($op));
    };
    (send ($tx:expr, $v:expr $(,)?) $op:ident $case:ident) => {
        let $op = &$tx;
        let mut $case = $crate::select::SendCase::new($crate::select::__as_send($op), $v);
    };
    (recv $($bad:tt)*) => {
        ::core::compile_error!("select!: expected `recv(channel)`")
    };
    (send $($bad:tt)*) => {
        ::core::compile_error!("select!: expected `send(channel, value)`")
    };
    (@block) => {
        true
    };
    (@block $d:tt) => {
        false
    };
    (@default) => {
        ::core::unreachable!("select!: selectgo returned without a winner while blocking")
    };
    (@default $d:tt) => {
        $d
    };
}
