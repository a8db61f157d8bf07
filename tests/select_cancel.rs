//! Cancel safety of `select!`: dropping a parked select (for example from an
//! outer timeout, or because another branch of a join finished) unlinks all
//! its cases; a value already handed to it goes back into its channel; its
//! unsent values are dropped, never sent. Counted exactly: nothing lost,
//! nothing duplicated.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Runs `f` on its own thread; fails the test if it takes over 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn dropped_parked_select_is_unlinked() {
    guarded(|| {
        let (tx1, rx1) = goro::chan::<i32>(0);
        let (tx2, rx2) = goro::chan::<i32>(0);
        {
            let mut f = pin!(async {
                goro::select! {
                    recv(rx1) -> v => v,
                    recv(rx2) -> v => v,
                }
            });
            assert!(poll_once(f.as_mut()).is_pending());
        }
        // No receiver is parked any more: a non-blocking send finds nobody.
        assert!(tx1.try_send(1).is_err());
        assert!(tx2.try_send(2).is_err());
        // And a real receiver gets the next value.
        let t = std::thread::spawn(move || rx1.recv_blocking());
        tx1.send_blocking(3).unwrap();
        assert_eq!(t.join().unwrap(), Some(3));
    });
}

#[test]
fn value_handed_to_dropped_select_goes_back() {
    guarded(|| {
        // A buffered sender's value handed to a parked select (via the
        // channel's wait queue) returns to the channel when the select is
        // dropped before it observed the value.
        for cap in [0usize, 1] {
            for round in 0..200usize {
                let (tx, rx) = goro::chan::<usize>(cap);
                let (_tx2, rx2) = goro::chan::<usize>(0);
                let mut got = None;
                let sender;
                {
                    let mut f = pin!(async {
                        goro::select! {
                            recv(rx) -> v => v,
                            recv(rx2) -> v => v,
                        }
                    });
                    assert!(poll_once(f.as_mut()).is_pending());
                    let tx = tx.clone();
                    sender = std::thread::spawn(move || tx.send_blocking(round));
                    // Sometimes let the sender pair with the parked select.
                    if round % 2 == 0 {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    if round % 3 == 0 {
                        if let Poll::Ready(v) = poll_once(f.as_mut()) {
                            got = v;
                        }
                    }
                }
                let v = match got {
                    Some(v) => v,
                    None => rx.recv_blocking().expect("value lost"),
                };
                assert_eq!(v, round);
                assert_eq!(sender.join().unwrap(), Ok(()));
                assert!(rx.try_recv().is_err(), "value duplicated");
            }
        }
    });
}

struct Tracked(Arc<AtomicUsize>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropped_select_drops_unsent_values_once() {
    guarded(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx1, rx1) = goro::chan::<Tracked>(0);
        let (tx2, rx2) = goro::chan::<Tracked>(0);
        {
            let mut f = pin!(async {
                goro::select! {
                    send(tx1, Tracked(drops.clone())) => {},
                    send(tx2, Tracked(drops.clone())) => {},
                }
            });
            assert!(poll_once(f.as_mut()).is_pending());
            assert_eq!(drops.load(Ordering::SeqCst), 0);
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert!(rx1.try_recv().is_err());
        assert!(rx2.try_recv().is_err());
    });
}

/// Many selects, each dropped at a random moment, racing real senders and
/// receivers: every value sent is received exactly once.
#[test]
fn select_drop_race_counts_every_value() {
    guarded(|| {
        const SENDERS: usize = 2;
        const PER: usize = 2_000;
        let (tx, rx) = goro::chan::<usize>(0);
        let (otx, orx) = goro::chan::<usize>(0);
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let (tx, otx) = (tx.clone(), otx.clone());
                std::thread::spawn(move || {
                    for k in 0..PER {
                        let v = s * PER + k;
                        // Half through the select's receive side, half on
                        // the other channel.
                        if k % 2 == 0 {
                            tx.send_blocking(v)
                        } else {
                            otx.send_blocking(v)
                        }
                        .unwrap();
                    }
                })
            })
            .collect();
        drop((tx, otx));
        // A plain receiver on `orx` competes with the selects.
        let orx2 = orx.clone();
        let plain = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(v) = orx2.recv_blocking() {
                got.push(v);
            }
            got
        });
        let mut got = Vec::new();
        let mut i = 0usize;
        loop {
            i += 1;
            let mut done = false;
            {
                let mut f = pin!(async {
                    goro::select! {
                        recv(rx) -> v => v,
                        recv(orx) -> v => v,
                    }
                });
                // Poll a few times (possibly parking), then drop.
                for _ in 0..(i % 3 + 1) {
                    match poll_once(f.as_mut()) {
                        Poll::Ready(Some(v)) => {
                            got.push(v);
                            break;
                        }
                        Poll::Ready(None) => {
                            done = rx.is_closed() && orx.is_closed();
                            break;
                        }
                        Poll::Pending => std::thread::yield_now(),
                    }
                }
            }
            if done {
                // Both closed: drain whatever is left (nothing, if the
                // selects gave every handed value back to a receiver).
                for c in [&rx, &orx] {
                    while let Ok(v) = c.try_recv() {
                        got.push(v);
                    }
                }
                break;
            }
        }
        for s in senders {
            s.join().unwrap();
        }
        got.extend(plain.join().unwrap());
        let n = got.len();
        let set: HashSet<usize> = got.into_iter().collect();
        assert_eq!(set.len(), n, "a value was received twice");
        assert_eq!(n, SENDERS * PER, "values lost");
    });
}
