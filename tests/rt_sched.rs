//! Scheduler behaviour through the public API: gosched fairness on one P,
//! the cooperative budget (a G looping over ready channel operations or
//! selects, never parking, still lets the other Gs of its P run: the
//! futures stand-in for Go's preemption), runnext time-slice inheritance
//! not starving the queue, `gomaxprocs`
//! resizes under load, `blocking`/`block_on` inside a G handing the P off
//! (Go's entersyscall/handoffp), `JoinHandle::is_finished`, spawning from
//! plain threads, the `GOMAXPROCS` environment variable, panics in nested
//! Gs, and `JoinError`'s Display/Debug.
//!
//! Every test body runs under `guard` so a hang fails instead of hanging CI.
//! Nothing here asserts on speed; where an order is asserted it follows
//! from Go's rules (one P runs one G at a time; a blocking call gives its P
//! away), not from timing, except `blocking_keeps_other_gs_running`, whose
//! 300 ms sleep only has to outlast a few hundred scheduler steps.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Runs `f` on a thread and fails the test if it takes longer than `secs`.
use common::guard;

fn one_p() -> goro::Runtime {
    goro::Runtime::builder().max_procs(1).build()
}

/// Longest run of equal consecutive items.
fn longest_run<T: PartialEq>(v: &[T]) -> usize {
    let mut best = 0;
    let mut cur = 0;
    for i in 0..v.len() {
        cur = if i > 0 && v[i] == v[i - 1] {
            cur + 1
        } else {
            1
        };
        best = best.max(cur);
    }
    best
}

/// A yield that re-queues through the waker (as tokio's `yield_now`): the G
/// wakes itself during its poll and goes to the tail of the local queue.
async fn self_wake_yield() {
    let mut done = false;
    std::future::poll_fn(move |cx| {
        if done {
            return Poll::Ready(());
        }
        done = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

// ---- gosched fairness ---------------------------------------------------------

#[test]
fn gosched_interleaves_on_one_p() {
    let log = guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let log = Arc::new(Mutex::new(Vec::new()));
            let hs: Vec<_> = (0..3)
                .map(|id| {
                    let log = log.clone();
                    goro::go(async move {
                        for _ in 0..100 {
                            log.lock().unwrap().push(id);
                            goro::gosched().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            Arc::try_unwrap(log).unwrap().into_inner().unwrap()
        })
    });
    assert_eq!(log.len(), 300);
    for id in 0..3 {
        assert_eq!(log.iter().filter(|&&x| x == id).count(), 100);
    }
    // One P: a G that yields goes behind the others, so no G runs twice in
    // a row while the others are runnable (until the first G finishes; the
    // 61st-tick global-queue check may reorder a round, not repeat a G).
    let cut = (0..3)
        .map(|id| log.iter().rposition(|&x| x == id).unwrap())
        .min()
        .unwrap();
    assert!(
        longest_run(&log[..=cut]) <= 2,
        "gosched did not interleave: {log:?}"
    );
    // Every G makes progress from the start.
    let first: std::collections::HashSet<_> = log[..6].iter().collect();
    assert_eq!(first.len(), 3, "a G waited for another to finish: {log:?}");
}

#[test]
fn busy_gosched_loop_does_not_starve_another_g() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let spins = Arc::new(AtomicUsize::new(0));
            let (s, n) = (stop.clone(), spins.clone());
            let busy = goro::go(async move {
                while !s.load(Ordering::SeqCst) {
                    n.fetch_add(1, Ordering::Relaxed);
                    goro::gosched().await;
                }
            });
            let s = stop.clone();
            let other = goro::go(async move {
                for _ in 0..10 {
                    goro::gosched().await;
                }
                s.store(true, Ordering::SeqCst);
            });
            other.await.unwrap();
            busy.await.unwrap();
            assert!(spins.load(Ordering::Relaxed) > 0);
        });
    });
}

