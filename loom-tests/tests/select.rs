//! loom models of `select!` (over the real selectgo and channels): two
//! selects racing for one buffered value and for one parked sender, a
//! parked select racing with close, the done word's CAS when two offers
//! race to complete one parked select (never two winners, never a lost
//! wake-up: a lost one shows up as a loom deadlock), and a self-select.
//! Two threads per model.
//!
//! Each model names the interleavings it exists for, and `model` checks
//! that the exploration reaches every one of them (see `chan.rs`). Every
//! model passes at `LOOM_MAX_PREEMPTIONS=2` and `3`.
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test select
#![cfg(loom)]

use goro::block_on;
use goro::chan::{Receiver, Sender};
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

/// One side of a two-select race: `select { recv(a) -> v, recv(release) }`;
/// the side that gets a value closes `release`, which wakes the other
/// (with `None`). Returns the value, and whether the select parked.
fn one_select(
    arx: Receiver<u32>,
    rel_tx: Sender<u32>,
    rel_rx: Receiver<u32>,
) -> (Option<u32>, bool) {
    let (got, parked) = block_on_parked(async {
        goro::select! {
            recv(arx) -> v => v,
            recv(rel_rx) -> v => { assert_eq!(v, None); None },
        }
    });
    if got.is_some() {
        rel_tx.close();
    }
    (got, parked)
}

/// Runs `one_select` here and on a spawned thread: the label says which
/// side won and whether the loser parked before the release woke it.
fn two_selects(
    arx: Receiver<u32>,
    rel_tx: Sender<u32>,
    rel_rx: Receiver<u32>,
) -> (Vec<u32>, &'static str) {
    let (arx2, rel_tx2, rel_rx2) = (arx.clone(), rel_tx.clone(), rel_rx.clone());
    let t = thread::spawn(move || one_select(arx2, rel_tx2, rel_rx2));
    let mine = one_select(arx, rel_tx, rel_rx);
    let theirs = t.join().unwrap();
    let got: Vec<u32> = [mine.0, theirs.0].into_iter().flatten().collect();
    let label = match (mine.0.is_some(), mine.1, theirs.1) {
        (true, _, true) => "this select won; the other parked, then was released",
        (true, _, false) => "this select won; the other saw the release at once",
        (false, true, _) => "the other select won; this one parked, then was released",
        (false, false, _) => "the other select won; this one saw the release at once",
    };
    (got, label)
}

/// Two selects race for one buffered value; each also waits on the shared
/// `release` channel, which the winner closes. Exactly one gets the value,
/// whichever thread it runs on; the loser is woken by the close after it
/// parked (no lost wake-up), or finds `release` closed already.
#[test]
fn two_selects_race_for_one_value() {
    model(
        &[
            "this select won; the other saw the release at once",
            "this select won; the other parked, then was released",
            "the other select won; this one parked, then was released",
        ],
        || {
            let (atx, arx) = goro::chan::<u32>(1);
            let (rel_tx, rel_rx) = goro::chan::<u32>(0);
            atx.try_send(1).unwrap();
            let (got, label) = two_selects(arx, rel_tx, rel_rx);
            assert_eq!(got, vec![1]);
            drop(atx);
            label
        },
    );
}

/// Two selects race for one parked sender (unbuffered `a`; the send is
/// parked before either select runs): exactly one select's pass (0 or 1)
/// dequeues and completes the sender's sudog, the sender completes once,
/// and the loser is released by the winner's close as above.
#[test]
fn two_selects_race_for_one_parked_sender() {
    model(
        &[
            "this select won; the other saw the release at once",
            "this select won; the other parked, then was released",
            "the other select won; this one parked, then was released",
        ],
        || {
            let (atx, arx) = goro::chan::<u32>(0);
            let (rel_tx, rel_rx) = goro::chan::<u32>(0);
            let mut send = pin!(atx.send(7));
            let cx = &mut Context::from_waker(Waker::noop());
            assert!(send.as_mut().poll(cx).is_pending(), "no receiver yet");
            let (got, label) = two_selects(arx, rel_tx, rel_rx);
            assert_eq!(got, vec![7]);
            assert_eq!(send.as_mut().poll(cx), Poll::Ready(Ok(())));
            label
        },
    );
}

