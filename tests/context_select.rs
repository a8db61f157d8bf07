//! `ctx.done()` in `select!`: a worker loop stopped by cancel, a wait cut
//! short by a deadline, and `background()`'s done never being chosen.

mod common;

use goro::context::{self, ContextError};
use std::future::Future;
use std::time::Duration;

/// Runs `fut` as the main G of a runtime, failing if it takes over 30 s.
fn rt<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    common::guard(30, move || goro::run(fut))
}

#[test]
fn worker_loop_stops_on_cancel() {
    let (handled, err) = rt(async {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (tx, rx) = goro::chan::<u32>(0);
        let c = ctx.clone();
        let worker = goro::go(async move {
            let mut handled = 0;
            loop {
                goro::select! {
                    recv(c.done()) -> _ => return (handled, c.err()),
                    recv(rx) -> v => {
                        if v.is_some() {
                            handled += 1;
                        }
                    },
                }
            }
        });
        for i in 0..10 {
            tx.send(i).await.unwrap();
        }
        cancel.cancel();
        worker.await.unwrap()
    });
    assert_eq!(handled, 10);
    assert_eq!(err, Some(ContextError::Canceled));
}

#[test]
fn deadline_cuts_a_wait_short() {
    let (timed_out, err) = rt(async {
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(10));
        let (_tx, rx) = goro::chan::<()>(0); // nothing is ever sent
        let timed_out = goro::select! {
            recv(rx) -> _ => false,
            recv(ctx.done()) -> _ => true,
        };
        (timed_out, ctx.err())
    });
    assert!(timed_out);
    assert_eq!(err, Some(ContextError::DeadlineExceeded));
}

#[test]
fn background_done_is_never_chosen() {
    let chosen = rt(async {
        let bg = context::background();
        goro::select! {
            recv(bg.done()) -> _ => "done",
            default => "default",
        }
    });
    assert_eq!(chosen, "default");
}
