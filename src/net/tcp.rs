//! TCP: `TcpListener` (Go's `net.Listen("tcp", …)`, `Accept`) and
//! `TcpStream` (`net.Dial`, `DialTimeout`, `net.Conn`), with owned halves
//! for a reading G and a writing G.
//!
//! Sockets are non-blocking and registered with the runtime's poller once
//! (`io::Registered`); an operation that would block parks the G. As Go
//! does, listeners set `SO_REUSEADDR` and a large backlog, and streams set
//! `TCP_NODELAY`. A dial tries each resolved address in turn (Go's
//! `dialSerial`); a non-blocking connect completes when the socket turns
//! writable with no pending error (Go's `fd.connect`).

use super::io::{self as nio, ReadExact, Registered, StreamIo, Unread};
use crate::runtime::Dir;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The listen backlog asked for (the kernel caps it at `somaxconn`, which
/// Go reads and uses as is).
const BACKLOG: i32 = 4096;

/// A TCP socket server, listening for connections (Go's `net.TCPListener`).
///
/// Created by [`TcpListener::bind`] (Go's `net.Listen("tcp", addr)`).
/// [`accept`](TcpListener::accept) parks the calling G until a connection
/// arrives; several Gs may accept on one listener at once. Dropping the
/// listener closes it.
///
/// # Examples
///
/// ```
/// use goro::net::{TcpListener, TcpStream};
///
/// goro::run(async {
///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap(); // net.Listen
///     let addr = ln.local_addr().unwrap();
///     goro::go(async move {
///         let (conn, _) = ln.accept().await.unwrap(); // ln.Accept()
///         conn.write_all(b"hello").await.unwrap();
///     });
///     let c = TcpStream::connect(addr).await.unwrap(); // net.Dial
///     let mut buf = [0; 5];
///     c.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// ```
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
    /// The bound address when it names one IP (then every accepted
    /// stream's local address): spares a `getsockname` per accept.
    local: Option<SocketAddr>,
}

impl TcpListener {
    /// Binds a listener to `addr` (Go's `net.Listen("tcp", addr)`): the
    /// first resolved address that binds. Port 0 picks a free port (see
    /// [`local_addr`](Self::local_addr)). Name resolution is a system call (Go's
    /// cgo lookup): a lookup that blocks gives the P to the other Gs.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(ln.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for a in nio::resolve(addr)? {
            match listen_on(a) {
                Ok(l) => return TcpListener::from_mio(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn from_mio(l: mio::net::TcpListener) -> io::Result<TcpListener> {
        let local = l.local_addr().ok().filter(|a| !a.ip().is_unspecified());
        Ok(TcpListener {
            io: Registered::new(l)?,
            local,
        })
    }

    /// Waits for a connection and returns it with the peer's address (Go's
    /// `Accept`). The new stream has `TCP_NODELAY` set.
    ///
    /// Cancel safe: a dropped `accept` leaves every pending connection in
    /// the listener's queue. Fails with `ErrorKind::TimedOut` past the
    /// listener's deadline ([`set_deadline`](Self::set_deadline)); running
    /// out of file descriptors is an error (`EMFILE`), not a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = ln.local_addr().unwrap();
    ///     let c = goro::go(async move { TcpStream::connect(addr).await.unwrap() });
    ///     let (s, peer) = ln.accept().await.unwrap();
    ///     let c = c.await.unwrap();
    ///     assert_eq!(peer, c.local_addr().unwrap());
    ///     assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, peer) = self
            .io
            .op(Dir::Read, |l| match l.accept() {
                // Go's accept loop skips connections reset before accept.
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {
                    Err(io::ErrorKind::Interrupted.into())
                }
                r => r,
            })
            .await?;
        s.set_nodelay(true)?;
        Ok((TcpStream::from_mio_to(s, self.local, Some(peer))?, peer))
    }

    /// The address the listener is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(ln.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// Go's `SetDeadline` on a listener: a pending or later
    /// [`accept`](Self::accept) fails with `ErrorKind::TimedOut` once
    /// `deadline` has passed; `None` clears it. Moving it affects an
    /// `accept` already waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     ln.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
    ///     let err = ln.accept().await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// });
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// Wraps a listener from the standard library (Go's `net.FileListener`),
    /// switching it to non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let std_ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let ln = goro::net::TcpListener::from_std(std_ln).unwrap();
    ///     assert!(ln.local_addr().is_ok());
    /// });
    /// ```
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(l))
    }

    /// Takes the listener out of the poller and returns it in blocking
    /// mode.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = ln.local_addr().unwrap();
    ///     let std_ln = ln.into_std().unwrap();
    ///     assert_eq!(std_ln.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let l = self.io.into_inner();
        // SAFETY: the fd comes straight from an owned mio listener.
        let l = unsafe { std::net::TcpListener::from_raw_fd(l.into_raw_fd()) };
        nio::set_blocking(&l)?;
        Ok(l)
    }
}

