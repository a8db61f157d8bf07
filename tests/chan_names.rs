//! Public names of the channel module that a Rust user meets: a glob
//! import of `goro::chan` must not shadow the prelude's `Send` (the send
//! and receive futures are `SendFuture` and `RecvFuture`).

#![allow(clippy::wildcard_imports)]

use goro::chan::*;

/// `Send` here is still `std::marker::Send`: before the futures were
/// renamed, the glob import above made it the future type and this file
/// did not compile.
fn assert_send<T: Send>(_: &T) {}

#[test]
fn glob_import_keeps_std_send() {
    let (tx, rx): (Sender<u8>, Receiver<u8>) = goro::chan(1);
    assert_send(&tx);
    assert_send(&rx);
    let fut: SendFuture<'_, u8> = tx.send(1);
    assert_send(&fut);
    assert_eq!(goro::block_on(fut), Ok(()));
    let fut: RecvFuture<'_, u8> = rx.recv();
    assert_eq!(goro::block_on(fut), Some(1));
}
