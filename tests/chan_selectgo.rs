//! selectgo (the core of select!) driven directly through its doc-hidden
//! interface: readiness, randomness, parking, closed channels, self-select,
//! nil cases, duplicates, cancel safety and exactly-once delivery.

mod common;

use goro::chan::{Receiver, SendError, Sender};
use goro::select::{Case, RecvCase, SendCase, selectgo};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn guard(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

/// `select { case v := <-a: case v := <-b: }` → (index, value).
async fn recv2<T: Send>(
    a: &Receiver<T>,
    b: &Receiver<T>,
    block: bool,
) -> Option<(usize, Option<T>)> {
    let mut c0 = RecvCase::new(Some(a));
    let mut c1 = RecvCase::new(Some(b));
    let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
    // SAFETY: the cases are locals of this frame, declared before the
    // SelectGo, which is awaited or pinned in place and dropped before them.
    let won = unsafe { selectgo(&mut cases, block) }.await;
    match won {
        Some(0) => Some((0, c0.take())),
        Some(1) => Some((1, c1.take())),
        None => None,
        _ => unreachable!(),
    }
}

#[test]
fn nonblocking_none_when_nothing_ready() {
    let (_ta, ra) = goro::chan::<i32>(0);
    let (_tb, rb) = goro::chan::<i32>(1);
    assert!(goro::block_on(recv2(&ra, &rb, false)).is_none());
}

#[test]
fn ready_cases_are_chosen_uniformly() {
    let (ta, ra) = goro::chan::<i32>(1);
    let (tb, rb) = goro::chan::<i32>(1);
    let mut hits = [0; 2];
    for _ in 0..2000 {
        let _ = ta.try_send(0);
        let _ = tb.try_send(1);
        let (i, v) = goro::block_on(recv2(&ra, &rb, false)).unwrap();
        assert_eq!(v, Some(i as i32));
        hits[i] += 1;
    }
    assert!(hits[0] > 800 && hits[1] > 800, "{hits:?}");
}

#[test]
fn parks_until_a_case_is_ready() {
    guard(|| {
        let (_ta, ra) = goro::chan::<i32>(0);
        let (tb, rb) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tb.send_blocking(9).unwrap();
        });
        assert_eq!(goro::block_on(recv2(&ra, &rb, true)), Some((1, Some(9))));
        t.join().unwrap();
    });
}

#[test]
fn parked_send_case_is_taken_by_receiver() {
    guard(|| {
        let (ta, ra) = goro::chan::<i32>(0);
        let (_tb, rb) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ra.recv_blocking()
        });
        let (won, r0) = goro::block_on(async {
            let mut c0 = SendCase::new(Some(&ta), 5);
            let mut c1 = RecvCase::new(Some(&rb));
            let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
            // SAFETY: the cases are locals of this frame, declared before the
            // SelectGo, which is awaited or pinned in place and dropped before them.
            let w = unsafe { selectgo(&mut cases, true) }.await;
            (w, c0.take())
        });
        assert_eq!(won, Some(0));
        assert_eq!(r0, Ok(()));
        assert_eq!(t.join().unwrap(), Some(5));
    });
}

#[test]
fn closed_channels_are_ready() {
    let (ta, ra) = goro::chan::<i32>(0);
    ta.close();
    let (_tb, rb) = goro::chan::<i32>(0);
    assert_eq!(goro::block_on(recv2(&ra, &rb, false)), Some((0, None)));
    let (tc, rc) = goro::chan::<i32>(0);
    drop(rc);
    let (won, r) = goro::block_on(async {
        let mut c0 = SendCase::new(Some(&tc), 3);
        let mut cases = [&mut c0 as &mut dyn Case];
        // SAFETY: the cases are locals of this frame, declared before the
        // SelectGo, which is awaited or pinned in place and dropped before them.
        let w = unsafe { selectgo(&mut cases, false) }.await;
        (w, c0.take())
    });
    assert_eq!((won, r), (Some(0), Err(SendError(3))));
}

#[test]
fn close_wakes_parked_select() {
    guard(|| {
        let (ta, ra) = goro::chan::<i32>(0);
        let (_tb, rb) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ta.close();
        });
        assert_eq!(goro::block_on(recv2(&ra, &rb, true)), Some((0, None)));
        t.join().unwrap();
    });
}