/// A parked select {recv a, send b} while another thread closes `a`: it
/// must wake (no lost wake-up) with `a`'s `None`; or it finds `a` closed
/// in pass 0/1. Its send case, having no receiver, delivers nothing.
#[test]
fn select_races_with_close() {
    model(
        &[
            "select parked, then woken by the close",
            "closed before the select",
        ],
        || {
            let (atx, arx) = goro::chan::<u32>(0);
            let (btx, brx) = goro::chan::<u32>(0);
            let closer = thread::spawn(move || atx.close());
            let (got, parked) = block_on_parked(async {
                goro::select! {
                    recv(arx) -> v => v,
                    send(btx, 5) -> _r => panic!("no receiver on b"),
                }
            });
            assert_eq!(got, None);
            closer.join().unwrap();
            assert!(brx.try_recv().is_err(), "the unsent value was delivered");
            if parked {
                "select parked, then woken by the close"
            } else {
                "closed before the select"
            }
        },
    );
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// `select! { recv(a) -> v => v, recv(b) -> v => v }`.
async fn select2(a: &Receiver<u32>, b: &Receiver<u32>) -> Option<u32> {
    goro::select! {
        recv(a) -> v => v,
        recv(b) -> v => v,
    }
}

/// The done word's CAS: a select is parked on {a, b} (polled once before
/// the race starts, so that no preemption is spent getting there); then
/// another thread offers on `a` while this one offers on `b`, both with a
/// non-blocking send. Each offer dequeues the select's sudog under its own
/// channel's lock and must win the CAS of the shared done word: exactly
/// one wins, whichever it is, the loser's send fails (it skips the decided
/// select's sudog, or finds it unlinked), and the select returns the
/// winner's value.
#[test]
fn done_word_cas_one_winner() {
    model(&["a's offer won", "b's offer won"], || {
        let (atx, arx) = goro::chan::<u32>(0);
        let (btx, brx) = goro::chan::<u32>(0);
        let mut sel = pin!(select2(&arx, &brx));
        assert!(poll_once(sel.as_mut()).is_pending(), "nothing offered yet");
        let t = thread::spawn(move || atx.try_send(1).is_ok());
        let b = btx.try_send(2).is_ok();
        let got = block_on(sel.as_mut());
        let a = t.join().unwrap();
        assert!(
            a != b,
            "one offer must win, not {}",
            if a { "two" } else { "none" }
        );
        if a {
            assert_eq!(got, Some(1));
            "a's offer won"
        } else {
            assert_eq!(got, Some(2));
            "b's offer won"
        }
    });
}

/// A parked select (polled once, with a waker that does nothing) woken
/// while it is re-polled with a new waker: another thread offers on `a`
/// (wins the done word, takes the waker it finds, wakes it after
/// unlocking) and then on `b` (finds the select decided or gone: the
/// offer fails). The offer may complete before the re-poll, which then
/// sees the decided word at once, or after the re-poll registered its new
/// waker under every lock, which the offer must then wake (a lost wake-up
/// is a loom deadlock).
#[test]
fn decided_select_repoll_races_the_offers() {
    model(
        &["decided before the re-poll", "re-registered, then woken"],
        || {
            let (atx, arx) = goro::chan::<u32>(0);
            let (btx, brx) = goro::chan::<u32>(0);
            let mut sel = pin!(select2(&arx, &brx));
            assert!(poll_once(sel.as_mut()).is_pending(), "nothing offered yet");
            let t = thread::spawn(move || {
                let a = atx.try_send(1).is_ok();
                let b = btx.try_send(2).is_ok();
                (a, b)
            });
            let (got, parked) = block_on_parked(sel.as_mut());
            assert_eq!(t.join().unwrap(), (true, false), "a must win, b must not");
            assert_eq!(got, Some(1));
            if parked {
                "re-registered, then woken"
            } else {
                "decided before the re-poll"
            }
        },
    );
}

/// A select with a send and a receive case on the same unbuffered channel,
/// against a plain receiver: the select must not pair with itself; its
/// send completes with the receiver, whether the select parked first (the
/// receiver dequeues its send sudog past its own recv sudog's queue) or
/// the receiver did.
#[test]
fn self_select_pairs_only_with_the_peer() {
    model(&["select parked first", "peer parked first"], || {
        let (tx, rx) = goro::chan::<u32>(0);
        let rx2 = rx.clone();
        let peer = thread::spawn(move || block_on(rx2.recv()));
        let (r, parked) = block_on_parked(async {
            goro::select! {
                send(tx, 7) -> r => { r.unwrap(); 0 },
                recv(rx) -> v => v.unwrap(),
            }
        });
        assert_eq!(r, 0, "the select received from itself");
        assert_eq!(peer.join().unwrap(), Some(7));
        if parked {
            "select parked first"
        } else {
            "peer parked first"
        }
    });
}
