//! The network poller (Go's `runtime/netpoll.go` and `netpoll_epoll.go`):
//! per runtime a main `mio::Poll` and, with more than one P, one poll
//! instance per P (a connection's two ends share one, picked by a hash of
//! its addresses), one poll descriptor per socket, and the
//! scheduler's hooks that turn readiness into runnable Gs. One file per
//! part:
//!
//! - `waiter.rs`: the waiter word of one direction of a descriptor (Go's
//!   `rg`/`wg`) and its parked wakers;
//! - `poller.rs`: the polls of a runtime (or of the process, for sockets
//!   made off any runtime), which poll a socket registers with, the
//!   break, and when a deregistered descriptor may be freed;
//! - `desc.rs`: poll descriptors (Go's `pollDesc`): registration, an
//!   operation's try-park-retry loop, deadlines, close;
//! - `hooks.rs`: what `findRunnable`, `stopm`, sysmon, the timers, the
//!   deadlock check and shutdown call (Go's `netpoll(0)`,
//!   `netpoll(delay)`, `injectglist`, `netpollBreak`).
//!
//! Under loom there are no sockets: the waiter word is modelled alone
//! (`loom-tests/tests/netpoll.rs`) and the scheduler's hooks do nothing.
//!
//! # Deadlock safety
//! Lock order: a descriptor's deadline lock, then a waiter's list lock;
//! a poll's lock, then a waiter's list lock; never two poll locks at once
//! (the main poll's is released before its instances are polled); a
//! timer's locks (through
//! `crate::time`) only under the deadline lock or none; the poller's
//! `live` map lock and the `release` list locks are leaves. Wakers are taken
//! out under the locks and woken after every lock is released.

mod waiter;

/// The waiter word for the loom models (`runtime::testing`).
pub use waiter::TestWaiter;
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use waiter::*;

/// A direction of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) enum Dir {
    /// Reads, accepts, receives (Go's 'r').
    Read = 0,
    /// Writes, connects, sends (Go's 'w').
    Write = 1,
}

#[cfg(not(loom))]
mod desc;
#[cfg(not(loom))]
mod hooks;
#[cfg(not(loom))]
mod poller;

#[cfg(not(loom))]
pub(crate) use desc::{PollDesc, WaitReg, timeout_error};
#[cfg(not(loom))]
pub(crate) use hooks::*;
#[cfg(not(loom))]
pub(crate) use poller::NetSlot;

// Under loom there are no sockets: the scheduler's hooks do nothing.
#[cfg(loom)]
mod loom_stub {
    use crate::runtime::g::GRef;
    use crate::runtime::p::P;
    use crate::runtime::sched::Sched;
    use std::sync::Arc;

    #[derive(Default)]
    pub(crate) struct NetSlot;

    pub(crate) enum Idle<'a> {
        Park,
        #[allow(dead_code)]
        Again,
        #[allow(dead_code)]
        Run(&'a P),
    }

    pub(crate) fn poll_ready(_: &Arc<Sched>, _: &P) -> Option<GRef> {
        None
    }
    pub(crate) fn block_idle(_: &Arc<Sched>) -> Idle<'_> {
        Idle::Park
    }
    pub(crate) fn timer_changed(_: &Sched) -> bool {
        false
    }
    pub(crate) fn shutdown(_: &Sched) {}
    #[allow(dead_code)] // sysmon does not run under loom
    pub(crate) fn sysmon_poll(_: &Arc<Sched>) {}
    pub(crate) fn io_waiters(_: &Sched) -> usize {
        0
    }
}

#[cfg(loom)]
pub(crate) use loom_stub::*;
