//! Go's deadlock report: every goroutine blocked, nothing pending.
//! Run: `cargo run --example deadlock`. Like a Go program, it prints
//! `fatal error: all goroutines are asleep - deadlock!` and the goroutine
//! dump on stderr and exits with an error (here `goro::run`'s panic, which
//! the panic hook prints; nothing in this program catches it).

fn main() {
    goro::run(async {
        let (_tx, rx) = goro::chan::<i32>(0);
        let (tx2, _rx2) = goro::chan::<i32>(0);
        goro::go(async move {
            let _ = tx2.send(1).await; // nobody receives
        });
        println!("main: waiting on a channel nobody sends to...");
        rx.recv().await;
    });
}