#[test]
fn self_waking_g_does_not_starve_another_g() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let busy = goro::go(async move {
                while !s.load(Ordering::SeqCst) {
                    self_wake_yield().await;
                }
            });
            let s = stop.clone();
            let other = goro::go(async move {
                self_wake_yield().await;
                s.store(true, Ordering::SeqCst);
            });
            other.await.unwrap();
            busy.await.unwrap();
        });
    });
}

// ---- the cooperative budget (the futures stand-in for Go's preemption) ----------

/// On one P, `busy` runs `op` in a loop that never parks, and spawns a G
/// that stops it. Without a budget that makes `busy` yield, the spawned G
/// never runs and the test hangs (caught by `guard`). Returns how many
/// times `op` completed before the spawned G first ran.
fn ops_before_other_g_runs<F, Fut>(op: F) -> usize
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    guard(30, move || {
        let rt = one_p();
        rt.block_on(async move {
            let seen = Arc::new(AtomicUsize::new(usize::MAX));
            let seen2 = seen.clone();
            let busy = goro::go(async move {
                let count = Arc::new(AtomicUsize::new(0));
                let (c, s) = (count.clone(), seen2.clone());
                // runnable at once, but this G keeps the P until it yields
                drop(goro::go(async move {
                    s.store(c.load(Ordering::SeqCst), Ordering::SeqCst);
                }));
                while seen2.load(Ordering::SeqCst) == usize::MAX {
                    op().await;
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
            busy.await.unwrap();
            seen.load(Ordering::SeqCst)
        })
    })
}

#[test]
fn ready_channel_loop_yields_to_another_g() {
    // A send and a receive on a buffered channel that never fills or
    // empties: neither parks, so only the budget ends the poll.
    let (tx, rx) = goro::chan::<u32>(4);
    let ran_after = ops_before_other_g_runs(move || {
        let (tx, rx) = (tx.clone(), rx.clone());
        async move {
            tx.send(1).await.unwrap();
            assert_eq!(rx.recv().await, Some(1));
        }
    });
    assert!(
        (1..10_000).contains(&ran_after),
        "the other G ran after {ran_after} send/receive pairs"
    );
}

#[test]
fn ready_select_loop_yields_to_another_g() {
    // A select over two channels that always hold a value (each received
    // value is put back with `try_send`, which is not a yield point).
    let (tx1, rx1) = goro::chan::<u32>(1);
    let (tx2, rx2) = goro::chan::<u32>(1);
    tx1.try_send(1).unwrap();
    tx2.try_send(2).unwrap();
    let ran_after = ops_before_other_g_runs(move || {
        let (tx1, rx1, tx2, rx2) = (tx1.clone(), rx1.clone(), tx2.clone(), rx2.clone());
        async move {
            goro::select! {
                recv(rx1) -> v => tx1.try_send(v.unwrap()).unwrap(),
                recv(rx2) -> v => tx2.try_send(v.unwrap()).unwrap(),
            }
        }
    });
    assert!(
        (1..10_000).contains(&ran_after),
        "the other G ran after {ran_after} selects"
    );
}

/// A baton passed between two Gs by waking each other (each wake puts the
/// other in the P's runnext). Go's rule: the pair inherits one time slice,
/// so a third runnable G still runs (DESIGN.md, RUNNEXT budget).
struct Baton {
    state: Mutex<(usize, [Option<Waker>; 2])>,
}

struct Turn<'a>(&'a Baton, usize);

impl Future for Turn<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.0.state.lock().unwrap();
        if st.0 == self.1 {
            return Poll::Ready(());
        }
        st.1[self.1] = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Baton {
    fn pass_to(&self, who: usize) {
        let w = {
            let mut st = self.state.lock().unwrap();
            st.0 = who;
            st.1[who].take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

#[test]
fn runnext_ping_pong_does_not_starve_the_queue() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let baton = Arc::new(Baton {
                state: Mutex::new((0, [None, None])),
            });
            let stop = Arc::new(AtomicBool::new(false));
            let third: Arc<Mutex<Option<goro::JoinHandle<()>>>> = Arc::default();
            let players: Vec<_> = (0..2)
                .map(|me| {
                    let (b, s, t) = (baton.clone(), stop.clone(), third.clone());
                    goro::go(async move {
                        let mut first = true;
                        loop {
                            Turn(&b, me).await;
                            if me == 0 && first {
                                // The third G goes to runnext, and the wake
                                // below kicks it to the ring's tail, behind
                                // a runnext chain that never ends by itself.
                                let s = s.clone();
                                *t.lock().unwrap() =
                                    Some(goro::go(async move { s.store(true, Ordering::SeqCst) }));
                                first = false;
                            }
                            if s.load(Ordering::SeqCst) {
                                b.pass_to(1 - me); // let the other see stop too
                                return;
                            }
                            b.pass_to(1 - me);
                        }
                    })
                })
                .collect();
            for p in players {
                p.await.unwrap();
            }
            let t = third.lock().unwrap().take().expect("third spawned");
            t.await.unwrap();
        });
    });
}

