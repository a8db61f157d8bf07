//! The ecosystem's I/O traits for goro's streams, behind cargo features:
//! `futures-io` (`futures::io::AsyncRead`/`AsyncWrite`) and `tokio`
//! (`tokio::io::AsyncRead`/`AsyncWrite`), so codecs, TLS wrappers and HTTP
//! libraries written against them run on goro sockets inside Gs.
//!
//! Each impl polls the same poll descriptor as the stream's own methods,
//! with a registration id kept in the stream (`regs[0]` for reads,
//! `regs[1]` for writes). Flush is a no-op (nothing is buffered); close /
//! shutdown shuts the write direction down (the peer reads EOF).

use super::io::{Registered, StreamIo, poll_read};
use super::{
    OwnedReadHalf, OwnedWriteHalf, TcpStream, UnixOwnedReadHalf, UnixOwnedWriteHalf, UnixStream,
};
use crate::runtime::Dir;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};

fn poll_write<S: StreamIo>(
    io: &Registered<S>,
    reg: &mut u64,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    io.poll_op(Dir::Write, cx, reg, |s| s.write_io(buf))
}

fn poll_write_vectored<S: StreamIo>(
    io: &Registered<S>,
    reg: &mut u64,
    cx: &mut Context<'_>,
    bufs: &[io::IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    io.poll_op(Dir::Write, cx, reg, |s| s.write_vectored_io(bufs))
}

fn close<S: StreamIo>(io: &Registered<S>) -> Poll<io::Result<()>> {
    match io.io().shutdown_io(Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
        _ => Poll::Ready(Ok(())),
    }
}

/// The read traits, for a type with `parts()`.
macro_rules! readers {
    ($($t:ty),*) => {$(
        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncRead for $t {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                let (io, unread, regs) = self.get_mut().parts();
                poll_read(io, unread, &mut regs[0], cx, buf)
            }
        }

        #[cfg(feature = "tokio")]
        impl tokio::io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let (io, unread, regs) = self.get_mut().parts();
                let n = std::task::ready!(poll_read(io, unread, &mut regs[0], cx, buf.initialize_unfilled()))?;
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }
    )*};
}

/// The write traits, for a type with `write_parts()`.
macro_rules! writers {
    ($($t:ty),*) => {$(
        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncWrite for $t {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                let (io, reg) = self.get_mut().write_parts();
                poll_write(io, reg, cx, buf)
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let (io, reg) = self.get_mut().write_parts();
                poll_write_vectored(io, reg, cx, bufs)
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                close(self.get_mut().write_parts().0)
            }
        }

        #[cfg(feature = "tokio")]
        impl tokio::io::AsyncWrite for $t {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                let (io, reg) = self.get_mut().write_parts();
                poll_write(io, reg, cx, buf)
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let (io, reg) = self.get_mut().write_parts();
                poll_write_vectored(io, reg, cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                true
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                close(self.get_mut().write_parts().0)
            }
        }
    )*};
}

readers!(TcpStream, OwnedReadHalf, UnixStream, UnixOwnedReadHalf);
writers!(TcpStream, OwnedWriteHalf, UnixStream, UnixOwnedWriteHalf);
