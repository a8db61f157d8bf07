//! A worker pool (Go by Example: "Worker Pools"): a fixed number of Gs read
//! jobs from one shared channel and send results on another; the producer
//! closes the jobs channel to tell the workers to stop, and a WaitGroup
//! closes the results channel when the last worker has returned.
//!
//! Run: `cargo run --release --example worker_pool`.
//!
//! Also shows `goro::blocking` for a job that blocks its thread (a
//! synchronous file read, a C call, ...): the P is handed to another M, so
//! the other workers keep running.

use goro::sync::WaitGroup;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Job {
    id: u32,
    n: u64,
}

#[derive(Debug)]
struct Done {
    id: u32,
    worker: usize,
    digits: u64,
}

/// A CPU-bound job: the number of decimal digits of n!, computed slowly.
fn digits_of_factorial(n: u64) -> u64 {
    let mut log10 = 0.0f64;
    for k in 2..=n {
        log10 += (k as f64).log10();
    }
    log10.floor() as u64 + 1
}

fn main() {
    const WORKERS: usize = 4;
    const JOBS: u32 = 200;
    goro::run(async {
        let (jobs_tx, jobs_rx) = goro::chan::<Job>(16);
        let (res_tx, res_rx) = goro::chan::<Done>(16);

        let wg = WaitGroup::new();
        for worker in 0..WORKERS {
            let (jobs, results) = (jobs_rx.clone(), res_tx.clone());
            wg.go(async move {
                // Go: `for j := range jobs { results <- work(j) }`
                while let Some(job) = jobs.recv().await {
                    let digits = if job.id % 50 == 0 {
                        // A job that blocks its OS thread.
                        goro::blocking(|| {
                            std::thread::sleep(Duration::from_millis(20));
                            digits_of_factorial(job.n)
                        })
                    } else {
                        digits_of_factorial(job.n)
                    };
                    let _ = results
                        .send(Done {
                            id: job.id,
                            worker,
                            digits,
                        })
                        .await;
                }
            });
        }
        drop(jobs_rx); // only the workers receive jobs now

        goro::go(async move {
            for id in 0..JOBS {
                jobs_tx
                    .send(Job {
                        id,
                        n: 1000 + u64::from(id) * 10,
                    })
                    .await
                    .unwrap();
            }
            jobs_tx.close(); // Go: close(jobs) — the workers' loops end
        });
        // Go: `go func() { wg.Wait(); close(results) }()`
        goro::go(async move {
            wg.wait().await;
            res_tx.close();
        });

        let start = Instant::now();
        let mut per_worker = [0u32; WORKERS];
        let mut count = 0;
        let mut last = None;
        while let Some(done) = res_rx.recv().await {
            per_worker[done.worker] += 1;
            count += 1;
            if done.id == JOBS - 1 {
                last = Some(done);
            }
        }
        println!(
            "{count} jobs done by {WORKERS} workers in {:?}",
            start.elapsed()
        );
        println!("jobs per worker: {per_worker:?}");
        if let Some(d) = last {
            println!(
                "e.g. job {}: {}! has {} digits (worker {})",
                d.id,
                1000 + d.id * 10,
                d.digits,
                d.worker
            );
        }
        assert_eq!(count, JOBS);
    });
}
