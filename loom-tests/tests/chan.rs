//! loom models of goro's channels and of selectgo driven directly: the
//! unbuffered hand-off in both orders, a buffered channel's parked receiver
//! and parked sender, close racing a parked or arriving send or receive, a
//! parked receive dropped (or re-polled with a new waker) while a sender
//! completes it, and a parked select dropped, woken, self-matched or
//! closed.
//!
//! Each model names the interleavings it exists for, and `model` checks
//! that the exploration reaches every one of them: the model's closure
//! returns a label for the path one execution took (whether an operation
//! parked before its peer came, which side won a race), and a label that
//! never turns up fails the test. Every model passes at
//! `LOOM_MAX_PREEMPTIONS=2` and `3`.
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test chan
#![cfg(loom)]

use goro::chan::{TryRecvError, TrySendError};
use goro::select::{Case, RecvCase, SendCase, selectgo};
// loom-tests enables no `futures` feature of loom, so goro's own block_on
// (a ThreadParker on loom's Mutex/Condvar) drives the futures.
use goro::block_on;
use loom::thread;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Explores `f` with loom (`LOOM_MAX_PREEMPTIONS` bounds the search) and
/// checks that it reaches the interleavings it is for: each execution
/// returns the label of the path it took, and every label in `expect` must
/// turn up. Prints the number of executions and each label's count.
fn model(expect: &'static [&'static str], f: impl Fn() -> &'static str + Sync + Send + 'static) {
    let seen: Arc<Mutex<BTreeMap<&'static str, usize>>> = Arc::default();
    let s = seen.clone();
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    let t = std::time::Instant::now();
    b.check(move || {
        let label = f();
        *s.lock().unwrap().entry(label).or_default() += 1;
    });
    let seen = seen.lock().unwrap();
    let n: usize = seen.values().sum();
    eprintln!("{n} executions in {:.1?}: {seen:?}", t.elapsed());
    for l in expect {
        assert!(seen.contains_key(l), "never reached: {l:?} (saw {seen:?})");
    }
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// `block_on(f)`, and whether `f`'s first poll returned `Pending` (it
/// parked before its peer came).
fn block_on_parked<F: Future>(f: F) -> (F::Output, bool) {
    let mut f = pin!(f);
    let mut first: Option<bool> = None;
    let out = block_on(std::future::poll_fn(|cx| {
        let r = f.as_mut().poll(cx);
        first.get_or_insert(r.is_pending());
        r
    }));
    (out, first.unwrap())
}

/// An unbuffered hand-off, in both orders: the receiver parks first and
/// the sender completes its sudog (Go's `send`/`sendDirect`), or the
/// sender parks first and the receiver takes its value (Go's `recv`). In
/// both, the owner of the parked sudog frees it as soon as it sees the
/// completer's Release store of `state` (no lock), and the completer's
/// wake must reach the parked thread (a lost one is a loom deadlock).
#[test]
fn rendezvous_handoff() {
    model(&["receiver parked first", "sender parked first"], || {
        let (tx, rx) = goro::chan::<u32>(0);
        let t = thread::spawn(move || block_on_parked(tx.send(7)));
        let (got, recv_parked) = block_on_parked(rx.recv());
        let (sent, send_parked) = t.join().unwrap();
        assert_eq!(got, Some(7));
        assert!(sent.is_ok());
        match (recv_parked, send_parked) {
            (true, false) => "receiver parked first",
            (false, true) => "sender parked first",
            p => panic!("both or neither parked: {p:?}"),
        }
    });
}

/// A buffered channel of one slot and two sends: a receiver parked on the
/// empty buffer is handed the value directly by a send, or a sender parked
/// on the full buffer is completed by a receive that takes the head and
/// moves the parked value into the freed slot (Go's `recv` on a full
/// buffer). FIFO order holds in both. (That nobody parks at all takes
/// three preemptions; it is the plain buffered path.)
#[test]
fn buffered_send_recv() {
    model(&["receiver parked", "sender parked"], || {
        let (tx, rx) = goro::chan::<u32>(1);
        let t = thread::spawn(move || {
            let (a, p1) = block_on_parked(tx.send(1));
            let (b, p2) = block_on_parked(tx.send(2));
            a.unwrap();
            b.unwrap();
            p1 || p2
        });
        let (v1, r1) = block_on_parked(rx.recv());
        let (v2, r2) = block_on_parked(rx.recv());
        assert_eq!((v1, v2), (Some(1), Some(2)));
        match (r1 || r2, t.join().unwrap()) {
            (true, false) => "receiver parked",
            (false, true) => "sender parked",
            (false, false) => "neither parked",
            (true, true) => "both parked",
        }
    });
}

/// A send racing `close`: parked and then completed by `closechan` with
/// its value back (unbuffered), buffered before the close and drained
/// after it (buffered), or arriving after the close.
fn close_races_with_send(cap: usize, expect: &'static [&'static str]) {
    model(expect, move || {
        let (tx, rx) = goro::chan::<u32>(cap);
        let tx2 = tx.clone();
        let s = thread::spawn(move || block_on_parked(tx2.send(1)));
        tx.close();
        let (sent, parked) = s.join().unwrap();
        let label = match &sent {
            Ok(()) => {
                assert_eq!(rx.try_recv(), Ok(1));
                "buffered, then drained after the close"
            }
            Err(e) => {
                assert_eq!(e.0, 1);
                if parked {
                    "parked, then failed by the close"
                } else {
                    "sent after the close"
                }
            }
        };
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        if cap == 0 {
            assert!(sent.is_err(), "nobody received");
        }
        label
    });
}