// ---- gomaxprocs -----------------------------------------------------------------

#[test]
fn gomaxprocs_resize_under_load() {
    const GS: usize = 40;
    const STEPS: usize = 200;
    let total = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            assert_eq!(goro::gomaxprocs(0), 2);
            let count = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..GS)
                .map(|_| {
                    let c = count.clone();
                    goro::go(async move {
                        for _ in 0..STEPS {
                            c.fetch_add(1, Ordering::Relaxed);
                            goro::gosched().await;
                        }
                    })
                })
                .collect();
            goro::gosched().await;
            assert_eq!(goro::gomaxprocs(4), 2, "previous value");
            assert_eq!(goro::gomaxprocs(0), 4);
            goro::gosched().await;
            assert_eq!(goro::gomaxprocs(1), 4, "previous value");
            assert_eq!(goro::gomaxprocs(0), 1);
            goro::gosched().await;
            assert_eq!(goro::gomaxprocs(3), 1);
            assert_eq!(goro::gomaxprocs(0), 3);
            for h in hs {
                h.await.unwrap();
            }
            count.load(Ordering::Relaxed)
        })
    });
    assert_eq!(total, GS * STEPS);
}

#[test]
fn gomaxprocs_resized_from_many_gs() {
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            let hs: Vec<_> = (0..8usize)
                .map(|i| {
                    goro::go(async move {
                        for k in 0..50usize {
                            let prev = goro::gomaxprocs(1 + (i + k) % 4);
                            assert!((1..=4).contains(&prev), "previous value {prev}");
                            goro::gosched().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            let n = goro::gomaxprocs(0);
            assert!((1..=4).contains(&n));
            // Still a working runtime after the storm.
            let hs: Vec<_> = (0..100u64).map(|i| goro::go(async move { i })).collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            assert_eq!(s, 4950);
        });
    });
}

#[test]
fn gomaxprocs_outside_runtime_reads_default() {
    // Outside a runtime it reports the default for new runtimes (>= 1).
    assert!(goro::gomaxprocs(0) >= 1);
}

// ---- blocking / block_on inside a G -------------------------------------------

#[test]
fn blocking_keeps_other_gs_running() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let order = Arc::new(AtomicUsize::new(0));
            let (o1, o2) = (order.clone(), order.clone());
            let started = Arc::new(AtomicBool::new(false));
            let st = started.clone();
            let a = goro::go(async move {
                st.store(true, Ordering::SeqCst);
                goro::blocking(|| std::thread::sleep(Duration::from_millis(300)));
                o1.fetch_add(1, Ordering::SeqCst) // 0 if A finished first
            });
            let b = goro::go(async move {
                // Wait until A is inside its blocking call's P handoff.
                while !started.load(Ordering::SeqCst) {
                    goro::gosched().await;
                }
                for _ in 0..100 {
                    goro::gosched().await;
                    drop(goro::go(async {}));
                }
                o2.fetch_add(1, Ordering::SeqCst)
            });
            let b_rank = b.await.unwrap();
            let a_rank = a.await.unwrap();
            assert_eq!((b_rank, a_rank), (0, 1), "B waited for A's blocking call");
        });
    });
}

