//! The runtime: goroutines (G) on OS threads (M) holding processors (P).
//!
//! This module owns the public runtime API (Go's `runtime` package and the
//! program's `main`): [`run`], [`go`], [`Runtime`], [`gosched`],
//! [`num_goroutine`], [`gomaxprocs`], [`blocking`], [`block_on`]. The pieces
//! mirror Go's proc.go: `g.rs` (G, waker = goready, JoinHandle), `p.rs`,
//! `owner.rs` (who owns a P: the M, sysmon's retake, shutdown's close),
//! `runq.rs` (runqput/runqget/runqsteal), `m.rs` (schedule, findRunnable,
//! entersyscall/exitsyscall), `globrunq.rs` (the global queue's two
//! classes), `sched.rs` (global queue, idle lists, wakep, startm, stopm,
//! handoffp, procresize, shutdown), `registry.rs` (allgs), `sysmon.rs`,
//! `trace.rs` (dumps, checkdead, schedtrace), `netpoll/` (the network
//! poller), `sigqueue.rs` (signal delivery), `timers.rs` (per-P timer heaps, Go's time.go: a timer is
//! a waker or an action, so the runtime never names a channel),
//! `testing.rs` (hidden hooks for the models). Wait reasons and the
//! thread parker live in the leaf module `crate::task`, below the runtime.
//!
//! # Examples
//!
//! ```
//! // func main() { go worker(ch); fmt.Println(<-ch) }
//! let v = goro::run(async {
//!     let (tx, rx) = goro::chan::<&str>(0);
//!     goro::go(async move { tx.send("done").await.unwrap() });
//!     rx.recv().await
//! });
//! assert_eq!(v, Some("done"));
//! ```

mod g;
mod gcache;
mod globrunq;
mod m;
// [netpoll] the network poller (Go's netpoll.go).
mod netpoll;
mod owner;
mod p;
mod registry;
mod runq;
mod sched;
// [signal] process-wide signal delivery and the SIGQUIT dump (sigqueue.go).
pub(crate) mod sigqueue;
mod sysmon;
#[doc(hidden)]
pub mod testing;
pub(crate) mod timers;
mod trace;

pub use crate::task::wait::WaitReason;
pub use g::{JoinError, JoinHandle};

// [netpoll] the poller's types for goro::net.
#[cfg(not(loom))]
pub(crate) use netpoll::{Dir, PollDesc, WaitReg, timeout_error};

pub(crate) use crate::task::park::ThreadParker;

use crate::loom::atomic::Ordering;
use sched::Sched;
use std::future::Future;
use std::panic::Location;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A goro runtime: a set of Ps and the Ms that run them.
///
/// Most programs use [`run`], which builds one, runs the main G and shuts
/// it down. Several runtimes may live in one process; each has its own Ps,
/// Ms, Gs and timers. Dropping a `Runtime` shuts it down.
///
/// ```
/// let rt = goro::Runtime::builder().max_procs(2).build();
/// let h = rt.spawn(async { 6 * 7 });
/// assert_eq!(rt.block_on(h).unwrap(), 42);
/// ```
pub struct Runtime {
    sched: Arc<Sched>,
}

/// Configures a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = goro::Runtime::builder()
///     .max_procs(2)
///     .detect_deadlock(false)
///     .build();
/// let v = rt.block_on(async { goro::gomaxprocs(0) });
/// assert_eq!(v, 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    max_procs: Option<usize>,
    detect_deadlock: bool,
    max_threads: Option<usize>,
}

impl Builder {
    /// The number of Ps (`GOMAXPROCS`). Default: the `GOMAXPROCS`
    /// environment variable if set, else the number of cores.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(3).build();
    /// assert_eq!(rt.block_on(async { goro::gomaxprocs(0) }), 3);
    /// ```
    pub fn max_procs(mut self, n: usize) -> Self {
        self.max_procs = Some(n.max(1));
        self
    }

