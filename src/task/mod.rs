//! The task leaf: what a parked task (a G, or an ordinary thread in
//! `block_on`) needs from below the runtime. It imports only `crate::loom`
//! and std; the runtime and every blocking primitive import it.
//!
//! - `wait.rs`: [`WaitReason`](wait::WaitReason), Go's `waitReason`
//!   strings (re-exported as `goro::runtime::WaitReason`).
//! - `park.rs`: the thread parker and `block_on_thread`, how a plain
//!   thread waits for a future (`*_blocking`, `goro::block_on`).
//! - `sema.rs`: the sema wait queue (Go's `runtime/sema.go`) that every
//!   `goro::sync` primitive parks on.
//!
//! What needs the running G (recording its wait reason, charging its
//! cooperative budget) stays with the M that polls it: the primitives reach
//! it through the runtime's crate-private facade (`runtime::set_wait_reason`,
//! `runtime::coop_proceed`, `runtime::coop_spend`), never through the M's
//! internals.

pub(crate) mod park;
pub(crate) mod sema;
pub(crate) mod wait;