/// A receive racing a `try_send` and then `close`: parked and handed the
/// value, parked and woken by the close (the send found no receiver yet),
/// taking the buffered value, or arriving after the close.
fn close_races_with_recv(cap: usize, expect: &'static [&'static str]) {
    model(expect, move || {
        let (tx, rx) = goro::chan::<u32>(cap);
        let rx2 = rx.clone();
        let r = thread::spawn(move || block_on_parked(rx2.recv()));
        let sent = tx.try_send(1).is_ok();
        tx.close();
        let (got, parked) = r.join().unwrap();
        assert_eq!(got.is_some(), sent);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        match (got.is_some(), parked) {
            (true, true) => "parked, then handed the value",
            (false, true) => "parked, then woken by the close",
            (true, false) => "took the buffered value",
            (false, false) => "received after the close",
        }
    });
}

#[test]
fn close_races_with_send_unbuffered() {
    close_races_with_send(
        0,
        &["parked, then failed by the close", "sent after the close"],
    );
}

#[test]
fn close_races_with_send_buffered() {
    close_races_with_send(
        1,
        &[
            "buffered, then drained after the close",
            "sent after the close",
        ],
    );
}

#[test]
fn close_races_with_recv_unbuffered() {
    close_races_with_recv(
        0,
        &[
            "parked, then handed the value",
            "parked, then woken by the close",
            "received after the close",
        ],
    );
}

#[test]
fn close_races_with_recv_buffered() {
    close_races_with_recv(
        1,
        &["parked, then handed the value", "took the buffered value"],
    );
}

/// A parked receive dropped (`cancel_recv`) while a sender races it: the
/// sender completes the sudog first and the cancel gives the value back to
/// the channel, or the cancel unlinks it first and the sender finds no
/// receiver. Never lost, never received twice.
#[test]
fn dropped_parked_receiver_racing_sender() {
    model(
        &[
            "handed to the parked receive, then given back",
            "receive cancelled before the send",
        ],
        || {
            let (tx, rx) = goro::chan::<u32>(0);
            let tx2 = tx.clone(); // keeps the channel open
            let t = thread::spawn(move || match tx2.try_send(5) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => false,
                Err(TrySendError::Closed(_)) => unreachable!(),
            });
            {
                let mut f = Box::pin(rx.recv());
                if let Poll::Ready(v) = poll_once(f.as_mut()) {
                    panic!("nothing sent yet could be received: {v:?}");
                }
                drop(f);
            }
            let sent = t.join().unwrap();
            // A value handed to the dropped receiver went back into the channel.
            assert_eq!(rx.try_recv().ok(), sent.then_some(5));
            drop(tx);
            if sent {
                "handed to the parked receive, then given back"
            } else {
                "receive cancelled before the send"
            }
        },
    );
}

