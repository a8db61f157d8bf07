//! W20 `blocking_calls`, mirroring `blockingCalls` of the Go anchor: 64 Gs
//! each make 100 blocking calls that put their OS thread to sleep for
//! 100 µs (Go: `syscall.Nanosleep`; here `std::thread::sleep` inside
//! `goro::blocking`), while a pinger G does unbuffered round trips with an
//! echo G and records each one's latency. Wall time of the calls, and the
//! p99 of the pinger's round trip.
//!
//! Needs `goro::run`, `goro::go`, `goro::blocking`, `goro::chan`,
//! `goro::select!` and `goro::sync::WaitGroup`.

use crate::{check, emit, leak, ms, scaled};
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[("blocking_calls", blocking_calls)];

/// W20: 64 Gs making blocking calls beside a ping-pong pair.
fn blocking_calls() {
    const GS: u64 = 64;
    let calls = scaled(100, 1);
    goro::run(async move {
        let (ab_tx, ab_rx) = goro::chan::<u64>(0);
        let (ba_tx, ba_rx) = goro::chan::<u64>(0);
        let (stop_tx, stop_rx) = goro::chan::<()>(0);
        drop(goro::go(async move {
            while let Some(v) = ab_rx.recv().await {
                ba_tx.send(v).await.expect("echo: pinger gone");
            }
        }));
        let pinger = goro::go(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            loop {
                goro::select! {
                    recv(stop_rx) -> _ => { ab_tx.close(); return lat; },
                    default => {},
                }
                let t = Instant::now();
                ab_tx.send(1).await.expect("pinger: echo gone");
                ba_rx.recv().await.expect("pinger: echo gone");
                lat.push(t.elapsed());
            }
        });
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let done: &'static AtomicU64 = leak(AtomicU64::new(0));
        let start = Instant::now();
        wg.add(GS as isize);
        for _ in 0..GS {
            drop(goro::go(async move {
                for _ in 0..calls {
                    goro::blocking(|| std::thread::sleep(Duration::from_micros(100)));
                    done.fetch_add(1, Ordering::Relaxed);
                }
                wg.done();
            }));
        }
        wg.wait().await;
        let el = start.elapsed();
        stop_tx.close();
        let mut lat = pinger.await.expect("pinger panicked");
        let n = done.load(Ordering::Relaxed);
        check(n == GS * calls && !lat.is_empty(), || {
            format!("blocking_calls count {n}, {} round trips", lat.len())
        });
        lat.sort_unstable();
        let p99 = lat[lat.len() * 99 / 100];
        emit("blocking_calls", "wall_ms", ms(el));
        emit("blocking_calls", "rt_p99_us", p99.as_nanos() as f64 / 1e3);
    });
}