#[test]
fn blocking_returns_value_and_g_continues() {
    guard(30, || {
        let rt = one_p();
        let v = rt.block_on(async {
            let h = goro::go(async {
                let x = goro::blocking(|| 20);
                goro::gosched().await;
                x + goro::blocking(|| 22)
            });
            h.await.unwrap()
        });
        assert_eq!(v, 42);
    });
}

#[test]
fn blocking_outside_a_g_just_calls() {
    assert_eq!(goro::blocking(|| 7), 7);
}

/// A one-shot signal set by a plain thread.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn set(&self) {
        let w = {
            let mut st = self.state.lock().unwrap();
            st.0 = true;
            st.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
    fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut st = self.state.lock().unwrap();
            if st.0 {
                return Poll::Ready(());
            }
            st.1 = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

#[test]
fn block_on_inside_a_g_hands_off_the_p() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let sig = Arc::new(Signal::default());
            let s = sig.clone();
            let progress = Arc::new(AtomicUsize::new(0));
            let p = progress.clone();
            // B runs on the only P while A's thread is parked in block_on;
            // B is the one that lets A's future finish.
            let a = goro::go(async move {
                let got = goro::block_on(async {
                    s.wait().await;
                    5
                });
                (got, p.load(Ordering::SeqCst))
            });
            let b = goro::go(async move {
                for _ in 0..20 {
                    progress.fetch_add(1, Ordering::SeqCst);
                    goro::gosched().await;
                }
                sig.set();
            });
            b.await.unwrap();
            let (got, seen) = a.await.unwrap();
            assert_eq!(got, 5);
            assert_eq!(seen, 20, "A resumed before B set the signal");
        });
    });
}

#[test]
fn block_on_inside_a_g_woken_by_a_plain_thread() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let sig = Arc::new(Signal::default());
            let s = sig.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                s.set();
            });
            let other = goro::go(async { 1 });
            goro::block_on(sig.wait());
            assert_eq!(other.await.unwrap(), 1);
            t.join().unwrap();
        });
    });
}

// ---- JoinHandle ---------------------------------------------------------------

#[test]
fn join_handle_is_finished() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let sig = Arc::new(Signal::default());
        let s = sig.clone();
        let h = rt.spawn(async move {
            s.wait().await;
            9
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(!h.is_finished(), "finished before its signal");
        assert!(h.id() > 0);
        sig.set();
        while !h.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(goro::block_on(h).unwrap(), 9);
    });
}

#[test]
fn join_handle_debug_names_the_g() {
    let rt = one_p();
    let h = rt.spawn(async {});
    let id = h.id();
    assert!(format!("{h:?}").contains(&id.to_string()));
    rt.block_on(h).unwrap();
}

// ---- spawning from plain threads ------------------------------------------------

#[test]
fn runtime_spawn_from_plain_threads_while_block_on_runs() {
    guard(60, || {
        let rt = Arc::new(goro::Runtime::builder().max_procs(2).build());
        let count = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (rt, count) = (rt.clone(), count.clone());
            std::thread::spawn(move || {
                rt.block_on(async move {
                    while count.load(Ordering::SeqCst) < 400 {
                        goro::gosched().await;
                    }
                })
            })
        };
        let spawners: Vec<_> = (0..4)
            .map(|_| {
                let (rt, count) = (rt.clone(), count.clone());
                std::thread::spawn(move || {
                    let hs: Vec<_> = (0..100)
                        .map(|_| {
                            let c = count.clone();
                            rt.spawn(async move {
                                goro::gosched().await;
                                c.fetch_add(1, Ordering::SeqCst);
                            })
                        })
                        .collect();
                    for h in hs {
                        goro::block_on(h).unwrap();
                    }
                })
            })
            .collect();
        for s in spawners {
            s.join().unwrap();
        }
        waiter.join().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 400);
        rt.shutdown();
    });
}

