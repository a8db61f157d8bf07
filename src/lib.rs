//! goro: Go's concurrency for Rust.
//!
//! goroutines (Gs) on Go's GMP work-stealing scheduler, channels with Go's
//! semantics (unbuffered rendezvous, buffered, close, many senders and many
//! receivers), [`select!`] implemented as Go's `selectgo`, [`Select`] for
//! cases known at run time, [`sync::WaitGroup`], [`sync::ErrGroup`]
//! (`errgroup`), [`context`] cancel trees and [`time`] (Sleep, After, Timer,
//! Ticker, AfterFunc). Go's runtime tools come along: deadlock detection in
//! [`run`], goroutine dumps ([`runtime::stack`]) and `GODEBUG=schedtrace`.
//!
//! A G is a future spawned with [`go`]. Everything that blocks in Go is an
//! `.await` here and parks the G, never the OS thread; every blocking
//! operation also has a `*_blocking` form for ordinary threads.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! let sum = goro::run(async {                       // func main()
//!     let (tx, rx) = goro::chan::<u64>(0);          // ch := make(chan uint64)
//!     let wg = goro::sync::WaitGroup::new();        // var wg sync.WaitGroup
//!     for i in 1..=10 {
//!         let tx = tx.clone();
//!         wg.go(async move {                        // wg.Go(func() { ch <- i * i })
//!             tx.send(i * i).await.unwrap();
//!         });
//!     }
//!     drop(tx);
//!     goro::go(async move { wg.wait().await });     // go func() { wg.Wait(); close(ch) }()
//!     let mut sum = 0;
//!     loop {
//!         goro::select! {                           // select {
//!             recv(rx) -> v => match v {            // case v, ok := <-ch:
//!                 Some(v) => sum += v,
//!                 None => break,                    //     if !ok { break loop }
//!             },
//!             recv(goro::time::after(Duration::from_secs(5))) => panic!("timeout"),
//!         }
//!     }
//!     sum
//! });
//! assert_eq!(sum, 385);
//! ```
//!
//! The channel closes when the last [`chan::Sender`] is dropped (the
//! workers' clones, once `wg.go`'s futures end), so the loop above needs no
//! explicit `close`; `tx.close()` is Go's `close(ch)`.
//!
//! # Go → goro
//!
//! | Go | goro |
//! |---|---|
//! | `func main()` | [`goro::run(async { … })`](run) |
//! | `go f()` | [`goro::go(f())`](go) → [`JoinHandle`] |
//! | `make(chan T, n)` | [`goro::chan::<T>(n)`](chan()) → ([`chan::Sender`], [`chan::Receiver`]) |
//! | `ch <- v`, `v, ok := <-ch` | [`tx.send(v).await`](chan::Sender::send), [`rx.recv().await`](chan::Receiver::recv) (`None`: closed) |
//! | `close(ch)` | [`tx.close()`](chan::Sender::close) or drop every `Sender` |
//! | `for v := range ch` | `while let Some(v) = rx.recv().await` |
//! | `select` (with `default`, nil channels, `time.After`) | [`select!`] (`default =>`, `None` operands, `recv(time::after(d))`) |
//! | `reflect.Select` | [`Select`] |
//! | `sync.WaitGroup`, `errgroup.Group` | [`sync::WaitGroup`], [`sync::ErrGroup`] |
//! | `context.WithCancel`, `WithTimeout`, `ctx.Done()` | [`context::with_cancel`], [`context::with_timeout`], [`Context::done`](context::Context::done) |
//! | `time.Sleep`, `time.After`, `time.NewTimer`, `time.NewTicker` | [`time::sleep`], [`time::after`], [`time::Timer`], [`time::Ticker`] |
//! | `runtime.GOMAXPROCS`, `Gosched`, `NumGoroutine` | [`gomaxprocs`], [`gosched`], [`num_goroutine`] |
//! | `runtime.Stack`, `GODEBUG=schedtrace=1000` | [`runtime::stack`], the same environment variable |
//! | a blocking system call | [`blocking`] |
//!
//! # Differences from Go
//!
//! * A send on a closed channel returns `Err(SendError(v))` with the value
//!   instead of panicking; closing twice still panics (`close of closed
//!   channel`).
//! * Dropping the last `Sender` closes the channel; dropping the last
//!   `Receiver` makes sends fail.
//! * Every blocking operation is a future: it does nothing until awaited,
//!   and dropping it (cancelling) never loses or duplicates a value.
//! * Code that blocks its OS thread must run inside [`blocking`], which
//!   hands the P to another thread as Go does around a system call.
//! * A G that holds its P for more than 10 ms in one poll is not preempted
//!   (a future cannot be); sysmon hands the P to another thread instead,
//!   and the G's next `go` waits until it holds a P again.
//! * A G woken by a running G, when it is all that G's P holds, waits for
//!   the waker to park or yield (or for sysmon to hand the P on) instead of
//!   waking an idle thread to steal it.
//! * The global run queue serves Gs that have run before ahead of Gs that
//!   have never run (one batch in four the other way round), so woken Gs
//!   are not stuck behind a burst of spawns.
//! * `gosched` keeps the yielded G on its P, queued behind the P's local
//!   queue and its share of the global run queue, unless another P is idle
//!   (then it goes to the global queue at once, as in Go).

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod loom;
mod task;
pub(crate) mod util;

pub mod runtime;
pub use runtime::{
    Builder, JoinError, JoinHandle, Runtime, block_on, blocking, go, gomaxprocs, gosched,
    num_goroutine, run,
};

// ---- chan ----
pub mod chan;
pub use chan::chan;

// ---- select ----
pub mod select;
pub use select::Select;

// ---- sync ----
pub mod sync;

// ---- context ----
pub mod context;

// ---- time ----
pub mod time;

// ---- net, signal: on the runtime's network poller ----
#[cfg(not(loom))]
pub mod net;
#[cfg(not(loom))]
pub mod signal;
