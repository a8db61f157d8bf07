//! The `futures-io` and `tokio` features: real consumer crates over goro
//! sockets inside Gs (tokio-util's `LinesCodec`, futures' `AsyncBufReadExt`
//! and `copy`), and `async-compat` for a library that needs tokio's own
//! reactor.

mod net_common;

use futures::{SinkExt, StreamExt};
use goro::net::{TcpListener, TcpStream, UnixStream};
use net_common::run;

#[test]
fn tokio_util_lines_codec_over_a_goro_tcp_stream() {
    use tokio_util::codec::{Framed, LinesCodec};
    run(20, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        goro::go(async move {
            let (s, _) = ln.accept().await.unwrap();
            let mut lines = Framed::new(s, LinesCodec::new());
            while let Some(Ok(line)) = lines.next().await {
                lines.send(line.to_uppercase()).await.unwrap();
            }
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let mut lines = Framed::new(c, LinesCodec::new());
        for w in ["hello", "goro", "net"] {
            lines.send(w).await.unwrap();
            assert_eq!(lines.next().await.unwrap().unwrap(), w.to_uppercase());
        }
    });
}

#[test]
fn tokio_io_util_over_split_halves() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    run(20, async {
        let (a, b) = UnixStream::pair().unwrap();
        let (ar, mut aw) = a.into_split();
        let mut b = b;
        goro::go(async move {
            aw.write_all(b"through tokio traits").await.unwrap();
            aw.shutdown().await.unwrap();
        });
        let mut got = String::new();
        b.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "through tokio traits");
        b.write_all(b"back").await.unwrap();
        let mut back = [0; 4];
        ar.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
    });
}

#[test]
fn futures_io_buf_reader_lines_and_copy() {
    use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    run(20, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        goro::go(async move {
            // futures::io::copy as an echo server.
            let (s, _) = ln.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            futures::io::copy(r, &mut w).await.unwrap();
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let (r, mut w) = c.into_split();
        w.write_all(b"one\ntwo\nthree\n").await.unwrap();
        w.close().await.unwrap();
        let lines: Vec<String> = BufReader::new(r)
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(lines, ["one", "two", "three"]);
    });
}

#[test]
fn async_compat_runs_a_tokio_reactor_future_inside_a_g() {
    // tokio's own sockets need tokio's reactor: `Compat` enters a tokio
    // runtime (its own background one) around each poll, so the future
    // runs inside a G while tokio's driver thread does its I/O.
    run(20, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        goro::go(async move {
            let (s, _) = ln.accept().await.unwrap();
            let mut buf = [0; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let echoed = async_compat::Compat::new(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            c.write_all(b"tokio").await.unwrap();
            let mut buf = [0; 5];
            c.read_exact(&mut buf).await.unwrap();
            buf
        })
        .await;
        assert_eq!(&echoed, b"tokio");
    });
}