#[test]
fn block_on_from_several_threads_at_once() {
    guard(60, || {
        let rt = Arc::new(goro::Runtime::builder().max_procs(2).build());
        let ts: Vec<_> = (0..4u64)
            .map(|k| {
                let rt = rt.clone();
                std::thread::spawn(move || {
                    rt.block_on(async move {
                        let hs: Vec<_> =
                            (0..50u64).map(|i| goro::go(async move { i * k })).collect();
                        let mut s = 0;
                        for h in hs {
                            s += h.await.unwrap();
                        }
                        s
                    })
                })
            })
            .collect();
        for (k, t) in ts.into_iter().enumerate() {
            assert_eq!(t.join().unwrap(), 1225 * k as u64);
        }
    });
}

// ---- GOMAXPROCS environment variable ---------------------------------------------

/// The child half of `gomaxprocs_env_var_is_honoured`: does nothing unless
/// the parent set `GORO_TEST_EXPECT_PROCS` (tests share one process, so the
/// environment is only changed in a child process).
#[test]
fn gomaxprocs_env_child() {
    let Ok(want) = std::env::var("GORO_TEST_EXPECT_PROCS") else {
        return;
    };
    let want: usize = if want == "cores" {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        want.parse().unwrap()
    };
    assert_eq!(goro::gomaxprocs(0), want, "default outside a runtime");
    let rt = goro::Runtime::new();
    assert_eq!(
        rt.block_on(async { goro::gomaxprocs(0) }),
        want,
        "Runtime::new"
    );
    drop(rt);
    assert_eq!(goro::run(async { goro::gomaxprocs(0) }), want, "goro::run");
    // An explicit builder value wins over the environment.
    let rt = goro::Runtime::builder().max_procs(2).build();
    assert_eq!(rt.block_on(async { goro::gomaxprocs(0) }), 2, "builder");
}

fn run_env_child(value: &str, expect: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "gomaxprocs_env_child",
            "--test-threads",
            "1",
            "--nocapture",
        ])
        .env("GOMAXPROCS", value)
        .env("GORO_TEST_EXPECT_PROCS", expect)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "GOMAXPROCS={value}: child failed:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "child did not run the test:\n{text}"
    );
}

#[test]
fn gomaxprocs_env_var_is_honoured() {
    guard(60, || {
        run_env_child("3", "3");
        run_env_child(" 5 ", "5");
        // Go ignores a value that is not a positive integer.
        run_env_child("0", "cores");
        run_env_child("lots", "cores");
    });
}

// ---- panics ------------------------------------------------------------------------

#[test]
fn panic_in_nested_g_reaches_each_joiner() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let outer = rt.block_on(async {
            let mid = goro::go(async {
                let inner = goro::go(async {
                    goro::gosched().await;
                    panic!("inner boom");
                });
                let e = inner.await.unwrap_err();
                assert!(e.is_panic());
                let msg = *e.into_panic().downcast::<&str>().unwrap();
                panic!("mid saw: {msg}");
            });
            mid.await.unwrap_err()
        });
        assert!(outer.is_panic());
        let msg = outer.into_panic().downcast::<String>().unwrap();
        assert_eq!(*msg, "mid saw: inner boom");
    });
}

#[test]
fn detached_panic_in_grandchild_ends_run() {
    let r = guard(30, || {
        std::panic::catch_unwind(|| {
            goro::run(async {
                goro::go(async {
                    goro::go(async {
                        goro::go(async {
                            goro::gosched().await;
                            panic!("grandchild boom");
                        });
                    });
                });
                loop {
                    goro::gosched().await;
                    goro::blocking(|| std::thread::sleep(Duration::from_millis(1)));
                }
            })
        })
    });
    let p = r.unwrap_err();
    assert_eq!(*p.downcast::<&str>().unwrap(), "grandchild boom");
}

#[test]
fn panicking_g_does_not_take_down_its_runtime() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let e = rt
            .block_on(async { goro::go(async { panic!("one") }).await })
            .unwrap_err();
        assert!(e.is_panic());
        // The runtime keeps working after a joined panic.
        assert_eq!(
            rt.block_on(async { goro::go(async { 3 }).await.unwrap() }),
            3
        );
    });
}

// ---- JoinError Display / Debug ------------------------------------------------------

