//! `Async<T>`: readiness for a non-blocking file descriptor the caller owns
//! (a pipe, a tty, an eventfd): Go's pollable `os.File` (`os.NewFile` on a
//! non-blocking fd), in async-io's `Async<T>` shape.
//!
//! The fd is registered with the poller like a socket, through a
//! `RawSource` that names it without owning it; `Async` owns `T`, so the fd
//! stays open (I/O safety) until the registration is gone: fields drop in
//! order, the registration first.

use super::io::Registered;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::runtime::{Dir, WaitReg};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Instant;

/// An fd registered by number; it does not own (close) the fd.
struct RawSource(RawFd);

impl mio::event::Source for RawSource {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).register(r, t, i)
    }
    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).reregister(r, t, i)
    }
    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).deregister(r)
    }
}

/// A non-blocking I/O object of your own whose readiness a G can wait for
/// on the runtime's poller (async-io's `Async<T>`; Go's pollable files).
///
/// [`new`](Async::new) switches the fd to non-blocking mode and registers
/// it. [`read_with`](Async::read_with) / [`write_with`](Async::write_with)
/// run an operation until it stops returning `WouldBlock`, parking the G in
/// between (the way to use it: readiness is edge-triggered);
/// [`readable`](Async::readable) / [`writable`](Async::writable) wait for a
/// readiness edge that came after the previous such wait returned (or
/// since registration). Deadlines work as on sockets. All futures are
/// cancel safe.
///
/// # Examples
///
/// A pipe read by a G:
///
/// ```
/// use goro::net::Async;
/// use std::io::{Read, Write};
///
/// goro::run(async {
///     let (r, mut w) = std::io::pipe().unwrap();
///     let r = Async::new(r).unwrap();
///     goro::go(async move {
///         goro::time::sleep(std::time::Duration::from_millis(5)).await;
///         w.write_all(b"pipe").unwrap();
///     });
///     let mut buf = [0; 4];
///     let n = r.read_with(|mut p| p.read(&mut buf)).await.unwrap();
///     assert_eq!(&buf[..n], b"pipe");
/// });
/// ```
pub struct Async<T: AsFd> {
    /// Declared first: dropped (deregistered) before `io` closes the fd.
    reg: Registered<RawSource>,
    io: Option<T>,
    /// The word each direction's last `readable`/`writable` returned on.
    seen: [AtomicUsize; 2],
}

impl<T: AsFd> Async<T> {
    /// Switches `io`'s fd to non-blocking mode and registers it with the
    /// current runtime's poller (the process poller off any runtime).
    pub fn new(io: T) -> io::Result<Async<T>> {
        let fd = io.as_fd().as_raw_fd();
        let bfd = io.as_fd();
        socket2::SockRef::from(&bfd).set_nonblocking(true)?;
        Ok(Async {
            reg: Registered::new(RawSource(fd))?,
            io: Some(io),
            seen: [AtomicUsize::new(0), AtomicUsize::new(0)],
        })
    }

    /// The inner object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("goro: Async emptied")
    }

    /// The inner object, mutably.
    ///
    /// # Safety
    /// The caller must not close or replace the fd (nor `T`): it stays
    /// registered with the poller until the `Async` is dropped.
    pub unsafe fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("goro: Async emptied")
    }

    /// Deregisters the fd and returns the inner object (still
    /// non-blocking).
    pub fn into_inner(mut self) -> T {
        let io = self.io.take().expect("goro: Async emptied");
        // Dropping `self` deregisters; `io` (the fd) outlives that.
        drop(self);
        io
    }

    /// Runs `op` until it does not return `WouldBlock`, parking the G on
    /// read readiness in between. Fails with `TimedOut` past the read
    /// deadline. Cancel safe as far as `op` is (it runs only inside a poll).
    pub async fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.with(Dir::Read, op).await
    }

    /// As [`read_with`](Self::read_with) for write readiness.
    pub async fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.with(Dir::Write, op).await
    }

    async fn with<R>(&self, dir: Dir, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        self.reg.op(dir, |_| op(io)).await
    }

    /// Waits for a read-readiness edge newer than the one the previous
    /// `readable` returned on (any edge since registration for the first).
    pub async fn readable(&self) -> io::Result<()> {
        self.edge(Dir::Read).await
    }

    /// As [`readable`](Self::readable) for write readiness.
    pub async fn writable(&self) -> io::Result<()> {
        self.edge(Dir::Write).await
    }

    async fn edge(&self, dir: Dir) -> io::Result<()> {
        let pd = self.reg.pd();
        let slot = &self.seen[dir as usize];
        let mut reg = WaitReg::new(pd, dir);
        let mut seen = slot.load(Ordering::Relaxed);
        poll_fn(|cx| pd.poll_edge(dir, cx, &mut reg.id, &mut seen)).await?;
        slot.store(seen, Ordering::Relaxed);
        Ok(())
    }

    /// Go's `SetReadDeadline`.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.reg.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.reg.set_deadline(Dir::Write, deadline);
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}
