//! Graceful shutdown of a server-like tree of Gs, with `context`,
//! `ErrGroup` and `signal` (Go's `errgroup.WithContext` +
//! `signal.Notify` idiom).
//!
//! Run: `cargo run --release --example shutdown`.
//!
//! ```text
//! main ── ErrGroup(ctx) ─┬─ signal watcher (SIGTERM cancels the root context)
//!                        ├─ listener ── one handler G per connection (WaitGroup)
//!                        ├─ metrics reporter (Ticker)
//!                        └─ cache janitor (Ticker)
//! ```
//!
//! 1. A real SIGTERM (the program sends it to itself with
//!    `signal::raise`, as `kill -TERM <pid>` would from outside) reaches
//!    the signal watcher's `select`, which cancels the root context. The
//!    listener stops accepting, then gives in-flight requests a drain
//!    deadline (their context comes from `without_cancel`, so it outlives
//!    the cancelled root, and is cancelled when the deadline passes); the
//!    other components return.
//! 2. A component failing cancels its siblings through the group's context
//!    (the signal watcher included, which unsubscribes), and `wait`
//!    returns that error.

use goro::chan::Receiver;
use goro::context::{self, CancelFunc, Context};
use goro::signal::{self, Signal};
use goro::sync::{ErrGroup, WaitGroup};
use goro::time::{self, Ticker};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    served: AtomicU64,
    aborted: AtomicU64,
}

/// Fake connections arriving every 2 ms; each needs `id % 7 * 6` ms of work.
fn incoming(ctx: Context) -> Receiver<u64> {
    let (tx, rx) = goro::chan(0);
    goro::go(async move {
        let tick = Ticker::new(Duration::from_millis(2));
        for id in 0.. {
            goro::select! {
                recv(tick.c()) => if tx.send(id).await.is_err() { return },
                recv(ctx.done()) => return,
            }
        }
    });
    rx
}

/// Serves one connection, unless the drain deadline cuts it short.
async fn handle(drain: Context, id: u64, stats: Arc<Stats>) {
    let work = Duration::from_millis(id % 7 * 6);
    goro::select! {
        recv(time::after(work)) => { stats.served.fetch_add(1, Ordering::Relaxed); }
        recv(drain.done()) => { stats.aborted.fetch_add(1, Ordering::Relaxed); }
    }
}

/// Accepts until `ctx` is done, then drains in-flight handlers.
async fn listener(ctx: Context, stats: Arc<Stats>) -> Result<(), String> {
    let conns = incoming(ctx.clone());
    // Handlers must survive the shutdown signal for a while: their context
    // keeps ctx's values but not its cancellation, and gets its own deadline
    // once shutdown starts.
    let (drain, stop_drain) = context::with_cancel(&context::without_cancel(&ctx));
    let handlers = WaitGroup::new();
    loop {
        goro::select! {
            recv(conns) -> c => match c {
                Some(id) => {
                    stats.accepted.fetch_add(1, Ordering::Relaxed);
                    handlers.go(handle(drain.clone(), id, stats.clone()));
                }
                None => break,
            },
            recv(ctx.done()) => break,
        }
    }
    let in_flight = stats.accepted.load(Ordering::Relaxed) - stats.served.load(Ordering::Relaxed);
    println!(
        "  listener: stopped accepting, {in_flight} requests in flight, draining for up to 15ms"
    );
    // Go: `go func() { wg.Wait(); close(allDone) }()`, then select on it.
    let (all_done_tx, all_done) = goro::chan::<()>(0);
    let wg = handlers.clone();
    goro::go(async move {
        wg.wait().await;
        all_done_tx.close();
    });
    goro::select! {
        recv(all_done) => println!("  listener: all requests finished in time"),
        recv(time::after(Duration::from_millis(15))) => {
            println!("  listener: drain deadline passed, aborting the stragglers");
            stop_drain.cancel();
        }
    }
    handlers.wait().await;
    Ok(())
}

