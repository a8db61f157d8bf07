//! A short tour of goro: every feature in one run, printing what it shows.
//! Run: `cargo run --release --example tour`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn main() {
    goro::run(async {
        println!("goro tour: GOMAXPROCS = {}", goro::gomaxprocs(0));

        // go + JoinHandle
        let h = goro::go(async { 6 * 7 });
        println!("go: a G returned {}", h.await.unwrap());

        // many Gs
        let n = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10_000)
            .map(|_| {
                let n = n.clone();
                goro::go(async move {
                    n.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        println!("go: 10,000 Gs ran ({} counted)", n.load(Ordering::Relaxed));

        // gosched
        goro::gosched().await;
        println!("gosched: yielded to the global run queue");

        // panics are JoinErrors
        let e = goro::go(async { panic!("oops") }).await.unwrap_err();
        println!("panic in a G: is_panic = {}", e.is_panic());

        // blocking: the P is handed off while the closure blocks
        let v = goro::blocking(|| 1 + 1);
        println!("blocking: returned {v}");

        // gomaxprocs resize
        let old = goro::gomaxprocs(1);
        goro::gomaxprocs(old);
        println!("gomaxprocs: resized {old} -> 1 -> {old}");
        println!("num_goroutine = {}", goro::num_goroutine());
    });
}