fn join_error_of(f: impl Future<Output = ()> + Send + 'static) -> goro::JoinError {
    let rt = one_p();
    rt.block_on(async move { goro::go(f).await.unwrap_err() })
}

#[test]
fn join_error_display_and_debug_for_panics() {
    guard(30, || {
        let e = join_error_of(async { panic!("boom str") });
        assert!(e.is_panic() && !e.is_cancelled());
        let (d, g) = (e.to_string(), format!("{e:?}"));
        assert!(
            d.contains("panicked") && d.contains("boom str"),
            "Display: {d}"
        );
        assert!(g.contains("Panic") && g.contains("boom str"), "Debug: {g}");

        let n = 7;
        let e = join_error_of(async move { panic!("boom {n}") });
        assert!(e.to_string().contains("boom 7"), "String payload: {e}");

        let e = join_error_of(async { std::panic::panic_any(42u32) });
        assert!(e.to_string().contains("panicked"), "{e}");
        let e = e.try_into_panic().unwrap();
        assert_eq!(*e.downcast::<u32>().unwrap(), 42);

        let e: Box<dyn std::error::Error> = Box::new(join_error_of(async { panic!("x") }));
        assert!(e.to_string().contains('x'));
    });
}

#[test]
fn join_error_display_and_debug_for_cancelled() {
    guard(30, || {
        let rt = one_p();
        let h = rt.spawn(std::future::pending::<()>());
        rt.shutdown();
        let e = goro::block_on(h).unwrap_err();
        assert!(e.is_cancelled() && !e.is_panic());
        let (d, g) = (e.to_string(), format!("{e:?}"));
        assert!(d.contains("shut"), "Display: {d}");
        assert!(g.contains("Cancelled"), "Debug: {g}");
        let e = e.try_into_panic().unwrap_err();
        assert!(e.is_cancelled());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.into_panic()));
        assert!(r.is_err(), "into_panic on a cancelled G must panic");
    });
}

// ---- more scheduling corners ------------------------------------------------------

#[test]
fn gosched_outside_a_g_yields_the_thread() {
    guard(30, || goro::block_on(goro::gosched()));
}

#[test]
fn g_spawned_from_plain_thread_runs_beside_a_ping_pong_pair() {
    // The plain thread's G goes to the global queue; the pair's runnext
    // chain on the only P must still let it run (Go: the global queue is
    // checked every 61st schedule, and the pair's slice is bounded).
    guard(30, || {
        let rt = Arc::new(one_p());
        let baton = Arc::new(Baton {
            state: Mutex::new((0, [None, None])),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let players: Vec<_> = (0..2)
            .map(|me| {
                let (b, s, st) = (baton.clone(), stop.clone(), started.clone());
                rt.spawn(async move {
                    loop {
                        Turn(&b, me).await;
                        st.store(true, Ordering::SeqCst);
                        if s.load(Ordering::SeqCst) {
                            b.pass_to(1 - me);
                            return;
                        }
                        b.pass_to(1 - me);
                    }
                })
            })
            .collect();
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let s = stop.clone();
        let h = rt.spawn(async move { s.store(true, Ordering::SeqCst) });
        goro::block_on(h).unwrap();
        for p in players {
            goro::block_on(p).unwrap();
        }
    });
}

#[test]
fn runtime_block_on_inside_a_g_of_the_same_runtime() {
    guard(30, || {
        let rt = Arc::new(one_p());
        let rt2 = rt.clone();
        let v = rt.block_on(async move {
            let other = goro::go(async { 2 });
            // Blocks this G's thread; its P is handed off so the inner G
            // (and `other`) can run on the same runtime.
            let inner = rt2.block_on(async { goro::go(async { 40 }).await.unwrap() });
            inner + other.await.unwrap()
        });
        assert_eq!(v, 42);
    });
}

#[test]
fn num_goroutine_is_zero_after_shutdown() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let hs: Vec<_> = (0..5)
            .map(|_| rt.spawn(std::future::pending::<()>()))
            .collect();
        while rt.num_goroutine() < 5 {
            std::thread::yield_now();
        }
        rt.shutdown();
        assert_eq!(rt.num_goroutine(), 0);
        for h in hs {
            assert!(goro::block_on(h).unwrap_err().is_cancelled());
        }
    });
}

