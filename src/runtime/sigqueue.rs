//! Signal delivery, process-wide (Go's `runtime/sigqueue.go` and the
//! SIGQUIT traceback of `runtime/signal_unix.go`).
//!
//! The handler of every signal goro handles is one signal-hook action
//! that does only async-signal-safe work: by the signal's disposition
//! (`DISP`, an atomic byte per signal) it records the signal in `PENDING`
//! and writes a byte to a self-pipe (notify), does nothing (ignore), or
//! emulates the default action (default: the action stays installed, so a
//! later `notify` needs no new handler). The pipe's read end is a socket
//! on the process poller; its waker (`Reader`) runs on the poller's thread:
//! it drains the pipe, takes `PENDING`, and hands the set to the
//! `goro::signal` package's deliverer (registered with `set_deliver`, so
//! this layer never names channels). No thread per signal.
//!
//! SIGQUIT is handled from the first runtime on, as Go does: the reader
//! prints the goroutine dump of every live runtime (`RUNTIMES`, weak
//! references registered by `runtime_started`) and exits with status 2.
//!
//! Ordering: the handler sets its `PENDING` bit (SeqCst) before it writes
//! the pipe; the reader drains the pipe before it swaps `PENDING`, so a
//! signal is either in the swap or writes a byte after the drain, whose
//! edge wakes the reader again.

#[cfg(not(loom))]
pub(crate) use imp::*;

#[cfg(not(loom))]
mod imp {
    use crate::loom::Mutex;
    use crate::loom::atomic::{AtomicI32, AtomicU8, AtomicU64, Ordering};
    use crate::runtime::netpoll::{Dir, PollDesc};
    use crate::runtime::sched::Sched;
    use std::io::{self, Read};
    use std::sync::{Arc, OnceLock, Weak};
    use std::task::{Context, Poll, Wake, Waker};

    /// Signals are numbered below this (PENDING is one bit per signal).
    const NSIG: usize = 64;

    /// A signal's disposition: the default action.
    pub(crate) const DEFAULT: u8 = 0;
    /// Delivered to `goro::signal` subscribers.
    pub(crate) const NOTIFY: u8 = 1;
    /// Ignored.
    pub(crate) const IGNORE: u8 = 2;

    /// Per-signal disposition; written by `set_disposition`, read by the
    /// handler.
    static DISP: [AtomicU8; NSIG] = [const { AtomicU8::new(DEFAULT) }; NSIG];
    /// Signals received and not yet delivered (bit n: signal n). Set by
    /// the handler, taken by the reader.
    static PENDING: AtomicU64 = AtomicU64::new(0);
    /// The self-pipe's write end (-1 before `setup`); written once.
    static PIPE_W: AtomicI32 = AtomicI32::new(-1);

    /// Process-wide state created on first use.
    struct State {
        /// Signals whose handler is installed (bit n: signal n).
        installed: Mutex<u64>,
        /// Kept alive here too (the parked read's waker holds it as well).
        _reader: Arc<Reader>,
    }

    /// The self-pipe's read end on the process poller, and what it wakes.
    struct Reader {
        pd: Arc<PollDesc>,
        pipe: mio::net::UnixStream,
        /// The registration id of the parked read (one reader at a time).
        reg: Mutex<u64>,
    }

    /// The deliverer of `goro::signal` (signal set as a bit mask).
    static DELIVER: OnceLock<fn(u64)> = OnceLock::new();

    /// Live runtimes, for the SIGQUIT dump. Pushed by `runtime_started`.
    static RUNTIMES: std::sync::Mutex<Vec<Weak<Sched>>> = std::sync::Mutex::new(Vec::new());

