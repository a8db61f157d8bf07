//! Fairness of `select!`: among ready cases one is chosen uniformly at
//! random, whatever their position, kind or channel; `default` never hides a
//! ready case.

mod common;

/// Runs `f` on its own thread; fails the test if it takes over 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

const ROUNDS: usize = 100_000;

/// Each of two cases chosen 50% ± 3%.
fn assert_half(a: usize, b: usize) {
    assert_eq!(a + b, ROUNDS);
    let lo = ROUNDS * 47 / 100;
    let hi = ROUNDS * 53 / 100;
    assert!(
        (lo..=hi).contains(&a),
        "unfair: {a} vs {b} in {ROUNDS} selects"
    );
}

#[test]
fn two_always_ready_receives_half_each() {
    guarded(|| {
        // Closed channels are always ready.
        let (tx1, rx1) = goro::chan::<u8>(0);
        let (tx2, rx2) = goro::chan::<u8>(0);
        drop((tx1, tx2));
        let (mut a, mut b) = (0, 0);
        goro::block_on(async {
            for _ in 0..ROUNDS {
                goro::select! {
                    recv(rx1) => a += 1,
                    recv(rx2) => b += 1,
                }
            }
        });
        assert_half(a, b);
    });
}

#[test]
fn two_always_ready_buffered_receives_half_each_with_default() {
    guarded(|| {
        let (tx1, rx1) = goro::chan::<u8>(1);
        let (tx2, rx2) = goro::chan::<u8>(1);
        let (mut a, mut b) = (0, 0);
        goro::block_on(async {
            for _ in 0..ROUNDS {
                let _ = tx1.try_send(1);
                let _ = tx2.try_send(2);
                goro::select! {
                    recv(rx1) -> v => { assert_eq!(v, Some(1)); a += 1 },
                    recv(rx2) -> v => { assert_eq!(v, Some(2)); b += 1 },
                    default => panic!("default chosen while two cases were ready"),
                }
            }
        });
        assert_half(a, b);
    });
}

#[test]
fn send_and_receive_cases_half_each() {
    guarded(|| {
        let (tx1, rx1) = goro::chan::<u32>(1);
        let (tx2, rx2) = goro::chan::<u32>(1);
        tx2.try_send(0).unwrap();
        let (mut a, mut b) = (0, 0);
        goro::block_on(async {
            for _ in 0..ROUNDS {
                // tx1 has room (always ready), rx2 has a value (always ready).
                goro::select! {
                    send(tx1, 7) -> r => { r.unwrap(); a += 1; rx1.try_recv().unwrap(); },
                    recv(rx2) -> v => { v.unwrap(); b += 1; tx2.try_send(0).unwrap(); },
                }
            }
        });
        assert_half(a, b);
    });
}

#[test]
fn position_does_not_matter_among_four() {
    guarded(|| {
        // Two nil cases around two ready ones, plus one never-ready channel.
        let (tx1, rx1) = goro::chan::<u8>(0);
        let (tx2, rx2) = goro::chan::<u8>(0);
        let (_tx3, rx3) = goro::chan::<u8>(0);
        drop((tx1, tx2));
        let nil: Option<&goro::chan::Receiver<u8>> = None;
        let mut counts = [0usize; 5];
        goro::block_on(async {
            for _ in 0..ROUNDS {
                goro::select! {
                    recv(nil) => counts[0] += 1,
                    recv(rx3) => counts[1] += 1,
                    recv(rx1) => counts[2] += 1,
                    recv(nil) => counts[3] += 1,
                    recv(rx2) => counts[4] += 1,
                }
            }
        });
        assert_eq!(counts[0] + counts[1] + counts[3], 0, "{counts:?}");
        assert_half(counts[2], counts[4]);
    });
}

#[test]
fn duplicate_channel_cases_share_uniformly() {
    guarded(|| {
        // The same closed channel twice and another once: three ready cases,
        // each ~1/3.
        let (tx1, rx1) = goro::chan::<u8>(0);
        let (tx2, rx2) = goro::chan::<u8>(0);
        drop((tx1, tx2));
        let mut counts = [0usize; 3];
        goro::block_on(async {
            for _ in 0..30_000 {
                goro::select! {
                    recv(rx1) => counts[0] += 1,
                    recv(rx1) => counts[1] += 1,
                    recv(rx2) => counts[2] += 1,
                }
            }
        });
        for c in counts {
            assert!((9_000..=11_000).contains(&c), "{counts:?}");
        }
    });
}

#[test]
fn four_live_cases_uniform_whatever_subset_is_ready() {
    // A select of four live cases draws one of the 24 orders at once; every
    // position of that order must be uniform, so whichever cases are ready,
    // each ready one wins equally often.
    guarded(|| {
        for ready in [
            [true, true, true, true],
            [true, true, true, false],
            [false, true, false, true],
        ] {
            let (mut keep, mut rxs) = (Vec::new(), Vec::new());
            for &r in &ready {
                let (tx, rx) = goro::chan::<u8>(0);
                if r {
                    drop(tx); // closed: always ready with None
                } else {
                    keep.push(tx); // open and empty: never ready
                }
                rxs.push(rx);
            }
            const N: usize = 48_000;
            let mut counts = [0usize; 4];
            goro::block_on(async {
                for _ in 0..N {
                    goro::select! {
                        recv(rxs[0]) => counts[0] += 1,
                        recv(rxs[1]) => counts[1] += 1,
                        recv(rxs[2]) => counts[2] += 1,
                        recv(rxs[3]) => counts[3] += 1,
                    }
                }
            });
            let k = ready.iter().filter(|&&r| r).count();
            for (c, &r) in counts.iter().zip(&ready) {
                let want = if r { N / k } else { 0 };
                // within 4% of N (about 9 standard deviations for k = 4)
                assert!(c.abs_diff(want) <= N / 25, "{ready:?}: {counts:?}");
            }
        }
    });
}
