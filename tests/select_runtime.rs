//! `select!` and `Select` inside goroutines on the goro runtime: parking a G
//! (not its thread), waking it from another G, timeouts with
//! `goro::time::after`, Go's select stress with Gs, and cancel safety when
//! a select loses a race against a timer.

mod common;

use goro::chan::{Receiver, Sender};
use std::collections::HashSet;
use std::time::Duration;

/// Runs `f` on a thread and fails the test if it takes longer than 60 s.
fn guard<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    common::guard(60, f)
}

#[test]
fn ping_pong_between_goroutines() {
    let n = guard(|| {
        goro::run(async {
            let (ping_tx, ping_rx) = goro::chan::<u32>(0);
            let (pong_tx, pong_rx) = goro::chan::<u32>(0);
            let (quit_tx, quit_rx) = goro::chan::<()>(0);
            let g = goro::go(async move {
                let mut n = 0;
                loop {
                    goro::select! {
                        recv(ping_rx) -> v => {
                            pong_tx.send(v.unwrap() + 1).await.unwrap();
                            n += 1;
                        },
                        recv(quit_rx) => return n,
                    }
                }
            });
            let mut v = 0;
            for _ in 0..1000 {
                goro::select! {
                    send(ping_tx, v) -> r => r.unwrap(),
                }
                v = goro::select! { recv(pong_rx) -> x => x.unwrap() };
            }
            assert_eq!(v, 1000);
            drop(quit_tx);
            g.await.unwrap()
        })
    });
    assert_eq!(n, 1000);
}

#[test]
fn timeout_with_time_after() {
    guard(|| {
        goro::run(async {
            let (_tx, rx) = goro::chan::<u32>(0);
            let start = std::time::Instant::now();
            let r = goro::select! {
                recv(rx) -> v => v,
                recv(goro::time::after(Duration::from_millis(30))) => None,
            };
            assert_eq!(r, None);
            assert!(start.elapsed() >= Duration::from_millis(30));
            // A value that arrives before the timeout wins.
            let (tx, rx) = goro::chan::<u32>(0);
            goro::go(async move { tx.send(7).await.unwrap() });
            let r = goro::select! {
                recv(rx) -> v => v,
                recv(goro::time::after(Duration::from_secs(20))) => None,
            };
            assert_eq!(r, Some(7));
        })
    });
}

// Go: TestSelectStress, with goroutines.
#[test]
fn select_stress_goroutines() {
    guard(|| {
        goro::run(async {
            let (bodies, rxs) = common::select_stress(5_000);
            let gs: Vec<_> = bodies.into_iter().map(goro::go).collect();
            for g in gs {
                g.await.unwrap();
            }
            for rx in &rxs {
                assert!(rx.is_empty());
            }
        })
    });
}

/// Many producers and a consumer G whose select has a short timeout case
/// each round: many selects park on the data channel and then complete
/// through the timer instead, unlinking their receive; every value is still
/// received exactly once.
#[test]
fn selects_with_timeouts_lose_nothing() {
    let got = guard(|| {
        goro::run(async {
            const P: usize = 4;
            const PER: usize = 500;
            let (tx, rx) = goro::chan::<usize>(0);
            for p in 0..P {
                let tx = tx.clone();
                goro::go(async move {
                    for k in 0..PER {
                        if k % 50 == 0 {
                            goro::time::sleep(Duration::from_millis(1)).await;
                        }
                        tx.send(p * PER + k).await.unwrap();
                    }
                });
            }
            drop(tx);
            let mut got = Vec::new();
            loop {
                goro::select! {
                    recv(rx) -> v => match v {
                        Some(v) => got.push(v),
                        None => break,
                    },
                    recv(goro::time::after(Duration::from_micros(200))) => {},
                }
            }
            got
        })
    });
    let n = got.len();
    let set: HashSet<usize> = got.into_iter().collect();
    assert_eq!(set.len(), n, "duplicates");
    assert_eq!(n, 4 * 500, "lost values");
}

#[test]
fn dynamic_select_fan_in_goroutines() {
    let total = guard(|| {
        goro::run(async {
            let chans: Vec<(Sender<u64>, Receiver<u64>)> =
                (0..100).map(|i| goro::chan(i % 2)).collect();
            for (i, (tx, _)) in chans.iter().enumerate() {
                let tx = tx.clone();
                goro::go(async move {
                    for k in 0..20u64 {
                        tx.send(i as u64 * 100 + k).await.unwrap();
                    }
                });
            }
            let rxs: Vec<Receiver<u64>> = chans.iter().map(|c| c.1.clone()).collect();
            drop(chans);
            let mut sel = goro::Select::new();
            for rx in &rxs {
                sel.recv(rx);
            }
            let (mut total, mut open) = (0u64, rxs.len());
            while open > 0 {
                let op = sel.select().await;
                let i = op.index();
                match op.recv(&rxs[i]) {
                    Some(v) => total += v,
                    None => {
                        sel.remove(i);
                        open -= 1;
                    }
                }
            }
            total
        })
    });
    let want: u64 = (0..100u64)
        .map(|i| (0..20u64).map(|k| i * 100 + k).sum::<u64>())
        .sum();
    assert_eq!(total, want);
}

#[test]
fn empty_select_parks_a_goroutine_forever() {
    guard(|| {
        let rt = goro::Runtime::new();
        rt.block_on(async {
            let g = goro::go(async {
                goro::select! {}
            });
            goro::time::sleep(Duration::from_millis(20)).await;
            // Still parked (not finished, not spinning the runtime).
            assert!(goro::num_goroutine() >= 2);
            drop(g);
        });
        rt.shutdown();
    });
}

#[test]
fn parked_selects_show_go_wait_reasons_in_the_dump() {
    let dump = guard(|| {
        let rt = goro::Runtime::new();
        let dump = rt.block_on(async {
            let (_tx, rx) = goro::chan::<u8>(0);
            let (_tx2, rx2) = goro::chan::<u8>(0);
            let g1 = goro::go(async {
                goro::select! {}
            });
            let g2 = goro::go(async {
                let nil: Option<&Receiver<u8>> = None;
                goro::select! { recv(nil) => {} }
            });
            let g3 = goro::go(async {
                let nil: Option<&Sender<u8>> = None;
                goro::select! { send(nil, 1) => {} }
            });
            let g4 = goro::go(async move {
                goro::select! {
                    recv(rx) => {},
                    recv(rx2) => {},
                }
            });
            goro::time::sleep(Duration::from_millis(50)).await;
            let dump = goro::runtime::stack();
            drop((g1, g2, g3, g4));
            dump
        });
        rt.shutdown();
        dump
    });
    for reason in [
        "select (no cases)",
        "chan receive (nil chan)",
        "chan send (nil chan)",
        "select",
    ] {
        let found = dump.contains(&format!("[{reason}]")) || dump.contains(&format!("[{reason}, "));
        assert!(found, "no {reason:?} in the dump:\n{dump}");
    }
}
