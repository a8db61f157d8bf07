//! Our own tests of the behaviours Go's runtime tests check. Each test
//! names the Go test it mirrors. One module per area.

#[path = "../common/mod.rs"]
mod common;

mod chan;
mod context;
mod rt;
mod select;
mod sync;
mod time;
