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
    assert_eq!(e.to_string(), "send on closed channel");
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