    /// Whether `block_on` panics with `all goroutines are asleep -
    /// deadlock!` when every G is parked on goro primitives with no timer
    /// or blocking call pending. Default off (Gs may be fed by plain
    /// threads); [`run`] turns it on.
    ///
    /// # Examples
    ///
    /// With detection on, a `block_on` whose Gs can never make progress panics
    /// instead of hanging (Go's `fatal error: all goroutines are asleep`):
    ///
    /// ```
    /// use std::panic::{AssertUnwindSafe, catch_unwind};
    /// let rt = goro::Runtime::builder().detect_deadlock(true).build();
    /// let res = catch_unwind(AssertUnwindSafe(|| {
    ///     rt.block_on(async {
    ///         let (tx, rx) = goro::chan::<i32>(0);
    ///         let v = rx.recv().await; // nobody will ever send
    ///         drop(tx);
    ///         v
    ///     })
    /// }));
    /// let payload = res.unwrap_err();
    /// let msg = payload
    ///     .downcast_ref::<String>()
    ///     .map(String::as_str)
    ///     .or_else(|| payload.downcast_ref::<&str>().copied())
    ///     .unwrap();
    /// assert!(msg.contains("all goroutines are asleep - deadlock!"));
    /// ```
    pub fn detect_deadlock(mut self, on: bool) -> Self {
        self.detect_deadlock = on;
        self
    }

    /// The most OS threads (Ms) the runtime may start: Go's
    /// `debug.SetMaxThreads`, default 10,000 as in Go. Ms run Gs, and one
    /// more is needed for every G inside [`blocking`] (or a `*_blocking`
    /// operation or [`block_on`]) whose P was handed off; idle Ms are
    /// reused. Starting one more than this is Go's fatal error: the
    /// runtime panics with `runtime: program exceeds N-thread limit`, and
    /// [`run`] ends with that panic. Values below 1 count as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(2).max_threads(64).build();
    /// let v = rt.block_on(async {
    ///     let h = goro::go(async { goro::blocking(|| 20) });
    ///     h.await.unwrap() + goro::blocking(|| 22)
    /// });
    /// assert_eq!(v, 42);
    /// ```
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = Some(n.max(1));
        self
    }

    /// Builds the runtime. Its Ms start lazily, when Gs need them.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(1).build();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// rt.shutdown();
    /// ```
    pub fn build(self) -> Runtime {
        let procs = self.max_procs.unwrap_or_else(default_procs);
        let sched = Sched::new(
            procs,
            self.detect_deadlock,
            self.max_threads.unwrap_or(sched::MAX_THREADS),
        );
        sigqueue::runtime_started(&sched); // [signal] SIGQUIT dumps it
        Runtime { sched }
    }
}

/// `GOMAXPROCS` from the environment, else the core count.
fn default_procs() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime with the default number of Ps.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// let h = rt.spawn(async { "hello" });
    /// assert_eq!(rt.block_on(h).unwrap(), "hello");
    /// ```
    pub fn new() -> Runtime {
        Builder::default().build()
    }

    /// A [`Builder`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(1).build();
    /// assert_eq!(rt.block_on(async { goro::gomaxprocs(0) }), 1);
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Spawns a G on this runtime (Go's `go`), from any thread. The G runs
    /// whether or not anyone is inside `block_on`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// // The G runs on the runtime's threads; this thread just waits for its value.
    /// let _h = rt.spawn(async move {
    ///     for i in 1..=3 {
    ///         tx.send(i).await.unwrap();
    ///     }
    /// });
    /// let got: Vec<u32> = rx.iter().collect();
    /// assert_eq!(got, vec![1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.sched, fut, Location::caller())
    }

    /// Runs `fut` as a G on this runtime and blocks the calling thread until
    /// it finishes; returns its output. Callable again, and from several
    /// threads at once. A panic in `fut` is resumed here. Called from
    /// inside a G, the caller's P is handed off while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// let data = vec![1, 2, 3];
    /// // The future may borrow from the caller's stack.
    /// let sum = rt.block_on(async { data.iter().sum::<i32>() });
    /// assert_eq!(sum, 6);
    /// // The runtime can be entered again.
    /// assert_eq!(rt.block_on(async { data.len() }), 3);
    /// ```
    #[track_caller]
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let site = Location::caller();
        let exit = self.sched.detect_deadlock;
        match blocking(|| block_on_sched(&self.sched, fut, site, exit)) {
            Ok(v) => v,
            Err(e) => e.raise(),
        }
    }

    /// Shuts the runtime down: stops its Ms, joins their threads, and drops
    /// every G that has not finished (their `JoinHandle`s report
    /// cancellation). Gs still inside a poll or a blocking call after a
    /// short grace period (one for all of them) are not waited for: each is
    /// dropped by its own thread when that poll ends. A spawn racing the
    /// shutdown either runs or is cancelled. Idempotent; dropping the
    /// `Runtime` does the same.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// let (tx, rx) = goro::chan::<u8>(0);
    /// // This G waits forever: shutdown drops it.
    /// let h = rt.spawn(async move { rx.recv().await });
    /// rt.shutdown();
    /// let err = goro::block_on(h).unwrap_err();
    /// assert!(err.is_cancelled());
    /// drop(tx);
    /// ```
    pub fn shutdown(&self) {
        self.sched.shutdown();
    }

    /// The number of live Gs of this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// assert_eq!(rt.num_goroutine(), 0);
    /// let (tx, rx) = goro::chan::<u8>(0);
    /// let h = rt.spawn(async move { rx.recv().await });
    /// assert_eq!(rt.num_goroutine(), 1);
    /// tx.send_blocking(9).unwrap();
    /// assert_eq!(goro::block_on(h).unwrap(), Some(9));
    /// ```
    pub fn num_goroutine(&self) -> usize {
        self.sched.registry.len()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.sched.shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("gomaxprocs", &self.sched.gomaxprocs.load(Ordering::Relaxed))
            .finish()
    }
}

