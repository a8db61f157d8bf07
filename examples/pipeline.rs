//! A pipeline in the style of the Go blog's "Go Concurrency Patterns:
//! Pipelines and cancellation": generate → square (fanned out to several
//! Gs) → merge (fan-in) → sum, with every stage closing its output when its
//! input ends, and a `done` context that stops all stages early.
//!
//! Run: `cargo run --release --example pipeline`.

use goro::chan::Receiver;
use goro::context::{self, Context};
use goro::sync::WaitGroup;

/// Emits `nums` on a new channel, then closes it (by dropping the Sender).
fn generate(ctx: Context, nums: std::ops::Range<u64>) -> Receiver<u64> {
    let (tx, rx) = goro::chan(0);
    goro::go(async move {
        for n in nums {
            goro::select! {
                send(tx, n) -> r => if r.is_err() { return },
                recv(ctx.done()) => return,
            }
        }
    });
    rx
}

/// Squares what it receives; many copies may read the same channel (fan-out).
fn square(ctx: Context, input: Receiver<u64>) -> Receiver<u64> {
    let (tx, rx) = goro::chan(0);
    goro::go(async move {
        while let Some(n) = input.recv().await {
            goro::select! {
                send(tx, n * n) -> r => if r.is_err() { return },
                recv(ctx.done()) => return,
            }
        }
    });
    rx
}

/// Fan-in: forwards every input channel into one output channel, which is
/// closed once all inputs are closed (Go: a WaitGroup and a closing G).
fn merge(ctx: Context, inputs: Vec<Receiver<u64>>) -> Receiver<u64> {
    let (tx, rx) = goro::chan(16);
    let wg = WaitGroup::new();
    for input in inputs {
        let (tx, ctx) = (tx.clone(), ctx.clone());
        wg.go(async move {
            while let Some(v) = input.recv().await {
                goro::select! {
                    send(tx, v) -> r => if r.is_err() { return },
                    recv(ctx.done()) => return,
                }
            }
        });
    }
    goro::go(async move {
        wg.wait().await;
        tx.close(); // Go: `go func() { wg.Wait(); close(out) }()`
    });
    rx
}

fn main() {
    goro::run(async {
        // The whole pipeline: 1..=10_000, squared by 4 workers, summed.
        let (ctx, cancel) = context::with_cancel(&context::background());
        let src = generate(ctx.clone(), 1..10_001);
        let workers = (0..4).map(|_| square(ctx.clone(), src.clone())).collect();
        drop(src);
        let out = merge(ctx.clone(), workers);
        let mut sum = 0u64;
        let mut count = 0;
        while let Some(v) = out.recv().await {
            sum += v;
            count += 1;
        }
        cancel.cancel();
        let want: u64 = (1..10_001u64).map(|n| n * n).sum();
        println!("pipeline: generate -> 4x square -> merge -> sum: {count} values, sum = {sum}");
        assert_eq!(sum, want);

        // Stopping early: take 5 results, then cancel; every stage exits.
        let (ctx, cancel) = context::with_cancel(&context::background());
        let src = generate(ctx.clone(), 1..u64::MAX);
        let workers = (0..4).map(|_| square(ctx.clone(), src.clone())).collect();
        drop(src);
        let out = merge(ctx.clone(), workers);
        let mut first = Vec::new();
        for _ in 0..5 {
            first.push(out.recv().await.unwrap());
        }
        println!(
            "endless pipeline: took {} values, then cancelled the context",
            first.len()
        );
        cancel.cancel();
        // Once every stage has returned, merge closes `out`.
        while out.recv().await.is_some() {}
        println!("every stage exited; Gs left: {}", goro::num_goroutine());
    });
}