/// A listening socket on `a`, as Go makes one: `SO_REUSEADDR`, a large
/// backlog, non-blocking and close-on-exec.
fn listen_on(a: SocketAddr) -> io::Result<mio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(a), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&a.into())?;
    s.listen(BACKLOG)?;
    Ok(mio::net::TcpListener::from_std(s.into()))
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.io().fmt(f)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.io().as_fd()
    }
}

/// A TCP connection (Go's `net.TCPConn`).
///
/// Made by [`TcpStream::connect`] (Go's `net.Dial`), [`connect_timeout`]
/// (`DialTimeout`), [`dial_context`](super::dial_context) or
/// [`TcpListener::accept`]. Every operation parks the calling G, never the
/// thread, and every future is cancel safe: a dropped `read` or
/// `read_exact` loses no bytes, a dropped `write` wrote nothing. A read of
/// 0 bytes means the peer closed its side. Operations take `&self`, as on
/// Go's `Conn`: a stream shared by Gs (`Arc<TcpStream>`) can be read by one
/// while another writes or moves its deadline; [`into_split`](Self::into_split)
/// gives owned halves instead. `TCP_NODELAY` is on, as in Go. Dropping the
/// stream closes it.
///
/// [`connect_timeout`]: TcpStream::connect_timeout
///
/// # Examples
///
/// An echo round trip:
///
/// ```
/// use goro::net::{TcpListener, TcpStream};
///
/// goro::run(async {
///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = ln.local_addr().unwrap();
///     goro::go(async move {
///         let (conn, _) = ln.accept().await.unwrap();
///         let mut buf = [0; 64];
///         loop {
///             let n = conn.read(&mut buf).await.unwrap();
///             if n == 0 {
///                 break; // EOF
///             }
///             conn.write_all(&buf[..n]).await.unwrap();
///         }
///     });
///     let c = TcpStream::connect(addr).await.unwrap();
///     c.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     c.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub struct TcpStream {
    io: Registered<mio::net::TcpStream>,
    unread: Unread,
    /// Registration ids of the I/O traits' `poll_read`/`poll_write`.
    regs: [u64; 2],
}

impl TcpStream {
    /// Registers `s`, bound to `local` and connected or connecting to
    /// `peer` (None: ask the socket), with the poll instance of its flow
    /// (`nio::flow_hash`).
    pub(crate) fn from_mio_to(
        s: mio::net::TcpStream,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    ) -> io::Result<TcpStream> {
        let local = local.map_or_else(|| s.local_addr(), Ok);
        let peer = peer.map_or_else(|| s.peer_addr(), Ok);
        let flow = match (local, peer) {
            (Ok(l), Ok(p)) => Some(nio::flow_hash(l, p)),
            _ => None,
        };
        Ok(TcpStream {
            io: Registered::new_flow(s, flow)?,
            unread: Unread::default(),
            regs: [0; 2],
        })
    }