/// Runs `fut` as the program's main G (Go's `main`) on a new runtime, and
/// shuts the runtime down when it returns: other Gs still running are
/// dropped, as Go's exit kills them. A panic in any detached G ends `run`
/// at once with that panic.
///
/// # Deadlocks
///
/// Deadlock detection is on (Go's `checkdead`): when every G is parked on
/// goro primitives (channels, select, WaitGroup, joins, ...), no timer is
/// pending and nothing is inside a blocking call, `run` panics, from the
/// thread that called it, with `fatal error: all goroutines are asleep -
/// deadlock!`, the goroutine dump and a note; the panic hook prints them,
/// so a program that does not catch the panic shows the report on stderr
/// and exits non-zero, as a Go program does.
///
/// Go can assume every thread is the runtime's; a goro program can also
/// have plain threads, which the runtime cannot see. So nothing is
/// reported while a G waits on another future's waker or the network, or
/// while any thread of the process is inside a goro blocking operation
/// (`*_blocking`, [`block_on`], `wait_blocking`), since that thread may
/// feed the Gs. A plain thread that is doing anything else (sleeping,
/// computing, waiting on something that is not goro's) before it wakes a
/// G is invisible, and the report would be wrong: do that thread's work in
/// a G inside [`blocking`] (its M then counts as running), or run the
/// program on a [`Runtime`] without detection
/// (`Runtime::builder().detect_deadlock(false)`, the default for a
/// `Runtime`).
///
/// ```
/// let sum = goro::run(async {
///     let h = goro::go(async { 40 });
///     h.await.unwrap() + 2
/// });
/// assert_eq!(sum, 42);
/// ```
///
/// A deadlock, caught (a program that does not catch it prints the report
/// and exits with an error):
///
/// ```
/// let r = std::panic::catch_unwind(|| {
///     goro::run(async {
///         let (_tx, rx) = goro::chan::<i32>(0);
///         rx.recv().await // nobody will ever send
///     })
/// });
/// let report = r.unwrap_err().downcast::<String>().unwrap();
/// assert!(report.starts_with("fatal error: all goroutines are asleep - deadlock!"));
/// assert!(report.contains("goroutine 1 [chan receive]:"));
/// ```
#[track_caller]
pub fn run<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    let site = Location::caller();
    let rt = Runtime::builder().detect_deadlock(true).build();
    let out = blocking(|| block_on_sched(&rt.sched, fut, site, true));
    rt.shutdown();
    let out = match out {
        Ok(v) => v,
        Err(e) => e.raise(),
    };
    if let Some(p) = rt.sched.take_panic() {
        Ended::Panic(p).raise();
    }
    out
}

