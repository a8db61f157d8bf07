//! The task leaf: what a parked task (a G, or an ordinary thread in
//! `block_on`) needs from below the runtime. Today it holds the sema wait
//! queue (`sema.rs`, Go's `runtime/sema.go`) that every `goro::sync`
//! primitive parks on. It imports only `crate::loom`.

pub(crate) mod sema;
