//! ErrGroup: first error after all finished, context cancellation, limits.

use goro::context::{self, ContextError};
use goro::sync::ErrGroup;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Runs `fut` as the main G of a runtime, failing if it takes over 30 s.
fn rt<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let out = goro::run(fut);
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e),
        },
        Err(_) => panic!("test hung"),
    }
}

async fn nap(ms: u64) {
    goro::time::sleep(Duration::from_millis(ms)).await;
}

#[test]
fn no_error_is_ok() {
    let n = rt(async {
        let g = ErrGroup::<String>::new();
        let n = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let n = n.clone();
            g.go(async move {
                nap(1).await;
                n.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        g.wait().await.unwrap();
        n.load(Ordering::SeqCst)
    });
    assert_eq!(n, 10);
}

#[test]
fn first_error_after_all_finished() {
    let (res, n) = rt(async {
        let g = ErrGroup::<String>::new();
        let n = Arc::new(AtomicUsize::new(0));
        g.go(async { Err("first".to_string()) });
        for i in 0..5u64 {
            let n = n.clone();
            g.go(async move {
                nap(5 + i).await;
                n.fetch_add(1, Ordering::SeqCst);
                Err(format!("late {i}"))
            });
        }
        let res = g.wait().await;
        (res, n.load(Ordering::SeqCst))
    });
    assert_eq!(res, Err("first".to_string()));
    assert_eq!(n, 5, "wait returned before every G finished");
}

#[test]
fn error_cancels_context() {
    let (res, err, cause) = rt(async {
        let (g, ctx) = ErrGroup::<String>::with_context(&context::background());
        let c = ctx.clone();
        g.go(async move {
            // Runs until the group's context is cancelled.
            c.cancelled().await;
            Ok(())
        });
        g.go(async { Err("boom".to_string()) });
        let res = g.wait().await;
        (res, ctx.err(), context::cause(&ctx).unwrap().to_string())
    });
    assert_eq!(res, Err("boom".to_string()));
    assert_eq!(err, Some(ContextError::Canceled));
    assert_eq!(cause, "boom");
}

#[test]
fn wait_cancels_context() {
    let err = rt(async {
        let (g, ctx) = ErrGroup::<String>::with_context(&context::background());
        g.go(async { Ok(()) });
        assert!(g.wait().await.is_ok());
        ctx.err()
    });
    assert_eq!(err, Some(ContextError::Canceled));
}

#[test]
fn limit_bounds_gs_in_flight() {
    let max = rt(async {
        let g = ErrGroup::<()>::new();
        g.set_limit(3);
        let cur = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        for _ in 0..12 {
            let (cur, max) = (cur.clone(), max.clone());
            g.go_async(async move {
                let now = cur.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                nap(2).await;
                cur.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
        }
        g.wait().await.unwrap();
        max.load(Ordering::SeqCst)
    });
    assert!((1..=3).contains(&max), "max in flight {max}");
}

#[test]
fn blocking_go_with_limit() {
    let max = rt(async {
        let g = ErrGroup::<()>::new();
        g.set_limit(2);
        let cur = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        for _ in 0..6 {
            let (cur, max) = (cur.clone(), max.clone());
            g.go(async move {
                let now = cur.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                nap(2).await;
                cur.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
        }
        g.wait().await.unwrap();
        max.load(Ordering::SeqCst)
    });
    assert!(max <= 2, "max in flight {max}");
}

#[test]
fn try_go_respects_limit() {
    rt(async {
        let g = ErrGroup::<()>::new();
        g.set_limit(1);
        let (tx, rx) = goro::chan::<()>(0);
        assert!(g.try_go(async move {
            let _ = rx.recv().await;
            Ok(())
        }));
        assert!(
            !g.try_go(async { Ok(()) }),
            "second try_go must fail while the first runs"
        );
        tx.send(()).await.unwrap();
        g.wait().await.unwrap();
        assert!(g.try_go(async { Ok(()) }));
        g.wait().await.unwrap();
    });
}

#[test]
fn set_limit_while_active_panics() {
    rt(async {
        let g = ErrGroup::<()>::new();
        g.set_limit(2);
        let (tx, rx) = goro::chan::<()>(0);
        g.go(async move {
            let _ = rx.recv().await;
            Ok(())
        });
        let g2 = g.clone();
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || g2.set_limit(5)))
            .unwrap_err();
        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(
            msg,
            "errgroup: modify limit while 1 goroutines in the group are still active"
        );
        drop(tx);
        g.wait().await.unwrap();
        g.set_limit(5); // fine once idle
    });
}

/// `go` never blocks its caller, even with every slot taken: the G it
/// starts waits for the slot instead (here the caller frees the slot only
/// after `go` returned).
#[test]
fn go_with_no_free_slot_does_not_block_the_caller() {
    let ran = rt(async {
        let g = ErrGroup::<()>::new();
        g.set_limit(1);
        let (tx, rx) = goro::chan::<()>(0);
        g.go(async move {
            let _ = rx.recv().await;
            Ok(())
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        g.go(async move {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }); // must return while the first G holds the only slot
        assert_eq!(ran.load(Ordering::SeqCst), 0, "ran beside the slot holder");
        drop(tx);
        g.wait().await.unwrap();
        ran.load(Ordering::SeqCst)
    });
    assert_eq!(ran, 1);
}

/// The naive recursive group: Gs call `g.go` for their children and
/// return. On one P it completes (nothing blocks the thread).
#[test]
fn recursive_go_with_limit_on_one_p() {
    type Node = std::pin::Pin<Box<dyn Future<Output = Result<(), ()>> + Send>>;
    fn node(g: ErrGroup<()>, depth: u32, n: Arc<AtomicUsize>) -> Node {
        Box::pin(async move {
            n.fetch_add(1, Ordering::SeqCst);
            if depth > 0 {
                for _ in 0..2 {
                    g.go(node(g.clone(), depth - 1, n.clone()));
                }
            }
            Ok(())
        })
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let n = rt.block_on(async {
            let g = ErrGroup::<()>::new();
            g.set_limit(2);
            let n = Arc::new(AtomicUsize::new(0));
            g.go(node(g.clone(), 6, n.clone()));
            g.wait().await.unwrap();
            n.load(Ordering::SeqCst)
        });
        let _ = tx.send(n);
    });
    let n = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("recursive ErrGroup hung");
    assert_eq!(n, 127);
}

/// Parents holding every slot while they wait for children that need a
/// slot: a deadlock, which the runtime reports (the children are parked on
/// the limit, not blocking threads), as Go does.
#[test]
fn parents_waiting_for_children_is_a_reported_deadlock() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| {
            goro::run(async {
                let g = ErrGroup::<()>::new();
                g.set_limit(1);
                let g2 = g.clone();
                g.go(async move {
                    let (ctx, crx) = goro::chan::<()>(0);
                    g2.go(async move {
                        let _ = ctx.send(()).await;
                        Ok(())
                    });
                    let _ = crx.recv().await; // waits for a child that waits for our slot
                    Ok(())
                });
                let _ = g.wait().await;
            })
        });
        let msg = match r {
            Ok(()) => "returned".to_string(),
            Err(p) => p.downcast::<String>().map(|s| *s).unwrap_or_default(),
        };
        let _ = tx.send(msg);
    });
    let msg = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a deadlock hung instead of being reported");
    assert!(
        msg.contains("all goroutines are asleep - deadlock!"),
        "{msg}"
    );
    assert!(msg.contains("semacquire"), "{msg}");
}