/// Spawns a G on the current runtime (Go's `go f()`): it goes to this P's
/// `runnext` and runs soon, concurrently with the caller. Dropping the
/// [`JoinHandle`] detaches the G.
///
/// # Panics
/// Outside a goro runtime (not inside a G).
///
/// # Examples
///
/// ```
/// let squares = goro::run(async {
///     let (tx, rx) = goro::chan::<u64>(0);
///     for i in 1..=3u64 {
///         let tx = tx.clone();
///         goro::go(async move { tx.send(i * i).await.unwrap() }); // go func() { ch <- i * i }()
///     }
///     drop(tx);
///     let mut v = Vec::new();
///     while let Some(x) = rx.recv().await {
///         v.push(x);
///     }
///     v.sort();
///     v
/// });
/// assert_eq!(squares, vec![1, 4, 9]);
/// ```
#[track_caller]
pub fn go<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = Location::caller();
    let sched = current_sched()
        .expect("goro::go called outside a goro runtime (use goro::run or Runtime::spawn)");
    spawn_on(&sched, fut, site)
}

/// The one spawner of callbacks that run "in a new G" but are fired later,
/// from whatever thread fires them (timer and context `after_func`; Go
/// runs such an `f` with `go f()`).
///
/// It holds the runtime that was current where it was made (the arming
/// G's), weakly, so a timer sitting in that runtime's own heap does not keep
/// the runtime alive. [`Spawner::spawn_fn`] starts the callback in a new G
/// there, whichever thread calls it (an M, sysmon, a plain thread). Made
/// off any runtime, it uses the runtime of the thread that fires it, or,
/// off any runtime there too, a new OS thread.
#[derive(Clone, Debug)]
pub(crate) struct Spawner(Option<std::sync::Weak<Sched>>);

impl Spawner {
    /// Captures the runtime of this thread (none on a thread that is not
    /// one of a runtime's Ms).
    pub(crate) fn current() -> Spawner {
        Spawner(m::with_m(|m| m.map(|m| Arc::downgrade(&m.sched))))
    }

    /// Runs `f` in a new G of the captured runtime (see the type's docs).
    /// If that runtime was shut down or dropped, `f` is dropped without
    /// running, as a Go program's exit drops its pending callbacks. Call
    /// with no lock held: dropping `f` may run user code.
    #[track_caller]
    pub(crate) fn spawn_fn(&self, f: impl FnOnce() + Send + 'static) {
        let site = Location::caller();
        let sched = match &self.0 {
            Some(weak) => weak.upgrade(),
            None => current_sched(),
        };
        match sched {
            Some(s) => drop(spawn_on(&s, async move { f() }, site)),
            None if self.0.is_some() => drop(f), // its runtime is gone
            None => drop(crate::loom::thread::spawn(f)),
        }
    }
}

/// The runtime of the G (or M) running on this thread.
pub(crate) fn current_sched() -> Option<Arc<Sched>> {
    m::with_m(|m| m.map(|m| m.sched.clone()))
}

/// Go's `newproc`.
fn spawn_on<F>(
    sched: &Arc<Sched>,
    fut: F,
    site: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (run, join) = new_g(sched, fut, site);
    publish(sched, run);
    JoinHandle::new(join)
}

/// Allocates a G for `fut`: (its run reference, its JoinHandle reference).
fn new_g<F>(sched: &Arc<Sched>, fut: F, site: &'static Location<'static>) -> (g::GRef, g::GRef)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let id = sched.next_goid();
    let parent = m::with_current_g(|h| h.id).unwrap_or(0);
    g::GRef::new(fut, sched.clone(), id, parent, site)
}

/// `newproc` once the G exists: registers it, queues it and wakes an M.
/// A G spawned after shutdown closed the registry never runs: it is
/// cancelled here, so its JoinHandle resolves.
fn publish(sched: &Arc<Sched>, run: g::GRef) {
    if sched.shutdown.load(Ordering::Acquire) {
        return never_runs(run);
    }
    if let Err(reg) = sched.registry.insert(run.clone_ref()) {
        drop(reg);
        return never_runs(run);
    }
    match m::spawn_put_local(sched, run) {
        Some(run) => {
            sched.global_push_batch(Some(run));
            sched.wakep();
        }
        // On this M's P: it runs the G itself if no other M comes.
        None => sched.wakep_local(),
    }
}

/// Cancels a G nobody else has seen yet (it was never published).
#[cold]
fn never_runs(run: g::GRef) {
    // The claim: nobody else holds a run reference to it.
    run.header().state.store(g::RUNNING, Ordering::Relaxed);
    run.cancel_claimed();
}

