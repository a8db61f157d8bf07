//! Go's classic concurrent prime sieve (from the Go tour and `doc/play/sieve.go`):
//! a chain of Gs, one per prime found, each filtering the multiples of its
//! prime out of the stream it passes on.
//!
//! Run: `cargo run --release --example prime_sieve`.
//!
//! ```go
//! func generate(ch chan<- int) { for i := 2; ; i++ { ch <- i } }
//! func filter(in <-chan int, out chan<- int, prime int) {
//!     for { i := <-in; if i%prime != 0 { out <- i } }
//! }
//! ```
//!
//! The Go version leaks its Gs when main returns; here each stage stops when
//! its downstream channel is gone (a send returns `Err` once every
//! `Receiver` was dropped), so the whole chain unwinds on its own.

use goro::chan::{Receiver, Sender};

/// Sends 2, 3, 4, ... until nobody listens.
async fn generate(tx: Sender<u64>) {
    let mut i = 2;
    while tx.send(i).await.is_ok() {
        i += 1;
    }
}

/// Copies values from `rx` to `tx`, dropping those divisible by `prime`.
async fn filter(rx: Receiver<u64>, tx: Sender<u64>, prime: u64) {
    while let Some(i) = rx.recv().await {
        if i % prime != 0 && tx.send(i).await.is_err() {
            return; // downstream is gone: stop
        }
    }
}

fn main() {
    const N: usize = 100;
    let primes = goro::run(async {
        let (tx, mut rx) = goro::chan::<u64>(0);
        goro::go(generate(tx));
        let mut primes = Vec::with_capacity(N);
        for _ in 0..N {
            let prime = rx.recv().await.expect("the sieve never ends");
            primes.push(prime);
            let (tx1, rx1) = goro::chan::<u64>(0);
            goro::go(filter(rx, tx1, prime));
            rx = rx1;
        }
        println!(
            "the chain has {} Gs (one generator, {N} filters, main)",
            goro::num_goroutine()
        );
        primes
    });
    println!("the first {N} primes, each found by a chain of Gs over unbuffered channels:");
    for row in primes.chunks(10) {
        let row: Vec<String> = row.iter().map(|p| format!("{p:4}")).collect();
        println!("{}", row.join(""));
    }
    assert_eq!(primes[N - 1], 541);
}
