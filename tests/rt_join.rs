//! JoinHandle and G completion: a future whose drop panics, a detached
//! panic reported whichever side lets go last, and wakers whose drop runs
//! code that needs the G's completion (no lock may be held around it).
//! The race of a handle's drop with a panicking completion is modelled in
//! `loom-tests/tests/join.rs`.

mod common;

use common::guard;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Panics when dropped.
struct Bomb(&'static str);

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// A future that is ready at once with `7` and panics when it is dropped
/// afterwards (its field's drop).
struct ReadyThenBomb {
    _bomb: Bomb,
}

impl Future for ReadyThenBomb {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(7)
    }
}

#[test]
fn future_whose_drop_panics_gives_join_error() {
    let (first, after) = guard(30, || {
        goro::run(async {
            let h = goro::go(ReadyThenBomb {
                _bomb: Bomb("drop boom"),
            });
            let e = h.await.unwrap_err();
            assert!(e.is_panic());
            let msg = e.into_panic().downcast::<String>().unwrap();
            // the runtime keeps working: a new G runs and is joined
            let after = goro::go(async { 5 }).await.unwrap();
            (*msg, after)
        })
    });
    assert_eq!(first, "drop boom");
    assert_eq!(after, 5);
}

#[test]
fn detached_future_whose_drop_panics_ends_run() {
    let r = guard(30, || {
        std::panic::catch_unwind(|| {
            goro::run(async {
                drop(goro::go(ReadyThenBomb {
                    _bomb: Bomb("detached drop boom"),
                }));
                // main would run forever without the panic
                loop {
                    goro::gosched().await;
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
    });
    let p = r.unwrap_err();
    assert_eq!(*p.downcast::<String>().unwrap(), "detached drop boom");
}

/// The handle is dropped after the G panicked: the drop reports the panic.
#[test]
fn handle_dropped_after_panic_reports_it() {
    let r = guard(30, || {
        std::panic::catch_unwind(|| {
            goro::run(async {
                let h = goro::go(async {
                    if true {
                        panic!("late boom");
                    }
                });
                while !h.is_finished() {
                    goro::gosched().await;
                }
                drop(h);
                loop {
                    goro::gosched().await;
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
    });
    let p = r.unwrap_err();
    assert_eq!(*p.downcast::<&str>().unwrap(), "late boom");
}

/// A waker whose drop lets the G finish, then waits (bounded) until the
/// runtime has run another G after it: the G's completion must not wait for
/// anything the thread dropping this waker holds.
struct BlockingDropWaker {
    release: goro::chan::Sender<()>,
    ran: Mutex<mpsc::Receiver<()>>,
    /// Whether the other G ran while this drop waited.
    saw: Arc<Mutex<Option<bool>>>,
}

impl Wake for BlockingDropWaker {
    fn wake(self: Arc<Self>) {}
}

impl Drop for BlockingDropWaker {
    fn drop(&mut self) {
        self.release.try_send(()).unwrap();
        let ran = self
            .ran
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(5));
        *self.saw.lock().unwrap() = Some(ran.is_ok());
    }
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<T>(h: &mut goro::JoinHandle<T>, w: &Waker) -> Poll<Result<T, goro::JoinError>> {
    Pin::new(h).poll(&mut Context::from_waker(w))
}

/// Polling the handle with a new waker drops the old one: that drop runs
/// user code (here: it releases the G and waits for the runtime to run the
/// G spawned after it), so it must not run under a lock the completion
/// takes. One P, so nothing else could run that G.
#[test]
fn join_waker_dropped_without_lock() {
    let saw = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let (release_tx, release_rx) = goro::chan::<()>(1);
        let (ran_tx, ran_rx) = mpsc::channel();
        let mut h = rt.spawn(async move {
            release_rx.recv().await;
            // runs on the same P once this G has completed
            drop(goro::go(async move { ran_tx.send(()).unwrap() }));
            7
        });
        let saw = Arc::new(Mutex::new(None));
        let w1 = Waker::from(Arc::new(BlockingDropWaker {
            release: release_tx,
            ran: Mutex::new(ran_rx),
            saw: saw.clone(),
        }));
        assert!(poll_once(&mut h, &w1).is_pending());
        drop(w1); // the handle now holds the only clone
        let w2 = Waker::from(Arc::new(NoopWake));
        // drops w1: the G completes and the next G runs meanwhile
        let second = poll_once(&mut h, &w2);
        let v = match second {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => goro::block_on(h).unwrap(),
        };
        assert_eq!(v, 7);
        saw.lock().unwrap().take()
    });
    assert_eq!(
        saw,
        Some(true),
        "the G's completion waited for the thread dropping the old waker"
    );
}