/// Runs `fut` as a G and parks this thread until it ends: its output, or
/// how it ended without one (for the caller to raise). The G may borrow
/// from the caller: we never return or unwind before it has finished or
/// been dropped (`Borrowed`).
fn block_on_sched<F>(
    sched: &Arc<Sched>,
    fut: F,
    site: &'static Location<'static>,
    exit_on_panic: bool,
) -> Result<F::Output, Ended>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut out: Option<F::Output> = None;
    let slot = SendPtr(&mut out as *mut Option<F::Output>);
    let main = async move {
        let slot = slot;
        let v = fut.await;
        // SAFETY: `out` outlives the G (see below) and only this G writes it.
        unsafe { *slot.0 = Some(v) };
    };
    let boxed: Pin<Box<dyn Future<Output = ()> + Send + '_>> = Box::pin(main);
    // SAFETY: the G is finished or its future dropped before this function
    // returns or unwinds, and before `out` goes: on every way out,
    // `Borrowed` (declared after `out`, so dropped before it) waits for
    // that, cancelling the G first if it is not done.
    let boxed: Pin<Box<dyn Future<Output = ()> + Send + 'static>> =
        unsafe { std::mem::transmute(boxed) };
    let (run, join) = new_g(sched, boxed, site);
    let _borrowed = Borrowed {
        sched,
        g: run.clone_ref(),
    };
    publish(sched, run);
    let mut h = JoinHandle::<()>::new(join);
    let parker = Arc::new(ThreadParker::new());
    let waker = Waker::from(parker.clone());
    sched.add_watcher(&waker);
    let mut cx = Context::from_waker(&waker);
    let res = loop {
        if let Poll::Ready(r) = pin!(&mut h).poll(&mut cx) {
            break r;
        }
        if exit_on_panic && sched.has_panic.load(Ordering::SeqCst) {
            sched.shutdown(); // drops the main G's future too
        }
        parker.park();
    };
    sched.remove_watcher(&waker);
    match res {
        Ok(()) => Ok(out.take().expect("main G finished without output")),
        Err(e) if e.is_panic() => Err(Ended::Panic(e.into_panic())),
        Err(_) => Err(sched.take_panic().map_or(Ended::ShutDown, Ended::Panic)),
    }
}

/// How `block_on_sched` ended without its output. Raised by its caller
/// (`run`, `Runtime::block_on`), whose `#[track_caller]` location a new
/// panic then names.
enum Ended {
    /// The main G's panic, a detached G's, or the deadlock report.
    Panic(Box<dyn std::any::Any + Send>),
    /// The runtime was shut down under the waiting `block_on`.
    ShutDown,
}

impl Ended {
    /// Raises the end: a G's panic is resumed (the panic hook already
    /// printed it on the G's thread); the deadlock report becomes a new
    /// panic with the report as its `String` payload, which the hook
    /// prints (Go's `fatal error: all goroutines are asleep`).
    #[track_caller]
    fn raise(self) -> ! {
        match self {
            Ended::Panic(p) => match p.downcast::<trace::DeadlockReport>() {
                Ok(report) => std::panic::panic_any(report.0),
                Err(p) => std::panic::resume_unwind(p),
            },
            Ended::ShutDown => {
                panic!("goro: the runtime was shut down while block_on was waiting")
            }
        }
    }
}

/// Guards a G whose future borrows from `block_on_sched`'s caller: when
/// dropped (the normal return, or a panic unwinding the caller's frame,
/// e.g. from `newm`), the G is cancelled if it has not finished, and this
/// waits until its future is gone (if another M is polling it, until that
/// poll ends).
struct Borrowed<'a> {
    sched: &'a Arc<Sched>,
    g: g::GRef,
}

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        self.sched.cancel_and_wait(&self.g);
    }
}

struct SendPtr<T>(*mut T);
// SAFETY: the pointer is only written by the one G that owns it, and read by
// the waiting thread after that G finished (JoinHandle Acquire).
unsafe impl<T: Send> Send for SendPtr<T> {}

