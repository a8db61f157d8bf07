//! goro::net UDP and Unix sockets, and `Async` over a pipe.

mod net_common;

use goro::net::{Async, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use net_common::{run, timeout};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

fn tmp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("goro-net-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("s.sock")
}

#[test]
fn udp_send_to_recv_from_and_connected() {
    run(10, async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        a.send_to(b"one", ba).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], aa));
        a.connect(ba).await.unwrap();
        b.connect(aa).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), ba);
        b.send(b"two").await.unwrap();
        assert_eq!(a.recv(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
    });
}

#[test]
fn udp_shared_by_many_receivers() {
    // Go lets several goroutines read one UDPConn; every datagram goes to
    // exactly one of them.
    run(20, async {
        let s = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let to = s.local_addr().unwrap();
        let (tx, rx) = goro::chan::<u32>(1024);
        for _ in 0..4 {
            let (s, tx) = (s.clone(), tx.clone());
            goro::go(async move {
                let mut buf = [0; 4];
                while let Ok((4, _)) = s.recv_from(&mut buf).await {
                    if tx.send(u32::from_le_bytes(buf)).await.is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut got = Vec::new();
        for i in 0..200u32 {
            sender.send_to(&i.to_le_bytes(), to).await.unwrap();
            // One at a time: loopback UDP may drop under a burst.
            got.push(rx.recv().await.unwrap());
        }
        got.sort();
        assert_eq!(got, (0..200).collect::<Vec<_>>());
    });
}

#[test]
fn udp_cancelled_recv_loses_no_datagram() {
    run(10, async {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert!(
            timeout(Duration::from_millis(10), s.recv_from(&mut [0; 8]))
                .await
                .is_err()
        );
        s.send_to(b"kept", s.local_addr().unwrap()).await.unwrap();
        let mut buf = [0; 8];
        let (n, _) = s.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");
    });
}

#[test]
fn unix_stream_listener_round_trip_and_split() {
    let path = tmp_path("stream");
    let p2 = path.clone();
    run(10, async move {
        let ln = UnixListener::bind(&p2).unwrap();
        let p3 = p2.clone();
        let h = goro::go(async move {
            let c = UnixStream::connect(&p3).await.unwrap();
            let (r, w) = c.into_split();
            w.write_all(b"hello unix").await.unwrap();
            drop(w); // half-close
            let mut back = [0; 10];
            r.read_exact(&mut back).await.unwrap();
            back
        });
        let (s, _) = ln.accept().await.unwrap();
        let mut all = Vec::new();
        let mut buf = [0; 4];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, b"hello unix");
        s.write_all(&all).await.unwrap();
        assert_eq!(&h.await.unwrap(), b"hello unix");
    });
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn unix_connect_to_nothing_fails() {
    let path = tmp_path("none");
    let p2 = path.clone();
    run(10, async move {
        let e = UnixStream::connect(&p2).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    });
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn unix_datagram_pair_bind_and_deadline() {
    let path = tmp_path("dgram");
    let p2 = path.clone();
    run(10, async move {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"x").await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.recv(&mut buf).await.unwrap(), 1);
        let bound = UnixDatagram::bind(&p2).unwrap();
        let un = UnixDatagram::unbound().unwrap();
        un.send_to(b"to path", &p2).await.unwrap();
        let mut buf = [0; 16];
        let (n, _) = bound.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"to path");
        bound.set_read_deadline(Some(std::time::Instant::now() + Duration::from_millis(10)));
        assert_eq!(
            bound.recv(&mut buf).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
    });
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn async_pipe_read_with_and_readable() {
    run(10, async {
        let (r, mut w) = std::io::pipe().unwrap();
        let r = Async::new(r).unwrap();
        // Nothing there: read_with parks until the writer G writes.
        goro::go(async move {
            goro::time::sleep(Duration::from_millis(10)).await;
            w.write_all(b"first").unwrap();
            goro::time::sleep(Duration::from_millis(200)).await;
            w.write_all(b"second").unwrap();
        });
        let mut buf = [0; 16];
        let n = r.read_with(|mut p| p.read(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        // readable: an edge since registration has come (returns at once),
        // then the next one comes with "second".
        r.readable().await.unwrap();
        assert_eq!(
            r.get_ref().read(&mut buf).map_err(|e| e.kind()),
            Err(ErrorKind::WouldBlock)
        );
        r.readable().await.unwrap();
        let n = r.read_with(|mut p| p.read(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"second");
        let inner = r.into_inner();
        drop(inner);
    });
}

#[test]
fn async_deadline() {
    run(10, async {
        let (r, _w) = std::io::pipe().unwrap();
        let r = Async::new(r).unwrap();
        r.set_read_deadline(Some(std::time::Instant::now() + Duration::from_millis(10)));
        let e = r.read_with(|mut p| p.read(&mut [0; 4])).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
    });
}
