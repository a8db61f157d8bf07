//! `goro::net`: Go's `net` package in Rust's shapes. TCP, UDP and Unix
//! sockets whose every operation parks the G (never the thread) on the
//! runtime's network poller (`runtime/netpoll/`, Go's netpoll), Go's
//! deadlines, and [`Async`] for a non-blocking file descriptor of your own.
//!
//! This file owns the package-level functions (`listen`, `dial`,
//! `dial_context`) and the re-exports; `io.rs` is the shared core (Go's
//! `internal/poll.FD`), `tcp.rs`, `udp.rs`, `unix.rs` the socket types,
//! `fd.rs` `Async`, `compat.rs` the optional `futures-io`/`tokio` traits.
//!
//! Errors are `std::io::Error` with the OS's kinds (`ConnectionRefused`,
//! `ConnectionReset`, `BrokenPipe`, `AddrInUse`, too many open files);
//! an operation past its deadline fails with `ErrorKind::TimedOut`
//! (`"i/o timeout"`). Writing to a closed connection is an error, never a
//! `SIGPIPE` that kills the process. Every future is cancel safe: a
//! dropped `accept` leaves the connection queued, a dropped `read` or
//! `read_exact` loses no bytes.
//!
//! A socket belongs to the poller of the runtime it was created in (or,
//! off any runtime, to a process-wide poller with one thread), and can be
//! used from any G or thread. With more than one P, a TCP connection's
//! readiness is delivered to one P (picked by a hash of its two
//! addresses, the same from both ends), so the Gs serving it, and the
//! peer's Gs when both ends are in this program, tend to stay on that P.
//!
//! # Examples
//!
//! ```
//! use goro::net::{TcpListener, TcpStream};
//!
//! let got = goro::run(async {
//!     let ln = TcpListener::bind("127.0.0.1:0").await?; // net.Listen("tcp", ...)
//!     let addr = ln.local_addr()?;
//!     goro::go(async move {
//!         // A G per connection, as in Go.
//!         while let Ok((conn, _)) = ln.accept().await {
//!             goro::go(async move {
//!                 let mut buf = [0; 1024];
//!                 while let Ok(n @ 1..) = conn.read(&mut buf).await {
//!                     if conn.write_all(&buf[..n]).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!     });
//!     let c = TcpStream::connect(addr).await?; // net.Dial
//!     c.write_all(b"echo").await?;
//!     let mut buf = [0; 4];
//!     c.read_exact(&mut buf).await?;
//!     Ok::<_, std::io::Error>(buf)
//! });
//! assert_eq!(&got.unwrap(), b"echo");
//! ```

#[cfg(any(feature = "futures-io", feature = "tokio"))]
mod compat;
mod fd;
mod io;
mod tcp;
mod udp;
mod unix;

pub use fd::Async;
pub use tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{
    OwnedReadHalf as UnixOwnedReadHalf, OwnedWriteHalf as UnixOwnedWriteHalf, UnixDatagram,
    UnixListener, UnixStream,
};

use crate::context::{Context, ContextError};
use std::future::{Future, poll_fn};
use std::net::ToSocketAddrs;
use std::pin::pin;
use std::task::Poll;

/// Go's `net.Listen("tcp", addr)`: [`TcpListener::bind`].
///
/// # Examples
///
/// ```
/// goro::run(async {
///     let ln = goro::net::listen("127.0.0.1:0").await.unwrap();
///     assert!(ln.local_addr().is_ok());
/// });
/// ```
pub async fn listen(addr: impl ToSocketAddrs) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Go's `net.Dial("tcp", addr)`: [`TcpStream::connect`].
///
/// # Examples
///
/// ```
/// goro::run(async {
///     let ln = goro::net::listen("127.0.0.1:0").await.unwrap();
///     let c = goro::net::dial(ln.local_addr().unwrap()).await.unwrap();
///     assert_eq!(c.peer_addr().unwrap(), ln.local_addr().unwrap());
/// });
/// ```
pub async fn dial(addr: impl ToSocketAddrs) -> std::io::Result<TcpStream> {
    TcpStream::connect(addr).await
}

/// Go's `Dialer.DialContext`: connects to `addr` unless `ctx` is done
/// first. A cancelled context fails the dial with `ErrorKind::Interrupted`
/// ("operation was canceled"), a passed deadline with `ErrorKind::TimedOut`
/// ("i/o timeout"); the context's deadline also bounds the connect itself.
/// Dropping the future abandons the dial.
///
/// # Examples
///
/// ```
/// use goro::context;
/// use std::time::Duration;
/// goro::run(async {
///     let ln = goro::net::listen("127.0.0.1:0").await.unwrap();
///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_secs(5));
///     let c = goro::net::dial_context(&ctx, ln.local_addr().unwrap()).await;
///     assert!(c.is_ok());
///
///     let (ctx, cancel) = context::with_cancel(&context::background());
///     cancel.cancel();
///     let err = goro::net::dial_context(&ctx, ln.local_addr().unwrap()).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::Interrupted);
/// });
/// ```
pub async fn dial_context(ctx: &Context, addr: impl ToSocketAddrs) -> std::io::Result<TcpStream> {
    if let Some(e) = ctx.err() {
        return Err(context_error(e));
    }
    let mut dial = pin!(tcp::dial(addr, ctx.deadline()));
    let mut done = pin!(ctx.cancelled());
    poll_fn(|cx| {
        if let Poll::Ready(e) = done.as_mut().poll(cx) {
            return Poll::Ready(Err(context_error(e)));
        }
        dial.as_mut().poll(cx)
    })
    .await
}

/// Go's mapping of a context's error onto a network error.
fn context_error(e: ContextError) -> std::io::Error {
    match e {
        ContextError::Canceled => {
            std::io::Error::new(std::io::ErrorKind::Interrupted, "operation was canceled")
        }
        ContextError::DeadlineExceeded => crate::runtime::timeout_error(),
    }
}