/// Yields the processor (Go's `runtime.Gosched`): the P runs something else
/// first. Outside a G it yields the thread.
///
/// Fairness: every G already in the P's local queue runs before the
/// yielder, and so does the P's fair share of the global run queue, which
/// the P takes when its local queue runs dry, as in Go (and at its 61st
/// tick the yielder is queued anyway, so it cannot starve). Go puts the
/// yielder on the global queue; goro keeps it in a per-P buffer and queues
/// it on the same P behind that share, or sends it to the global queue at
/// once if another P is idle (see the README's differences from Go). Not a
/// cancellation point: dropping the future before it completes is harmless.
///
/// # Examples
///
/// Spin politely until another G is done, as Go code does with
/// `runtime.Gosched()` in a loop:
///
/// ```
/// goro::run(async {
///     let h = goro::go(async { 21 * 2 });
///     while !h.is_finished() {
///         goro::gosched().await;
///     }
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
pub async fn gosched() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        // In a G, the M puts it on the global queue after this poll. Polled
        // with the G's own waker, that is all (no self-wake); under another
        // waker (a combinator inside the G) the wake goes through it too.
        let own = m::with_m(|m| match m {
            Some(m) if m.polling_g() => {
                m.yield_global.set(true);
                let w = cx.waker();
                w.data() == m.cur_g.get() as *const ()
                    && std::ptr::eq(w.vtable(), g::waker_vtable())
            }
            Some(_) | None => {
                std::thread::yield_now();
                false
            }
        });
        if !own {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await
}

/// The number of live Gs of the current runtime (Go's
/// `runtime.NumGoroutine`); 0 outside a runtime.
///
/// # Examples
///
/// ```
/// assert_eq!(goro::num_goroutine(), 0); // no runtime here
/// goro::run(async {
///     let (tx, rx) = goro::chan::<()>(0);
///     let h = goro::go(async move { rx.recv().await });
///     assert_eq!(goro::num_goroutine(), 2); // main and the new G
///     drop(tx);
///     h.await.unwrap();
/// });
/// ```
pub fn num_goroutine() -> usize {
    current_sched().map_or(0, |s| s.registry.len())
}

/// Go's `runtime.GOMAXPROCS(n)`: with `n == 0` only reads; otherwise
/// resizes the current runtime's set of Ps while Gs run, and returns the
/// previous value. Outside a runtime, returns the default for new ones.
///
/// # Examples
///
/// ```
/// goro::run(async {
///     let prev = goro::gomaxprocs(2); // runtime.GOMAXPROCS(2)
///     assert_eq!(goro::gomaxprocs(0), 2);
///     goro::gomaxprocs(prev);
///     assert_eq!(goro::gomaxprocs(0), prev);
/// });
/// ```
pub fn gomaxprocs(n: usize) -> usize {
    match current_sched() {
        Some(s) if n == 0 => s.gomaxprocs.load(Ordering::Relaxed),
        Some(s) => s.procresize(n),
        None => default_procs(),
    }
}

/// Runs a blocking closure on the current thread as Go runs a blocking
/// system call (`entersyscallblock`: the caller says it will block).
/// Inside a G, if the P has work (queued Gs, a timer due soon, an M waiting
/// for a P), it is handed to another M at once, an idle one if there is
/// one, so the P's other Gs keep running; a P with no work stays with the
/// call, so a call that returns quickly costs no thread switch (if work
/// appears meanwhile, the runtime's monitor hands the P off within one of
/// its rounds). Afterwards the G continues once it holds a P again. Each
/// call whose P was handed off holds one OS thread while it runs
/// ([`Builder::max_threads`] caps them). Outside a G it just calls `f`.
/// Inside `f` the G has no cooperative budget (channel operations there
/// never yield), as tokio's `block_in_place`.
///
/// # Examples
///
/// A blocking call does not stall the other Gs, even with a single P:
///
/// ```
/// let rt = goro::Runtime::builder().max_procs(1).build();
/// let v = rt.block_on(async {
///     let (tx, rx) = std::sync::mpsc::channel::<i32>();
///     goro::go(async move { tx.send(7).unwrap() });
///     // Blocks this thread; the P goes to another thread, which runs the G.
///     goro::blocking(|| rx.recv().unwrap())
/// });
/// assert_eq!(v, 7);
/// ```
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    m::blocking(f)
}

/// Go's plain `entersyscall` around `f`: for a call that usually returns
/// at once but may block (a name lookup). The P stays with the call and is
/// retaken by sysmon only if it lasts (see `m::syscall`).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn syscall<R>(f: impl FnOnce() -> R) -> R {
    m::syscall(f)
}

/// Drives a future to completion on the current thread, parking the
/// thread between polls (no runtime needed). Inside a G the P is handed off
/// first, as for [`blocking`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = goro::chan::<&str>(0);
/// let t = std::thread::spawn(move || goro::block_on(async { tx.send("ping").await }));
/// let got = goro::block_on(async { rx.recv().await });
/// assert_eq!(got, Some("ping"));
/// t.join().unwrap().unwrap();
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    blocking(|| crate::task::park::block_on_thread(fut))
}

