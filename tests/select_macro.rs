//! The `select!` macro's surface: every syntactic form, operand kinds
//! (places, temporaries, references, `Option`s as nil channels), evaluation
//! order, results on closed channels, the single-case fast paths, bodies with
//! control flow, and what happens to unsent values.

mod common;

use goro::chan::{Receiver, SendError, Sender};
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

/// Polls a future once with a no-op waker.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// Counts drops, to see what happens to unsent values.
struct Tracked(Arc<AtomicUsize>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn recv_send_forms_and_trailing_commas() {
    guarded(|| {
        goro::block_on(async {
            let (tx, rx) = goro::chan::<i32>(4);
            // send with block body and trailing comma
            goro::select! {
                send(tx, 1) -> res => { res.unwrap(); },
            }
            // send with expression body, no trailing comma
            goro::select! {
                send(tx, 2) -> res => res.unwrap()
            }
            // send without binding
            goro::select! {
                send(&tx, 3) => {}
            }
            // recv with block body without comma followed by another case
            let mut got = Vec::new();
            for _ in 0..3 {
                let v = goro::select! {
                    recv(rx) -> v => { v.unwrap() }
                    default => { -1 }
                };
                got.push(v);
            }
            assert_eq!(got, vec![1, 2, 3]);
            // recv without a binding, expression bodies with commas
            tx.try_send(9).unwrap();
            let which = goro::select! {
                recv(rx) => 1,
                default => 2,
            };
            assert_eq!(which, 1);
            assert!(rx.is_empty(), "the value was received (and dropped)");
            // default alone
            let d = goro::select! { default => 7 };
            assert_eq!(d, 7);
            // `default` first, a mix of forms, several cases (general path)
            tx.try_send(5).unwrap();
            let (tx2, rx2) = goro::chan::<&str>(1);
            let r = goro::select! {
                default => None,
                recv(rx2) -> _s => Some(0),
                recv(rx) -> v => Some(v.unwrap()),
                send(tx2, "x") -> r => { r.unwrap(); Some(100) }
            };
            assert!(r == Some(5) || r == Some(100), "{r:?}");
        });
    });
}

#[test]
fn operands_places_refs_temporaries_options() {
    guarded(|| {
        goro::block_on(async {
            let (tx, rx) = goro::chan::<u8>(8);
            let rx_ref: &Receiver<u8> = &rx;
            let tx_ref: &Sender<u8> = &tx;
            let tx_opt: Option<&Sender<u8>> = Some(&tx);
            let owned_opt: Option<Receiver<u8>> = Some(rx.clone());
            // Sender place, reference, &reference, Option<&Sender>
            goro::select! { send(tx, 1) -> r => r.unwrap(), }
            goro::select! { send(tx_ref, 2) -> r => r.unwrap(), }
            goro::select! { send(&tx_ref, 3) -> r => r.unwrap(), }
            goro::select! { send(tx_opt, 4) -> r => r.unwrap(), }
            let mut got = vec![];
            goro::select! { recv(rx) -> v => got.push(v.unwrap()), }
            goro::select! { recv(rx_ref) -> v => got.push(v.unwrap()), }
            goro::select! { recv(&&rx) -> v => got.push(v.unwrap()), }
            goro::select! { recv(owned_opt) -> v => got.push(v.unwrap()), }
            assert_eq!(got, vec![1, 2, 3, 4]);
            // A temporary channel operand lives through the select.
            let make = |v: u8| {
                let (t, r) = goro::chan::<u8>(1);
                t.try_send(v).unwrap();
                r
            };
            let v = goro::select! { recv(make(42)) -> v => v };
            assert_eq!(v, Some(42));
            let (a, b) = goro::select! {
                recv(make(1)) -> v => (1, v),
                recv(make(2)) -> v => (2, v),
            };
            assert_eq!(Some(a), b);
            // The operand is borrowed, not moved: usable in a loop and after.
            for i in 0..3 {
                tx.try_send(i).unwrap();
                goro::select! { recv(rx) -> v => assert_eq!(v, Some(i)), }
            }
            drop(rx);
        });
    });
}

#[test]
fn nil_cases_never_chosen() {
    guarded(|| {
        goro::block_on(async {
            let nil_rx: Option<&Receiver<i32>> = None;
            let nil_tx: Option<&Sender<i32>> = None;
            // Only nil cases plus default: default.
            for _ in 0..100 {
                let r = goro::select! {
                    recv(nil_rx) -> _v => 1,
                    send(nil_tx, 5) -> _r => 2,
                    default => 3,
                };
                assert_eq!(r, 3);
                // Single nil case + default: the fast path also says default.
                let r = goro::select! { recv(nil_rx) -> _v => 1, default => 3 };
                assert_eq!(r, 3);
                let r = goro::select! { send(nil_tx, 1) -> _v => 1, default => 3 };
                assert_eq!(r, 3);
            }
            // A nil case next to a ready one never wins.
            let (tx, rx) = goro::chan::<i32>(1);
            for i in 0..200 {
                tx.try_send(i).unwrap();
                let r = goro::select! {
                    recv(nil_rx) -> _v => -1,
                    recv(rx) -> v => v.unwrap(),
                    send(nil_tx, 0) -> _r => -2,
                };
                assert_eq!(r, i);
            }
        });
        // A single nil case without default, and `select! {}`, park forever.
        let mut f1 = pin!(async {
            let nil_rx: Option<&Receiver<i32>> = None;
            goro::select! { recv(nil_rx) -> _v => () }
        });
        let mut f2 = pin!(async {
            let nil_tx: Option<&Sender<i32>> = None;
            goro::select! { send(nil_tx, 1) -> _v => () }
        });
        let mut f3 = pin!(async {
            let nil_tx: Option<&Sender<i32>> = None;
            let nil_rx: Option<&Receiver<i32>> = None;
            goro::select! { send(nil_tx, 1) -> _v => (), recv(nil_rx) -> _v => () }
        });
        let mut f4 = pin!(async {
            #[allow(unreachable_code)]
            let () = goro::select! {};
        });
        for _ in 0..3 {
            assert!(poll_once(f1.as_mut()).is_pending());
            assert!(poll_once(f2.as_mut()).is_pending());
            assert!(poll_once(f3.as_mut()).is_pending());
            assert!(poll_once(f4.as_mut()).is_pending());
        }
    });
}

#[test]
fn closed_channels_are_ready() {
    guarded(|| {
        goro::block_on(async {
            let (tx, rx) = goro::chan::<i32>(2);
            tx.try_send(1).unwrap();
            tx.close();
            // Buffered values drain first, then None; default never wins.
            let v = goro::select! { recv(rx) -> v => v, default => Some(-1) };
            assert_eq!(v, Some(1));
            let v = goro::select! { recv(rx) -> v => v, default => Some(-1) };
            assert_eq!(v, None);
            let v = goro::select! { recv(rx) -> v => v };
            assert_eq!(v, None);
            let nil: Option<&Receiver<i32>> = None;
            for _ in 0..50 {
                let v = goro::select! { recv(nil) -> _v => Some(-2), recv(rx) -> v => v, default => Some(-1) };
                assert_eq!(v, None);
            }
            // A send on a closed channel gives the value back, on every path.
            let r = goro::select! { send(tx, 5) -> r => r };
            assert_eq!(r, Err(SendError(5)));
            let r = goro::select! { send(tx, 6) -> r => r, default => Ok(()) };
            assert_eq!(r, Err(SendError(6)));
            for i in 0..50 {
                let r = goro::select! {
                    send(tx, i) -> r => r,
                    recv(nil) -> _v => Ok(()),
                    default => Ok(()),
                };
                assert_eq!(r, Err(SendError(i)));
            }
            // Unbuffered too.
            let (tx0, rx0) = goro::chan::<i32>(0);
            drop(rx0);
            let r = goro::select! { send(tx0, 3) -> r => r, default => Ok(()) };
            assert_eq!(r, Err(SendError(3)));
            drop(tx0);
        });
    });
}

#[test]
fn single_case_fast_paths_match_go() {
    guarded(|| {
        goro::block_on(async {
            // try_recv on empty -> default
            let (tx, rx) = goro::chan::<i32>(1);
            assert_eq!(
                goro::select! { recv(rx) -> v => v, default => Some(-1) },
                Some(-1)
            );
            // try_send on full -> default, and the value is dropped
            tx.try_send(1).unwrap();
            let drops = Arc::new(AtomicUsize::new(0));
            let (ttx, _trx) = goro::chan::<Tracked>(0);
            let r = goro::select! { send(ttx, Tracked(drops.clone())) -> _r => 1, default => 2 };
            assert_eq!(r, 2);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "the unsent value was dropped"
            );
            let r = goro::select! { send(tx, 2) -> _r => 1, default => 2 };
            assert_eq!(r, 2);
            assert_eq!(rx.try_recv(), Ok(1));
        });
        // Unbuffered rendezvous through the single-case paths.
        let (tx, rx) = goro::chan::<i32>(0);
        let (tx2, rx2) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            let v = goro::block_on(async {
                goro::select! { recv(rx) -> v => v }
            });
            goro::block_on(async {
                goro::select! { send(tx2, v.unwrap() + 1) -> r => r }
            })
        });
        goro::block_on(async {
            goro::select! { send(tx, 1) -> r => r.unwrap() }
            let v = goro::select! { recv(rx2) -> v => v };
            assert_eq!(v, Some(2));
        });
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

#[test]
fn operands_and_values_evaluated_once_in_source_order() {
    guarded(|| {
        goro::block_on(async {
            let log = std::cell::RefCell::new(Vec::new());
            let (tx1, rx1) = goro::chan::<i32>(1);
            let (tx2, _rx2) = goro::chan::<i32>(0);
            tx1.try_send(0).unwrap();
            fn note<C>(log: &std::cell::RefCell<Vec<&'static str>>, name: &'static str, c: C) -> C {
                log.borrow_mut().push(name);
                c
            }
            goro::select! {
                recv(note(&log, "rx1", &rx1)) -> _v => {},
                send(note(&log, "tx2", &tx2), note(&log, "v2", 2)) -> _r => {},
                send(note(&log, "tx1", &tx1), note(&log, "v1", 1)) -> _r => {},
                recv(note(&log, "nil", None::<&Receiver<i32>>)) -> _v => {},
            }
            assert_eq!(*log.borrow(), ["rx1", "tx2", "v2", "tx1", "v1", "nil"]);
            // Fast paths too.
            log.borrow_mut().clear();
            goro::select! { send(note(&log, "a", &tx2), note(&log, "b", 1)) -> _r => {}, default => {} }
            goro::select! { recv(note(&log, "c", &rx1)) -> _r => {}, default => {} }
            assert_eq!(*log.borrow(), ["a", "b", "c"]);
        });
    });
}

#[test]
fn unsent_values_of_losing_cases_are_dropped() {
    guarded(|| {
        goro::block_on(async {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = goro::chan::<Tracked>(1);
            let (_tx_full, rx_empty) = goro::chan::<Tracked>(0);
            let (ready_tx, ready_rx) = goro::chan::<()>(1);
            ready_tx.try_send(()).unwrap();
            // The recv case is the only ready one; the send case's value
            // (on an unbuffered channel with no receiver) is dropped.
            let (tx_u, _rx_u) = goro::chan::<Tracked>(0);
            goro::select! {
                send(tx_u, Tracked(drops.clone())) -> _r => panic!("no receiver"),
                recv(ready_rx) -> v => assert_eq!(v, Some(())),
            }
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            // A chosen send moves its value into the channel: not dropped.
            goro::select! {
                send(tx, Tracked(drops.clone())) -> r => assert!(r.is_ok()),
                recv(rx_empty) -> _v => panic!("nothing to receive"),
            }
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            drop(rx.try_recv().unwrap());
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        });
    });
}

#[derive(Debug, PartialEq)]
struct MyErr;

async fn question_mark(rx: &Receiver<i32>, other: &Receiver<i32>) -> Result<i32, MyErr> {
    let v = goro::select! {
        recv(rx) -> v => v.ok_or(MyErr)?,
        recv(other) -> v => v.ok_or(MyErr)? * 10,
    };
    Ok(v + 1)
}

async fn early_return(rx: &Receiver<i32>) -> i32 {
    loop {
        goro::select! {
            recv(rx) -> v => match v {
                Some(x) if x > 2 => return x,
                Some(_) => continue,
                None => return -1,
            },
        }
    }
}

#[test]
fn bodies_use_break_continue_return_question_await() {
    guarded(|| {
        goro::block_on(async {
            let (tx, rx) = goro::chan::<i32>(8);
            let (otx, orx) = goro::chan::<i32>(8);
            for i in 0..5 {
                tx.try_send(i).unwrap();
            }
            // break / continue in a loop, reassigning the operand variable
            let mut seen = vec![];
            let mut rxo = Some(&rx);
            loop {
                goro::select! {
                    recv(rxo) -> v => {
                        let v = v.unwrap();
                        if v == 1 { continue; }
                        if v == 3 { rxo = None; }
                        seen.push(v);
                    },
                    default => break,
                }
            }
            assert_eq!(seen, vec![0, 2, 3]);
            // labelled break out of nested loops from a general-path body
            #[allow(clippy::never_loop)] // the point: `break 'outer` from a select body
            'outer: for _ in 0..3 {
                for _ in 0..3 {
                    goro::select! {
                        recv(rx) -> _v => break 'outer,
                        recv(orx) -> _v => {},
                    }
                }
                unreachable!();
            }
            // .await inside a body
            otx.try_send(1).unwrap();
            let r = goro::select! {
                recv(orx) -> v => {
                    let (t, r) = goro::chan::<i32>(1);
                    t.send(v.unwrap() + 1).await.unwrap();
                    r.recv().await
                },
                default => None,
            };
            assert_eq!(r, Some(2));
            // ? and return
            otx.try_send(4).unwrap();
            assert_eq!(question_mark(&rx, &orx).await, Ok(41));
            tx.close();
            otx.close();
            assert_eq!(question_mark(&rx, &orx).await, Err(MyErr));
            let (t, r) = goro::chan::<i32>(8);
            for i in 0..5 {
                t.try_send(i).unwrap();
            }
            assert_eq!(early_return(&r).await, 3);
            drop(t);
            assert_eq!(early_return(&r).await, 4);
            assert_eq!(early_return(&r).await, -1);
        });
    });
}

