//! `goro::select` — not yet written (see the open issues).

pub(crate) mod selectgo;
#[doc(hidden)]
pub use selectgo::{Case, RecvCase, SelectGo, SendCase, selectgo};
