//! Cancel safety: dropping pending send/recv futures at any point never
//! loses or duplicates a value.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

fn guard(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn dropped_parked_recv_gets_nothing_and_next_recv_works() {
    let (tx, rx) = goro::chan::<i32>(0);
    {
        let mut f = pin!(rx.recv());
        assert!(poll_once(f.as_mut()).is_pending());
    }
    // The dropped receiver is unlinked: a try_send finds no receiver.
    assert!(tx.try_send(1).is_err());
}

#[test]
fn value_handed_to_dropped_receiver_goes_back_unbuffered() {
    let (tx, rx) = goro::chan::<i32>(0);
    let mut f = Box::pin(rx.recv());
    assert!(poll_once(f.as_mut()).is_pending());
    tx.try_send(42).unwrap(); // handed directly to the parked receiver
    drop(f);
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.try_recv(), Ok(42));
}

#[test]
fn value_handed_to_dropped_receiver_goes_to_other_parked_receiver() {
    let (tx, rx) = goro::chan::<i32>(0);
    let mut a = Box::pin(rx.recv());
    let mut b = Box::pin(rx.recv());
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    tx.try_send(1).unwrap(); // to a
    drop(a); // goes to b
    assert_eq!(poll_once(b.as_mut()), Poll::Ready(Some(1)));
}

