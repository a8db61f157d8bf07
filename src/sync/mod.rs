//! `goro::sync`: Go's `sync.WaitGroup` and `golang.org/x/sync/errgroup`.
//!
//! - [`WaitGroup`] (waitgroup.rs): one atomic state word, waiters behind a
//!   lock; mirrors Go's src/sync/waitgroup.go (Go 1.25, with `Go`).
//! - slab.rs: the O(1) insert/remove slab used for waiter lists here and
//!   for the context tree's child sets.

pub(crate) mod slab;
mod waitgroup;

pub use waitgroup::{Wait, WaitGroup};
