//! Go's deadlock report: every goroutine blocked, nothing pending.
//! Run: `cargo run --example deadlock` (exits with status 2, like Go).

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| {
        goro::run(async {
            let (_tx, rx) = goro::chan::<i32>(0);
            let (tx2, _rx2) = goro::chan::<i32>(0);
            goro::go(async move {
                let _ = tx2.send(1).await; // nobody receives
            });
            println!("main: waiting on a channel nobody sends to...");
            rx.recv().await;
        })
    });
    if let Err(p) = r {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "unknown panic".into());
        eprintln!("fatal error: {msg}");
        std::process::exit(2);
    }
}
