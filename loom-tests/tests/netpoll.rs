//! loom models of a poll descriptor's waiter word (src/runtime/netpoll/waiter.rs,
//! `Waiter`: a readiness sequence plus CLOSED / EXPIRED / WAITING flags and
//! a waker list under a lock). The property is Go's netpollblock /
//! netpollunblock: an operation that read the word before its system call
//! returned `EWOULDBLOCK` and then parks is always woken by a readiness
//! edge, an expired deadline or a close that happens after that read,
//! whatever the interleaving; and the poller's count of parked waits
//! (`netpollWaiters`, which the deadlock check reads) returns to 0.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test netpoll` in `loom-tests/`.

use goro::runtime::testing::TestWaiter;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::thread;
use std::task::{Wake, Waker};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

fn flag() -> (std::sync::Arc<Flag>, Waker) {
    let f = std::sync::Arc::new(Flag(AtomicBool::new(false)));
    let w = Waker::from(f.clone());
    (f, w)
}

/// A socket: the kernel's receive queue (`data`) beside the waiter. The
/// kernel queues data before the poller can report its edge.
#[derive(Default)]
struct Socket {
    w: TestWaiter,
    data: AtomicBool,
}

impl Socket {
    /// The kernel receives data, then the poller reports the edge.
    fn arrive(&self) {
        self.data.store(true, SeqCst);
        self.w.ready();
    }

    /// One operation of the G (Go's fd.Read): read the word, try the
    /// system call (take the data if there is some), else park with the
    /// word read. Returns whether it parked.
    fn operation(&self, waker: &Waker, reg: &mut u64) -> bool {
        let seen = self.w.load();
        if TestWaiter::failed(seen) {
            return false; // fails at once (closed / past deadline)
        }
        if self.data.swap(false, SeqCst) {
            return false; // the read returned data
        }
        self.w.wait(seen, waker, reg)
    }
}

/// `Socket::operation` on a bare waiter (no data ever arrives).
fn operation(w: &TestWaiter, waker: &Waker, reg: &mut u64) -> bool {
    let seen = w.load();
    if TestWaiter::failed(seen) {
        return false;
    }
    w.wait(seen, waker, reg)
}

/// The interleaving: the poller's edge lands anywhere around the G's
/// read-then-park (before the read, between read and park, after park).
#[test]
fn ready_edge_never_lost() {
    model(|| {
        let s = Arc::new(Socket::default());
        let s2 = s.clone();
        let poller = thread::spawn(move || s2.arrive());
        let (woken, waker) = flag();
        let mut reg = 0;
        let parked = s.operation(&waker, &mut reg);
        poller.join().unwrap();
        // Parked without the data: the edge must have woken it.
        assert!(!parked || woken.0.load(SeqCst), "lost wake-up");
        assert_eq!(s.w.count(), 0, "a woken wait still counted");
    });
}

/// A deadline timer expiring the direction races the park: the G either
/// sees EXPIRED before parking or is woken by it.
#[test]
fn deadline_wakes_or_is_seen() {
    model(|| {
        let w = Arc::new(TestWaiter::new());
        let w2 = w.clone();
        let timer = thread::spawn(move || w2.expire());
        let (woken, waker) = flag();
        let mut reg = 0;
        let parked = operation(&w, &waker, &mut reg);
        timer.join().unwrap();
        assert!(!parked || woken.0.load(SeqCst), "lost deadline wake-up");
        assert!(TestWaiter::failed(w.load()), "the deadline did not stick");
        assert_eq!(w.count(), 0);
    });
}

/// Close races the park (and an edge from the poller): the G ends up
/// woken or failing at once, never parked for good.
#[test]
fn close_and_ready_race_the_park() {
    model(|| {
        let w = Arc::new(TestWaiter::new());
        let (w2, w3) = (w.clone(), w.clone());
        let closer = thread::spawn(move || w2.close());
        let poller = thread::spawn(move || w3.ready()); // an edge, no data
        let (woken, waker) = flag();
        let mut reg = 0;
        let parked = operation(&w, &waker, &mut reg);
        closer.join().unwrap();
        poller.join().unwrap();
        assert!(!parked || woken.0.load(SeqCst), "parked past a close");
        assert_eq!(w.count(), 0);
    });
}

