//! goro: Go's concurrency for Rust.
//!
//! Goroutines on a GMP work-stealing scheduler, channels, `select!`,
//! `WaitGroup`, `ErrGroup`, `context` and timers, with Go's semantics.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod loom;

pub mod runtime;
pub use runtime::{
    Builder, JoinError, JoinHandle, Runtime, block_on, blocking, go, gomaxprocs, gosched,
    num_goroutine, run,
};

// ---- chan (issue 3) ----
pub mod chan;
pub use chan::chan;

// ---- select (issue 4) ----
pub mod select;
pub use select::Select;

// ---- sync (issue 6) ----
pub mod sync;

// ---- context (issue 6) ----
pub mod context;

// ---- time (issue 5) ----
pub mod time;