/// A G woken into runnext while its waker keeps the P busy is not lost: no
/// M is woken for it when it is all the P has (the waker's M runs it next,
/// as tokio's LIFO slot), but if the waker's poll goes on, sysmon retakes
/// the P (its queue is not empty) and the woken G runs on it, long before
/// the waker is done.
#[test]
fn woken_g_runs_while_its_waker_hogs_the_p() {
    let ran_during_hog = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            let (tx, rx) = goro::chan::<()>(0);
            let hog_done = Arc::new(AtomicBool::new(false));
            let seen = hog_done.clone();
            let waiter = goro::go(async move {
                rx.recv().await;
                !seen.load(Ordering::SeqCst)
            });
            // let the waiter park first
            goro::time::sleep(Duration::from_millis(5)).await;
            let hog = goro::go(async move {
                tx.try_send(()).expect("the waiter is parked");
                let start = std::time::Instant::now();
                while start.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                }
                hog_done.store(true, Ordering::SeqCst);
            });
            let r = waiter.await.unwrap();
            hog.await.unwrap();
            r
        })
    });
    assert!(
        ran_during_hog,
        "the woken G waited for its waker's whole poll"
    );
}

/// A G that yields while every P is busy waits in its P's yield buffer. If
/// the next G on that P hogs it, the yielded G must not wait for the whole
/// hog: sysmon counts the buffer as the P's work and retakes the P, whose
/// new M queues the buffer and runs it (in Go it sits in the global queue,
/// where the other P finds it).
#[test]
fn yielded_g_is_not_stuck_behind_a_hog_on_its_p() {
    let ran_during_hog = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            // keep the other P busy while main yields, so nothing is idle
            let busy = goro::go(async {
                let start = std::time::Instant::now();
                while start.elapsed() < Duration::from_millis(50) {
                    std::hint::spin_loop();
                }
            });
            goro::time::sleep(Duration::from_millis(5)).await;
            let yielded = Arc::new(AtomicBool::new(false));
            let seen = yielded.clone();
            // queued behind main on main's P; spins until main runs again
            let hog = goro::go(async move {
                let start = std::time::Instant::now();
                while !seen.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(2) {
                    std::hint::spin_loop();
                }
                seen.load(Ordering::SeqCst)
            });
            goro::gosched().await;
            yielded.store(true, Ordering::SeqCst);
            busy.await.unwrap();
            hog.await.unwrap()
        })
    });
    assert!(
        ran_during_hog,
        "the yielded G waited for the hog on its P to finish"
    );
}

/// Go's Gosched puts the yielder at the global queue's tail, behind a G
/// already waiting there; the P, its local queue empty, serves that G
/// first. goro keeps the yielder on its P but queues it behind the P's
/// share of the global queue, so the order is the same: on one P, a G
/// spawned from a plain thread (which goes to the global queue) runs before
/// the yielder resumes, every time.
#[test]
fn yielder_resumes_after_a_g_waiting_in_the_global_queue() {
    guard(60, || {
        let rt = one_p();
        for round in 0..200 {
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let rt2 = &rt;
            rt.block_on(async move {
                // main holds the only P while a plain thread queues Y
                std::thread::scope(|s| {
                    s.spawn(|| drop(rt2.spawn(async move { r.store(true, Ordering::SeqCst) })));
                });
                goro::gosched().await;
                assert!(
                    ran.load(Ordering::SeqCst),
                    "round {round}: the yielder resumed before the global queue's G ran"
                );
            });
        }
    });
}