/// Reports every 25 ms until shutdown.
async fn metrics(ctx: Context, stats: Arc<Stats>) -> Result<(), String> {
    let tick = Ticker::new(Duration::from_millis(25));
    loop {
        goro::select! {
            recv(tick.c()) => println!(
                "  metrics: accepted {}, served {}",
                stats.accepted.load(Ordering::Relaxed),
                stats.served.load(Ordering::Relaxed)
            ),
            recv(ctx.done()) => return Ok(()),
        }
    }
}

/// Sweeps a cache every 10 ms; fails on sweep `fail_at`, if given.
async fn janitor(ctx: Context, fail_at: Option<u32>) -> Result<(), String> {
    let tick = Ticker::new(Duration::from_millis(10));
    for sweep in 1.. {
        goro::select! {
            recv(tick.c()) => if Some(sweep) == fail_at {
                return Err(format!("janitor: cache backend lost on sweep {sweep}"));
            },
            recv(ctx.done()) => return Ok(()),
        }
    }
    Ok(())
}

/// Waits for SIGTERM and then cancels the root context (Go:
/// `select { case <-sigs: cancel(); case <-ctx.Done(): }`). Returns when
/// the server shuts down for another reason too; dropping `sigs` then
/// unsubscribes (Go's `signal.Stop`).
async fn signals(ctx: Context, sigs: Receiver<Signal>, shutdown: CancelFunc) -> Result<(), String> {
    goro::select! {
        recv(sigs) -> sig => {
            println!("  signal watcher: {} received, cancelling the root context", sig.unwrap());
            shutdown.cancel();
        }
        recv(ctx.done()) => {}
    }
    Ok(())
}

/// Runs the server until SIGTERM arrives on `sigs` or a component fails.
async fn serve(sigs: Receiver<Signal>, fail_at: Option<u32>) -> (Result<(), String>, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let (root, shutdown) = context::with_cancel(&context::background());
    let (g, ctx) = ErrGroup::<String>::with_context(&root);
    g.go(signals(ctx.clone(), sigs, shutdown));
    g.go(listener(ctx.clone(), stats.clone()));
    g.go(metrics(ctx.clone(), stats.clone()));
    g.go(janitor(ctx.clone(), fail_at));
    (g.wait().await, stats)
}

fn main() {
    goro::run(async {
        println!("1. graceful shutdown on SIGTERM after 60ms");
        // signal.Notify(c, syscall.SIGTERM): subscribed before anyone can
        // send it, so the default action (exit) never runs.
        let sigs = signal::notify(&[Signal::Terminate]);
        goro::go(async move {
            time::sleep(Duration::from_millis(60)).await;
            println!("  kill -TERM {}", std::process::id());
            signal::raise(Signal::Terminate).unwrap();
        });
        let start = Instant::now();
        let (res, stats) = serve(sigs, None).await;
        let (a, s, x) = (
            stats.accepted.load(Ordering::Relaxed),
            stats.served.load(Ordering::Relaxed),
            stats.aborted.load(Ordering::Relaxed),
        );
        println!(
            "  server exited with {res:?} after ~{}ms",
            start.elapsed().as_millis()
        );
        println!("  {a} connections: {s} served, {x} aborted at the drain deadline");
        assert!(res.is_ok());
        assert_eq!(
            a,
            s + x,
            "every accepted connection was either served or aborted"
        );

        println!("2. a failing component takes the server down");
        let start = Instant::now();
        let sigs = signal::notify(&[Signal::Terminate]);
        let (res, _) = serve(sigs, Some(3)).await;
        println!(
            "  server exited with {res:?} after ~{}ms",
            start.elapsed().as_millis()
        );
        assert!(res.is_err());
        // Let the detached connection generators see their context is done.
        time::sleep(Duration::from_millis(5)).await;
        println!("  Gs left: {}", goro::num_goroutine());
    });
}
