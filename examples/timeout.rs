//! Timeouts, the Go ways: `select` with `time.After`, a reusable `Timer`
//! for an idle timeout, and `context` deadlines that flow down a call tree.
//!
//! Run: `cargo run --release --example timeout`.

use goro::chan::Receiver;
use goro::context::{self, Context, ContextError};
use goro::time::{self, Timer};
use std::time::{Duration, Instant};

/// A "remote call" that answers after `latency` on a fresh channel.
fn call(latency: Duration, answer: &'static str) -> Receiver<&'static str> {
    let (tx, rx) = goro::chan(1); // buffered: the G never leaks if nobody waits
    goro::go(async move {
        time::sleep(latency).await;
        let _ = tx.send(answer).await;
    });
    rx
}

/// Go: `select { case r := <-call(): ...; case <-time.After(limit): ... }`
async fn with_timeout(latency: Duration, limit: Duration) -> Result<&'static str, &'static str> {
    goro::select! {
        recv(call(latency, "pong")) -> r => Ok(r.unwrap()),
        recv(time::after(limit)) => Err("timed out"),
    }
}

/// One step of a request handler: waits `work` unless the context ends first.
async fn step(ctx: &Context, name: &str, work: Duration) -> Result<(), ContextError> {
    goro::select! {
        recv(time::after(work)) => {
            println!("    {name}: done in {work:?}");
            Ok(())
        }
        recv(ctx.done()) => {
            let err = ctx.err().unwrap();
            println!("    {name}: stopped: {err}");
            Err(err)
        }
    }
}

/// A handler: two steps, the second under a tighter deadline of its own.
async fn handle(ctx: &Context) -> Result<(), ContextError> {
    step(ctx, "load user", Duration::from_millis(20)).await?;
    // A child may tighten its parent's deadline but never extend it.
    let (child, _cancel) = context::with_timeout(ctx, Duration::from_secs(10));
    assert_eq!(
        child.deadline(),
        ctx.deadline(),
        "the parent's earlier deadline wins"
    );
    step(&child, "render page", Duration::from_millis(100)).await
}

fn main() {
    goro::run(async {
        println!("1. select with time::after");
        for (latency, limit) in [(10, 50), (200, 50)] {
            let (latency, limit) = (Duration::from_millis(latency), Duration::from_millis(limit));
            let start = Instant::now();
            let r = with_timeout(latency, limit).await;
            println!(
                "   call taking {latency:?} with a {limit:?} limit: {r:?} after ~{}ms",
                start.elapsed().as_millis()
            );
        }

        println!("2. an idle timeout with one reusable Timer (reset on every message)");
        let (tx, rx) = goro::chan::<u32>(0);
        goro::go(async move {
            for (i, gap) in [5u64, 10, 5, 80].into_iter().enumerate() {
                time::sleep(Duration::from_millis(gap)).await;
                if tx.send(i as u32).await.is_err() {
                    return;
                }
            }
        });
        let idle = Timer::new(Duration::from_millis(40));
        loop {
            goro::select! {
                recv(rx) -> m => {
                    println!("   message {:?}; idle timer reset", m.unwrap());
                    idle.reset(Duration::from_millis(40));
                }
                recv(idle.c()) => {
                    println!("   no message for 40ms: closing the idle connection");
                    break;
                }
            }
        }

        println!("3. a context deadline shared by a call tree");
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(60));
        let start = Instant::now();
        let r = handle(&ctx).await;
        println!(
            "   handler returned {r:?} after ~{}ms; ctx.err() = {:?}",
            start.elapsed().as_millis(),
            ctx.err()
        );
        assert_eq!(r, Err(ContextError::DeadlineExceeded));

        println!("4. with_timeout_cause: say why");
        let cause: context::Cause = std::sync::Arc::new(std::io::Error::other("backend too slow"));
        let (ctx, _cancel) = context::with_timeout_cause(
            &context::background(),
            Duration::from_millis(10),
            Some(cause),
        );
        let start = Instant::now();
        let err = ctx.cancelled().await;
        println!(
            "   after ~{}ms: err = {err}, cause = {}",
            start.elapsed().as_millis(),
            context::cause(&ctx).unwrap()
        );
    });
}
