//! UDP: `UdpSocket` (Go's `net.ListenUDP`, `net.UDPConn`).
//!
//! One registered non-blocking socket; every operation takes `&self`, so
//! a socket can be shared (`Arc`) by several Gs sending and receiving at
//! once, as Go allows (each direction's poll descriptor parks any number
//! of waits).

use super::io::{self as nio, Registered};
use crate::runtime::Dir;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::time::Instant;

/// A UDP socket (Go's `net.UDPConn`).
///
/// # Examples
///
/// ```
/// use goro::net::UdpSocket;
/// goro::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap(); // net.ListenUDP
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     assert_eq!(from, a.local_addr().unwrap());
/// });
/// ```
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (Go's `net.ListenUDP`); the first resolved
    /// address that binds. Name resolution is a system call (Go's cgo
    /// lookup): a lookup that blocks gives the P to the other Gs.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(s.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in nio::resolve(addr)? {
            match mio::net::UdpSocket::bind(a) {
                Ok(s) => return UdpSocket::from_mio(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn from_mio(s: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Registered::new(s)?,
        })
    }

    /// Sends `buf` to `target` (Go's `WriteTo`); returns the bytes sent.
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let n = s.send_to(b"hi", s.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(n, 2);
    /// });
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let to = nio::resolve(target)?[0];
        self.io.op(Dir::Write, |s| s.send_to(buf, to)).await
    }

    /// Receives one datagram (Go's `ReadFrom`), parking until one arrives;
    /// returns its length (truncated to `buf`) and sender. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     s.send_to(b"self", s.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let (n, from) = s.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..n], from), (&b"self"[..], s.local_addr().unwrap()));
    /// });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.op(Dir::Read, |s| s.recv_from(buf)).await
    }

    /// Receives one datagram without removing it from the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     s.send_to(b"p", s.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(s.peek_from(&mut buf).await.unwrap().0, 1);
    ///     assert_eq!(s.recv_from(&mut buf).await.unwrap().0, 1);
    /// });
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.op(Dir::Read, |s| s.peek_from(buf)).await
    }

    /// Sets the default destination and the only accepted source (Go's
    /// `DialUDP`); then [`send`](Self::send) and [`recv`](Self::recv) work.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let a = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"x").await.unwrap();
    ///     let mut buf = [0; 4];
    ///     assert_eq!(b.recv(&mut buf).await.unwrap(), 1);
    /// });
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for a in nio::resolve(addr)? {
            match self.io.io().connect(a) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Sends to the connected peer (Go's `Write` on a connected `UDPConn`).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.op(Dir::Write, |s| s.send(buf)).await
    }

    /// Receives from the connected peer (Go's `Read`). Cancel safe.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.op(Dir::Read, |s| s.recv(buf)).await
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.io().set_broadcast(on)
    }

    /// Go's `SetDeadline`: both directions (see
    /// [`TcpStream::set_read_deadline`](super::TcpStream::set_read_deadline)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// goro::run(async {
    ///     let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     s.set_deadline(Some(Instant::now() + Duration::from_millis(5)));
    ///     let err = s.recv_from(&mut [0; 8]).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// });
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Go's `SetReadDeadline`, for receives.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`, for sends.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// Wraps a standard-library socket, switching it to non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let std_s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let s = goro::net::UdpSocket::from_std(std_s).unwrap();
    ///     let std_s = s.into_std().unwrap();
    ///     assert!(std_s.local_addr().is_ok());
    /// });
    /// ```
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(s))
    }

    /// Takes the socket out of the poller, in blocking mode.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let s = self.io.into_inner();
        // SAFETY: the fd comes straight from an owned mio socket.
        let s = unsafe { std::net::UdpSocket::from_raw_fd(s.into_raw_fd()) };
        nio::set_blocking(&s)?;
        Ok(s)
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.io().fmt(f)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.io().as_fd()
    }
}
