//! W15 `tcp_echo`, W16 `tcp_connect`, W17 `tcp_idle`, mirroring `netsync.go`
//! of the Go anchor: loopback TCP on the runtime's network poller, a G per
//! connection echoing fixed-size frames until EOF.
//!
//! Needs `goro::run`, `goro::go`, `goro::net::{TcpListener, TcpStream}`,
//! `goro::sync::WaitGroup` and `goro::time::sleep`.

use crate::{check, emit, fail, leak, ns_per, scaled, vm_rss};
use goro::net::{TcpListener, TcpStream};
use goro::sync::WaitGroup;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[
    ("tcp_echo", tcp_echo),
    ("tcp_connect", tcp_connect),
    ("tcp_idle", tcp_idle),
];

const MSG_LEN: usize = 64;

/// Go's `echoServer`: accepts on `ln` until its deadline is moved to now,
/// one G per connection echoing `frame`-byte messages until EOF.
async fn echo_server(
    ln: Arc<TcpListener>,
    frame: usize,
    handlers: &'static WaitGroup,
    in_read: Option<&'static AtomicI64>,
) {
    while let Ok((c, _)) = ln.accept().await {
        handlers.go(async move {
            let mut buf = vec![0u8; frame];
            loop {
                if let Some(r) = in_read {
                    r.fetch_add(1, Ordering::Relaxed);
                }
                if c.read_exact(&mut buf).await.is_err() || c.write_all(&buf).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn listen() -> Arc<TcpListener> {
    match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => Arc::new(l),
        Err(e) => fail(&format!("listen: {e}")),
    }
}

/// Go's `ln.Close()` for a listener shared with its accept loop: the
/// pending accept fails at once.
fn close(ln: &TcpListener) {
    ln.set_deadline(Some(Instant::now()));
}

/// W15: 64 connections, 2,000 round trips of 64 bytes each.
fn tcp_echo() {
    let (conns, rts) = (64, scaled(2_000, 1) as usize);
    goro::run(async move {
        let ln = listen().await;
        let addr = ln.local_addr().unwrap();
        let handlers: &'static WaitGroup = leak(WaitGroup::new());
        goro::go(echo_server(ln.clone(), MSG_LEN, handlers, None));
        let ok: &'static AtomicU64 = leak(AtomicU64::new(0));
        let wg = WaitGroup::new();
        let start = Instant::now();
        for k in 0..conns {
            wg.go(async move {
                let c = TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| fail(&format!("dial: {e}")));
                let mut out = [0u8; MSG_LEN];
                let mut inb = [0u8; MSG_LEN];
                for i in 0..rts {
                    for (j, b) in out.iter_mut().enumerate() {
                        *b = (k + i + j) as u8;
                    }
                    c.write_all(&out)
                        .await
                        .unwrap_or_else(|e| fail(&format!("write: {e}")));
                    c.read_exact(&mut inb)
                        .await
                        .unwrap_or_else(|e| fail(&format!("read: {e}")));
                    check(inb == out, || "tcp_echo: wrong bytes".into());
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        wg.wait().await;
        let el = start.elapsed();
        close(&ln);
        handlers.wait().await;
        let n = ok.load(Ordering::Relaxed);
        check(n == (conns * rts) as u64, || format!("tcp_echo count {n}"));
        emit("tcp_echo", "ns_per_rt", ns_per(el, n));
    });
}

/// W16: 16 clients, each N/16 cycles of dial, 8-byte round trip, close.
fn tcp_connect() {
    let (clients, n) = (16, scaled(4_000, 16) as usize);
    goro::run(async move {
        let ln = listen().await;
        let addr = ln.local_addr().unwrap();
        let handlers: &'static WaitGroup = leak(WaitGroup::new());
        goro::go(echo_server(ln.clone(), 8, handlers, None));
        let ok: &'static AtomicU64 = leak(AtomicU64::new(0));
        let wg = WaitGroup::new();
        let start = Instant::now();
        for k in 0..clients {
            wg.go(async move {
                let out = [k as u8, 1, 2, 3, 4, 5, 6, 7];
                let mut inb = [0u8; 8];
                for _ in 0..n / clients {
                    let c = TcpStream::connect(addr)
                        .await
                        .unwrap_or_else(|e| fail(&format!("dial: {e}")));
                    c.write_all(&out)
                        .await
                        .unwrap_or_else(|e| fail(&format!("write: {e}")));
                    c.read_exact(&mut inb)
                        .await
                        .unwrap_or_else(|e| fail(&format!("read: {e}")));
                    check(inb == out, || "tcp_connect: wrong bytes".into());
                    drop(c);
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        wg.wait().await;
        let el = start.elapsed();
        close(&ln);
        handlers.wait().await;
        let got = ok.load(Ordering::Relaxed);
        check(got == n as u64, || format!("tcp_connect count {got}"));
        emit("tcp_connect", "ns_per_conn", ns_per(el, got));
    });
}

/// W17: N idle connections, every server G parked in its read; RSS per
/// connection, and the time to set up and tear down.
fn tcp_idle() {
    let n = scaled(5_000, 1) as usize;
    goro::run(async move {
        let ln = listen().await;
        let addr = ln.local_addr().unwrap();
        let handlers: &'static WaitGroup = leak(WaitGroup::new());
        let in_read: &'static AtomicI64 = leak(AtomicI64::new(0));
        goro::go(echo_server(ln.clone(), 1, handlers, Some(in_read)));
        let rss0 = vm_rss();
        let start = Instant::now();
        let mut clients = Vec::with_capacity(n);
        for i in 0..n {
            match TcpStream::connect(addr).await {
                Ok(c) => clients.push(c),
                Err(e) => fail(&format!("dial {i}: {e}")),
            }
        }
        while in_read.load(Ordering::Relaxed) < n as i64 {
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        let up = start.elapsed();
        goro::time::sleep(Duration::from_millis(50)).await;
        let rss1 = vm_rss();
        let t = Instant::now();
        drop(clients);
        close(&ln);
        handlers.wait().await;
        let down = t.elapsed();
        emit(
            "tcp_idle",
            "bytes_per_conn",
            (rss1 - rss0) as f64 / n as f64,
        );
        emit("tcp_idle", "ns_per_conn", ns_per(up + down, n as u64));
    });
}
