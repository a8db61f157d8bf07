//! The I/O core every goro::net type stands on (Go's `internal/poll.FD`):
//! a mio source registered with the runtime's poller (`Registered`; a
//! connection with the P poll instance its `flow_hash` picks, the same
//! for both of its ends), the
//! read/write loops that park the G on `EWOULDBLOCK`, the push-back
//! buffer that keeps a cancelled `read_exact` from losing bytes, and name
//! resolution in the syscall state (an address literal keeps the P; a
//! lookup that blocks loses it to sysmon, which hands it on).
//!
//! A `Registered` owns its source: dropping it deregisters the source
//! (its poll descriptor fails any parked wait and is freed once no poll
//! can name it, see `runtime/netpoll/poller.rs`) and then closes it.

use crate::runtime::{Dir, PollDesc, WaitReg};
use std::future::{Future, poll_fn};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicBool, Ordering};

/// A hash of a connection's two addresses that is the same from either
/// end (a NIC's symmetric RSS hash plays the same part): both ends of a
/// connection inside one program register with the same P's poll.
pub(crate) fn flow_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    fn key(a: SocketAddr) -> u64 {
        let ip = match a.ip() {
            std::net::IpAddr::V4(v) => u64::from(u32::from(v)),
            std::net::IpAddr::V6(v) => {
                let b = u128::from(v);
                (b as u64) ^ ((b >> 64) as u64)
            }
        };
        ip.rotate_left(16) ^ u64::from(a.port())
    }
    let (x, y) = (key(a), key(b));
    let (lo, hi) = (x.min(y), x.max(y));
    // Two rounds of multiply-xor: ports that differ by one (consecutive
    // ephemeral ports, which Linux hands out even first) spread evenly.
    (lo.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hi).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 32
}

/// A source registered with the poller.
pub(crate) struct Registered<S: mio::event::Source> {
    /// None only after `into_inner`.
    io: Option<S>,
    pd: Arc<PollDesc>,
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `io` with the current thread's poller.
    pub(crate) fn new(io: S) -> io::Result<Self> {
        Self::new_flow(io, None)
    }

    /// Registers one end of a connection: `flow` (`flow_hash`), if known,
    /// picks the P poll instance both ends of the connection share.
    pub(crate) fn new_flow(mut io: S, flow: Option<u64>) -> io::Result<Self> {
        let pd = PollDesc::register(&mut io, flow)?;
        Ok(Registered { io: Some(io), pd })
    }

    /// The source.
    #[inline]
    pub(crate) fn io(&self) -> &S {
        self.io.as_ref().expect("goro: source taken")
    }

    /// Runs `op` on the source until it does not block, parking the G in
    /// between; fails with `TimedOut` past `dir`'s deadline. Cancel safe
    /// as far as `op` is: nothing is kept across a park.
    pub(crate) async fn op<R>(
        &self,
        dir: Dir,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let io = self.io();
        let mut reg = WaitReg::new(&self.pd, dir);
        poll_fn(|cx| reg.poll_io(cx, || op(io))).await
    }

    /// `op` for `poll_*` methods: `reg` is the caller's registration id.
    pub(crate) fn poll_op<R>(
        &self,
        dir: Dir,
        cx: &mut Context<'_>,
        reg: &mut u64,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.io();
        self.pd.poll_io(dir, cx, reg, || op(io))
    }

    /// Go's `SetReadDeadline`/`SetWriteDeadline` for `dir`.
    pub(crate) fn set_deadline(&self, dir: Dir, d: Option<Instant>) {
        self.pd.set_deadline(dir, d);
    }

    /// The poll descriptor (for `Async`'s edge waits).
    pub(crate) fn pd(&self) -> &PollDesc {
        &self.pd
    }

    /// Deregisters and returns the source.
    pub(crate) fn into_inner(mut self) -> S {
        let mut io = self.io.take().expect("goro: source taken");
        self.pd.clone().deregister(&mut io);
        io
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.pd.clone().deregister(&mut io);
        }
    }
}