    fn state() -> io::Result<&'static State> {
        static STATE: OnceLock<State> = OnceLock::new();
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        if let Some(s) = STATE.get() {
            return Ok(s);
        }
        let _g = INIT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = STATE.get() {
            return Ok(s);
        }
        let (r, w) = std::os::unix::net::UnixStream::pair()?;
        r.set_nonblocking(true)?;
        w.set_nonblocking(true)?;
        let mut pipe = mio::net::UnixStream::from_std(r);
        let pd = PollDesc::register_process(&mut pipe)?;
        // The write end lives as long as the process: a handler may run
        // at any time.
        PIPE_W.store(std::os::fd::IntoRawFd::into_raw_fd(w), Ordering::SeqCst);
        let reader = Arc::new(Reader {
            pd,
            pipe,
            reg: Mutex::new(0),
        });
        let _ = STATE.set(State {
            installed: Mutex::new(0),
            _reader: reader.clone(),
        });
        reader.run(); // park the first read
        Ok(STATE.get().expect("just set"))
    }

    /// The handler's body: async-signal-safe (atomics, write(2), and
    /// signal-hook's default-action emulation).
    fn action(sig: i32) {
        let i = sig as usize;
        match DISP[i].load(Ordering::SeqCst) {
            NOTIFY => {
                PENDING.fetch_or(1 << i, Ordering::SeqCst);
                let fd = PIPE_W.load(Ordering::SeqCst);
                let b = [1u8];
                // SAFETY: write(2) on our pipe with a valid one-byte buffer;
                // a full pipe (EAGAIN) is fine: the reader is awake anyway.
                let _ = unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
            }
            IGNORE => {}
            _ => {
                let _ = signal_hook::low_level::emulate_default_handler(sig);
            }
        }
    }

    /// Sets `sig`'s disposition, installing goro's handler first if needed
    /// (it is never removed: `DEFAULT` emulates the default action).
    pub(crate) fn set_disposition(sig: i32, disp: u8) -> io::Result<()> {
        let i = usize::try_from(sig).ok().filter(|&i| i > 0 && i < NSIG);
        let Some(i) = i else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        let st = state()?;
        DISP[i].store(disp, Ordering::SeqCst);
        let mut inst = st.installed.lock();
        if *inst & (1 << i) == 0 {
            // SAFETY: `action` is async-signal-safe (see there).
            unsafe { signal_hook::low_level::register(sig, move || action(sig))? };
            *inst |= 1 << i;
        }
        Ok(())
    }

    /// `sig`'s disposition.
    pub(crate) fn disposition(sig: i32) -> u8 {
        usize::try_from(sig)
            .ok()
            .and_then(|i| DISP.get(i))
            .map_or(DEFAULT, |d| d.load(Ordering::SeqCst))
    }

    /// Registers `goro::signal`'s deliverer (first caller wins: there is
    /// one).
    pub(crate) fn set_deliver(f: fn(u64)) {
        let _ = DELIVER.set(f);
    }

    /// Sends `sig` to this process (a signal nobody wants any more, with
    /// its default action restored).
    pub(crate) fn raise(sig: i32) {
        let _ = signal_hook::low_level::raise(sig);
    }

    /// A runtime was built: remember it for the SIGQUIT dump, and handle
    /// SIGQUIT from now on (Go: from program start).
    pub(crate) fn runtime_started(sched: &Arc<Sched>) {
        {
            let mut rts = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
            rts.retain(|w| w.strong_count() > 0);
            rts.push(Arc::downgrade(sched));
        }
        if disposition(libc::SIGQUIT) != NOTIFY {
            // Best effort: with no pipe or handler, SIGQUIT keeps its
            // default action.
            let _ = set_disposition(libc::SIGQUIT, NOTIFY);
        }
    }

    impl Reader {
        /// Drains the pipe (parking the read again), then delivers.
        fn run(self: &Arc<Self>) {
            let waker = Waker::from(self.clone());
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0u8; 64];
            {
                let mut reg = self.reg.lock();
                loop {
                    let r = self.pd.poll_io_uncharged(Dir::Read, &mut cx, &mut reg, || {
                        (&self.pipe).read(&mut buf)
                    });
                    match r {
                        Poll::Ready(Ok(n)) if n > 0 => continue,
                        _ => break, // parked (or the pipe failed: give up)
                    }
                }
            }
            let pending = PENDING.swap(0, Ordering::SeqCst);
            if pending & (1 << libc::SIGQUIT) != 0 {
                quit();
            }
            if pending != 0 {
                if let Some(f) = DELIVER.get() {
                    f(pending);
                }
            }
        }
    }

    impl Wake for Reader {
        fn wake(self: Arc<Self>) {
            self.run();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.run();
        }
    }

    /// Go's SIGQUIT: the goroutine dump of every live runtime on standard
    /// error, then exit status 2.
    fn quit() -> ! {
        let rts: Vec<Arc<Sched>> = RUNTIMES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let mut out = String::from("SIGQUIT: quit\n");
        for (i, s) in rts.iter().enumerate() {
            let procs = s.gomaxprocs.load(Ordering::Relaxed);
            out.push_str(&format!("\nruntime {} (gomaxprocs={procs}):\n", i + 1));
            out.push_str(&crate::runtime::trace::dump(s));
        }
        eprintln!("{out}");
        std::process::exit(2)
    }
}

/// Under loom: no signals.
#[cfg(loom)]
pub(crate) fn runtime_started(_: &std::sync::Arc<super::sched::Sched>) {}
