//! The "hog" row of BENCHMARKS.md (issue 7): on one P (one worker), a G
//! spawns 100 short Gs and then hogs its thread for 500 ms inside one poll,
//! never yielding. Figure: how long the short Gs waited to start (p50 and
//! max, ms). goro's sysmon retakes the P after ~10 ms (Go preempts the G
//! after ~10 ms); tokio has no retake, so its tasks wait for the hog.
//!
//! `cargo bench --bench hog` prints `goro hog …` and `tokio hog …` lines;
//! `go run ./benches/go-hog` prints Go's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const N: usize = 100;
const HOG: Duration = Duration::from_millis(500);

fn hog_loop() -> u64 {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < HOG {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    x
}

fn report(name: &str, lat: &mut [Duration]) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{name} hog p50_ms {:.3}", ms(lat[N / 2]));
    println!("{name} hog max_ms {:.3}", ms(lat[N - 1]));
}

fn goro_hog() -> Vec<Duration> {
    let rt = goro::Runtime::builder().max_procs(1).build();
    let lat = Arc::new(Mutex::new(Vec::with_capacity(N)));
    let l = lat.clone();
    rt.block_on(async move {
        let wg = goro::sync::WaitGroup::new();
        let hog = {
            let wg = wg.clone();
            goro::go(async move {
                for _ in 0..N {
                    let t = Instant::now();
                    let l = l.clone();
                    wg.go(async move {
                        l.lock().unwrap().push(t.elapsed());
                    });
                }
                hog_loop()
            })
        };
        wg.wait().await;
        hog.await.unwrap();
    });
    lat.lock().unwrap().clone()
}

fn tokio_hog() -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let lat = Arc::new(Mutex::new(Vec::with_capacity(N)));
    let l = lat.clone();
    rt.block_on(async move {
        let hog = tokio::spawn(async move {
            let mut hs = Vec::with_capacity(N);
            for _ in 0..N {
                let t = Instant::now();
                let l = l.clone();
                hs.push(tokio::spawn(async move {
                    l.lock().unwrap().push(t.elapsed());
                }));
            }
            hog_loop();
            hs
        });
        for h in hog.await.unwrap() {
            h.await.unwrap();
        }
    });
    lat.lock().unwrap().clone()
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref().is_none_or(|o| o == "goro") {
        let mut l = goro_hog();
        assert_eq!(l.len(), N, "goro hog: lost Gs");
        report("goro", &mut l);
    }
    if only.as_deref().is_none_or(|o| o == "tokio") {
        let mut l = tokio_hog();
        assert_eq!(l.len(), N, "tokio hog: lost tasks");
        report("tokio", &mut l);
    }
}
