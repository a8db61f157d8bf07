//! Go's chan tests (src/runtime/chan_test.go), in goro. Each test names the
//! Go test it mirrors. Until the scheduler lands, goroutines are threads.

use goro::chan::{SendError, TryRecvError, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Runs `f` on its own thread; fails the test if it takes over 60 s.
fn guard(f: impl FnOnce() + Send + 'static) {
    crate::common::guard(60, f)
}

// Go: TestChan
#[test]
fn test_chan() {
    guard(|| {
        for cap in 0..12usize {
            // Receive from an empty channel blocks.
            {
                let (tx, rx) = goro::chan::<i32>(cap);
                let recv = Arc::new(AtomicBool::new(false));
                let r = recv.clone();
                let t = std::thread::spawn(move || {
                    let v = rx.recv_blocking();
                    r.store(true, Ordering::SeqCst);
                    v
                });
                std::thread::sleep(Duration::from_millis(5));
                assert!(
                    !recv.load(Ordering::SeqCst),
                    "chan[{cap}]: receive from empty chan"
                );
                tx.send_blocking(0).unwrap();
                assert_eq!(t.join().unwrap(), Some(0));
            }
            // Non-blocking receive does not block.
            {
                let (_tx, rx) = goro::chan::<i32>(cap);
                assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            }
            // Send to a full channel blocks.
            {
                let (tx, rx) = goro::chan::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send_blocking(i).unwrap();
                }
                let sent = Arc::new(AtomicBool::new(false));
                let s = sent.clone();
                let t = std::thread::spawn(move || {
                    tx.send_blocking(0).unwrap();
                    s.store(true, Ordering::SeqCst);
                });
                std::thread::sleep(Duration::from_millis(5));
                assert!(
                    !sent.load(Ordering::SeqCst),
                    "chan[{cap}]: send to full chan"
                );
                rx.recv_blocking().unwrap();
                t.join().unwrap();
            }
            // Non-blocking send to a full channel does not block.
            {
                let (tx, _rx) = goro::chan::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send_blocking(i).unwrap();
                }
                assert_eq!(tx.try_send(0), Err(TrySendError::Full(0)));
            }
            // Receive from a closed channel: buffered values, then None.
            {
                let (tx, rx) = goro::chan::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send_blocking(i).unwrap();
                }
                tx.close();
                for i in 0..cap as i32 {
                    assert_eq!(rx.recv_blocking(), Some(i));
                }
                assert_eq!(rx.recv_blocking(), None);
                assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
            }
            // Close unblocks receive.
            {
                let (tx, rx) = goro::chan::<i32>(cap);
                let t = std::thread::spawn(move || rx.recv_blocking());
                std::thread::sleep(Duration::from_millis(5));
                tx.close();
                assert_eq!(t.join().unwrap(), None);
            }
            // Send on a closed channel fails (Go panics).
            {
                let (tx, _rx) = goro::chan::<i32>(cap);
                tx.close();
                assert_eq!(tx.send_blocking(1), Err(SendError(1)));
            }
            // 100 values arrive uncorrupted, in FIFO order.
            {
                let (tx, rx) = goro::chan::<i32>(cap);
                let t = std::thread::spawn(move || {
                    for i in 0..100 {
                        tx.send_blocking(i).unwrap();
                    }
                });
                for i in 0..100 {
                    assert_eq!(rx.recv_blocking(), Some(i), "chan[{cap}]");
                }
                t.join().unwrap();
            }
            // 4 senders × 1000 values: everything sent is received.
            {
                let (tx, rx) = goro::chan::<usize>(cap);
                let ts: Vec<_> = (0..4)
                    .map(|_| {
                        let tx = tx.clone();
                        std::thread::spawn(move || {
                            for i in 0..1000 {
                                tx.send_blocking(i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let mut counts = vec![0; 1000];
                for v in rx.iter() {
                    counts[v] += 1;
                }
                assert!(counts.iter().all(|&c| c == 4));
                for t in ts {
                    t.join().unwrap();
                }
            }
            // len/cap.
            {
                let (tx, rx) = goro::chan::<i32>(cap);
                assert_eq!((tx.len(), tx.cap()), (0, cap));
                for i in 0..cap as i32 {
                    tx.try_send(i).unwrap();
                }
                assert_eq!((rx.len(), rx.cap()), (cap, cap));
            }
        }
    });
}

// Go: TestNonblockRecvRace
#[test]
fn test_nonblock_recv_race() {
    guard(|| {
        for _ in 0..500 {
            let (tx, rx) = goro::chan::<i32>(1);
            tx.try_send(1).unwrap();
            let rx2 = rx.clone();
            let t = std::thread::spawn(move || {
                // The channel is never empty-and-open here: the value is
                // there until someone takes it, and then it is closed.
                assert_ne!(
                    rx2.try_recv(),
                    Err(TryRecvError::Empty),
                    "chan is not ready"
                );
            });
            tx.close();
            let _ = rx.recv_blocking();
            t.join().unwrap();
        }
    });
}

// Go: TestMultiConsumer
#[test]
fn test_multi_consumer() {
    guard(|| {
        const NWORK: usize = 23;
        const NITER: usize = 27182;
        let pn = [2usize, 3, 7, 11, 13, 17, 19, 23, 27, 31];
        let (qtx, qrx) = goro::chan::<usize>(NWORK * 3);
        let (rtx, rrx) = goro::chan::<usize>(NWORK * 3);
        let ws: Vec<_> = (0..NWORK)
            .map(|w| {
                let (qrx, rtx) = (qrx.clone(), rtx.clone());
                std::thread::spawn(move || {
                    for v in qrx.iter() {
                        if pn[w % pn.len()] == v {
                            std::thread::yield_now();
                        }
                        rtx.send_blocking(v).unwrap();
                    }
                })
            })
            .collect();
        drop((qrx, rtx));
        let prod = std::thread::spawn(move || {
            let mut s = 0;
            for i in 0..NITER {
                let v = pn[i % pn.len()];
                s += v;
                qtx.send_blocking(v).unwrap();
            }
            s
        });
        let (mut n, mut s) = (0, 0);
        for v in rrx.iter() {
            n += 1;
            s += v;
        }
        for w in ws {
            w.join().unwrap();
        }
        assert_eq!(n, NITER);
        assert_eq!(s, prod.join().unwrap());
    });
}

// Go: TestChan's FIFO section, many receivers (each receiver sees one
// sender's values in order).
#[test]
fn test_fifo_per_sender() {
    guard(|| {
        for cap in [0usize, 1, 7] {
            let (tx, rx) = goro::chan::<(usize, usize)>(cap);
            let ts: Vec<_> = (0..3)
                .map(|k| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for i in 0..2000 {
                            tx.send_blocking((k, i)).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut last = [None::<usize>; 3];
            for (k, i) in rx.iter() {
                assert!(last[k].is_none_or(|l| l + 1 == i));
                last[k] = Some(i);
            }
            for t in ts {
                t.join().unwrap();
            }
        }
    });
}

// Go: TestClose / closechan semantics (close of closed channel panics).
#[test]
fn test_close_of_closed_panics() {
    let (tx, _rx) = goro::chan::<i32>(1);
    tx.close();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.close()));
    let msg = r.unwrap_err();
    assert_eq!(
        msg.downcast_ref::<&str>().copied(),
        Some("close of closed channel")
    );
}

// Go: TestChanSendSelectBarrier-style hand-off accounting: every value sent
// on an unbuffered channel is received exactly once under contention.
#[test]
fn test_unbuffered_exactly_once() {
    guard(|| {
        let (tx, rx) = goro::chan::<usize>(0);
        let seen = Arc::new((0..8000).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let ss: Vec<_> = (0..4)
            .map(|k| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        tx.send_blocking(k * 2000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let rs: Vec<_> = (0..4)
            .map(|_| {
                let (rx, seen) = (rx.clone(), seen.clone());
                std::thread::spawn(move || {
                    for v in rx.iter() {
                        seen[v].fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in ss.into_iter().chain(rs) {
            t.join().unwrap();
        }
        assert!(seen.iter().all(|c| c.load(Ordering::SeqCst) == 1));
    });
}