/// A connected stream socket (TCP or Unix) as the shared code sees it.
pub(crate) trait StreamIo: mio::event::Source + Send + Sync + 'static {
    fn read_io(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_io(&self, buf: &[u8]) -> io::Result<usize>;
    #[cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]
    fn write_vectored_io(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize>;
    fn peek_io(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn shutdown_io(&self, how: Shutdown) -> io::Result<()>;
}

impl StreamIo for mio::net::TcpStream {
    fn read_io(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_io(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored_io(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn peek_io(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.peek(buf)
    }
    fn shutdown_io(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

impl StreamIo for mio::net::UnixStream {
    fn read_io(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_io(&self, buf: &[u8]) -> io::Result<usize> {
        // std sends with MSG_NOSIGNAL (tests/net_poller.rs checks it).
        (&*self).write(buf)
    }
    fn write_vectored_io(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn peek_io(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::fd::AsFd;
        let fd = self.as_fd();
        let sock = socket2::SockRef::from(&fd);
        // SAFETY: recv writes only initialized bytes into the buffer it is
        // given; u8 and MaybeUninit<u8> have one layout.
        let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
        sock.peek(uninit)
    }
    fn shutdown_io(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

/// Bytes a cancelled `read_exact` had read: the next reads return them
/// first, so a dropped read loses nothing. Shared by the Gs reading one
/// stream (reads take `&self`, as Go's `Conn` does).
#[derive(Default)]
pub(crate) struct Unread {
    /// Whether `buf` is non-empty; written under `buf`'s lock (Release),
    /// read first without it (Acquire) so a plain read takes no lock.
    has: AtomicBool,
    buf: Mutex<Vec<u8>>,
}

impl Unread {
    /// Moves buffered bytes into `buf`; None if there were none.
    #[inline]
    pub(crate) fn take(&self, buf: &mut [u8]) -> Option<usize> {
        if !self.has.load(Ordering::Acquire) {
            return None;
        }
        let mut b = self.buf.lock();
        if b.is_empty() {
            return None;
        }
        let n = b.len().min(buf.len());
        buf[..n].copy_from_slice(&b[..n]);
        b.drain(..n);
        self.has.store(!b.is_empty(), Ordering::Release);
        Some(n)
    }

    /// Copies buffered bytes into `buf` without consuming them.
    pub(crate) fn peek(&self, buf: &mut [u8]) -> Option<usize> {
        if !self.has.load(Ordering::Acquire) {
            return None;
        }
        let b = self.buf.lock();
        let n = b.len().min(buf.len());
        buf[..n].copy_from_slice(&b[..n]);
        (!b.is_empty()).then_some(n)
    }

    /// Puts `bytes` back in front.
    pub(crate) fn push_front(&self, bytes: &[u8]) {
        let mut b = self.buf.lock();
        b.splice(0..0, bytes.iter().copied());
        self.has.store(!b.is_empty(), Ordering::Release);
    }
}

/// One read (Go's `conn.Read`): buffered bytes first, else one system call,
/// parking until data, EOF (0) or an error. Cancel safe.
pub(crate) async fn read<S: StreamIo>(
    io: &Registered<S>,
    unread: &Unread,
    buf: &mut [u8],
) -> io::Result<usize> {
    if let Some(n) = unread.take(buf) {
        return Ok(n);
    }
    io.op(Dir::Read, |s| s.read_io(buf)).await
}

/// `read` for `poll_read` implementations.
pub(crate) fn poll_read<S: StreamIo>(
    io: &Registered<S>,
    unread: &Unread,
    reg: &mut u64,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if let Some(n) = unread.take(buf) {
        return Poll::Ready(Ok(n));
    }
    io.poll_op(Dir::Read, cx, reg, |s| s.read_io(buf))
}

/// Go's `Peek`-like `MSG_PEEK` read: waits for data, consumes none.
pub(crate) async fn peek<S: StreamIo>(
    io: &Registered<S>,
    unread: &Unread,
    buf: &mut [u8],
) -> io::Result<usize> {
    if let Some(n) = unread.peek(buf) {
        return Ok(n);
    }
    io.op(Dir::Read, |s| s.peek_io(buf)).await
}

/// One write (Go's `conn.Write` does the loop; this is one call). Cancel
/// safe: either the bytes were written (and counted) or none were.
pub(crate) async fn write<S: StreamIo>(io: &Registered<S>, buf: &[u8]) -> io::Result<usize> {
    io.op(Dir::Write, |s| s.write_io(buf)).await
}

/// Writes every byte (Go's `conn.Write`). If the future is dropped, a
/// prefix of `buf` may have been written.
pub(crate) async fn write_all<S: StreamIo>(io: &Registered<S>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write(io, buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// The future of `read_exact`: cancel safe, since the bytes it read before
/// it was dropped go back to the stream (`Unread`).
pub(crate) struct ReadExact<'a, S: StreamIo> {
    pub(crate) io: &'a Registered<S>,
    pub(crate) unread: &'a Unread,
    pub(crate) buf: &'a mut [u8],
    pub(crate) filled: usize,
    pub(crate) reg: u64,
}

impl<S: StreamIo> Future for ReadExact<'_, S> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.filled < this.buf.len() {
            let rest = &mut this.buf[this.filled..];
            let n = std::task::ready!(poll_read(this.io, this.unread, &mut this.reg, cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            this.filled += n;
        }
        this.filled = 0; // done: nothing to give back
        this.buf = &mut [];
        Poll::Ready(Ok(()))
    }
}

impl<S: StreamIo> Drop for ReadExact<'_, S> {
    fn drop(&mut self) {
        self.io.pd().cancel(Dir::Read, self.reg);
        if self.filled > 0 {
            self.unread.push_front(&self.buf[..self.filled]);
        }
    }
}

/// Resolves `addr` in the syscall state (a DNS lookup may block the
/// thread), as Go makes a cgo lookup a system call: an address literal
/// returns at once and keeps the P; a lookup that lasts loses it to
/// sysmon, which hands it to another M.
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = crate::runtime::syscall(|| addr.to_socket_addrs())?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        ));
    }
    Ok(addrs)
}

/// The OS error of a dropped or failed `into_std` (the poller kept the fd).
pub(crate) fn set_blocking<F: std::os::fd::AsFd>(f: &F) -> io::Result<()> {
    socket2::SockRef::from(f).set_nonblocking(false)
}

#[cfg(test)]
mod tests {
    use super::flow_hash;
    use std::net::SocketAddr;

    #[test]
    fn flow_hash_is_the_same_from_both_ends_and_spreads_even_ports() {
        let server: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let mut buckets = [0u32; 4];
        // Linux hands out even ephemeral ports to connect() first.
        for port in (40_000u16..42_000).step_by(2) {
            let client = SocketAddr::from(([127, 0, 0, 1], port));
            let h = flow_hash(server, client);
            assert_eq!(h, flow_hash(client, server));
            buckets[(h % 4) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| n > 150), "{buckets:?}");
        let a: SocketAddr = "[::1]:443".parse().unwrap();
        let b: SocketAddr = "[::1]:50000".parse().unwrap();
        assert_eq!(flow_hash(a, b), flow_hash(b, a));
    }
}
