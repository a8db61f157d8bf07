//! Context callbacks and a runtime: `after_func` functions start in a G of
//! the runtime that registered them whoever cancels (a plain thread, a
//! deadline timer, a G), and their panics end `run`.

mod common;

use goro::context;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

/// Counts callbacks that ran in a G of a runtime and those that did not.
#[derive(Default)]
struct Seen {
    in_g: AtomicUsize,
    off_runtime: AtomicUsize,
}

impl Seen {
    fn record(&self) {
        let spawned = std::panic::catch_unwind(|| drop(goro::go(async {}))).is_ok();
        if goro::num_goroutine() > 0 && spawned {
            self.in_g.fetch_add(1, Ordering::SeqCst);
        } else {
            self.off_runtime.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn total(&self) -> usize {
        self.in_g.load(Ordering::SeqCst) + self.off_runtime.load(Ordering::SeqCst)
    }
}

async fn wait_for(seen: &Seen, n: usize) {
    let t0 = Instant::now();
    while seen.total() < n && t0.elapsed() < Duration::from_secs(10) {
        goro::time::sleep(MS).await;
    }
}

// Registered in a G, cancelled from a plain thread: `f` still starts in a
// G of the registering runtime.
#[test]
fn after_func_cancelled_by_a_plain_thread_runs_in_a_g() {
    common::guard(30, || {
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        goro::run(async move {
            let (ctx, cancel) = context::with_cancel(&context::background());
            let mut stops = Vec::new();
            for _ in 0..10 {
                let s = s.clone();
                stops.push(context::after_func(&ctx, move || s.record()));
            }
            std::thread::spawn(move || cancel.cancel()).join().unwrap();
            wait_for(&s, 10).await;
        });
        assert_eq!(
            seen.off_runtime.load(Ordering::SeqCst),
            0,
            "ran off the runtime"
        );
        assert_eq!(seen.in_g.load(Ordering::SeqCst), 10);
    });
}

// A deadline context's timer fires behind a G that holds the only P: the
// cancel and the context's after_funcs run in Gs of the runtime.
#[test]
fn deadline_after_funcs_behind_a_hog_run_in_gs() {
    common::guard(30, || {
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async move {
            let mut keep = Vec::new();
            for _ in 0..20 {
                let (ctx, cancel) = context::with_timeout(&context::background(), 2 * MS);
                let s = s.clone();
                let stop = context::after_func(&ctx, move || s.record());
                keep.push((ctx, cancel, stop));
            }
            let end = Instant::now() + 200 * MS;
            while Instant::now() < end {
                std::thread::sleep(MS); // hog the P: no yield
            }
            wait_for(&s, 20).await;
        });
        assert_eq!(
            seen.off_runtime.load(Ordering::SeqCst),
            0,
            "ran off the runtime"
        );
        assert_eq!(seen.in_g.load(Ordering::SeqCst), 20);
    });
}

// A panic in a context's after_func is a G's panic: it ends `run`.
#[test]
fn after_func_panic_ends_run() {
    common::guard(30, || {
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(|| {
            goro::run(async {
                let (ctx, cancel) = context::with_cancel(&context::background());
                let _stop = context::after_func(&ctx, || panic!("boom in context after_func"));
                std::thread::spawn(move || cancel.cancel()).join().unwrap();
                goro::time::sleep(Duration::from_secs(5)).await;
            })
        });
        let p = r.expect_err("the panic must end run");
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(msg.contains("boom in context after_func"), "{msg:?}");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "ended only with main"
        );
    });
}

// Registered and cancelled off any runtime: `f` runs on a thread of its own
// (the documented fallback), without blocking the canceller.
#[test]
fn after_func_off_runtime_runs_on_a_thread() {
    common::guard(30, || {
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        let (ctx, cancel) = context::with_cancel(&context::background());
        let _stop = context::after_func(&ctx, move || s.record());
        cancel.cancel();
        let t0 = Instant::now();
        while seen.total() == 0 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(MS);
        }
        assert_eq!(seen.off_runtime.load(Ordering::SeqCst), 1);
    });
}
