//! The network poller inside the scheduler: 10,000 connections on a few
//! threads, the deadlock detector and the goroutine dump with Gs in I/O
//! wait, prompt wake-ups when every M sleeps, and `EMFILE`.
//!
//! Tests that count threads or lower a limit run in a child process (this
//! binary, re-run with `--exact <test>` and a role in the environment), so
//! other tests' runtimes do not disturb them.

mod net_common;

use goro::net::{TcpListener, TcpStream};
use net_common::{run, threads};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROLE: &str = "GORO_NET_POLLER_ROLE";

/// Re-runs this binary for `test` with `ROLE=role`.
fn child(test: &str, role: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role);
    c
}

fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

const CONNS: usize = 10_000;
const PROCS: usize = 2;

#[test]
fn ten_thousand_connections_on_gomaxprocs_plus_a_few_threads() {
    if role().as_deref() == Some("server") {
        return echo_server_child();
    }
    let mut srv = child(
        "ten_thousand_connections_on_gomaxprocs_plus_a_few_threads",
        "server",
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = BufReader::new(srv.stdout.take().unwrap());
    let addr: std::net::SocketAddr = read_tagged(&mut out, "addr ").parse().unwrap();
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c.write_all(&[(i % 256) as u8]).unwrap();
        conns.push(c);
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut b = [0];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], (i % 256) as u8);
    }
    assert!(t0.elapsed() < Duration::from_secs(120));
    // Every server G has echoed and parked in its next read: count.
    srv.stdin.as_mut().unwrap().write_all(b"report\n").unwrap();
    let names = read_tagged(&mut out, "names ");
    let n: usize = read_tagged(&mut out, "threads ").parse().unwrap();
    drop(conns);
    drop(srv.stdin.take());
    assert!(srv.wait().unwrap().success());
    // The harness's two threads, sysmon, the process poller (signals),
    // the M stuck in the blocking stdin read, the Ms running the Ps, the
    // one blocked in the poller, and spares from `blocking` hand-offs: a
    // few, not one per connection.
    assert!(
        n <= PROCS + 8,
        "{n} threads ({names}) for {CONNS} connections on {PROCS} Ps"
    );
}

/// What follows `tag` on the first line of `out` holding it (the test
/// harness prints on the same lines).
fn read_tagged(out: &mut impl BufRead, tag: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "child ended before {tag:?}"
        );
        if let Some(at) = line.find(tag) {
            return line[at + tag.len()..].trim().to_string();
        }
    }
}

fn echo_server_child() {
    let rt = goro::Runtime::builder().max_procs(PROCS).build();
    rt.block_on(async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("addr {}", ln.local_addr().unwrap());
        goro::go(async move {
            while let Ok((c, _)) = ln.accept().await {
                goro::go(async move {
                    let mut b = [0; 16];
                    while let Ok(n @ 1..) = c.read(&mut b).await {
                        if c.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        // Wait for the parent's "report" line off the P.
        goro::blocking(|| {
            let mut l = String::new();
            std::io::stdin().read_line(&mut l).unwrap();
        });
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .unwrap_or_default();
        println!("names {}", names.join(","));
        println!("threads {}", threads());
        goro::blocking(|| {
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
        });
    });
}

#[test]
fn deadlock_detector_quiet_while_gs_wait_on_io() {
    // goro::run has deadlock detection on: a G parked in accept for 300 ms
    // (a plain thread connects later) is alive, as in Go.
    run(20, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"late").unwrap();
        });
        let (c, _) = ln.accept().await.unwrap();
        let mut buf = [0; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"late");
        goro::blocking(|| t.join().unwrap());
    });
}

#[test]
fn deadlock_still_reported_when_no_g_waits_on_io() {
    // A listener that nobody accepts on does not keep a deadlocked program
    // alive (Go counts waiting Gs, not open sockets).
    let r = std::thread::spawn(|| {
        goro::run(async {
            let _ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (_tx, rx) = goro::chan::<()>(0);
            rx.recv().await
        })
    })
    .join();
    let p = r.unwrap_err();
    let msg = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("all goroutines are asleep"), "{msg}");
}

#[test]
fn goroutine_dump_shows_io_wait() {
    run(10, async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        let h = goro::go(async move { ln.accept().await.map(|_| ()) });
        let mut dump = String::new();
        for _ in 0..1000 {
            dump = goro::runtime::stack();
            if dump.contains("[IO wait]") {
                break;
            }
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(dump.contains("[IO wait]"), "{dump}");
        let _c = TcpStream::connect(addr).await.unwrap();
        h.await.unwrap().unwrap();
    });
}

