//! Thread ↔ thread and async ↔ thread interop under contention (MPMC).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn guard(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

fn mpmc(cap: usize, senders: usize, receivers: usize, per: usize, async_side: bool) {
    let (tx, rx) = goro::chan::<usize>(cap);
    let n = senders * per;
    let seen = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
    let ss: Vec<_> = (0..senders)
        .map(|k| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                if async_side {
                    goro::block_on(async {
                        for i in 0..per {
                            tx.send(k * per + i).await.unwrap();
                        }
                    })
                } else {
                    for i in 0..per {
                        tx.send_blocking(k * per + i).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let rs: Vec<_> = (0..receivers)
        .map(|_| {
            let rx = rx.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut last = vec![None::<usize>; senders];
                let mut note = |v: usize| {
                    seen[v].fetch_add(1, Ordering::SeqCst);
                    // Per-sender FIFO as seen by one receiver.
                    let k = v / per;
                    assert!(last[k].is_none_or(|l| l < v));
                    last[k] = Some(v);
                };
                if async_side {
                    goro::block_on(async {
                        while let Some(v) = rx.recv().await {
                            note(v);
                        }
                    })
                } else {
                    for v in rx.iter() {
                        note(v);
                    }
                }
            })
        })
        .collect();
    drop(rx);
    for t in ss {
        t.join().unwrap();
    }
    for t in rs {
        t.join().unwrap();
    }
    assert!(seen.iter().all(|c| c.load(Ordering::SeqCst) == 1));
}

#[test]
fn mpmc_blocking() {
    guard(|| {
        for cap in [0, 1, 16] {
            mpmc(cap, 3, 3, 2000, false);
        }
    });
}

#[test]
fn mpmc_async() {
    guard(|| {
        for cap in [0, 1, 16] {
            mpmc(cap, 3, 2, 2000, true);
        }
    });
}

#[test]
fn mpsc_and_spmc() {
    guard(|| {
        mpmc(0, 4, 1, 1000, false);
        mpmc(8, 1, 4, 4000, true);
    });
}

#[test]
fn pingpong_threads() {
    guard(|| {
        let (atx, arx) = goro::chan::<u32>(0);
        let (btx, brx) = goro::chan::<u32>(0);
        let t = std::thread::spawn(move || {
            while let Some(v) = arx.recv_blocking() {
                btx.send_blocking(v + 1).unwrap();
            }
        });
        let mut v = 0;
        for _ in 0..5000 {
            atx.send_blocking(v).unwrap();
            v = brx.recv_blocking().unwrap();
        }
        assert_eq!(v, 5000);
        drop(atx);
        t.join().unwrap();
    });
}
