//! loom models of `select!` (over the real selectgo and channels): two
//! selects racing for one value, a parked select racing with close, the
//! done word's CAS when two offers race to complete one parked select
//! (never two winners, never a lost wake-up: a lost one shows up as a loom
//! deadlock), and a self-select. Two threads per model, except two selects
//! racing for one blocked sender (three threads, preemption bound 1).
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test select
#![cfg(loom)]

use goro::block_on;
use loom::thread;

/// `loom::model` with room for the spin lock's yields
/// (LOOM_MAX_PREEMPTIONS still bounds the search).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

/// Two threads each run `select { recv(a) -> v, recv(release) }`; the one
/// that gets a value closes `release`, which wakes the other (its `None`).
/// Returns both results (this thread's, then the spawned one's).
fn two_selects(
    arx: goro::chan::Receiver<u32>,
    rel_tx: goro::chan::Sender<u32>,
    rel_rx: goro::chan::Receiver<u32>,
) -> [Option<u32>; 2] {
    let one = move |arx: goro::chan::Receiver<u32>,
                    rel_tx: goro::chan::Sender<u32>,
                    rel_rx: goro::chan::Receiver<u32>| {
        let got = block_on(async {
            goro::select! {
                recv(arx) -> v => v,
                recv(rel_rx) -> v => { assert_eq!(v, None); None },
            }
        });
        if got.is_some() {
            rel_tx.close();
        }
        got
    };
    let (arx2, rel_tx2, rel_rx2) = (arx.clone(), rel_tx.clone(), rel_rx.clone());
    let t = thread::spawn(move || one(arx2, rel_tx2, rel_rx2));
    let mine = one(arx, rel_tx, rel_rx);
    [mine, t.join().unwrap()]
}

/// Two selects race for one value (buffered in `a`); each also waits on
/// the shared `release` channel, which the winner closes. Exactly one gets
/// the value; the other is woken by the close (no lost wake-up).
#[test]
fn two_selects_race_for_one_value() {
    model(|| {
        let (atx, arx) = goro::chan::<u32>(1);
        let (rel_tx, rel_rx) = goro::chan::<u32>(0);
        atx.try_send(1).unwrap();
        let got = two_selects(arx, rel_tx, rel_rx);
        assert_eq!(got.into_iter().flatten().collect::<Vec<_>>(), vec![1]);
        drop(atx);
    });
}

/// A parked select {recv a, send b} while another thread closes `a`: it
/// must wake (no lost wake-up) with `a`'s `None`; its send case, having no
/// receiver, delivers nothing.
#[test]
fn select_races_with_close() {
    model(|| {
        let (atx, arx) = goro::chan::<u32>(0);
        let (btx, brx) = goro::chan::<u32>(0);
        let closer = thread::spawn(move || atx.close());
        let got = block_on(async {
            goro::select! {
                recv(arx) -> v => v,
                send(btx, 5) -> _r => panic!("no receiver on b"),
            }
        });
        assert_eq!(got, None);
        closer.join().unwrap();
        assert!(brx.try_recv().is_err(), "the unsent value was delivered");
    });
}

/// The done word: a select parked on {a, b} in one thread; the other thread
/// offers on both with non-blocking sends, then closes both. At most one
/// offer is taken (the second finds the select decided and skips its
/// sudog), the select returns exactly the value taken, or `None` from a
/// close if no offer was taken. Never two winners, never a lost wake-up.
#[test]
fn done_word_cas_one_winner() {
    model(|| {
        let (atx, arx) = goro::chan::<u32>(0);
        let (btx, brx) = goro::chan::<u32>(0);
        let t = thread::spawn(move || {
            block_on(async {
                goro::select! {
                    recv(arx) -> v => v,
                    recv(brx) -> v => v,
                }
            })
        });
        let a = atx.try_send(1).is_ok();
        let b = btx.try_send(2).is_ok();
        atx.close();
        btx.close();
        let got = t.join().unwrap();
        assert!(!(a && b), "two cases of one select won");
        match got {
            Some(1) => assert!(a),
            Some(2) => assert!(b),
            None => assert!(!a && !b, "a taken value was lost"),
            v => panic!("unexpected {v:?}"),
        }
    });
}
/// A select with a send and a receive case on the same unbuffered channel,
/// against a plain receiver: the select must not pair with itself; its send
/// completes with the receiver.
#[test]
fn self_select_pairs_only_with_the_peer() {
    model(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let rx2 = rx.clone();
        let peer = thread::spawn(move || block_on(rx2.recv()));
        let r = block_on(async {
            goro::select! {
                send(tx, 7) -> r => { r.unwrap(); 0 },
                recv(rx) -> v => v.unwrap(),
            }
        });
        assert_eq!(r, 0, "the select received from itself");
        assert_eq!(peer.join().unwrap(), Some(7));
    });
}

/// Two selects race for one blocked sender (unbuffered `a`): three threads,
/// so this model runs with a preemption bound of 1 whatever
/// `LOOM_MAX_PREEMPTIONS` says (with 2 it does not finish in CI's budget).
/// Exactly one select gets the value, the sender completes once, and the
/// loser is woken by the winner's close of `release` (no lost wake-up).
#[test]
fn two_selects_race_for_one_blocked_sender() {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.preemption_bound = Some(1);
    b.check(|| {
        let (atx, arx) = goro::chan::<u32>(0);
        let (rel_tx, rel_rx) = goro::chan::<u32>(0);
        let sender = thread::spawn(move || atx.send_blocking(7).is_ok());
        let got = two_selects(arx, rel_tx, rel_rx);
        assert!(sender.join().unwrap());
        assert_eq!(got.into_iter().flatten().collect::<Vec<_>>(), vec![7]);
    });
}
