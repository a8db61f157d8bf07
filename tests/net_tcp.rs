//! goro::net TCP: echo, half-close, reset, broken pipe, cancel safety,
//! connection errors (127.0.0.1 only, bounded in time).

mod net_common;

use goro::net::{TcpListener, TcpStream};
use net_common::{echo_server, run, timeout};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::{Duration, Instant};

#[test]
fn echo_round_trip() {
    run(10, async {
        let addr = echo_server().await;
        let c = TcpStream::connect(addr).await.unwrap();
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            c.write_all(&msg).await.unwrap();
            let mut got = [0; 4];
            c.read_exact(&mut got).await.unwrap();
            assert_eq!(got, msg);
        }
    });
}

#[test]
fn echo_1000_concurrent_connections() {
    run(60, async {
        let addr = echo_server().await;
        let wg = goro::sync::WaitGroup::new();
        for i in 0..1000u32 {
            wg.go(async move {
                let c = TcpStream::connect(addr).await.unwrap();
                for j in 0..5u32 {
                    let msg = [i.to_le_bytes(), j.to_le_bytes()].concat();
                    c.write_all(&msg).await.unwrap();
                    let mut got = [0; 8];
                    c.read_exact(&mut got).await.unwrap();
                    assert_eq!(&got[..], &msg[..]);
                }
            });
        }
        wg.wait().await;
    });
}

#[test]
fn half_close_reads_eof_and_can_still_write() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
        let (s, _) = ln.accept().await.unwrap();
        c.write_all(b"last words").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 4];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"last words");
        // The other direction still works.
        s.write_all(b"reply").await.unwrap();
        let mut r = [0; 5];
        c.read_exact(&mut r).await.unwrap();
        assert_eq!(&r, b"reply");
    });
}

#[test]
fn peer_reset_is_an_error() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
        let (s, _) = ln.accept().await.unwrap();
        // SO_LINGER 0: close sends RST.
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
        let err = c.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn write_after_peer_closed_is_an_error_not_sigpipe() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
        let (s, _) = ln.accept().await.unwrap();
        drop(s);
        let mut failed = None;
        for _ in 0..1000 {
            if let Err(e) = c.write_all(&[1; 1024]).await {
                failed = Some(e);
                break;
            }
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        let e = failed.expect("writes to a closed peer kept succeeding");
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{e}"
        );
    });
    // Still alive: SIGPIPE did not kill the process.
}

#[test]
fn connect_refused() {
    run(10, async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn bind_address_in_use() {
    run(10, async {
        let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(a.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    });
}

#[test]
fn dropped_accept_loses_no_connection() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        // An accept that parks, then is dropped.
        let r = timeout(Duration::from_millis(20), ln.accept()).await;
        assert!(r.is_err());
        let c = TcpStream::connect(addr).await.unwrap();
        // A connection arrives while no accept is pending; an accept that
        // is polled once and dropped must leave it queued.
        goro::time::sleep(Duration::from_millis(5)).await;
        let (s, peer) = ln.accept().await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        drop(s);
    });
}

#[test]
fn dropped_read_loses_no_bytes() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
        let (s, _) = ln.accept().await.unwrap();
        // A read parked, then cancelled.
        let r = timeout(Duration::from_millis(10), c.read(&mut [0; 8])).await;
        assert!(r.is_err());
        // read_exact that gets half its bytes, then is cancelled.
        s.write_all(b"abc").await.unwrap();
        let mut buf = [0; 6];
        let r = timeout(Duration::from_millis(50), c.read_exact(&mut buf)).await;
        assert!(r.is_err(), "read_exact completed with 3 of 6 bytes");
        s.write_all(b"def").await.unwrap();
        let mut all = [0; 6];
        c.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"abcdef");
    });
}

#[test]
fn split_halves_read_and_write_in_two_gs() {
    run(20, async {
        let addr = echo_server().await;
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        const N: usize = 1 << 20;
        let reader = goro::go(async move {
            let mut got = 0usize;
            let mut buf = vec![0; 8192];
            while got < N {
                let n = r.read(&mut buf).await.unwrap();
                assert!(n > 0);
                assert!(
                    buf[..n]
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == ((got + i) % 251) as u8)
                );
                got += n;
            }
            got
        });
        let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        w.write_all(&data).await.unwrap();
        assert_eq!(reader.await.unwrap(), N);
    });
}

#[test]
fn std_round_trip_and_fds() {
    use std::os::fd::AsRawFd;
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(ln.as_raw_fd() >= 0);
        let std_ln = ln.into_std().unwrap();
        let ln = TcpListener::from_std(std_ln).unwrap();
        let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
        let (s, _) = ln.accept().await.unwrap();
        let mut std_c = c.into_std().unwrap();
        std::io::Write::write_all(&mut std_c, b"std").unwrap();
        let mut buf = [0; 3];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"std");
        let _back = TcpStream::from_std(std_c).unwrap();
    });
}

#[test]
fn connect_timeout_and_resolution() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = ln.local_addr().unwrap().port();
        // A host name, resolved off the P.
        let c = TcpStream::connect(("localhost", port)).await;
        // localhost may resolve to ::1 first; dialSerial tries every address.
        assert!(c.is_ok(), "{c:?}");
        let t0 = Instant::now();
        let c =
            TcpStream::connect_timeout(format!("127.0.0.1:{port}"), Duration::from_secs(5)).await;
        assert!(c.is_ok());
        assert!(t0.elapsed() < Duration::from_secs(5));
    });
}