/// Records why the current G is about to park (no-op outside a G).
#[inline]
pub(crate) fn set_wait_reason(r: WaitReason) {
    m::with_current_g(|h| h.wait_reason.store(r.to_u8(), Ordering::Relaxed));
}

/// Arms a timer on the current P's heap (Go's per-P timers). If it became
/// the heap's earliest, a sleeping M is told to wake by then (Go's
/// `wakeNetPoller`). Err when this thread is not an M (the caller uses the
/// fallback timer thread).
///
/// Only a P this M provably owns takes the timer (between polls, or
/// inside a poll under the ownership handshake): a P that sysmon retook
/// may be retired by `procresize` meanwhile, and a timer added to a
/// retired P's heap would never fire. An M that holds no P (it lost it in
/// the middle of a poll, or is inside `blocking`) still belongs to the
/// runtime: its G's timer goes on P 0's heap (never retired; the heap has
/// its own lock), so the runtime fires it and the deadlock check sees it.
pub(crate) fn add_timer(t: timers::TimerRef) -> Result<(), timers::TimerRef> {
    m::with_m(|m| {
        let Some(m) = m else { return Err(t) };
        let mut t = Some(t);
        let mut add = |p: &p::P| p.timers.add(t.take().expect("added once"));
        let earliest = match m.with_owned_p(&mut add) {
            Some(e) => e,
            None => match m.sched.p(0) {
                Some(p0) => add(p0),
                None => return Err(t.take().expect("not added")),
            },
        };
        if earliest {
            m.sched.timer_changed();
        }
        Ok(())
    })
}

/// The goroutine dump of the current runtime (Go's `runtime.Stack(buf,
/// true)`): one entry per live G, in goid order, each
/// `goroutine N [state or wait reason, M minutes]:` then
/// `created by goroutine P at file:line:col` (the `go` call site). Empty
/// outside a runtime.
///
/// ```
/// goro::run(async {
///     let (_tx, rx) = goro::chan::<u8>(0);
///     let _h = goro::go(async move { rx.recv().await });
///     // Give the G time to run and park in its receive.
///     let mut dump = goro::runtime::stack();
///     for _ in 0..1000 {
///         if dump.contains("[chan receive]") {
///             break;
///         }
///         goro::time::sleep(std::time::Duration::from_millis(1)).await;
///         dump = goro::runtime::stack();
///     }
///     assert!(dump.contains("[chan receive]"), "{dump}");
/// });
/// ```
pub fn stack() -> String {
    current_sched().map_or_else(String::new, |s| trace::dump(&s))
}

/// Go's `SCHED` line for the current runtime, as `GODEBUG=schedtrace`
/// prints it. Empty outside a runtime.
///
/// # Examples
///
/// ```
/// assert_eq!(goro::runtime::schedtrace_line(), ""); // no runtime here
/// goro::run(async {
///     let line = goro::runtime::schedtrace_line();
///     assert!(line.starts_with("SCHED "));
///     assert!(line.contains("gomaxprocs="));
/// });
/// ```
pub fn schedtrace_line() -> String {
    current_sched().map_or_else(String::new, |s| trace::line(&s, std::time::Instant::now()))
}

/// Charges one channel operation to the running G's cooperative budget;
/// see `m::coop_proceed`. Channel futures call it first.
#[inline]
pub(crate) fn coop_proceed(cx: &mut Context<'_>) -> Poll<()> {
    m::coop_proceed(cx)
}

/// Whether a sync primitive's locker may spin now (Go's
/// `sync_runtime_canSpin`, less the round and core counts): see
/// `m::sync_can_spin`.
#[inline]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn sync_can_spin() -> bool {
    m::sync_can_spin()
}

/// `coop_proceed` for a select, which charges less (see `m::COOP_BUDGET`).
#[inline]
pub(crate) fn coop_proceed_select(cx: &mut Context<'_>) -> Poll<()> {
    m::coop_proceed_select(cx)
}

/// Charges one select if the budget allows; false when it is spent (the
/// caller then awaits a yield point). See `m::coop_spend`.
#[inline]
pub(crate) fn coop_spend() -> bool {
    m::coop_spend()
}
