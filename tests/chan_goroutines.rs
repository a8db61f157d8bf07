//! Channels between goroutines (goro::run / goro::go), and between
//! goroutines and plain threads: ping-pong, MPMC, blocking variants inside
//! Gs, selectgo inside Gs, and the deadlock detector seeing chan waits.

mod common;

use goro::select::{Case, RecvCase, SendCase, selectgo};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::guard;

#[test]
fn pingpong_in_goroutines() {
    let v = guard(30, || {
        goro::run(async {
            let (atx, arx) = goro::chan::<u32>(0);
            let (btx, brx) = goro::chan::<u32>(0);
            let h = goro::go(async move {
                while let Some(v) = arx.recv().await {
                    btx.send(v + 1).await.unwrap();
                }
            });
            let mut v = 0;
            for _ in 0..10_000 {
                atx.send(v).await.unwrap();
                v = brx.recv().await.unwrap();
            }
            drop(atx);
            h.await.unwrap();
            v
        })
    });
    assert_eq!(v, 10_000);
}

#[test]
fn mpmc_in_goroutines() {
    guard(60, || {
        for cap in [0usize, 1, 64] {
            let seen = goro::run(async move {
                const P: usize = 4;
                const N: usize = 5000;
                let (tx, rx) = goro::chan::<usize>(cap);
                let seen = Arc::new((0..P * N).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
                let mut hs = Vec::new();
                for k in 0..P {
                    let tx = tx.clone();
                    hs.push(goro::go(async move {
                        for i in 0..N {
                            tx.send(k * N + i).await.unwrap();
                        }
                    }));
                }
                drop(tx);
                let mut rs = Vec::new();
                for _ in 0..P {
                    let (rx, seen) = (rx.clone(), seen.clone());
                    rs.push(goro::go(async move {
                        while let Some(v) = rx.recv().await {
                            seen[v].fetch_add(1, Ordering::SeqCst);
                        }
                    }));
                }
                for h in hs.into_iter().chain(rs) {
                    h.await.unwrap();
                }
                seen
            });
            assert!(
                seen.iter().all(|c| c.load(Ordering::SeqCst) == 1),
                "cap {cap}"
            );
        }
    });
}

#[test]
fn goroutines_and_threads_interoperate() {
    guard(30, || {
        let (tx, rx) = goro::chan::<u32>(0);
        let (rtx, rrx) = goro::chan::<u32>(0);
        // A plain thread serves requests with the blocking variants.
        let t = std::thread::spawn(move || {
            for v in rx.iter() {
                rtx.send_blocking(v * 2).unwrap();
            }
        });
        let sum = goro::run(async move {
            let mut s = 0;
            for i in 0..1000 {
                tx.send(i).await.unwrap();
                s += rrx.recv().await.unwrap();
            }
            s
        });
        assert_eq!(sum, (0..1000).map(|i| i * 2).sum::<u32>());
        t.join().unwrap();
    });
}

#[test]
fn blocking_variants_inside_goroutines_do_not_stall_others() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let got = rt.block_on(async {
            let (tx, rx) = goro::chan::<u32>(0);
            // With one P, this G blocks its thread in recv_blocking; the
            // sender G must still run (the P is handed off).
            let h = goro::go(async move { rx.recv_blocking() });
            goro::go(async move {
                tx.send(7).await.unwrap();
            });
            h.await.unwrap()
        });
        assert_eq!(got, Some(7));
        rt.shutdown();
    });
}

#[test]
fn selectgo_in_goroutines() {
    guard(30, || {
        let n = goro::run(async {
            let (atx, arx) = goro::chan::<u32>(0);
            let (btx, brx) = goro::chan::<u32>(0);
            let (qtx, qrx) = goro::chan::<()>(0);
            let p1 = goro::go(async move {
                for i in 0..500 {
                    atx.send(i).await.unwrap();
                }
            });
            let p2 = goro::go(async move {
                for i in 0..500 {
                    btx.send(i).await.unwrap();
                }
            });
            let c = goro::go(async move {
                let mut n = 0;
                loop {
                    let mut c0 = RecvCase::new(Some(&arx));
                    let mut c1 = RecvCase::new(Some(&brx));
                    let mut c2 = RecvCase::new(Some(&qrx));
                    let mut cases = [&mut c0 as &mut dyn Case, &mut c1, &mut c2];
                    // SAFETY: the cases are locals of this frame, declared before the
                    // SelectGo, which is awaited or pinned in place and dropped before them.
                    let w = unsafe { selectgo(&mut cases, true) }.await;
                    match w {
                        Some(0) => n += c0.take().is_some() as u32,
                        Some(1) => n += c1.take().is_some() as u32,
                        _ => return n,
                    }
                }
            });
            p1.await.unwrap();
            p2.await.unwrap();
            let mut s = SendCase::new(Some(&qtx), ());
            let mut cases = [&mut s as &mut dyn Case];
            // SAFETY: the cases are locals of this frame, declared before the
            // SelectGo, which is awaited or pinned in place and dropped before them.
            unsafe { selectgo(&mut cases, true) }.await.unwrap();
            s.take().unwrap();
            c.await.unwrap()
        });
        assert_eq!(n, 1000);
    });
}

#[test]
fn deadlock_on_channel_is_reported() {
    let r = guard(30, || {
        std::panic::catch_unwind(|| {
            goro::run(async {
                let (_tx, rx) = goro::chan::<u32>(0);
                rx.recv().await
            })
        })
    });
    let e = r.expect_err("a G blocked forever on recv must be a deadlock");
    let msg = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("chan receive"), "{msg}");
}
