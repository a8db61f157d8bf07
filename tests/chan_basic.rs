//! Basic channel behaviour: buffered/unbuffered send and receive, FIFO,
//! len/cap, try ops, Stream and iter, error types.

mod common;

use goro::chan::{TryRecvError, TrySendError};
use std::time::Duration;

/// Runs `f` on a thread and fails if it does not finish within 30 s.
fn guard(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

#[test]
fn buffered_fifo_len_cap() {
    guard(|| {
        let (tx, rx) = goro::chan::<i32>(3);
        assert_eq!((tx.len(), tx.cap(), rx.cap()), (0, 3, 3));
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(rx.len(), 3);
        assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(rx.try_recv(), Ok(0));
        tx.try_send(3).unwrap();
        assert_eq!(
            (0..3).map(|_| rx.try_recv().unwrap()).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(rx.is_empty());
    });
}

#[test]
fn unbuffered_try_ops_fail_without_peer() {
    let (tx, rx) = goro::chan::<i32>(0);
    assert_eq!(tx.cap(), 0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.len(), 0);
}

#[test]
fn unbuffered_rendezvous_between_threads() {
    guard(|| {
        let (tx, rx) = goro::chan::<u64>(0);
        let t = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send_blocking(i).unwrap();
            }
        });
        for i in 0..1000 {
            assert_eq!(rx.recv_blocking(), Some(i));
        }
        t.join().unwrap();
        assert_eq!(rx.recv_blocking(), None);
    });
}

#[test]
fn unbuffered_send_completes_only_when_received() {
    guard(|| {
        let (tx, rx) = goro::chan::<i32>(0);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        let t = std::thread::spawn(move || {
            tx.send_blocking(1).unwrap();
            d.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!done.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(rx.recv_blocking(), Some(1));
        t.join().unwrap();
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    });
}

#[test]
fn async_send_recv_with_block_on() {
    guard(|| {
        let (tx, rx) = goro::chan::<String>(1);
        let t = std::thread::spawn(move || {
            goro::block_on(async {
                for i in 0..100 {
                    tx.send(i.to_string()).await.unwrap();
                }
            })
        });
        goro::block_on(async {
            for i in 0..100 {
                assert_eq!(rx.recv().await, Some(i.to_string()));
            }
            assert_eq!(rx.recv().await, None);
        });
        t.join().unwrap();
    });
}

#[test]
fn stream_and_iter() {
    guard(|| {
        use futures::StreamExt;
        let (tx, mut rx) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            for i in 0..50 {
                tx.send_blocking(i).unwrap();
            }
        });
        let got: Vec<i32> = goro::block_on(async { (&mut rx).take(25).collect().await });
        assert_eq!(got, (0..25).collect::<Vec<_>>());
        let rest: Vec<i32> = rx.iter().collect();
        assert_eq!(rest, (25..50).collect::<Vec<_>>());
        t.join().unwrap();
        let mut n = 0;
        for _ in &rx {
            n += 1;
        }
        assert_eq!(n, 0);
    });
}

#[test]
fn handles_are_clone_send_sync() {
    fn assert_all<T: Clone + Send + Sync>() {}
    assert_all::<goro::chan::Sender<String>>();
    assert_all::<goro::chan::Receiver<String>>();
    fn assert_send<T: Send>(_: &T) {}
    let (tx, rx) = goro::chan::<String>(0);
    assert_send(&tx.send(String::new()));
    assert_send(&rx.recv());
}

#[test]
fn errors_display_debug() {
    let e = goro::chan::SendError(std::cell::Cell::new(1));
    assert_eq!(format!("{e:?}"), "SendError(..)");
    assert_eq!(
        e.to_string(),
        "send on channel that is closed or has no receivers"
    );
    assert_eq!(TrySendError::Full(1).to_string(), "send on full channel");
    assert_eq!(TrySendError::Closed(1).into_inner(), 1);
    assert_eq!(TryRecvError::Empty.to_string(), "receive on empty channel");
    assert_eq!(
        TryRecvError::Closed.to_string(),
        "receive on closed channel"
    );
    let _: &dyn std::error::Error = &e;
}

#[test]
fn buffered_recv_from_parked_sender_keeps_fifo() {
    guard(|| {
        // A receive that finds a parked sender on a full buffer takes the
        // head, and the sender's value goes to the tail.
        let (tx, rx) = goro::chan::<i32>(2);
        tx.try_send(0).unwrap();
        tx.try_send(1).unwrap();
        let t = std::thread::spawn(move || {
            for i in 2..10 {
                tx.send_blocking(i).unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        t.join().unwrap();
    });
}

/// A zero-sized element needs no buffer: the largest capacity is made at
/// once (no walk over its slots) and works.
#[test]
fn zero_sized_channel_of_any_capacity_is_made_at_once() {
    guard(|| {
        let (tx, rx) = goro::chan::<()>(usize::MAX);
        assert_eq!(tx.cap(), usize::MAX);
        for _ in 0..1000 {
            tx.try_send(()).unwrap();
        }
        assert_eq!(rx.len(), 1000);
        assert_eq!(rx.iter().take(1000).count(), 1000);
        assert!(rx.is_empty());
    });
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let p = std::panic::catch_unwind(f).expect_err("no panic");
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// A buffer whose byte size overflows panics with Go's message (not
/// liballoc's `capacity overflow`).
#[test]
fn impossible_capacity_panics_makechan_size_out_of_range() {
    for m in [
        panic_message(|| drop(goro::chan::<u8>(usize::MAX))),
        panic_message(|| drop(goro::chan::<u64>(usize::MAX / 4))),
        panic_message(|| drop(goro::chan::<[u8; 1 << 20]>(1 << 30))),
    ] {
        assert_eq!(m, "makechan: size out of range");
    }
}

/// This test binary again, running only test `name` with `GORO_CHILD`
/// set: its exit status and stderr.
fn run_child(name: &str) -> (std::process::ExitStatus, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", name)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of the `chan` call in `make_huge`.
const MAKE_HUGE_LINE: u32 = line!() + 2;
fn make_huge() -> goro::chan::Sender<u64> {
    goro::chan::<u64>(1 << 40).0
}

/// 8 TiB of buffer: the allocation is tried fallibly, so a real program
/// that asks for it gets Go's panic at its own line, not an abort (or,
/// where the system grants such an allocation, a channel).
#[test]
fn unallocatable_capacity_panics_instead_of_aborting() {
    const NAME: &str = "unallocatable_capacity_panics_instead_of_aborting";
    if std::env::var("GORO_CHILD").as_deref() == Ok(NAME) {
        let tx = make_huge();
        eprintln!("allocated: cap {}", tx.cap());
        return;
    }
    let (status, stderr) = run_child(NAME);
    if status.success() {
        assert!(stderr.contains("allocated: cap"), "{stderr}");
        return;
    }
    assert_eq!(
        status.code(),
        Some(101),
        "not a panic exit: {status:?}: {stderr}"
    );
    assert!(stderr.contains("makechan: size out of range"), "{stderr}");
    let at = format!("tests/chan_basic.rs:{MAKE_HUGE_LINE}:");
    assert!(stderr.contains(&at), "no {at} in: {stderr}");
}