    /// Connects to `addr` (Go's `net.Dial("tcp", addr)`): each resolved
    /// address in turn until one accepts; the last error otherwise (e.g.
    /// `ErrorKind::ConnectionRefused`). Name resolution is a system call (Go's
    /// cgo lookup): a lookup that blocks gives the P to the other Gs.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let s = goro::net::TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     assert!(s.nodelay().unwrap());
    /// });
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        dial(addr, None).await
    }

    /// [`connect`](Self::connect) that gives up with `ErrorKind::TimedOut`
    /// after `timeout` (Go's `net.DialTimeout`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = ln.local_addr().unwrap();
    ///     let s = goro::net::TcpStream::connect_timeout(addr, Duration::from_secs(5)).await;
    ///     assert!(s.is_ok());
    /// });
    /// ```
    pub async fn connect_timeout(
        addr: impl ToSocketAddrs,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        dial(addr, Instant::now().checked_add(timeout)).await
    }

    /// Reads into `buf`, parking until at least one byte (or EOF, 0) is
    /// there (Go's `conn.Read`). Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = ln.accept().await.unwrap();
    ///     s.write_all(b"hi").await.unwrap();
    ///     drop(s); // EOF after the two bytes
    ///     let mut buf = [0; 8];
    ///     let mut got = Vec::new();
    ///     loop {
    ///         let n = c.read(&mut buf).await.unwrap();
    ///         if n == 0 {
    ///             break;
    ///         }
    ///         got.extend_from_slice(&buf[..n]);
    ///     }
    ///     assert_eq!(got, b"hi");
    /// });
    /// ```
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::read(&self.io, &self.unread, buf).await
    }

    /// Reads exactly `buf.len()` bytes (Go's `io.ReadFull`); EOF first is
    /// `ErrorKind::UnexpectedEof`. Cancel safe: if the future is dropped,
    /// the bytes it had read are returned by the next read.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = ln.accept().await.unwrap();
    ///     s.write_all(b"abc").await.unwrap();
    ///     s.write_all(b"def").await.unwrap();
    ///     let mut buf = [0; 6];
    ///     c.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"abcdef");
    /// });
    /// ```
    pub fn read_exact<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + 'a {
        ReadExact {
            io: &self.io,
            unread: &self.unread,
            buf,
            filled: 0,
            reg: 0,
        }
    }

    /// Reads into `buf` without consuming: the next read returns the same
    /// bytes (`MSG_PEEK`). Parks until data or EOF. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = ln.accept().await.unwrap();
    ///     s.write_all(b"x").await.unwrap();
    ///     let mut buf = [0; 1];
    ///     assert_eq!(c.peek(&mut buf).await.unwrap(), 1);
    ///     assert_eq!(c.read(&mut buf).await.unwrap(), 1);
    ///     assert_eq!(&buf, b"x");
    /// });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::peek(&self.io, &self.unread, buf).await
    }

    /// Writes some of `buf` (one system call once the socket is writable);
    /// returns how many bytes. Cancel safe. A write after the peer closed
    /// fails (`BrokenPipe` or `ConnectionReset`); the process is never
    /// killed by `SIGPIPE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(c.write(b"hey").await.unwrap(), 3);
    /// });
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        nio::write(&self.io, buf).await
    }

    /// Writes all of `buf` (Go's `conn.Write`). If the future is dropped
    /// before it completes, a prefix of `buf` may have been sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = ln.accept().await.unwrap();
    ///     let data = vec![7u8; 1 << 20];
    ///     let reader = goro::go(async move {
    ///         let mut buf = vec![0u8; 1 << 20];
    ///         s.read_exact(&mut buf).await.unwrap();
    ///         buf
    ///     });
    ///     c.write_all(&data).await.unwrap(); // parks while the socket is full
    ///     assert_eq!(reader.await.unwrap(), data);
    /// });
    /// ```
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        nio::write_all(&self.io, buf).await
    }

    /// Shuts down the read, write or both halves (Go's `CloseRead`,
    /// `CloseWrite`): after `Shutdown::Write` the peer reads EOF.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// use std::net::Shutdown;
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = ln.accept().await.unwrap();
    ///     c.shutdown(Shutdown::Write).unwrap(); // half-close
    ///     let mut buf = [0; 1];
    ///     assert_eq!(s.read(&mut buf).await.unwrap(), 0);
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.io().shutdown_io(how)
    }

    /// Sets `TCP_NODELAY` (on by default, as Go's `SetNoDelay(true)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     c.set_nodelay(false).unwrap();
    ///     assert!(!c.nodelay().unwrap());
    /// });
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.io().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     assert!(c.nodelay().unwrap());
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.io().nodelay()
    }

    /// TCP keep-alive (Go's `SetKeepAlive` and `SetKeepAlivePeriod`):
    /// `Some(idle)` enables probes after `idle` without traffic, `None`
    /// disables them.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     c.set_keepalive(Some(Duration::from_secs(15))).unwrap();
    ///     c.set_keepalive(None).unwrap();
    /// });
    /// ```
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        let s = socket2::SockRef::from(self.io.io());
        match idle {
            Some(d) => s.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(d)),
            None => s.set_keepalive(false),
        }
    }

    /// This end's address.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     assert!(c.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The peer's address.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(c.peer_addr().unwrap(), ln.local_addr().unwrap());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// Go's `SetDeadline`: both [`set_read_deadline`](Self::set_read_deadline)
    /// and [`set_write_deadline`](Self::set_write_deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// use std::time::{Duration, Instant};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     c.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
    ///     let err = c.read(&mut [0; 8]).await.unwrap_err(); // nobody writes
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    ///     assert_eq!(err.to_string(), "i/o timeout");
    /// });
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Go's `SetReadDeadline`: once `deadline` has passed, pending and later
    /// reads (and peeks) fail with `ErrorKind::TimedOut` ("i/o timeout"),
    /// even when data is there; a deadline in the past fails them at once.
    /// Moving it affects a read already parked; `None` clears it.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// use std::time::Instant;
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     c.set_read_deadline(Some(Instant::now())); // already passed
    ///     assert!(c.read(&mut [0; 1]).await.is_err());
    ///     c.set_read_deadline(None);
    /// });
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`: as [`set_read_deadline`](Self::set_read_deadline)
    /// for writes.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// use std::time::Instant;
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     c.set_write_deadline(Some(Instant::now()));
    ///     assert!(c.write(b"x").await.is_err());
    /// });
    /// ```
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// Splits the stream into a read half and a write half that may live in
    /// different Gs (Go lets one goroutine read a `Conn` while another
    /// writes). Dropping the write half shuts down the write direction (the
    /// peer reads EOF); the socket closes when both are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = ln.local_addr().unwrap();
    ///     goro::go(async move {
    ///         let (s, _) = ln.accept().await.unwrap();
    ///         let mut buf = [0; 3];
    ///         s.read_exact(&mut buf).await.unwrap();
    ///         s.write_all(&buf).await.unwrap();
    ///     });
    ///     let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
    ///     let reader = goro::go(async move {
    ///         let mut buf = [0; 3];
    ///         r.read_exact(&mut buf).await.unwrap();
    ///         buf
    ///     });
    ///     w.write_all(b"abc").await.unwrap();
    ///     assert_eq!(&reader.await.unwrap(), b"abc");
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let io = Arc::new(self.io);
        (
            OwnedReadHalf {
                io: io.clone(),
                unread: self.unread,
                regs: [0; 2],
            },
            OwnedWriteHalf {
                io,
                shutdown_on_drop: true,
                regs: [0; 2],
            },
        )
    }

    /// Wraps a connected standard-library stream, switching it to
    /// non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let std_s = std::net::TcpStream::connect(ln.local_addr().unwrap()).unwrap();
    ///     let s = goro::net::TcpStream::from_std(std_s).unwrap();
    ///     assert_eq!(s.peer_addr().unwrap(), ln.local_addr().unwrap());
    /// });
    /// ```
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        TcpStream::from_mio_to(mio::net::TcpStream::from_std(s), None, None)
    }

    /// Takes the stream out of the poller and returns it in blocking mode.
    /// Bytes a cancelled `read_exact` had put back are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let ln = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let s = goro::net::TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
    ///     let std_s = s.into_std().unwrap();
    ///     assert_eq!(std_s.peer_addr().unwrap(), ln.local_addr().unwrap());
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let s = self.io.into_inner();
        // SAFETY: the fd comes straight from an owned mio stream.
        let s = unsafe { std::net::TcpStream::from_raw_fd(s.into_raw_fd()) };
        nio::set_blocking(&s)?;
        Ok(s)
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn parts(&mut self) -> (&Registered<mio::net::TcpStream>, &Unread, &mut [u64; 2]) {
        (&self.io, &self.unread, &mut self.regs)
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn write_parts(&mut self) -> (&Registered<mio::net::TcpStream>, &mut u64) {
        (&self.io, &mut self.regs[1])
    }
}

