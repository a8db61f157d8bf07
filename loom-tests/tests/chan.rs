//! loom models of goro's channels and selectgo: rendezvous hand-off, close
//! racing with send and recv, a parked receiver dropped while a sender races
//! (the value is never lost), and a parked select dropped while senders race.
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test chan
#![cfg(loom)]

use goro::chan::TrySendError;
use goro::select::{Case, RecvCase, selectgo};
// loom-tests enables no `futures` feature of loom, so goro's own block_on
// (a ThreadParker on loom's Mutex/Condvar) drives the futures.
use goro::block_on;
use loom::thread;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// `loom::model` with room for the spin lock's yields (LOOM_MAX_PREEMPTIONS
/// still bounds the search).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn rendezvous_handoff() {
    model(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let t = thread::spawn(move || block_on(tx.send(7)).is_ok());
        assert_eq!(block_on(rx.recv()), Some(7));
        assert!(t.join().unwrap());
    });
}

#[test]
fn buffered_send_recv() {
    model(|| {
        let (tx, rx) = goro::chan::<u32>(1);
        let t = thread::spawn(move || {
            block_on(tx.send(1)).unwrap();
            block_on(tx.send(2)).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        t.join().unwrap();
    });
}

/// A parked (or not yet parked) send racing with close: it either
/// completes (buffered, then drained after close) or fails with its value.
fn close_races_with_send(cap: usize) {
    model(move || {
        let (tx, rx) = goro::chan::<u32>(cap);
        let tx2 = tx.clone();
        let s = thread::spawn(move || block_on(tx2.send(1)));
        tx.close();
        let sent = s.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(rx.try_recv(), Ok(1)),
            Err(e) => assert_eq!(e.0, 1),
        }
        assert_eq!(rx.try_recv(), Err(goro::chan::TryRecvError::Closed));
        if cap == 0 {
            assert!(sent.is_err(), "nobody received");
        }
    });
}

/// A parked (or not yet parked) receive racing with a try_send and close:
/// it gets the value iff the value was sent, else None.
fn close_races_with_recv(cap: usize) {
    model(move || {
        let (tx, rx) = goro::chan::<u32>(cap);
        let rx2 = rx.clone();
        let r = thread::spawn(move || block_on(rx2.recv()));
        let sent = tx.try_send(1).is_ok();
        tx.close();
        let got = r.join().unwrap();
        assert_eq!(got.is_some(), sent);
        assert_eq!(rx.try_recv(), Err(goro::chan::TryRecvError::Closed));
    });
}

#[test]
fn close_races_with_send_unbuffered() {
    close_races_with_send(0);
}

#[test]
fn close_races_with_send_buffered() {
    close_races_with_send(1);
}

#[test]
fn close_races_with_recv_unbuffered() {
    close_races_with_recv(0);
}

#[test]
fn close_races_with_recv_buffered() {
    close_races_with_recv(1);
}

#[test]
fn dropped_parked_receiver_racing_sender() {
    model(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let tx2 = tx.clone(); // keeps the channel open
        let t = thread::spawn(move || match tx2.try_send(5) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            Err(TrySendError::Closed(_)) => unreachable!(),
        });
        {
            let mut f = Box::pin(rx.recv());
            match poll_once(f.as_mut()) {
                Poll::Ready(v) => panic!("nothing sent yet could be received: {v:?}"),
                Poll::Pending => {}
            }
            drop(f);
        }
        let sent = t.join().unwrap();
        // A value handed to the dropped receiver went back into the channel.
        assert_eq!(rx.try_recv().ok(), sent.then_some(5));
        drop(tx);
    });
}

#[test]
fn dropped_parked_select_racing_senders() {
    model(|| {
        let (ta, ra) = goro::chan::<u32>(0);
        let (tb, rb) = goro::chan::<u32>(0);
        let (ta2, tb2) = (ta.clone(), tb.clone()); // keep both open
        let t = thread::spawn(move || {
            let a = ta2.try_send(1).is_ok();
            let b = tb2.try_send(2).is_ok();
            (a, b)
        });
        let mut won = None;
        {
            let mut c0 = RecvCase::new(Some(&ra));
            let mut c1 = RecvCase::new(Some(&rb));
            {
                let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                // SAFETY: the cases are locals of this frame, declared before the
                // SelectGo, which is awaited or pinned in place and dropped before them.
                let mut f = Box::pin(unsafe { selectgo(&mut cases, true) });
                if let Poll::Ready(w) = poll_once(f.as_mut()) {
                    won = w;
                }
                drop(f);
            }
            let v = match won {
                Some(0) => c0.take(),
                Some(1) => c1.take(),
                _ => None,
            };
            won = v.map(|v| v as usize);
        }
        let (a, b) = t.join().unwrap();
        // At most one send can have reached the select (the other found it
        // already decided or gone); a value handed to it and then dropped
        // is still in its channel.
        let left_a = ra.try_recv().is_ok();
        let left_b = rb.try_recv().is_ok();
        assert_eq!(a, won == Some(1) || left_a);
        assert_eq!(b, won == Some(2) || left_b);
        drop((ta, tb));
    });
}

#[test]
fn select_parked_then_woken() {
    model(|| {
        let (ta, ra) = goro::chan::<u32>(0);
        let (tb, rb) = goro::chan::<u32>(0);
        let t = thread::spawn(move || block_on(tb.send(9)).is_ok());
        let got = block_on(async {
            let mut c0 = RecvCase::new(Some(&ra));
            let mut c1 = RecvCase::new(Some(&rb));
            let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
            // SAFETY: the cases are locals of this frame, declared before the
            // SelectGo, which is awaited or pinned in place and dropped before them.
            let w = unsafe { selectgo(&mut cases, true) }.await;
            assert_eq!(w, Some(1));
            c1.take()
        });
        assert_eq!(got, Some(9));
        assert!(t.join().unwrap());
        drop(ta);
    });
}

/// A select parked with a send and a receive case on one unbuffered
/// channel never matches itself; a peer receiver takes the send case.
#[test]
fn self_select_matched_by_peer() {
    model(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let rx2 = rx.clone();
        let t = thread::spawn(move || block_on(rx2.recv()));
        let won = block_on(async {
            let mut c0 = goro::select::SendCase::new(Some(&tx), 1);
            let mut c1 = RecvCase::new(Some(&rx));
            let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
            // SAFETY: the cases are locals of this frame, declared before the
            // SelectGo, which is awaited or pinned in place and dropped before them.
            let w = unsafe { selectgo(&mut cases, true) }.await;
            if w == Some(0) {
                c0.take().unwrap();
            }
            w
        });
        assert_eq!(
            won,
            Some(0),
            "the select's own recv case must not take its send"
        );
        assert_eq!(t.join().unwrap(), Some(1));
    });
}

/// close wakes a parked select with its receive case ready (None).
#[test]
fn close_wakes_parked_select() {
    model(|| {
        let (ta, ra) = goro::chan::<u32>(0);
        let (_tb, rb) = goro::chan::<u32>(0);
        let t = thread::spawn(move || ta.close());
        let got = block_on(async {
            let mut c0 = RecvCase::new(Some(&ra));
            let mut c1 = RecvCase::new(Some(&rb));
            let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
            // SAFETY: the cases are locals of this frame, declared before the
            // SelectGo, which is awaited or pinned in place and dropped before them.
            let w = unsafe { selectgo(&mut cases, true) }.await;
            assert_eq!(w, Some(0));
            c0.take()
        });
        assert_eq!(got, None);
        t.join().unwrap();
    });
}