/// A waker that records that it was woken.
struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A waker that records its wake, and the record.
fn flag_waker() -> (Waker, Arc<Flag>) {
    let f = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    (Waker::from(f.clone()), f)
}

/// Two receives parked in order; a sender completes the first while it is
/// being dropped, and then closes the channel (its handle is dropped). The
/// sender hands the value to the first and the cancel gives it to the next
/// parked receiver (`give_back_locked` dequeues and completes it); or the
/// cancel unlinks the first and the sender serves the second directly; or
/// the close comes between the hand-off and the cancel: the second is
/// woken with `None` and the given-back value waits in the channel for a
/// later receive (the module docs of `goro::chan` describe this edge).
/// The value is received exactly once in every case.
#[test]
fn given_back_value_goes_to_the_next_parked_receiver() {
    model(
        &[
            "the first got it and gave it to the second",
            "the first was cancelled, the sender served the second",
            "closed before the give-back: the value waits in the channel",
        ],
        || {
            let (tx, rx) = goro::chan::<u32>(0);
            let (w1, woken1) = flag_waker();
            let mut first = Box::pin(rx.recv());
            let mut second = pin!(rx.recv());
            assert!(
                first
                    .as_mut()
                    .poll(&mut Context::from_waker(&w1))
                    .is_pending()
            );
            assert!(poll_once(second.as_mut()).is_pending());
            let t = thread::spawn(move || tx.try_send(5).is_ok());
            drop(first);
            assert!(t.join().unwrap(), "two receives were parked");
            let first_got_it = woken1.0.load(std::sync::atomic::Ordering::SeqCst);
            let label = match poll_once(second.as_mut()) {
                Poll::Ready(Some(5)) if first_got_it => {
                    "the first got it and gave it to the second"
                }
                Poll::Ready(Some(5)) => "the first was cancelled, the sender served the second",
                Poll::Ready(None) => {
                    assert!(
                        first_got_it,
                        "the second saw the close, the first never had the value"
                    );
                    assert_eq!(rx.try_recv(), Ok(5), "the given-back value was lost");
                    "closed before the give-back: the value waits in the channel"
                }
                p => panic!("the second receive ended with {p:?}"),
            };
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
            label
        },
    );
}

/// The last receiver dropped (`receivers_gone`) while a send parks: the
/// parked send is completed with its value back, or the send arrives after
/// and fails at once. Nothing is delivered.
#[test]
fn last_receiver_dropped_races_parked_sender() {
    model(
        &[
            "parked, then failed by the receivers' drop",
            "sent after the receivers were gone",
        ],
        || {
            let (tx, rx) = goro::chan::<u32>(0);
            let s = thread::spawn(move || block_on_parked(tx.send(4)));
            drop(rx);
            let (sent, parked) = s.join().unwrap();
            assert_eq!(sent.unwrap_err().0, 4);
            if parked {
                "parked, then failed by the receivers' drop"
            } else {
                "sent after the receivers were gone"
            }
        },
    );
}

/// A parked receive polled again with a new waker (`repoll_parked`, the
/// waker replaced under the lock) while a sender completes it (taking the
/// stored waker under the same lock): the completion comes first and the
/// re-poll sees it at once, or the new waker is registered first and the
/// sender's wake must reach it.
#[test]
fn repoll_with_new_waker_races_completion() {
    model(
        &["completed before the re-poll", "re-registered, then woken"],
        || {
            let (tx, rx) = goro::chan::<u32>(0);
            let mut f = pin!(rx.recv());
            assert!(poll_once(f.as_mut()).is_pending()); // parked, noop waker
            let t = thread::spawn(move || tx.try_send(3).is_ok());
            let (got, parked) = block_on_parked(f.as_mut());
            assert_eq!(got, Some(3));
            assert!(t.join().unwrap(), "the parked receive was not found");
            if parked {
                "re-registered, then woken"
            } else {
                "completed before the re-poll"
            }
        },
    );
}

