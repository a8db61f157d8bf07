//! Shared by the `net_*` tests: a time limit for a test body, a timeout
//! combinator (Go's `select` on `time.After` beside the work) and an echo
//! server.

#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// `Err(())` if `d` passes before `f` completes (then `f` is dropped).
pub async fn timeout<T>(d: Duration, f: impl Future<Output = T>) -> Result<T, ()> {
    let mut f = pin!(f);
    let mut sleep = pin!(goro::time::sleep(d));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(()));
        }
        Poll::Pending
    })
    .await
}

/// Runs `f` as the main G of a new runtime (`goro::run`) on its own
/// thread; fails the test if it has not finished after `secs` seconds.
pub fn run<T: Send + 'static>(secs: u64, f: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| goro::run(f)));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("test hung: no result after {secs} s"),
    }
}

/// The `Threads:` line of /proc/self/status (0 where there is none).
pub fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Starts a TCP echo server on 127.0.0.1 (a G per connection, echoing
/// until EOF or an error) and returns its address.
pub async fn echo_server() -> std::net::SocketAddr {
    let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = ln.local_addr().unwrap();
    goro::go(async move {
        while let Ok((c, _)) = ln.accept().await {
            goro::go(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}