/// Two Gs park on one direction (a shared UDP socket); one edge wakes both.
#[test]
fn two_waiters_both_woken() {
    model(|| {
        let w = Arc::new(TestWaiter::new());
        let w2 = w.clone();
        let other = thread::spawn(move || {
            let (woken, waker) = flag();
            let mut reg = 0;
            let parked = operation(&w2, &waker, &mut reg);
            (parked, woken)
        });
        let (woken, waker) = flag();
        let mut reg = 0;
        let parked = operation(&w, &waker, &mut reg);
        let (parked2, woken2) = other.join().unwrap();
        w.ready();
        assert!(!parked || woken.0.load(SeqCst));
        assert!(!parked2 || woken2.0.load(SeqCst));
        assert_eq!(w.count(), 0);
    });
}

/// A dropped operation (cancel) races the edge that would wake it: the
/// count returns to 0 either way, and a later wait still works.
#[test]
fn cancel_races_ready() {
    model(|| {
        let w = Arc::new(TestWaiter::new());
        let (_woken, waker) = flag();
        let mut reg = 0;
        let parked = operation(&w, &waker, &mut reg);
        assert!(parked, "nothing happened yet: the wait parks");
        let w2 = w.clone();
        let poller = thread::spawn(move || w2.ready());
        w.cancel(reg);
        poller.join().unwrap();
        assert_eq!(w.count(), 0, "a cancelled wait still counted");
        // The edge is not lost for the next operation: it sees the moved
        // sequence and does not park.
        let (_w2, waker2) = flag();
        let mut reg2 = 0;
        let seen_before = 0usize; // the word the cancelled op had read
        assert!(!w.wait(seen_before, &waker2, &mut reg2), "edge lost after cancel");
    });
}

/// A parked wait is dropped on another thread (the G moved): its waker
/// leaves the list and the count, and a later edge wakes nothing.
#[test]
fn cancel_on_another_thread_removes_the_wait() {
    model(|| {
        let w = Arc::new(TestWaiter::new());
        let (woken, waker) = flag();
        let mut reg = 0;
        assert!(operation(&w, &waker, &mut reg), "nothing happened yet");
        let w2 = w.clone();
        thread::spawn(move || w2.cancel(reg)).join().unwrap();
        assert_eq!(w.count(), 0, "a cancelled wait still counted");
        w.ready();
        assert!(!woken.0.load(SeqCst), "a cancelled wait was woken");
    });
}

/// A wait woken by an edge is dropped (its future cancels its old id, on
/// the fast path that takes no lock once the list was emptied) while
/// another wait on the same direction parks: the cancel must leave the
/// other's registration, and the next edge wakes it.
#[test]
fn stale_cancel_leaves_the_other_waiter() {
    model(|| {
        let w = Arc::new(TestWaiter::new());
        let (_a_woken, a_waker) = flag();
        let mut a_reg = 0;
        assert!(operation(&w, &a_waker, &mut a_reg), "nothing happened yet");
        w.ready(); // wakes A, emptying the list
        let w2 = w.clone();
        let b = thread::spawn(move || {
            let (b_woken, b_waker) = flag();
            let mut b_reg = 0;
            let parked = operation(&w2, &b_waker, &mut b_reg);
            (parked, b_woken)
        });
        w.cancel(a_reg);
        let (parked, b_woken) = b.join().unwrap();
        w.ready();
        assert!(!parked || b_woken.0.load(SeqCst), "the other wait lost its wake-up");
        assert_eq!(w.count(), 0);
    });
}

/// A deadline moved to the future (EXPIRED cleared) after firing: a new
/// operation parks again and is woken by the next edge.
#[test]
fn unexpire_then_park_then_ready() {
    model(|| {
        let s = Arc::new(Socket::default());
        s.w.expire();
        s.w.unexpire();
        let s2 = s.clone();
        let poller = thread::spawn(move || s2.arrive());
        let (woken, waker) = flag();
        let mut reg = 0;
        let parked = s.operation(&waker, &mut reg);
        poller.join().unwrap();
        assert!(!parked || woken.0.load(SeqCst));
        assert_eq!(s.w.count(), 0);
    });
}
