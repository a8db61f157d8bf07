//! One M per P: a G whose single poll runs past sysmon's 10 ms (its P is
//! retaken and handed to another M while it runs) and that then enters a
//! blocking section (`goro::blocking`, `goro::block_on`, a `*_blocking`
//! channel operation) must not claim the P back from its new owner (Go's
//! `entersyscall` against `retake`). Debug builds count every sign of two
//! Ms acting as one P's owner (`testing::owner_clashes`); the tests check
//! that count and that everything finishes.
//!
//! `hog_then_block_stress` is the long version for CI (`.ci/run`), ignored
//! by default.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::guard;
use goro::runtime::testing::owner_clashes;

/// What the hog does once its long poll is over.
#[derive(Clone, Copy, Debug)]
enum Then {
    Blocking,
    BlockOn,
    RecvBlocking,
}

/// Longer than sysmon's 10 ms, plus its observation delay.
const HOG: Duration = Duration::from_millis(30);

/// `rounds` times on `procs` Ps: a G sleeps its thread for `HOG` inside one
/// poll while every P has timers and queued work (so sysmon retakes its P
/// and hands it on), then makes the blocking call `then`, then spawns and
/// joins a G and sends on a channel (queue operations on whatever P it
/// holds). Returns the background Gs' progress.
fn hog_then_block(procs: usize, then: Then, rounds: usize) -> usize {
    let rt = goro::Runtime::builder().max_procs(procs).build();
    rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicUsize::new(0));
        let mut bg = Vec::new();
        for _ in 0..2 * procs {
            let (stop, ticks) = (stop.clone(), ticks.clone());
            bg.push(goro::go(async move {
                while !stop.load(Ordering::SeqCst) {
                    goro::time::sleep(Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                    goro::gosched().await;
                }
            }));
        }
        for r in 0..rounds {
            let (tx, rx) = goro::chan::<usize>(0);
            let (out_tx, out_rx) = goro::chan::<usize>(1);
            let hog = goro::go(async move {
                std::thread::sleep(HOG);
                let v = match then {
                    Then::Blocking => goro::blocking(|| {
                        std::thread::sleep(Duration::from_millis(1));
                        r
                    }),
                    Then::BlockOn => goro::block_on(async {
                        goro::time::sleep(Duration::from_millis(1)).await;
                        r
                    }),
                    Then::RecvBlocking => rx.recv_blocking().unwrap(),
                };
                let child = goro::go(async move { v + 1 });
                let w = child.await.unwrap();
                out_tx.send(w).await.unwrap();
                w
            });
            if let Then::RecvBlocking = then {
                tx.send(r).await.unwrap();
            }
            assert_eq!(out_rx.recv().await, Some(r + 1));
            assert_eq!(hog.await.unwrap(), r + 1);
        }
        stop.store(true, Ordering::SeqCst);
        for h in bg {
            h.await.unwrap();
        }
        ticks.load(Ordering::SeqCst)
    })
}

fn check(procs: usize, then: Then) {
    let ticks = guard(120, move || hog_then_block(procs, then, 8));
    assert!(ticks > 0, "the other Gs made no progress");
    assert_eq!(
        owner_clashes(),
        0,
        "two Ms owned one P ({then:?}, {procs} Ps)"
    );
}

#[test]
fn hog_then_blocking_one_p() {
    check(1, Then::Blocking);
}

#[test]
fn hog_then_blocking_two_ps() {
    check(2, Then::Blocking);
}

#[test]
fn hog_then_block_on_one_p() {
    check(1, Then::BlockOn);
}

#[test]
fn hog_then_block_on_two_ps() {
    check(2, Then::BlockOn);
}

#[test]
fn hog_then_recv_blocking_one_p() {
    check(1, Then::RecvBlocking);
}

#[test]
fn hog_then_recv_blocking_two_ps() {
    check(2, Then::RecvBlocking);
}

/// A timer armed by a G whose P was retaken while it ran (and then shrunk
/// away by `gomaxprocs`) still fires: it goes on a P the M owns, or P 0,
/// never on a retired P's heap.
#[test]
fn timer_after_lost_p_fires() {
    let ok = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            for _ in 0..4 {
                let h = goro::go(async {
                    std::thread::sleep(HOG);
                    goro::gomaxprocs(1);
                    goro::time::sleep(Duration::from_millis(2)).await;
                    goro::gomaxprocs(2);
                    true
                });
                // keep the other P busy with timers so the hog's P is retaken
                let t = Instant::now();
                while !h.is_finished() && t.elapsed() < Duration::from_secs(10) {
                    goro::time::sleep(Duration::from_millis(1)).await;
                }
                if !h.await.unwrap() {
                    return false;
                }
            }
            true
        })
    });
    assert!(ok);
    assert_eq!(owner_clashes(), 0);
}

/// The CI stress run of the above: about 30 s of hog-then-block rounds on
/// 1 and 2 Ps, every kind. `cargo test --test rt_ownership -- --ignored`.
#[test]
#[ignore = "stress run (about 30 s); .ci/run runs it"]
fn hog_then_block_stress() {
    let end = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while Instant::now() < end {
        for procs in [1, 2] {
            for then in [Then::Blocking, Then::BlockOn, Then::RecvBlocking] {
                let ticks = guard(120, move || hog_then_block(procs, then, 4));
                assert!(ticks > 0);
                n += 1;
            }
        }
    }
    assert_eq!(owner_clashes(), 0, "two Ms owned one P in {n} runs");
}
