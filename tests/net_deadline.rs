//! Go's deadlines on goro::net sockets: past, future, moved while a G is
//! blocked, cleared; for read, write and accept; `dial_context`.

mod net_common;

use goro::context;
use goro::net::{TcpListener, TcpStream, UdpSocket};
use net_common::run;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

async fn pair() -> (TcpStream, TcpStream, TcpListener) {
    let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    let (s, _) = ln.accept().await.unwrap();
    (c, s, ln)
}

#[test]
fn read_deadline_past_fails_at_once_even_with_data() {
    run(10, async {
        let (c, s, _ln) = pair().await;
        s.write_all(b"data").await.unwrap();
        goro::time::sleep(5 * MS).await;
        c.set_read_deadline(Some(Instant::now() - Duration::from_secs(1)));
        let e = c.read(&mut [0; 4]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "i/o timeout");
        // Cleared: the data is still there.
        c.set_read_deadline(None);
        let mut buf = [0; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"data");
    });
}

#[test]
fn read_deadline_future_fires_on_a_parked_read() {
    run(10, async {
        let (c, _s, _ln) = pair().await;
        let t0 = Instant::now();
        c.set_read_deadline(Some(t0 + 30 * MS));
        let e = c.read(&mut [0; 4]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(t0.elapsed() >= 30 * MS);
        // It stays expired for later reads too.
        assert_eq!(
            c.read(&mut [0; 4]).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
    });
}

#[test]
fn deadline_moved_earlier_and_later_affects_a_blocked_read() {
    run(10, async {
        let (c, _s, _ln) = pair().await;
        let c = std::sync::Arc::new(c); // shared, as Go's Conn
        // `set_read_deadline` takes &self: another G moves it.
        c.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)));
        let c2 = c.clone();
        let t0 = Instant::now();
        let h = goro::go(async move {
            goro::time::sleep(20 * MS).await;
            // Earlier: the parked read must fail at ~40 ms, not 60 s.
            c2.set_read_deadline(Some(Instant::now() + 20 * MS));
        });
        let e = read_shared(&c).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        let waited = t0.elapsed();
        assert!(
            waited >= 40 * MS && waited < Duration::from_secs(30),
            "{waited:?}"
        );
        h.await.unwrap();

        // Later: a deadline pushed out while blocked does not fire at the old time.
        c.set_read_deadline(Some(Instant::now() + 20 * MS));
        let c3 = c.clone();
        let h = goro::go(async move {
            goro::time::sleep(5 * MS).await;
            c3.set_read_deadline(Some(Instant::now() + 80 * MS));
        });
        let t0 = Instant::now();
        let e = read_shared(&c).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(t0.elapsed() >= 80 * MS, "{:?}", t0.elapsed());
        h.await.unwrap();

        // Cleared while blocked: the read waits for data instead.
        c.set_read_deadline(Some(Instant::now() + 20 * MS));
        let c4 = c.clone();
        let h = goro::go(async move {
            goro::time::sleep(5 * MS).await;
            c4.set_read_deadline(None);
        });
        let r = net_common::timeout(100 * MS, read_shared(&c)).await;
        assert!(r.is_err(), "a cleared deadline still fired: {r:?}");
        h.await.unwrap();
    });
}

async fn read_shared(c: &std::sync::Arc<TcpStream>) -> std::io::Result<usize> {
    c.read(&mut [0; 4]).await
}

#[test]
fn write_deadline_past_future_cleared() {
    run(20, async {
        let (c, s, _ln) = pair().await;
        c.set_write_deadline(Some(Instant::now() - MS));
        assert_eq!(c.write(b"x").await.unwrap_err().kind(), ErrorKind::TimedOut);
        c.set_write_deadline(None);
        c.write_all(b"x").await.unwrap();
        let mut one = [0; 1];
        s.read_exact(&mut one).await.unwrap();
        // Writes to a peer that never reads end parked on a full socket,
        // and fail at the deadline.
        let t0 = Instant::now();
        c.set_write_deadline(Some(t0 + 30 * MS));
        let chunk = vec![0u8; 1 << 16];
        let e = loop {
            if let Err(e) = c.write(&chunk).await {
                break e;
            }
        };
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(t0.elapsed() >= 30 * MS);
    });
}

