//! `time::timeout`: the value when the future is first, `Elapsed` (and the
//! future dropped at once) when the time limit is, inside Gs and under
//! `block_on`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::time::{Elapsed, sleep, timeout};

const MS: Duration = Duration::from_millis(1);
const SLACK: Duration = Duration::from_secs(3);

/// Runs `f` on a thread; fails the test if it does not finish in 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn value_first_is_ok() {
    guarded(|| {
        goro::run(async {
            assert_eq!(timeout(Duration::from_secs(10), async { 1 }).await, Ok(1));
            let (tx, rx) = goro::chan::<u32>(0);
            goro::go(async move {
                sleep(2 * MS).await;
                tx.send(9).await.unwrap();
            });
            let got = timeout(Duration::from_secs(10), rx.recv()).await;
            assert_eq!(got, Ok(Some(9)));
        });
    });
}

#[test]
fn limit_first_is_elapsed_and_drops_the_future_at_once() {
    guarded(|| {
        goro::run(async {
            let dropped = Arc::new(AtomicBool::new(false));
            let flag = DropFlag(dropped.clone());
            let work = async move {
                let _flag = flag;
                sleep(Duration::from_secs(3600)).await;
                7
            };
            let t0 = Instant::now();
            let mut t = std::pin::pin!(timeout(10 * MS, work));
            let r = t.as_mut().await;
            let e = t0.elapsed();
            assert_eq!(r, Err(Elapsed::new()));
            assert!(e >= 10 * MS && e < 10 * MS + SLACK, "{e:?}");
            // Dropped when the limit passed, before the Timeout itself is.
            assert!(
                dropped.load(Ordering::SeqCst),
                "inner future outlived the timeout"
            );
        });
    });
}

#[test]
fn zero_limit_still_polls_once() {
    guarded(|| {
        let r = goro::block_on(timeout(Duration::ZERO, async { "ready" }));
        assert_eq!(r, Ok("ready"));
        let r = goro::block_on(timeout(Duration::ZERO, std::future::pending::<()>()));
        assert_eq!(r, Err(Elapsed::new()));
    });
}

#[test]
fn huge_limit_never_elapses() {
    guarded(|| {
        let (tx, rx) = goro::chan::<u8>(1);
        std::thread::spawn(move || {
            std::thread::sleep(5 * MS);
            tx.send_blocking(3).unwrap();
        });
        let r = goro::block_on(timeout(Duration::MAX, rx.recv()));
        assert_eq!(r, Ok(Some(3)));
    });
}

#[test]
fn works_under_block_on_and_many_gs() {
    guarded(|| {
        // A plain thread (the fallback timer thread serves it).
        let (_tx, rx) = goro::chan::<u8>(0);
        let r = goro::block_on(timeout(5 * MS, rx.recv()));
        assert!(r.is_err());
        // Many Gs, half of which time out.
        let rt = goro::Runtime::builder().max_procs(2).build();
        let (ok, late) = rt.block_on(async {
            let ok = Arc::new(AtomicUsize::new(0));
            let late = Arc::new(AtomicUsize::new(0));
            let mut hs = Vec::new();
            for i in 0..200u64 {
                let (ok, late) = (ok.clone(), late.clone());
                hs.push(goro::go(async move {
                    let d = if i % 2 == 0 {
                        MS
                    } else {
                        Duration::from_secs(3600)
                    };
                    match timeout(Duration::from_secs(1), sleep(d)).await {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(_) => late.fetch_add(1, Ordering::SeqCst),
                    };
                }));
            }
            for h in hs {
                h.await.unwrap();
            }
            (ok.load(Ordering::SeqCst), late.load(Ordering::SeqCst))
        });
        assert_eq!((ok, late), (100, 100));
    });
}

#[test]
fn elapsed_is_an_error() {
    let e = Elapsed::new();
    assert_eq!(e.to_string(), "deadline has elapsed");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    assert_eq!(boxed.to_string(), "deadline has elapsed");
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
#[should_panic(expected = "`Timeout` polled after completion")]
fn polled_after_completion_panics() {
    goro::block_on(async {
        let mut t = std::pin::pin!(timeout(MS, async {}));
        assert_eq!(t.as_mut().await, Ok(()));
        let _ = t.as_mut().await;
    });
}
