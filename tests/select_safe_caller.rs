//! `select!` needs no `unsafe` from its caller: the expansion's one call of
//! the `unsafe` `selectgo` keeps that function's contract by construction
//! (see `goro::select`'s module docs), so a crate that forbids unsafe code
//! can use it. This file forbids it.

#![forbid(unsafe_code)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

#[test]
fn select_in_a_crate_that_forbids_unsafe() {
    common::guard(20, || {
        let (ta, ra) = goro::chan::<u32>(1);
        let (tb, rb) = goro::chan::<u32>(1);
        ta.try_send(1).unwrap();
        let got = goro::block_on(async {
            goro::select! {
                recv(ra) -> v => v,
                recv(rb) -> v => v,
            }
        });
        assert_eq!(got, Some(1));
        drop(tb);
    });
}

/// The pattern `selectgo`'s contract exists for, through the macro: a
/// parked `select!` whose enclosing future is leaked. The cases leak with
/// it (they live in the same frame), so a later send completes into
/// memory that stays allocated, and the channels stay usable.
#[test]
fn leaking_a_parked_select_leaks_its_cases_with_it() {
    common::guard(20, || {
        let (ta, ra) = goro::chan::<u32>(0);
        let (tb, rb) = goro::chan::<u32>(0);
        let mut fut: Pin<Box<dyn Future<Output = Option<u32>>>> = Box::pin(async move {
            goro::select! {
                recv(ra) -> v => v,
                recv(rb) -> v => v,
            }
        });
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(cx).is_pending());
        std::mem::forget(fut);
        // The leaked select is parked on both channels and takes one value.
        assert_eq!(ta.try_send(5), Ok(()));
        assert!(
            tb.try_send(6).is_err(),
            "a decided select took a second value"
        );
        drop((ta, tb));
    });
}