/// Go's `dialSerial` over the resolved addresses, with an optional deadline.
pub(crate) async fn dial(
    addr: impl ToSocketAddrs,
    deadline: Option<Instant>,
) -> io::Result<TcpStream> {
    let mut last = None;
    for a in nio::resolve(addr)? {
        match connect_one(a, deadline).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    Err(last.expect("resolve returns at least one address"))
}

/// One non-blocking connect (Go's `fd.connect`): done when the socket is
/// writable and has no pending error.
async fn connect_one(a: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    let s = TcpStream::from_mio_to(mio::net::TcpStream::connect(a)?, None, Some(a))?;
    if deadline.is_some() {
        s.set_write_deadline(deadline);
    }
    s.io.op(Dir::Write, |s| {
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    if deadline.is_some() {
        s.set_write_deadline(None);
    }
    s.set_nodelay(true)?;
    Ok(s)
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.io().fmt(f)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.io().as_fd()
    }
}

/// The read half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// # Examples
///
/// ```
/// use goro::net::{TcpListener, TcpStream};
/// goro::run(async {
///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
///     let (s, _) = ln.accept().await.unwrap();
///     let (r, _w) = c.into_split();
///     s.write_all(b"ok").await.unwrap();
///     let mut buf = [0; 2];
///     r.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ok");
/// });
/// ```
pub struct OwnedReadHalf {
    io: Arc<Registered<mio::net::TcpStream>>,
    unread: Unread,
    /// Registration ids of the I/O traits' `poll_read`/`poll_write`.
    regs: [u64; 2],
}

/// The write half of a [`TcpStream`], from [`TcpStream::into_split`].
/// Dropping it shuts down the write direction.
///
/// # Examples
///
/// ```
/// use goro::net::{TcpListener, TcpStream};
/// goro::run(async {
///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
///     let (s, _) = ln.accept().await.unwrap();
///     let (_r, w) = c.into_split();
///     w.write_all(b"bye").await.unwrap();
///     drop(w); // the peer reads EOF after "bye"
///     let mut buf = Vec::new();
///     let mut chunk = [0; 8];
///     loop {
///         let n = s.read(&mut chunk).await.unwrap();
///         if n == 0 { break }
///         buf.extend_from_slice(&chunk[..n]);
///     }
///     assert_eq!(buf, b"bye");
/// });
/// ```
pub struct OwnedWriteHalf {
    io: Arc<Registered<mio::net::TcpStream>>,
    shutdown_on_drop: bool,
    /// Registration ids of the I/O traits' `poll_read`/`poll_write`.
    regs: [u64; 2],
}

impl OwnedReadHalf {
    /// As [`TcpStream::read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (r, _w) = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap().into_split();
    ///     let (s, _) = ln.accept().await.unwrap();
    ///     drop(s);
    ///     assert_eq!(r.read(&mut [0; 4]).await.unwrap(), 0);
    /// });
    /// ```
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::read(&self.io, &self.unread, buf).await
    }

    /// As [`TcpStream::read_exact`] (cancel safe).
    pub fn read_exact<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + 'a {
        ReadExact {
            io: &self.io,
            unread: &self.unread,
            buf,
            filled: 0,
            reg: 0,
        }
    }

    /// As [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::peek(&self.io, &self.unread, buf).await
    }

    /// As [`TcpStream::set_read_deadline`].
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// As [`TcpStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// As [`TcpStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn parts(&mut self) -> (&Registered<mio::net::TcpStream>, &Unread, &mut [u64; 2]) {
        (&self.io, &self.unread, &mut self.regs)
    }
}

impl OwnedWriteHalf {
    /// As [`TcpStream::write`].
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::net::{TcpListener, TcpStream};
    /// goro::run(async {
    ///     let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (_r, w) = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap().into_split();
    ///     assert_eq!(w.write(b"x").await.unwrap(), 1);
    /// });
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        nio::write(&self.io, buf).await
    }

    /// As [`TcpStream::write_all`].
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        nio::write_all(&self.io, buf).await
    }

    /// Shuts down the write direction now (Go's `CloseWrite`).
    pub fn shutdown(&self) -> io::Result<()> {
        self.io.io().shutdown_io(Shutdown::Write)
    }

    /// As [`TcpStream::set_write_deadline`].
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// As [`TcpStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// As [`TcpStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn write_parts(&mut self) -> (&Registered<mio::net::TcpStream>, &mut u64) {
        (&self.io, &mut self.regs[1])
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.io.io().shutdown_io(Shutdown::Write);
        }
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("stream", self.io.io())
            .finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("stream", self.io.io())
            .finish()
    }
}

impl AsRawFd for OwnedReadHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsRawFd for OwnedWriteHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}