#[test]
fn accept_deadline_past_future_moved_cleared() {
    run(10, async {
        let ln = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        ln.set_deadline(Some(Instant::now() - MS));
        assert_eq!(ln.accept().await.unwrap_err().kind(), ErrorKind::TimedOut);
        // Future.
        let t0 = Instant::now();
        ln.set_deadline(Some(t0 + 20 * MS));
        assert_eq!(ln.accept().await.unwrap_err().kind(), ErrorKind::TimedOut);
        assert!(t0.elapsed() >= 20 * MS);
        // Moved earlier while an accept is blocked in another G.
        ln.set_deadline(Some(Instant::now() + Duration::from_secs(60)));
        let l2 = ln.clone();
        let t0 = Instant::now();
        let h = goro::go(async move { l2.accept().await.map(|_| ()).unwrap_err().kind() });
        goro::time::sleep(10 * MS).await;
        ln.set_deadline(Some(Instant::now()));
        assert_eq!(h.await.unwrap(), ErrorKind::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(30));
        // Cleared while blocked: the accept takes the next connection.
        ln.set_deadline(Some(Instant::now() + 20 * MS));
        let l3 = ln.clone();
        let h = goro::go(async move { l3.accept().await.map(|(_, a)| a) });
        goro::time::sleep(5 * MS).await;
        ln.set_deadline(None);
        goro::time::sleep(40 * MS).await;
        let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
        assert_eq!(h.await.unwrap().unwrap(), c.local_addr().unwrap());
    });
}

#[test]
fn udp_deadline_moved_while_blocked() {
    run(10, async {
        let s = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        s.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)));
        let s2 = s.clone();
        let t0 = Instant::now();
        let h = goro::go(async move { s2.recv_from(&mut [0; 8]).await.unwrap_err().kind() });
        goro::time::sleep(10 * MS).await;
        s.set_read_deadline(Some(Instant::now() + 10 * MS));
        assert_eq!(h.await.unwrap(), ErrorKind::TimedOut);
        assert!(t0.elapsed() >= 20 * MS && t0.elapsed() < Duration::from_secs(30));
    });
}

#[test]
fn dial_context_cancelled_and_expired() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        // Already cancelled.
        let (ctx, cancel) = context::with_cancel(&context::background());
        cancel.cancel();
        let e = goro::net::dial_context(&ctx, addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted);
        // Already past its deadline.
        let (ctx, _c) = context::with_deadline(&context::background(), Instant::now() - MS);
        let e = goro::net::dial_context(&ctx, addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        // Cancelled while the dial is in progress: a dial that cannot
        // finish (resolution of a name through a blocking resolver stand-in
        // is not needed: an unroutable connect stays pending long enough).
        let (ctx, cancel) = context::with_cancel(&context::background());
        let h = goro::go(async move {
            goro::time::sleep(20 * MS).await;
            cancel.cancel();
        });
        let t0 = Instant::now();
        // 10.255.255.1 is not a target: the SYN must never leave. Use a
        // listener whose backlog is full instead: connects to it hang.
        let full = backlog_full_listener().await;
        let r = goro::net::dial_context(&ctx, full.0).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5));
        h.await.unwrap();
        drop(full);
        // Works when the context stays alive.
        let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_secs(5));
        goro::net::dial_context(&ctx, addr).await.unwrap();
    });
}

/// A listener with backlog 0 whose queue is already full, and the
/// connections that fill it: a further connect's SYN is dropped and the
/// dial stays pending (on 127.0.0.1 only).
async fn backlog_full_listener() -> (std::net::SocketAddr, socket2::Socket, Vec<TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    for _ in 0..8 {
        match net_common::timeout(50 * MS, TcpStream::connect(addr)).await {
            Ok(Ok(c)) => fill.push(c),
            _ => break,
        }
    }
    (addr, s, fill)
}
