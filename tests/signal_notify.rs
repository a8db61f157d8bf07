//! goro::signal: notify, stop, drop-to-unsubscribe, ignore, and Go's
//! SIGQUIT dump. Signals are process-wide, so each test that changes a
//! disposition or expects the process to die runs in a child process (this
//! binary, re-run with `--exact <test>` and a role in the environment).

mod net_common;

use goro::signal::{self, Signal};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

const ROLE: &str = "GORO_SIGNAL_ROLE";

fn child(test: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, "child");
    c
}

fn is_child() -> bool {
    std::env::var(ROLE).is_ok()
}

#[test]
fn notify_delivers_to_every_subscriber() {
    net_common::run(10, async {
        let a = signal::notify(&[Signal::User1]);
        let b = signal::notify(&[Signal::User1, Signal::User2]);
        signal::raise(Signal::User1).unwrap();
        assert_eq!(a.recv().await, Some(Signal::User1));
        assert_eq!(b.recv().await, Some(Signal::User1));
        signal::raise(Signal::User2).unwrap();
        assert_eq!(b.recv().await, Some(Signal::User2));
        assert!(a.try_recv().is_err(), "a did not ask for User2");
        signal::stop(&a);
        signal::stop(&b);
    });
}

#[test]
fn signal_in_select_with_timeout() {
    net_common::run(10, async {
        let rx = signal::notify(&[Signal::User2]);
        goro::go(async {
            goro::time::sleep(Duration::from_millis(10)).await;
            signal::raise(Signal::User2).unwrap();
        });
        goro::select! {
            recv(rx) -> s => assert_eq!(s, Some(Signal::User2)),
            recv(goro::time::after(Duration::from_secs(5))) -> _ => panic!("signal not delivered"),
        }
        signal::stop(&rx);
    });
}

/// Runs the child and returns its status and stderr.
fn run_child(test: &str) -> (std::process::ExitStatus, String) {
    let out = child(test).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stop_restores_the_default_action() {
    if is_child() {
        let rx = signal::notify(&[Signal::Interrupt]);
        signal::raise(Signal::Interrupt).unwrap();
        assert_eq!(rx.recv_blocking(), Some(Signal::Interrupt)); // handled
        signal::stop(&rx);
        signal::raise(Signal::Interrupt).unwrap(); // now the default: dies
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(0);
    }
    let (st, err) = run_child("stop_restores_the_default_action");
    assert_eq!(st.signal(), Some(libc::SIGINT), "{st:?} {err}");
}

#[test]
fn dropping_the_receiver_unsubscribes() {
    if is_child() {
        let rx = signal::notify(&[Signal::Terminate]);
        drop(rx);
        signal::raise(Signal::Terminate).unwrap(); // nobody wants it: dies
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(0);
    }
    let (st, err) = run_child("dropping_the_receiver_unsubscribes");
    assert_eq!(st.signal(), Some(libc::SIGTERM), "{st:?} {err}");
}

#[test]
fn ignore_and_reset() {
    if is_child() {
        signal::ignore(&[Signal::Hangup]);
        assert!(signal::ignored(Signal::Hangup));
        signal::raise(Signal::Hangup).unwrap(); // ignored: lives on
        std::thread::sleep(Duration::from_millis(50));
        // A subscription takes it back from `ignore`.
        let rx = signal::notify(&[Signal::Hangup]);
        assert!(!signal::ignored(Signal::Hangup));
        signal::raise(Signal::Hangup).unwrap();
        assert_eq!(rx.recv_blocking(), Some(Signal::Hangup));
        signal::reset(&[Signal::Hangup]);
        signal::raise(Signal::Hangup).unwrap(); // default again: dies
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(0);
    }
    let (st, err) = run_child("ignore_and_reset");
    assert_eq!(st.signal(), Some(libc::SIGHUP), "{st:?} {err}");
}

#[test]
fn no_thread_per_signal() {
    if is_child() {
        let rt = goro::Runtime::new(); // starts the process poller
        std::thread::sleep(Duration::from_millis(50));
        let before = net_common::threads();
        let subs: Vec<_> = (0..10).map(|_| signal::notify(&[])).collect();
        std::thread::sleep(Duration::from_millis(50));
        let after = net_common::threads();
        assert_eq!(before, after, "threads grew from {before} to {after}");
        signal::raise(Signal::User1).unwrap();
        for s in &subs {
            assert_eq!(s.recv_blocking(), Some(Signal::User1));
        }
        drop(rt);
        std::process::exit(0);
    }
    let (st, err) = run_child("no_thread_per_signal");
    assert!(st.success(), "{st:?} {err}");
}

#[test]
fn sigquit_prints_the_goroutine_dump_and_exits_2() {
    if is_child() {
        goro::run(async {
            let (_tx, rx) = goro::chan::<()>(0);
            let _h = goro::go(async move { rx.recv().await });
            // "ready" comes from another G once this one has long been
            // parked in its sleep (printing it here would race the
            // parent's SIGQUIT against this G going to sleep).
            goro::go(async {
                goro::time::sleep(Duration::from_millis(50)).await;
                println!("ready");
            });
            // Parked in a sleep, the blocked G beside it: SIGQUIT now.
            goro::time::sleep(Duration::from_secs(30)).await;
        });
        std::process::exit(0);
    }
    let mut c = child("sigquit_prints_the_goroutine_dump_and_exits_2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(c.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert_ne!(out.read_line(&mut line).unwrap(), 0, "child ended early");
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(c.id() as i32, libc::SIGQUIT) }, 0);
    let out = c.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{:?} {err}", out.status);
    assert!(err.contains("SIGQUIT: quit"), "{err}");
    assert!(err.contains("[chan receive]"), "{err}");
    assert!(err.contains("[sleep]"), "{err}");
}
