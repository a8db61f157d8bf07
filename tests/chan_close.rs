//! Close semantics: buffered values drain first, parked receivers get None,
//! parked senders get Err with their value, double close panics, dropping
//! the last Sender closes, dropping the last Receiver fails sends.

mod common;

use goro::chan::{SendError, TryRecvError, TrySendError};
use std::time::Duration;

fn guard(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

#[test]
fn close_drains_buffer_then_none() {
    let (tx, rx) = goro::chan::<i32>(3);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    tx.close();
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.recv_blocking(), Some(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.recv_blocking(), None);
    assert_eq!(tx.send_blocking(4), Err(SendError(4)));
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn double_close_panics() {
    let (tx, _rx) = goro::chan::<i32>(0);
    tx.close();
    tx.close();
}

#[test]
fn drop_last_sender_closes_but_not_before() {
    let (tx, rx) = goro::chan::<i32>(1);
    let tx2 = tx.clone();
    drop(tx);
    assert!(!rx.is_closed());
    tx2.try_send(5).unwrap();
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn explicit_close_then_drop_does_not_panic() {
    let (tx, rx) = goro::chan::<i32>(0);
    tx.close();
    drop(tx);
    assert_eq!(rx.recv_blocking(), None);
}

#[test]
fn close_wakes_parked_receivers() {
    guard(|| {
        let (tx, rx) = goro::chan::<i32>(0);
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.recv_blocking())
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        tx.close();
        for t in ts {
            assert_eq!(t.join().unwrap(), None);
        }
    });
}

#[test]
fn close_wakes_parked_senders_with_value() {
    guard(|| {
        let (tx, rx) = goro::chan::<i32>(0);
        let ts: Vec<_> = (0..4)
            .map(|i| {
                let tx = tx.clone();
                std::thread::spawn(move || tx.send_blocking(i))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        tx.close();
        let mut got: Vec<i32> = ts
            .into_iter()
            .map(|t| t.join().unwrap().unwrap_err().0)
            .collect();
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn drop_last_receiver_fails_sends_and_parked_senders() {
    guard(|| {
        let (tx, rx) = goro::chan::<i32>(1);
        tx.try_send(0).unwrap();
        let tx2 = tx.clone();
        let t = std::thread::spawn(move || tx2.send_blocking(7));
        std::thread::sleep(Duration::from_millis(30));
        let rx2 = rx.clone();
        drop(rx);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        drop(rx2);
        assert_eq!(t.join().unwrap(), Err(SendError(7)));
        assert_eq!(tx.try_send(1), Err(TrySendError::Closed(1)));
        assert_eq!(tx.send_blocking(2), Err(SendError(2)));
        assert!(!tx.is_closed());
    });
}

#[test]
fn buffered_values_are_dropped_with_the_channel() {
    let v = std::sync::Arc::new(());
    let (tx, rx) = goro::chan(4);
    for _ in 0..3 {
        tx.try_send(v.clone()).unwrap();
    }
    drop(rx);
    assert_eq!(std::sync::Arc::strong_count(&v), 1);
    let (tx2, rx2) = goro::chan(4);
    tx2.try_send(v.clone()).unwrap();
    drop((tx2, rx2, tx));
    assert_eq!(std::sync::Arc::strong_count(&v), 1);
}

#[test]
fn close_races_with_send_and_recv() {
    guard(|| {
        for cap in [0usize, 1, 4] {
            for _ in 0..200 {
                let (tx, rx) = goro::chan::<u32>(cap);
                let tx2 = tx.clone();
                let s = std::thread::spawn(move || {
                    let mut sent = 0;
                    for i in 0..10 {
                        if tx2.send_blocking(i).is_ok() {
                            sent += 1;
                        } else {
                            break;
                        }
                    }
                    sent
                });
                let rx2 = rx.clone();
                let r = std::thread::spawn(move || rx2.iter().count());
                std::thread::yield_now();
                tx.close();
                let sent = s.join().unwrap();
                let got = r.join().unwrap() + rx.iter().count();
                assert_eq!(sent, got, "cap {cap}");
            }
        }
    });
}

/// A send that fails because every receiver is gone says so (it does not
/// claim a close), and `is_closed` agrees with it: false until a close.
#[test]
fn send_error_without_receivers_is_not_reported_as_closed() {
    let (tx, rx) = goro::chan::<i32>(1);
    drop(rx);
    let e = tx.send_blocking(1).unwrap_err();
    assert!(!tx.is_closed());
    assert_ne!(e.to_string(), "send on closed channel");
    assert!(e.to_string().contains("no receivers"), "{e}");
    let e = tx.try_send(2).unwrap_err();
    assert!(e.is_closed() && !tx.is_closed());
    assert!(e.to_string().contains("no receivers"), "{e}");
    // After a close, the same message also covers the close.
    tx.close();
    assert!(tx.is_closed());
    assert!(
        tx.send_blocking(3)
            .unwrap_err()
            .to_string()
            .contains("closed")
    );
}

/// This test binary again, running only test `name` with `GORO_CHILD`
/// set: its success and its stderr.
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

fn is_child(name: &str) -> bool {
    std::env::var("GORO_CHILD").as_deref() == Ok(name)
}

/// The line of the second `close` in `close_again`.
const CLOSE_AGAIN_LINE: u32 = line!() + 3;
fn close_again(tx: &goro::chan::Sender<i32>) {
    tx.close();
    tx.close();
}

/// A double close panics with Go's message, pointing at the caller's line
/// (`#[track_caller]`), not at goro's source: checked on what a real
/// program prints.
#[test]
fn double_close_panic_names_the_callers_line() {
    const NAME: &str = "double_close_panic_names_the_callers_line";
    if is_child(NAME) {
        let (tx, _rx) = goro::chan::<i32>(0);
        close_again(&tx);
        return;
    }
    let (status, stderr) = run_child(NAME);
    assert!(!status.success(), "the child did not panic: {stderr}");
    assert!(stderr.contains("close of closed channel"), "{stderr}");
    let at = format!("tests/chan_close.rs:{CLOSE_AGAIN_LINE}:");
    assert!(stderr.contains(&at), "no {at} in: {stderr}");
}
