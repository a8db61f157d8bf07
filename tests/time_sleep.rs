//! `time::sleep` / `sleep_until`: durations, cancel safety, plain threads.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use goro::time::{sleep, sleep_until};

/// Runs `f` on a thread; fails the test if it does not finish in 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

/// Generous upper bound: the machine is shared and noisy.
const SLACK: Duration = Duration::from_secs(2);

#[test]
fn sleep_lasts_at_least_its_duration() {
    guarded(|| {
        for ms in [1u64, 5, 20] {
            let d = Duration::from_millis(ms);
            let t0 = Instant::now();
            goro::block_on(sleep(d));
            let e = t0.elapsed();
            assert!(e >= d, "slept {e:?} < {d:?}");
            assert!(e < d + SLACK, "slept {e:?}, far longer than {d:?}");
        }
    });
}

#[test]
fn zero_and_past_sleeps_complete_at_once() {
    guarded(|| {
        goro::block_on(sleep(Duration::ZERO));
        goro::block_on(sleep_until(Instant::now() - Duration::from_millis(5)));
        // Ready on the first poll, without registering anything.
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(pin!(sleep(Duration::ZERO)).poll(&mut cx).is_ready());
    });
}

#[test]
fn sleep_until_reaches_the_deadline() {
    guarded(|| {
        let deadline = Instant::now() + Duration::from_millis(15);
        let s = sleep_until(deadline);
        let got = s.deadline().unwrap();
        assert!(got <= deadline && deadline - got < Duration::from_micros(1));
        goro::block_on(s);
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn huge_sleep_is_pending_and_cancellable() {
    guarded(|| {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut s = pin!(sleep(Duration::MAX));
        assert!(s.as_mut().poll(&mut cx).is_pending());
        assert!(s.as_mut().poll(&mut cx).is_pending());
    });
}

struct CountWake(AtomicUsize);
impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropped_sleep_never_wakes() {
    guarded(|| {
        let count = Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let mut s = Box::pin(sleep(Duration::from_millis(10)));
            assert!(s.as_mut().poll(&mut cx).is_pending());
        } // dropped: its timer is stopped
        goro::block_on(sleep(Duration::from_millis(40)));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn repoll_with_new_waker_wakes_the_latest() {
    guarded(|| {
        let first = Arc::new(CountWake(AtomicUsize::new(0)));
        let second = Arc::new(CountWake(AtomicUsize::new(0)));
        let w1 = Waker::from(first.clone());
        let w2 = Waker::from(second.clone());
        let mut s = Box::pin(sleep(Duration::from_millis(10)));
        assert!(s.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        assert!(s.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
        let t0 = Instant::now();
        while second.0.load(Ordering::SeqCst) == 0 {
            assert!(t0.elapsed() < SLACK * 5, "sleep never woke");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert!(s.as_mut().poll(&mut Context::from_waker(&w2)).is_ready());
    });
}

#[test]
fn many_threads_sleep_concurrently() {
    guarded(|| {
        let t0 = Instant::now();
        let hs: Vec<_> = (0..16)
            .map(|i| {
                std::thread::spawn(move || {
                    let d = Duration::from_millis(5 + (i % 4) * 5);
                    let s = Instant::now();
                    goro::block_on(sleep(d));
                    assert!(s.elapsed() >= d);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert!(t0.elapsed() < Duration::from_millis(20) + SLACK);
    });
}

#[test]
fn earlier_sleep_added_later_wakes_first() {
    // The fallback thread, parked until a far deadline, must be woken by a
    // new earlier one.
    guarded(|| {
        let far = std::thread::spawn(|| goro::block_on(sleep(Duration::from_secs(3))));
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        goro::block_on(sleep(Duration::from_millis(10)));
        assert!(t0.elapsed() < Duration::from_millis(10) + SLACK);
        drop(far); // detached; it finishes on its own
    });
}

#[test]
fn join_of_sleeps_in_one_block_on() {
    guarded(|| {
        let t0 = Instant::now();
        goro::block_on(async {
            let a = sleep(Duration::from_millis(10));
            let b = sleep(Duration::from_millis(20));
            futures::join!(a, b);
        });
        let e = t0.elapsed();
        assert!(e >= Duration::from_millis(20) && e < Duration::from_millis(20) + SLACK);
    });
}

// Durations too long to represent saturate everywhere: a deadline that
// never comes, never a panic.
#[test]
fn huge_durations_saturate() {
    guarded(|| {
        use goro::chan::TryRecvError;
        use goro::time::{Ticker, Timer, after, after_func, tick};
        let s = sleep(Duration::MAX);
        assert!(
            s.deadline()
                .is_none_or(|d| d > Instant::now() + Duration::from_secs(86_400))
        );
        let t = Timer::new(Duration::MAX);
        assert!(t.reset(Duration::MAX));
        let tk = Ticker::new(Duration::MAX);
        tk.reset(Duration::MAX);
        let a = after(Duration::MAX);
        let k = tick(Duration::MAX);
        let f = after_func(Duration::MAX, || panic!("must not run"));
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(tk.c().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(k.try_recv(), Err(TryRecvError::Empty));
        assert!(t.stop());
        assert!(f.stop());
        goro::run(async {
            let mut s = pin!(sleep(Duration::MAX));
            assert!(futures::poll!(s.as_mut()).is_pending());
            let r = goro::time::timeout(Duration::MAX, async { 1 }).await;
            assert_eq!(r, Ok(1));
        });
    });
}
