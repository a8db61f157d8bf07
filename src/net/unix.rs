//! Unix domain sockets: `UnixListener`, `UnixStream` (with owned halves)
//! and `UnixDatagram` (Go's `net.Listen("unix", …)`, `net.UnixConn`), in
//! the shapes of the TCP types. Paths need no resolution, so binding and
//! the datagram socket's `connect` are plain calls; a stream `connect`
//! completes on the poller like TCP's.

use super::io::{self as nio, ReadExact, Registered, StreamIo, Unread};
use crate::runtime::Dir;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A Unix stream socket server (Go's `net.UnixListener`).
///
/// # Examples
///
/// ```
/// use goro::net::{UnixListener, UnixStream};
/// let dir = std::env::temp_dir().join(format!("goro-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("l.sock");
/// let _ = std::fs::remove_file(&path);
/// goro::run(async {
///     let ln = UnixListener::bind(&path).unwrap();
///     let p2 = path.clone();
///     goro::go(async move {
///         let c = UnixStream::connect(&p2).await.unwrap();
///         c.write_all(b"unix").await.unwrap();
///     });
///     let (s, _) = ln.accept().await.unwrap();
///     let mut buf = [0; 4];
///     s.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"unix");
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds a listener to the socket file `path` (which must not exist).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::from_mio(mio::net::UnixListener::bind(path)?)
    }

    fn from_mio(l: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Registered::new(l)?,
        })
    }

    /// Waits for a connection (Go's `Accept`). Cancel safe.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.io.op(Dir::Read, |l| l.accept()).await?;
        Ok((UnixStream::from_mio(s)?, a))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// Go's `SetDeadline` for `accept`.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// Wraps a standard-library listener, switching it to non-blocking mode.
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        UnixListener::from_mio(mio::net::UnixListener::from_std(l))
    }

    /// Takes the listener out of the poller, in blocking mode.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        let l = self.io.into_inner();
        // SAFETY: the fd comes straight from an owned mio listener.
        let l = unsafe { std::os::unix::net::UnixListener::from_raw_fd(l.into_raw_fd()) };
        nio::set_blocking(&l)?;
        Ok(l)
    }
}

/// A Unix stream connection (Go's `net.UnixConn`); the same operations,
/// blocking behaviour and cancel safety as [`TcpStream`](super::TcpStream).
///
/// # Examples
///
/// ```
/// goro::run(async {
///     let (a, b) = goro::net::UnixStream::pair().unwrap();
///     a.write_all(b"pair").await.unwrap();
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"pair");
/// });
/// ```
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
    unread: Unread,
    /// Registration ids of the I/O traits' `poll_read`/`poll_write`.
    regs: [u64; 2],
}

impl UnixStream {
    fn from_mio(s: mio::net::UnixStream) -> io::Result<UnixStream> {
        Self::from_mio_flow(s, None)
    }

    /// `from_mio` with a flow key (`Registered::new_flow`).
    fn from_mio_flow(s: mio::net::UnixStream, flow: Option<u64>) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Registered::new_flow(s, flow)?,
            unread: Unread::default(),
            regs: [0; 2],
        })
    }

    /// Connects to the socket file `path` (Go's `net.Dial("unix", path)`).
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let s = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
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
        Ok(s)
    }

    /// A connected pair (`socketpair`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        // Both ends share a P's poll instance, as a TCP connection's do.
        let flow = Some(crate::util::cheaprand());
        Ok((
            UnixStream::from_mio_flow(a, flow)?,
            UnixStream::from_mio_flow(b, flow)?,
        ))
    }

    /// As [`TcpStream::read`](super::TcpStream::read).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::read(&self.io, &self.unread, buf).await
    }

    /// As [`TcpStream::read_exact`](super::TcpStream::read_exact) (cancel
    /// safe).
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

    /// As [`TcpStream::peek`](super::TcpStream::peek).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::peek(&self.io, &self.unread, buf).await
    }

    /// As [`TcpStream::write`](super::TcpStream::write).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        nio::write(&self.io, buf).await
    }

    /// As [`TcpStream::write_all`](super::TcpStream::write_all).
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        nio::write_all(&self.io, buf).await
    }

    /// Shuts down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.io().shutdown_io(how)
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// Go's `SetDeadline`: both directions.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Go's `SetReadDeadline`.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// Splits into a read half and a write half for two Gs; dropping the
    /// write half shuts down the write direction.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let io = Arc::new(self.io);
        (
            OwnedReadHalf {
                io: io.clone(),
                unread: self.unread,
                regs: [0; 2],
            },
            OwnedWriteHalf { io, regs: [0; 2] },
        )
    }

    /// Wraps a standard-library stream, switching it to non-blocking mode.
    pub fn from_std(s: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(s))
    }

    /// Takes the stream out of the poller, in blocking mode.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let s = self.io.into_inner();
        // SAFETY: the fd comes straight from an owned mio stream.
        let s = unsafe { std::os::unix::net::UnixStream::from_raw_fd(s.into_raw_fd()) };
        nio::set_blocking(&s)?;
        Ok(s)
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn parts(&mut self) -> (&Registered<mio::net::UnixStream>, &Unread, &mut [u64; 2]) {
        (&self.io, &self.unread, &mut self.regs)
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn write_parts(&mut self) -> (&Registered<mio::net::UnixStream>, &mut u64) {
        (&self.io, &mut self.regs[1])
    }
}