#[test]
fn nil_cases_are_never_chosen() {
    let (ta, ra) = goro::chan::<i32>(1);
    ta.try_send(1).unwrap();
    let won = goro::block_on(async {
        let mut c0 = RecvCase::<i32>::new(None);
        let mut c1 = SendCase::<i32>::new(None, 1);
        let mut c2 = RecvCase::new(Some(&ra));
        let mut cases = [&mut c0 as &mut dyn Case, &mut c1, &mut c2];
        // SAFETY: the cases are locals of this frame, declared before the
        // SelectGo, which is awaited or pinned in place and dropped before them.
        let w = unsafe { selectgo(&mut cases, true) }.await;
        (w, c2.take())
    });
    assert_eq!(won, (Some(2), Some(1)));
    let none = goro::block_on(async {
        let mut c0 = RecvCase::<i32>::new(None);
        let mut cases = [&mut c0 as &mut dyn Case];
        // SAFETY: the cases are locals of this frame, declared before the
        // SelectGo, which is awaited or pinned in place and dropped before them.
        unsafe { selectgo(&mut cases, false) }.await
    });
    assert_eq!(none, None);
    // A blocking select with only nil cases never resolves.
    let mut c0 = RecvCase::<i32>::new(None);
    let mut cases = [&mut c0 as &mut dyn Case];
    // SAFETY: the cases are locals of this frame, declared before the
    // SelectGo, which is awaited or pinned in place and dropped before them.
    let mut f = pin!(unsafe { selectgo(&mut cases, true) });
    for _ in 0..3 {
        assert!(
            f.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
    }
}

#[test]
fn duplicate_channel_cases() {
    guard(|| {
        let (tx, rx) = goro::chan::<i32>(0);
        let rx2 = rx.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            tx.send_blocking(4).unwrap();
        });
        let got = goro::block_on(recv2(&rx, &rx2, true)).unwrap();
        assert_eq!(got.1, Some(4));
        t.join().unwrap();
    });
}

// Go: TestSelfSelect — a select with send and recv on the same channel never
// matches itself.
#[test]
fn self_select_never_matches_itself() {
    guard(|| {
        for cap in [0usize, 10] {
            let (tx, rx) = goro::chan::<usize>(cap);
            let ts: Vec<_> = (0..2)
                .map(|p| {
                    let (tx, rx) = (tx.clone(), rx.clone());
                    std::thread::spawn(move || {
                        goro::block_on(async {
                            for _ in 0..1000 {
                                let mut c0 = SendCase::new(Some(&tx), p);
                                let mut c1 = RecvCase::new(Some(&rx));
                                let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                                // SAFETY: the cases are locals of this frame, declared before the
                                // SelectGo, which is awaited or pinned in place and dropped before them.
                                let w = unsafe { selectgo(&mut cases, true) }.await;
                                if w == Some(1) {
                                    let v = c1.take().unwrap();
                                    if cap == 0 {
                                        assert_ne!(v, p, "self-select matched itself");
                                    }
                                }
                            }
                        })
                    })
                })
                .collect();
            // Each thread stops after 1000 selects; the other may then be left
            // waiting for a peer, so drain whatever remains.
            let mut ts = ts;
            let mut done = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while done < 2 {
                assert!(std::time::Instant::now() < deadline);
                let _ = rx.try_recv();
                let _ = tx.try_send(99);
                ts.retain(|t| !t.is_finished());
                done = 2 - ts.len();
                std::thread::yield_now();
            }
        }
    });
}