#[test]
fn network_wakes_a_g_while_every_m_sleeps() {
    // Every M is idle (parked or in the poller) when a plain thread writes:
    // the G must run without any other event (no timer, no spawn) to
    // wake the scheduler.
    let rt = goro::Runtime::builder().max_procs(2).build();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let h = rt.spawn(async move {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addr_tx.send(ln.local_addr().unwrap()).unwrap();
        let (c, _) = ln.accept().await.unwrap();
        let mut b = [0; 1];
        for _ in 0..20 {
            c.read_exact(&mut b).await.unwrap();
            c.write_all(&b).await.unwrap();
        }
    });
    let addr = addr_rx.recv().unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for i in 0..20u8 {
        // Long enough for every M to go idle.
        std::thread::sleep(Duration::from_millis(20));
        c.write_all(&[i]).unwrap();
        let mut b = [0];
        c.read_exact(&mut b)
            .expect("the G woken by the network never ran");
        assert_eq!(b[0], i);
    }
    goro::block_on(h).unwrap();
}

#[test]
fn emfile_is_an_error_not_a_panic() {
    if role().as_deref() == Some("emfile") {
        return emfile_child();
    }
    let out = child("emfile_is_an_error_not_a_panic", "emfile")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("emfile: connect"), "{stdout}");
    assert!(stdout.contains("emfile: accept"), "{stdout}");
    assert!(stdout.contains("emfile: recovered"), "{stdout}");
}

fn emfile_child() {
    let lim = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 20_000,
    };
    // SAFETY: setrlimit with a valid struct; only this child process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    goro::run(async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        let mut conns = Vec::new();
        let err = loop {
            match TcpStream::connect(addr).await {
                Ok(c) => conns.push(c),
                Err(e) => break e,
            }
        };
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        println!("emfile: connect {err}");
        // Connections wait in the listener's queue; no fd is left for them.
        let err = ln.accept().await.map(|_| ()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        println!("emfile: accept {err}");
        conns.truncate(conns.len() - 4);
        let (s, _) = ln.accept().await.unwrap();
        drop(s);
        println!("emfile: recovered");
    });
}

#[test]
fn sockets_off_any_runtime_use_the_process_poller() {
    // goro::block_on on plain threads: no runtime at all.
    let ln = goro::block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = ln.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        goro::block_on(async {
            let c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"plain").await.unwrap();
        })
    });
    let (s, _) = goro::block_on(ln.accept()).unwrap();
    let mut buf = [0; 5];
    goro::block_on(s.read_exact(&mut buf)).unwrap();
    assert_eq!(&buf, b"plain");
    t.join().unwrap();
}

#[test]
fn a_socket_used_by_a_g_of_another_runtime() {
    // The listener belongs to runtime A (idle); a G of runtime B accepts
    // on it: A's Ms must poll for B's G.
    let a = goro::Runtime::builder().max_procs(1).build();
    let b = goro::Runtime::builder().max_procs(1).build();
    let ln = a.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
    let addr = ln.local_addr().unwrap();
    std::thread::sleep(Duration::from_millis(20)); // A goes idle
    let h = b.spawn(async move { ln.accept().await.map(|(_, p)| p) });
    std::thread::sleep(Duration::from_millis(20));
    let c = std::net::TcpStream::connect(addr).unwrap();
    let peer = net_common::run(10, async move { h.await.unwrap().unwrap() });
    assert_eq!(peer, c.local_addr().unwrap());
}

#[test]
fn a_socket_of_a_shut_down_runtime_fails_instead_of_hanging() {
    let rt = goro::Runtime::builder().max_procs(1).build();
    let ln = rt.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
    rt.shutdown();
    let r = net_common::run(10, async move { ln.accept().await.map(|_| ()) });
    assert!(r.is_err());
}

/// A plain thread already parked on a runtime's socket when that runtime
/// shuts down is woken and fails, instead of waiting on a poller nobody
/// polls any more.
#[test]
fn a_wait_parked_when_its_runtime_shuts_down_fails_instead_of_hanging() {
    let rt = goro::Runtime::builder().max_procs(1).build();
    let (ln, c, _server_side) = rt.block_on(async {
        // `ln` never gets a connection; `c` never gets a byte.
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(other.local_addr().unwrap())
            .await
            .unwrap();
        (ln, c, other)
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        // No runtime on this thread: the wait parks the thread, and only
        // `rt`'s Ms poll the socket.
        let mut buf = [0u8; 8];
        let accept = goro::block_on(ln.accept()).map(|_| ());
        let read = goro::block_on(c.read(&mut buf)).map(|_| ());
        tx.send((accept, read)).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50)); // let it park
    rt.shutdown();
    let (accept, read) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the parked wait was not woken by the shutdown");
    waiter.join().unwrap();
    assert!(accept.is_err(), "accept after shutdown: {accept:?}");
    assert!(read.is_err(), "read after shutdown: {read:?}");
}