#[test]
fn value_goes_back_to_buffer_head_or_overflow() {
    let (tx, rx) = goro::chan::<i32>(1);
    let mut a = Box::pin(rx.recv());
    let mut b = Box::pin(rx.recv());
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    tx.try_send(1).unwrap(); // to a
    tx.try_send(2).unwrap(); // to b
    tx.try_send(3).unwrap(); // buffer
    drop(a);
    drop(b);
    assert_eq!(rx.len(), 3);
    let mut got: Vec<i32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    got.sort();
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn dropped_parked_send_sends_nothing() {
    let v = Arc::new(());
    let (tx, rx) = goro::chan::<Arc<()>>(0);
    {
        let mut f = pin!(tx.send(v.clone()));
        assert!(poll_once(f.as_mut()).is_pending());
        assert_eq!(Arc::strong_count(&v), 2);
    }
    assert_eq!(Arc::strong_count(&v), 1);
    assert!(rx.try_recv().is_err());
}

#[test]
fn completed_send_then_drop_is_still_sent() {
    let (tx, rx) = goro::chan::<i32>(0);
    let mut f = Box::pin(tx.send(5));
    assert!(poll_once(f.as_mut()).is_pending());
    assert_eq!(rx.try_recv(), Ok(5));
    drop(f);
    assert!(rx.try_recv().is_err());
}

#[test]
fn repoll_with_new_waker_is_woken() {
    guard(|| {
        struct Flag(std::sync::atomic::AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (tx, rx) = goro::chan::<i32>(0);
        let mut f = Box::pin(rx.recv());
        assert!(poll_once(f.as_mut()).is_pending());
        let flag = Arc::new(Flag(false.into()));
        let w = Waker::from(flag.clone());
        assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        tx.try_send(3).unwrap();
        assert!(flag.0.load(Ordering::SeqCst));
        assert_eq!(
            f.as_mut().poll(&mut Context::from_waker(&w)),
            Poll::Ready(Some(3))
        );
    });
}

/// Receivers poll once (parking) then drop at random while senders race;
/// every value must be received exactly once.
#[test]
fn random_drops_racing_senders_count_exactly_once() {
    guard(|| {
        for cap in [0usize, 1, 3] {
            const N: usize = 2000;
            let (tx, rx) = goro::chan::<usize>(cap);
            let seen = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
            let senders: Vec<_> = (0..2)
                .map(|k| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for i in (k..N).step_by(2) {
                            tx.send_blocking(i).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let receivers: Vec<_> = (0..3)
                .map(|k| {
                    let rx = rx.clone();
                    let seen = seen.clone();
                    std::thread::spawn(move || {
                        let mut x = 0x9e3779b97f4a7c15u64 ^ k as u64;
                        loop {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let mut f = Box::pin(rx.recv());
                            match poll_once(f.as_mut()) {
                                Poll::Ready(Some(v)) => {
                                    seen[v].fetch_add(1, Ordering::SeqCst);
                                    continue;
                                }
                                Poll::Ready(None) => return,
                                Poll::Pending => {}
                            }
                            if x % 3 == 0 {
                                std::thread::yield_now();
                            }
                            if x % 2 == 0 {
                                drop(f); // cancel while a sender may be racing
                            } else {
                                match goro::block_on(f) {
                                    Some(v) => {
                                        seen[v].fetch_add(1, Ordering::SeqCst);
                                    }
                                    None => return,
                                }
                            }
                        }
                    })
                })
                .collect();
            for s in senders {
                s.join().unwrap();
            }
            for r in receivers {
                r.join().unwrap();
            }
            while let Ok(v) = rx.try_recv() {
                seen[v].fetch_add(1, Ordering::SeqCst);
            }
            for (i, c) in seen.iter().enumerate() {
                assert_eq!(c.load(Ordering::SeqCst), 1, "value {i} cap {cap}");
            }
        }
    });
}

/// Senders park then drop at random; every value is received at most once,
/// and exactly once if the send future reported completion.
#[test]
fn random_send_drops_are_exact() {
    guard(|| {
        for cap in [0usize, 2] {
            const N: usize = 2000;
            let (tx, rx) = goro::chan::<usize>(cap);
            let sent = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
            let s = {
                let sent = sent.clone();
                std::thread::spawn(move || {
                    for i in 0..N {
                        let mut f = Box::pin(tx.send(i));
                        match poll_once(f.as_mut()) {
                            Poll::Ready(r) => {
                                r.unwrap();
                                sent[i].fetch_add(1, Ordering::SeqCst);
                                continue;
                            }
                            Poll::Pending => {}
                        }
                        if i % 3 == 0 {
                            std::thread::yield_now();
                        }
                        // A last poll tells whether it completed; then drop.
                        if let Poll::Ready(r) = poll_once(f.as_mut()) {
                            r.unwrap();
                            sent[i].fetch_add(1, Ordering::SeqCst);
                        }
                        drop(f);
                    }
                })
            };
            let got = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
            let r = {
                let got = got.clone();
                std::thread::spawn(move || {
                    for v in rx.iter() {
                        got[v].fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            s.join().unwrap();
            r.join().unwrap();
            // A send that completed is received exactly once; a dropped one
            // at most once (it may have been taken between the last poll
            // and the drop, in which case it was sent); nothing twice.
            for i in 0..N {
                let (s, g) = (
                    sent[i].load(Ordering::SeqCst),
                    got[i].load(Ordering::SeqCst),
                );
                assert!(g <= 1 && s <= g, "value {i} cap {cap}: sent {s} got {g}");
            }
        }
    });
}

/// A Receiver dropped while its Stream is parked unlinks the parked receive
/// (or gives back a value already handed to it).
#[test]
fn receiver_dropped_with_parked_stream() {
    use futures::Stream;
    let (tx, rx) = goro::chan::<i32>(0);
    let mut r1 = rx.clone();
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(std::pin::Pin::new(&mut r1).poll_next(cx).is_pending());
    drop(r1);
    assert!(
        tx.try_send(1).is_err(),
        "the dropped stream must be unlinked"
    );

    let mut r2 = rx.clone();
    assert!(std::pin::Pin::new(&mut r2).poll_next(cx).is_pending());
    tx.try_send(2).unwrap(); // handed to r2's parked stream
    drop(r2);
    assert_eq!(rx.try_recv(), Ok(2));

    // A stream keeps working across many parks.
    let mut r3 = rx.clone();
    for i in 0..5 {
        assert!(std::pin::Pin::new(&mut r3).poll_next(cx).is_pending());
        tx.try_send(i).unwrap();
        assert_eq!(
            std::pin::Pin::new(&mut r3).poll_next(cx),
            Poll::Ready(Some(i))
        );
    }
}

/// What a dropped `next()` leaves behind, as the `Stream` impl documents
/// it: the receive stays parked, a value that reaches it is what the next
/// poll returns, and if the `Receiver` is dropped instead, that value goes
/// back into the channel for another receiver. Nothing is lost.
#[test]
fn stream_parked_receive_keeps_or_gives_back_its_value() {
    use futures_core::Stream;
    guard(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let other = rx.clone();
        let cx = &mut Context::from_waker(Waker::noop());
        let mut rx1 = rx;
        assert!(std::pin::Pin::new(&mut rx1).poll_next(cx).is_pending());
        assert_eq!(tx.try_send(1), Ok(())); // completes into the parked receive
        assert_eq!(
            std::pin::Pin::new(&mut rx1).poll_next(cx),
            Poll::Ready(Some(1))
        );
        // Parked again, handed a value, then dropped: the value goes back.
        assert!(std::pin::Pin::new(&mut rx1).poll_next(cx).is_pending());
        assert_eq!(tx.try_send(2), Ok(()));
        drop(rx1);
        assert_eq!(other.try_recv(), Ok(2));
        // Parked and dropped with nothing handed to it: unlinked, so an
        // unbuffered send finds no receiver.
        let mut rx2 = other.clone();
        assert!(std::pin::Pin::new(&mut rx2).poll_next(cx).is_pending());
        drop(rx2);
        assert!(tx.try_send(3).is_err());
    });
}
