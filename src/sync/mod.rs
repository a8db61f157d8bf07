//! `goro::sync`: Go's `sync.WaitGroup` and `golang.org/x/sync/errgroup`.
//!
//! - [`WaitGroup`] (waitgroup.rs): one atomic state word, waiters behind a
//!   lock; mirrors Go's src/sync/waitgroup.go (Go 1.25, with `Go`).
//! - [`ErrGroup`] (errgroup.rs): x/sync/errgroup over a `WaitGroup`, a
//!   semaphore channel and a first-error slot.
//! - slab.rs: the O(1) insert/remove slab used for waiter lists here and
//!   for the context tree's child sets.
//!
//! # Examples
//!
//! ```
//! use goro::sync::{ErrGroup, WaitGroup};
//! let res = goro::run(async {
//!     let wg = WaitGroup::new();
//!     let (tx, rx) = goro::chan::<u32>(3);
//!     for i in 0..3 {
//!         let tx = tx.clone();
//!         wg.go(async move { tx.send(i).await.unwrap() });
//!     }
//!     wg.wait().await; // every G has sent
//!     assert_eq!(rx.len(), 3);
//!     let g = ErrGroup::<String>::new();
//!     g.go(async { Err("boom".to_string()) });
//!     g.wait().await
//! });
//! assert_eq!(res, Err("boom".to_string()));
//! ```

mod errgroup;
pub(crate) mod slab;
mod waitgroup;

pub use errgroup::{ErrGroup, GroupError};
pub use waitgroup::{Wait, WaitGroup};

use std::future::Future;

/// Spawns `fut` as a detached G (Go's `go`) with `goro::go`; the caller's
/// site (through `#[track_caller]`) is kept for goroutine dumps.
///
/// # Panics
///
/// Outside a goro runtime, like `goro::go`.
#[track_caller]
pub(crate) fn spawn_g<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(crate::runtime::go(fut));
}