/// A yielded G waits behind its P's local queue, but never for ever: two
/// Gs that keep waking each other keep that queue non-empty, and the 61st
/// tick still queues the yielded G behind them (in Go it sits in the
/// global queue, which the 61st tick serves).
#[test]
fn yielded_g_is_not_starved_by_a_ping_pong_pair_on_its_p() {
    guard(30, || {
        let rt = one_p();
        rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let (ab_tx, ab_rx) = goro::chan::<u64>(0);
            let (ba_tx, ba_rx) = goro::chan::<u64>(0);
            let s = stop.clone();
            let a = goro::go(async move {
                let mut i = 0;
                while !s.load(Ordering::SeqCst) {
                    ab_tx.send(i).await.unwrap();
                    i = ba_rx.recv().await.unwrap();
                }
                drop(ab_tx);
            });
            let b = goro::go(async move {
                while let Some(i) = ab_rx.recv().await {
                    if ba_tx.send(i + 1).await.is_err() {
                        break;
                    }
                }
            });
            let s = stop.clone();
            let yielder = goro::go(async move {
                goro::gosched().await;
                s.store(true, Ordering::SeqCst);
            });
            yielder.await.unwrap();
            a.await.unwrap();
            b.await.unwrap();
        });
    });
}

/// A G that hogs its P loses it to sysmon and goes on without one (a
/// future cannot be preempted), but its next `go` is a safe point: it
/// waits there for a P, as Go preempts a G at a call. After that `go`, it
/// never runs beside the G that took its P over, on one P.
///
/// The other G's polls are short, but the OS may deschedule its thread in
/// the middle of one for longer than sysmon's 10 ms, and then sysmon
/// rightly takes the P from that poll too: such a run proves nothing and
/// is tried again.
#[test]
fn hog_that_lost_its_p_waits_for_one_at_go() {
    for _ in 0..5 {
        let (overlaps, disturbed) = guard(60, hog_then_go_once);
        if !disturbed {
            assert_eq!(overlaps, 0, "two Gs ran user code at once on one P");
            return;
        }
    }
}

/// One run of the above: (overlaps seen, whether one of the other G's
/// polls was stretched past 5 ms by the OS).
fn hog_then_go_once() -> (usize, bool) {
    let rt = one_p();
    rt.block_on(async {
        let active = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let disturbed = Arc::new(AtomicBool::new(false));
        let spin = |d: Duration| {
            let t = std::time::Instant::now();
            while t.elapsed() < d {
                std::hint::spin_loop();
            }
        };
        let (a, s, o, d) = (
            active.clone(),
            stop.clone(),
            overlaps.clone(),
            disturbed.clone(),
        );
        let other = goro::go(async move {
            while !s.load(Ordering::SeqCst) {
                let t = std::time::Instant::now();
                if a.fetch_add(1, Ordering::SeqCst) > 0 {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                spin(Duration::from_micros(200));
                a.fetch_sub(1, Ordering::SeqCst);
                if t.elapsed() > Duration::from_millis(5) {
                    d.store(true, Ordering::SeqCst);
                }
                goro::gosched().await;
            }
        });
        // hog the only P until sysmon hands it (and `other`) to another M
        spin(Duration::from_millis(40));
        drop(goro::go(async {}));
        for _ in 0..50 {
            if active.fetch_add(1, Ordering::SeqCst) > 0 {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            spin(Duration::from_micros(100));
            active.fetch_sub(1, Ordering::SeqCst);
        }
        stop.store(true, Ordering::SeqCst);
        other.await.unwrap();
        (
            overlaps.load(Ordering::SeqCst),
            disturbed.load(Ordering::SeqCst),
        )
    })
}

/// `gosched` under a combinator that polls it with a waker of its own
/// (`FuturesUnordered`) still completes: it wakes through that waker, and
/// the G goes through the global queue as usual.
#[test]
fn gosched_inside_a_combinator_with_its_own_waker() {
    use futures::StreamExt;
    use futures::stream::FuturesUnordered;
    let n = guard(30, || {
        goro::run(async {
            let h = goro::go(async {
                let mut set = FuturesUnordered::new();
                for i in 0..10u32 {
                    set.push(async move {
                        for _ in 0..i {
                            goro::gosched().await;
                        }
                        i
                    });
                }
                let mut sum = 0;
                while let Some(i) = set.next().await {
                    sum += i;
                }
                sum
            });
            h.await.unwrap()
        })
    });
    assert_eq!(n, 45);
}