#[test]
fn user_names_do_not_clash_with_macro_internals() {
    guarded(|| {
        goro::block_on(async {
            let (tx, rx) = goro::chan::<i32>(2);
            let __res = 5;
            let __op = 6;
            let __v = 7;
            let __won = 8;
            tx.try_send(1).unwrap();
            let r = goro::select! {
                recv(rx) -> __case => __case.unwrap() + __res + __op + __v + __won,
                default => 0,
            };
            assert_eq!(r, 27);
            tx.try_send(1).unwrap();
            let (_t2, r2) = goro::chan::<i32>(0);
            let r = goro::select! {
                recv(rx) -> __case => __case.unwrap() + __res + __op + __v + __won,
                recv(r2) -> __res => __res.unwrap(),
            };
            assert_eq!(r, 27);
        });
    });
}

#[test]
fn blocking_select_wakes_on_a_thread() {
    guarded(|| {
        let (tx1, rx1) = goro::chan::<i32>(0);
        let (tx2, rx2) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx2.send_blocking(2).unwrap();
            drop(tx1);
        });
        let first = goro::block_on(async {
            goro::select! {
                recv(rx1) -> v => (1, v),
                recv(rx2) -> v => (2, v),
            }
        });
        assert_eq!(first, (2, Some(2)));
        t.join().unwrap();
        let second = goro::block_on(async {
            goro::select! {
                recv(rx1) -> v => (1, v),
                recv(rx2) -> v => (2, v),
            }
        });
        assert!(second == (1, None) || second == (2, None), "{second:?}");
    });
}
#[test]
fn forty_cases_compile() {
    let chans: Vec<_> = (0..40).map(|_| goro::chan::<u8>(1)).collect();
    chans[39].0.try_send(9).unwrap();
    let r = goro::block_on(async {
        macro_rules! c {
            ($i:expr) => {
                &chans[$i].1
            };
        }
        goro::select! {
            recv(c!(0)) -> v => v, recv(c!(1)) -> v => v, recv(c!(2)) -> v => v, recv(c!(3)) -> v => v,
            recv(c!(4)) -> v => v, recv(c!(5)) -> v => v, recv(c!(6)) -> v => v, recv(c!(7)) -> v => v,
            recv(c!(8)) -> v => v, recv(c!(9)) -> v => v, recv(c!(10)) -> v => v, recv(c!(11)) -> v => v,
            recv(c!(12)) -> v => v, recv(c!(13)) -> v => v, recv(c!(14)) -> v => v, recv(c!(15)) -> v => v,
            recv(c!(16)) -> v => v, recv(c!(17)) -> v => v, recv(c!(18)) -> v => v, recv(c!(19)) -> v => v,
            recv(c!(20)) -> v => v, recv(c!(21)) -> v => v, recv(c!(22)) -> v => v, recv(c!(23)) -> v => v,
            recv(c!(24)) -> v => v, recv(c!(25)) -> v => v, recv(c!(26)) -> v => v, recv(c!(27)) -> v => v,
            recv(c!(28)) -> v => v, recv(c!(29)) -> v => v, recv(c!(30)) -> v => v, recv(c!(31)) -> v => v,
            recv(c!(32)) -> v => v, recv(c!(33)) -> v => v, recv(c!(34)) -> v => v, recv(c!(35)) -> v => v,
            recv(c!(36)) -> v => v, recv(c!(37)) -> v => v, recv(c!(38)) -> v => v, recv(c!(39)) -> v => v,
            default => None,
        }
    });
    assert_eq!(r, Some(9));
}