/// The same for a G of another runtime parked on the shut-down runtime's
/// socket: it is woken and fails; its own runtime goes on.
#[test]
fn a_g_of_another_runtime_parked_on_a_shut_down_runtimes_socket_fails() {
    let a = goro::Runtime::builder().max_procs(1).build();
    let ln = a.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
    let b = goro::Runtime::builder().max_procs(1).build();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = b.spawn(async move {
        let r = ln.accept().await.map(|_| ());
        tx.send(r).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50)); // let it park
    a.shutdown();
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the parked G of the other runtime was not woken");
    assert!(r.is_err(), "accept after shutdown: {r:?}");
    b.block_on(async move { h.await.unwrap() });
    b.shutdown();
}

#[test]
fn no_sigpipe_even_with_its_default_action() {
    if role().as_deref() == Some("sigpipe") {
        // A C host may leave SIGPIPE at its default (terminate).
        // SAFETY: restoring a default disposition in this child process.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        goro::run(async {
            let (a, b) = goro::net::UnixStream::pair().unwrap();
            drop(b);
            let e = a.write_all(b"x").await.unwrap_err();
            println!("unix: {e}");
            let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let c = TcpStream::connect(ln.local_addr().unwrap()).await.unwrap();
            drop(ln.accept().await.unwrap());
            let mut err = None;
            for _ in 0..100 {
                if let Err(e) = c.write_all(&[0; 4096]).await {
                    err = Some(e);
                    break;
                }
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            println!("tcp: {}", err.unwrap());
        });
        return;
    }
    let out = child("no_sigpipe_even_with_its_default_action", "sigpipe")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?} {stdout}", out.status);
    assert!(stdout.contains("unix: Broken pipe"), "{stdout}");
    assert!(stdout.contains("tcp: "), "{stdout}");
}

/// An address whose lookup blocks its thread for a while, as a slow DNS
/// server would.
struct SlowName(std::net::SocketAddr);

impl std::net::ToSocketAddrs for SlowName {
    type Iter = std::vec::IntoIter<std::net::SocketAddr>;
    fn to_socket_addrs(&self) -> std::io::Result<Self::Iter> {
        std::thread::sleep(Duration::from_millis(300));
        Ok(vec![self.0].into_iter())
    }
}

/// On one P, a name lookup that blocks its thread (a slow DNS server)
/// loses the P to sysmon, and the other Gs of that P run meanwhile instead
/// of waiting for the lookup. (The lookup runs in the syscall state, Go's
/// cgo lookup, so the P goes at sysmon's next round; an address literal
/// keeps it.)
#[test]
fn a_slow_name_lookup_does_not_hold_the_p() {
    let rt = goro::Runtime::builder().max_procs(1).build();
    let ticks = rt.block_on(async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = ticks.clone();
        let ticker = goro::go(async move {
            for _ in 0..100 {
                t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                goro::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let dial = goro::go(async move { TcpStream::connect(SlowName(addr)).await.map(|_| ()) });
        // The ticker is queued behind the dial on the one P.
        dial.await.unwrap().unwrap();
        let seen = ticks.load(std::sync::atomic::Ordering::Relaxed);
        ticker.await.unwrap();
        seen
    });
    rt.shutdown();
    assert!(
        ticks >= 20,
        "the ticker ran {ticks} times during a 300 ms lookup"
    );
}

#[test]
fn connections_keep_working_when_gomaxprocs_shrinks_and_grows() {
    // Four Ps: the poller gets one poll instance per P and the connections
    // spread over them. With GOMAXPROCS 1 the one P serves every instance;
    // with 6, Ps 4 and 5 share instances with Ps 0 and 1.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = goro::Runtime::builder().max_procs(4).build();
        let h = rt.spawn(async {
            let addr = net_common::echo_server().await;
            let mut conns = Vec::new();
            for _ in 0..16 {
                conns.push(TcpStream::connect(addr).await.unwrap());
            }
            for (round, procs) in [4u64, 1, 6, 2].into_iter().enumerate() {
                goro::gomaxprocs(procs as usize);
                // One G per connection, so the round trips run on every P.
                let hs: Vec<_> = conns
                    .drain(..)
                    .enumerate()
                    .map(|(i, c)| {
                        goro::go(async move {
                            for k in 0..50u64 {
                                let v = (round as u64) << 48 | (i as u64) << 32 | k;
                                c.write_all(&v.to_le_bytes()).await.unwrap();
                                let mut b = [0u8; 8];
                                c.read_exact(&mut b).await.unwrap();
                                assert_eq!(u64::from_le_bytes(b), v);
                            }
                            c
                        })
                    })
                    .collect();
                for h in hs {
                    conns.push(h.await.unwrap());
                }
            }
        });
        let _ = tx.send(goro::block_on(h).is_ok());
    });
    let ok = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("round trips stopped after a GOMAXPROCS change");
    assert!(ok);
}
