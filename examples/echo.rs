//! A TCP echo server and its clients in one program, on 127.0.0.1.
//!
//! Run: `cargo run --release --example echo`.
//!
//! The Go shape, line for line: `net.Listen`, an accept loop, a goroutine
//! per connection that reads and writes back until EOF; clients that
//! `net.Dial`, write, read the echo back and check it. Every read and
//! write parks only its G: 200 connections are served by `GOMAXPROCS`
//! threads plus the one that waits in the network poller. A context stops
//! the server: its cancellation moves the listener's deadline to now (Go's
//! `ln.SetDeadline(time.Now())` trick), so the blocked `accept` returns.

use goro::context;
use goro::net::{TcpListener, TcpStream};
use goro::sync::WaitGroup;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Instant;

const CLIENTS: usize = 200;
const ROUNDS: usize = 100;
const SIZE: usize = 256;

/// One connection: echo until the peer closes its side.
async fn serve(conn: TcpStream) -> std::io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total); // EOF: the client is done
        }
        conn.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// One client: `ROUNDS` round trips of `SIZE` bytes, each checked.
async fn client(addr: std::net::SocketAddr, id: usize) -> std::io::Result<()> {
    let conn = TcpStream::connect(addr).await?; // net.Dial("tcp", addr)
    let mut msg = [0u8; SIZE];
    let mut back = [0u8; SIZE];
    for round in 0..ROUNDS {
        for (i, b) in msg.iter_mut().enumerate() {
            *b = (id + round + i) as u8;
        }
        conn.write_all(&msg).await?;
        conn.read_exact(&mut back).await?; // io.ReadFull
        assert_eq!(msg, back, "client {id} round {round}: echo differs");
    }
    Ok(())
}

fn main() {
    let t0 = Instant::now();
    let served = goro::run(async {
        let ln = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap()); // net.Listen
        let addr = ln.local_addr().unwrap();
        println!("echo server on {addr}");

        let (ctx, stop) = context::with_cancel(&context::background());
        // Stop the accept loop when the context is cancelled.
        let l2 = ln.clone();
        let _watch = context::after_func(&ctx, move || l2.set_deadline(Some(Instant::now())));

        let server = goro::go(async move {
            let conns = WaitGroup::new();
            let (tx, rx) = goro::chan::<u64>(CLIENTS);
            loop {
                match ln.accept().await {
                    Ok((conn, _peer)) => {
                        let tx = tx.clone();
                        conns.go(async move {
                            let n = serve(conn).await.unwrap_or(0);
                            tx.send(n).await.unwrap();
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::TimedOut && ctx.err().is_some() => break,
                    Err(e) => panic!("accept: {e}"),
                }
            }
            conns.wait().await;
            drop(tx);
            let mut bytes = 0;
            while let Some(n) = rx.recv().await {
                bytes += n;
            }
            bytes
        });

        let clients = WaitGroup::new();
        for id in 0..CLIENTS {
            clients.go(async move { client(addr, id).await.unwrap() });
        }
        clients.wait().await;
        stop.cancel();
        server.await.unwrap()
    });
    let want = (CLIENTS * ROUNDS * SIZE) as u64;
    assert_eq!(served, want);
    println!(
        "{CLIENTS} clients x {ROUNDS} round trips of {SIZE} bytes: {served} bytes echoed in {:?}",
        t0.elapsed()
    );
}