#[test]
fn dropped_parked_select_gives_value_back() {
    let (ta, ra) = goro::chan::<i32>(0);
    let (tb, rb) = goro::chan::<i32>(0);
    {
        let mut c0 = RecvCase::new(Some(&ra));
        let mut c1 = RecvCase::new(Some(&rb));
        let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
        // SAFETY: the cases are locals of this frame, declared before the
        // SelectGo, which is awaited or pinned in place and dropped before them.
        let mut f = Box::pin(unsafe { selectgo(&mut cases, true) });
        assert!(
            f.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        ta.try_send(1).unwrap(); // handed to the select's case 0
        assert!(tb.try_send(2).is_err()); // the select already won: skipped
        drop(f);
    }
    assert_eq!(ra.try_recv(), Ok(1));
    assert!(rb.try_recv().is_err());
}

#[test]
fn dropped_parked_select_send_case_sends_nothing() {
    let (ta, ra) = goro::chan::<i32>(0);
    {
        let mut c0 = SendCase::new(Some(&ta), 1);
        let mut cases = [&mut c0 as &mut dyn Case];
        // SAFETY: the cases are locals of this frame, declared before the
        // SelectGo, which is awaited or pinned in place and dropped before them.
        let mut f = Box::pin(unsafe { selectgo(&mut cases, true) });
        assert!(
            f.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        drop(f);
    }
    assert!(ra.try_recv().is_err());
}

/// Select loops over two channels racing senders, with random drops of
/// parked selects: every value is received exactly once.
#[test]
fn select_loops_exactly_once() {
    guard(|| {
        for cap in [0usize, 2] {
            const N: usize = 3000;
            let (ta, ra) = goro::chan::<usize>(cap);
            let (tb, rb) = goro::chan::<usize>(cap);
            let seen = Arc::new((0..2 * N).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
            let senders: Vec<_> = [(ta, 0usize), (tb, N)]
                .into_iter()
                .map(|(tx, base): (Sender<usize>, usize)| {
                    std::thread::spawn(move || {
                        for i in 0..N {
                            tx.send_blocking(base + i).unwrap();
                        }
                    })
                })
                .collect();
            let receivers: Vec<_> = (0..3)
                .map(|k| {
                    let (ra, rb, seen) = (ra.clone(), rb.clone(), seen.clone());
                    std::thread::spawn(move || {
                        let mut closed = [false; 2];
                        let mut x = 0x1234_5678u64 + k;
                        while !(closed[0] && closed[1]) {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let mut c0 = RecvCase::new((!closed[0]).then_some(&ra));
                            let mut c1 = RecvCase::new((!closed[1]).then_some(&rb));
                            let won = {
                                let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                                // SAFETY: the cases are locals of this frame, declared before the
                                // SelectGo, which is awaited or pinned in place and dropped before them.
                                let mut f = Box::pin(unsafe { selectgo(&mut cases, true) });
                                match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                                    Poll::Ready(w) => w,
                                    Poll::Pending if x % 2 == 0 => None, // drop it parked
                                    Poll::Pending => goro::block_on(f),
                                }
                            };
                            let Some(i) = won else {
                                std::thread::yield_now();
                                continue;
                            };
                            let v = if i == 0 { c0.take() } else { c1.take() };
                            match v {
                                Some(v) => {
                                    seen[v].fetch_add(1, Ordering::SeqCst);
                                }
                                None => closed[i] = true,
                            }
                        }
                    })
                })
                .collect();
            drop((ra, rb));
            for t in senders.into_iter().chain(receivers) {
                t.join().unwrap();
            }
            for (i, c) in seen.iter().enumerate() {
                assert_eq!(c.load(Ordering::SeqCst), 1, "value {i} cap {cap}");
            }
        }
    });
}

/// Two selects send/receive against each other (select ↔ select hand-off).
#[test]
fn select_to_select() {
    guard(|| {
        let (tx, rx) = goro::chan::<usize>(0);
        let (_tz, rz) = goro::chan::<usize>(0);
        let (tq, _rq) = goro::chan::<usize>(0);
        let s = std::thread::spawn(move || {
            goro::block_on(async {
                for i in 0..2000 {
                    let mut c0 = SendCase::new(Some(&tx), i);
                    let mut c1 = RecvCase::new(Some(&rz));
                    let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                    // SAFETY: the cases are locals of this frame, declared before the
                    // SelectGo, which is awaited or pinned in place and dropped before them.
                    let w = unsafe { selectgo(&mut cases, true) }.await;
                    assert_eq!(w, Some(0));
                    c0.take().unwrap();
                }
            })
        });
        goro::block_on(async {
            for i in 0..2000 {
                let mut c0 = RecvCase::new(Some(&rx));
                let mut c1 = SendCase::new(Some(&tq), 0);
                let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                // SAFETY: the cases are locals of this frame, declared before the
                // SelectGo, which is awaited or pinned in place and dropped before them.
                let w = unsafe { selectgo(&mut cases, true) }.await;
                assert_eq!(w, Some(0));
                assert_eq!(c0.take(), Some(i));
            }
        });
        s.join().unwrap();
    });
}

// Go: TestPseudoRandomSend — two send cases on one channel are chosen at
// random.
#[test]
fn pseudo_random_send() {
    guard(|| {
        const N: usize = 1000;
        for cap in [0usize, N] {
            let (tx, rx) = goro::chan::<usize>(cap);
            let r = std::thread::spawn(move || {
                let mut ones = 0;
                for _ in 0..N {
                    ones += rx.recv_blocking().unwrap();
                }
                ones
            });
            goro::block_on(async {
                for _ in 0..N {
                    let mut c0 = SendCase::new(Some(&tx), 0);
                    let mut c1 = SendCase::new(Some(&tx), 1);
                    let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
                    // SAFETY: the cases are locals of this frame, declared before the
                    // SelectGo, which is awaited or pinned in place and dropped before them.
                    let w = unsafe { selectgo(&mut cases, true) }.await;
                    assert!(w.is_some());
                }
            });
            let ones = r.join().unwrap();
            assert!(
                ones > N / 10 && ones < N - N / 10,
                "cap {cap}: {ones} ones of {N}"
            );
        }
    });
}

#[test]
fn selectgo_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (tx, rx) = goro::chan::<String>(0);
    let fut = async {
        let mut c0 = RecvCase::new(Some(&rx));
        let mut c1 = SendCase::new(Some(&tx), String::new());
        let mut cases = [&mut c0 as &mut dyn Case, &mut c1];
        // SAFETY: the cases are locals of this frame, declared before the
        // SelectGo, which is awaited or pinned in place and dropped before them.
        unsafe { selectgo(&mut cases, false) }.await
    };
    assert_send(&fut);
}