/// The read half of a [`UnixStream`], from [`UnixStream::into_split`].
pub struct OwnedReadHalf {
    io: Arc<Registered<mio::net::UnixStream>>,
    unread: Unread,
    /// Registration ids of the I/O traits' `poll_read`/`poll_write`.
    regs: [u64; 2],
}

/// The write half of a [`UnixStream`]; dropping it shuts down the write
/// direction.
pub struct OwnedWriteHalf {
    io: Arc<Registered<mio::net::UnixStream>>,
    /// Registration ids of the I/O traits' `poll_read`/`poll_write`.
    regs: [u64; 2],
}

impl OwnedReadHalf {
    /// As [`UnixStream::read`].
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        nio::read(&self.io, &self.unread, buf).await
    }

    /// As [`UnixStream::read_exact`].
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

    /// As [`UnixStream::set_read_deadline`].
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn parts(&mut self) -> (&Registered<mio::net::UnixStream>, &Unread, &mut [u64; 2]) {
        (&self.io, &self.unread, &mut self.regs)
    }
}

impl OwnedWriteHalf {
    /// As [`UnixStream::write`].
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        nio::write(&self.io, buf).await
    }

    /// As [`UnixStream::write_all`].
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        nio::write_all(&self.io, buf).await
    }

    /// As [`UnixStream::set_write_deadline`].
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn write_parts(&mut self) -> (&Registered<mio::net::UnixStream>, &mut u64) {
        (&self.io, &mut self.regs[1])
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        let _ = self.io.io().shutdown_io(Shutdown::Write);
    }
}

/// A Unix datagram socket (Go's `net.UnixConn` over `SOCK_DGRAM`).
///
/// # Examples
///
/// ```
/// goro::run(async {
///     let (a, b) = goro::net::UnixDatagram::pair().unwrap();
///     a.send(b"dgram").await.unwrap();
///     let mut buf = [0; 8];
///     let n = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"dgram");
/// });
/// ```
pub struct UnixDatagram {
    io: Registered<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    fn from_mio(s: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Registered::new(s)?,
        })
    }

    /// Binds to the socket file `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// An unbound socket (it can send with `send_to`).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// Sets the default peer.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.io().connect(path)
    }

    /// Sends to `path`. Cancel safe.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.op(Dir::Write, |s| s.send_to(buf, path)).await
    }

    /// Receives one datagram and its sender. Cancel safe.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.op(Dir::Read, |s| s.recv_from(buf)).await
    }

    /// Sends to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.op(Dir::Write, |s| s.send(buf)).await
    }

    /// Receives from the connected peer. Cancel safe.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.op(Dir::Read, |s| s.recv(buf)).await
    }

    /// This socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// Go's `SetDeadline`: both directions.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Go's `SetReadDeadline`.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// Wraps a standard-library socket, switching it to non-blocking mode.
    pub fn from_std(s: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        s.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(s))
    }

    /// Takes the socket out of the poller, in blocking mode.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        let s = self.io.into_inner();
        // SAFETY: the fd comes straight from an owned mio socket.
        let s = unsafe { std::os::unix::net::UnixDatagram::from_raw_fd(s.into_raw_fd()) };
        nio::set_blocking(&s)?;
        Ok(s)
    }
}

macro_rules! fd_impls {
    ($($t:ty),*) => {$(
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.io.io().as_raw_fd()
            }
        }
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.io().as_fd()
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.io.io().fmt(f)
            }
        }
    )*};
}

fd_impls!(UnixListener, UnixStream, UnixDatagram);

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