/// Pass 0 picks a case out of an array of `dyn Case` and every case's result
/// is taken after the select: with cases of four different types (one of
/// them nil), each arm must get exactly its own channel's value, and every
/// live arm must be chosen.
#[test]
fn mixed_case_types_each_arm_gets_its_own_value() {
    guarded(|| {
        goro::block_on(async {
            let (tx_a, rx_a) = goro::chan::<u8>(64);
            let (tx_b, rx_b) = goro::chan::<String>(64);
            let (tx_c, rx_c) = goro::chan::<Vec<u16>>(64);
            let nil: Option<&Receiver<(i32, i32)>> = None;
            let mut got = [0u32; 4];
            for i in 0..3000u32 {
                // keep every live case ready: A and B have values, C has room
                while tx_a.try_send((i % 251) as u8).is_ok() {}
                while tx_b.try_send(format!("b{i}")).is_ok() {}
                while rx_c.len() > 32 {
                    rx_c.try_recv().unwrap();
                }
                goro::select! {
                    recv(rx_a) -> v => { assert!(v.is_some()); got[0] += 1 },
                    recv(rx_b) -> v => { assert!(v.unwrap().starts_with('b')); got[1] += 1 },
                    send(tx_c, vec![i as u16; 3]) -> r => { r.unwrap(); got[2] += 1 },
                    recv(nil) -> _v => { got[3] += 1 },
                }
            }
            assert_eq!(got[3], 0, "a nil case was chosen");
            assert_eq!(got.iter().sum::<u32>(), 3000);
            for (arm, &n) in got[..3].iter().enumerate() {
                // each of the three ready cases: 1000 expected, far from 0
                assert!(n > 700, "arm {arm} chosen {n} times of 3000: {got:?}");
            }
            let sent: Vec<Vec<u16>> = std::iter::from_fn(|| rx_c.try_recv().ok()).collect();
            assert!(sent.iter().all(|v| v.len() == 3 && v[0] == v[2]));
        });
    });
}
