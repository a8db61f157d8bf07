//! loom models of shutdown against the runtime's other threads, on a whole
//! one-P `Runtime` (its M is a loom thread): close bits on the registry,
//! the global queue and every P (`src/runtime/sched.rs`, "Shutdown").
//!
//! Each model ends by checking that every JoinHandle resolved (a lost one
//! shows up as a deadlock: `goro::block_on` parks for ever) and that
//! nothing keeps the scheduler alive (a G left in a queue after shutdown
//! drained it holds the scheduler, which holds the G).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test shutdown` in `loom-tests/`.

use goro::runtime::testing::SchedProbe;
use loom::thread;

/// Whole-runtime models: bound 1 unless `LOOM_MAX_PREEMPTIONS` says more
/// (they have many branch points), and room for a `Sched`'s.
fn runtime_model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(1);
    }
    b.max_branches = b.max_branches.max(50_000);
    b.check(f);
}

/// A spawn from another thread races `shutdown` (tokio's "spawns during
/// shutdown"): the G either runs, or is cancelled by shutdown, or is
/// refused by the closed registry and cancelled by the spawner; its
/// JoinHandle resolves in every case, and no G is left queued.
#[test]
fn spawn_races_shutdown() {
    runtime_model(|| {
        let rt = std::sync::Arc::new(goro::Runtime::builder().max_procs(1).build());
        let probe = SchedProbe::new(&rt);
        let rt2 = rt.clone();
        let spawner = thread::spawn(move || rt2.spawn(async { 5 }));
        rt.shutdown();
        let h = spawner.join().unwrap();
        match goro::block_on(h) {
            Ok(v) => assert_eq!(v, 5),
            Err(e) => assert!(e.is_cancelled()),
        }
        drop(rt);
        assert!(probe.is_freed(), "a G outlived shutdown in a queue");
    });
}

/// A G parked on a channel is woken from another thread (its wake goes to
/// the global queue and starts an M) while the runtime shuts down: the G
/// runs or is cancelled, and nothing is left queued.
#[test]
fn wake_races_shutdown() {
    runtime_model(|| {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let probe = SchedProbe::new(&rt);
        let (tx, rx) = goro::chan::<u8>(1);
        let h = rt.spawn(async move { rx.recv().await });
        let waker = thread::spawn(move || {
            let _ = tx.try_send(1);
        });
        rt.shutdown();
        waker.join().unwrap();
        match goro::block_on(h) {
            Ok(v) => assert!(v == Some(1) || v.is_none()),
            Err(e) => assert!(e.is_cancelled()),
        }
        drop(rt);
        assert!(probe.is_freed(), "a G outlived shutdown in a queue");
    });
}