/// A parked select dropped while two senders race it (`SelectGo::drop`'s
/// CAS of the done word to cancelled against a completer's CAS to its
/// case): one offer wins and its value goes back to its channel on drop
/// (the other offer finds the select decided, or gone), or the cancel wins
/// and no offer is taken.
#[test]
fn dropped_parked_select_racing_senders() {
    model(
        &[
            "a value reached the select and went back",
            "no offer reached the select",
        ],
        || {
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
                    // SAFETY: the cases are locals of this frame, declared
                    // before the SelectGo, which is dropped before them.
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
            // At most one send can have reached the select (the other found
            // it already decided or gone); a value handed to it and then
            // dropped is still in its channel.
            let left_a = ra.try_recv().is_ok();
            let left_b = rb.try_recv().is_ok();
            assert_eq!(a, won == Some(1) || left_a);
            assert_eq!(b, won == Some(2) || left_b);
            assert!(!(a && b), "two offers reached one select");
            drop((ta, tb));
            if left_a || left_b {
                "a value reached the select and went back"
            } else {
                "no offer reached the select"
            }
        },
    );
}

/// A select on two channels and a blocking send on one: the select parks
/// and the sender completes its case (then pass 3 unlinks the other case),
/// or the sender parks first and the select's pass 1 takes its value.
#[test]
fn select_parked_then_woken() {
    model(
        &[
            "select parked, then woken by the send",
            "sender parked first",
        ],
        || {
            let (ta, ra) = goro::chan::<u32>(0);
            let (tb, rb) = goro::chan::<u32>(0);
            let t = thread::spawn(move || block_on(tb.send(9)).is_ok());
            let (got, parked) = block_on_parked(async {
                let mut c0 = RecvCase::new(Some(&ra));
                let mut c1 = RecvCase::new(Some(&rb));
                let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                // SAFETY: the cases are locals of this frame, declared
                // before the SelectGo, which is awaited in place.
                let w = unsafe { selectgo(&mut cases, true) }.await;
                assert_eq!(w, Some(1));
                c1.take()
            });
            assert_eq!(got, Some(9));
            assert!(t.join().unwrap());
            drop(ta);
            if parked {
                "select parked, then woken by the send"
            } else {
                "sender parked first"
            }
        },
    );
}

/// A select parked with a send and a receive case on one unbuffered
/// channel never matches itself: a peer receiver takes the send case,
/// whether the select parked first or the peer did.
#[test]
fn self_select_matched_by_peer() {
    model(&["select parked first", "peer parked first"], || {
        let (tx, rx) = goro::chan::<u32>(0);
        let rx2 = rx.clone();
        let t = thread::spawn(move || block_on(rx2.recv()));
        let (won, parked) = block_on_parked(async {
            let mut c0 = SendCase::new(Some(&tx), 1);
            let mut c1 = RecvCase::new(Some(&rx));
            let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
            // SAFETY: the cases are locals of this frame, declared before
            // the SelectGo, which is awaited in place.
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
        if parked {
            "select parked first"
        } else {
            "peer parked first"
        }
    });
}

/// `close` wakes a parked select with its receive case ready (`None`), or
/// the select finds the channel already closed in pass 1.
#[test]
fn close_wakes_parked_select() {
    model(
        &[
            "select parked, then woken by the close",
            "closed before the select",
        ],
        || {
            let (ta, ra) = goro::chan::<u32>(0);
            let (_tb, rb) = goro::chan::<u32>(0);
            let t = thread::spawn(move || ta.close());
            let (got, parked) = block_on_parked(async {
                let mut c0 = RecvCase::new(Some(&ra));
                let mut c1 = RecvCase::new(Some(&rb));
                let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                // SAFETY: the cases are locals of this frame, declared
                // before the SelectGo, which is awaited in place.
                let w = unsafe { selectgo(&mut cases, true) }.await;
                assert_eq!(w, Some(0));
                c0.take()
            });
            assert_eq!(got, None);
            t.join().unwrap();
            if parked {
                "select parked, then woken by the close"
            } else {
                "closed before the select"
            }
        },
    );
}
