//! proptest: random interleavings of send/recv futures (polled, re-polled,
//! dropped while parked), try ops and close from several tasks, driven by
//! hand on one thread so every case is reproducible. Checked against a
//! reference model: every value is received at most once; exactly once if
//! its send reported success; never if it came back in an error; with only
//! try operations the channel behaves as a bounded FIFO queue.

use goro::chan::{SendError, TryRecvError, TrySendError};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Clone)]
enum Op {
    StartSend(usize),
    StartRecv(usize),
    Poll(usize),
    Drop(usize),
    TrySend,
    TryRecv,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize).prop_map(Op::StartSend),
        3 => (0..4usize).prop_map(Op::StartRecv),
        3 => (0..4usize).prop_map(Op::Poll),
        2 => (0..4usize).prop_map(Op::Drop),
        2 => Just(Op::TrySend),
        2 => Just(Op::TryRecv),
        1 => Just(Op::Close),
    ]
}

type SendFut<'a> = Pin<Box<dyn Future<Output = Result<(), SendError<u32>>> + 'a>>;
type RecvFut<'a> = Pin<Box<dyn Future<Output = Option<u32>> + 'a>>;

enum Task<'a> {
    Idle,
    Sending(u32, SendFut<'a>),
    Receiving(RecvFut<'a>),
}

#[derive(Default)]
struct Book {
    sent_ok: HashSet<u32>,
    maybe_sent: HashSet<u32>,
    returned: HashSet<u32>,
    received: HashMap<u32, usize>,
}

impl Book {
    fn got(&mut self, v: u32) {
        *self.received.entry(v).or_default() += 1;
    }
}

fn poll<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

fn step<'a>(task: &mut Task<'a>, book: &mut Book) {
    match task {
        Task::Idle => {}
        Task::Sending(v, f) => match poll(f.as_mut()) {
            Poll::Ready(Ok(())) => {
                book.sent_ok.insert(*v);
                *task = Task::Idle;
            }
            Poll::Ready(Err(SendError(w))) => {
                assert_eq!(w, *v);
                book.returned.insert(w);
                *task = Task::Idle;
            }
            Poll::Pending => {}
        },
        Task::Receiving(f) => match poll(f.as_mut()) {
            Poll::Ready(Some(v)) => {
                book.got(v);
                *task = Task::Idle;
            }
            Poll::Ready(None) => *task = Task::Idle,
            Poll::Pending => {}
        },
    }
}

fn run(cap: usize, ops: Vec<Op>) {
    let (tx, rx) = goro::chan::<u32>(cap);
    let mut book = Book::default();
    let mut next = 0u32;
    let mut tasks: Vec<Task<'_>> = (0..4).map(|_| Task::Idle).collect();
    for op in ops {
        match op {
            Op::StartSend(k) if matches!(tasks[k], Task::Idle) => {
                next += 1;
                tasks[k] = Task::Sending(next, Box::pin(tx.send(next)));
                step(&mut tasks[k], &mut book);
            }
            Op::StartRecv(k) if matches!(tasks[k], Task::Idle) => {
                tasks[k] = Task::Receiving(Box::pin(rx.recv()));
                step(&mut tasks[k], &mut book);
            }
            Op::StartSend(k) | Op::StartRecv(k) | Op::Poll(k) => step(&mut tasks[k], &mut book),
            Op::Drop(k) => {
                // Tasks 0 and 2 take one last look first (a woken future then
                // completes); 1 and 3 drop blind, so a value already handed
                // to a receiver must go back into the channel.
                if k % 2 == 0 {
                    step(&mut tasks[k], &mut book);
                }
                if let Task::Sending(v, _) = &tasks[k] {
                    book.maybe_sent.insert(*v);
                }
                tasks[k] = Task::Idle;
            }
            Op::TrySend => {
                next += 1;
                match tx.try_send(next) {
                    Ok(()) => {
                        book.sent_ok.insert(next);
                    }
                    Err(TrySendError::Full(v)) | Err(TrySendError::Closed(v)) => {
                        assert_eq!(v, next);
                        book.returned.insert(v);
                    }
                }
            }
            Op::TryRecv => match rx.try_recv() {
                Ok(v) => book.got(v),
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => {}
            },
            Op::Close => {
                if !tx.is_closed() {
                    tx.close();
                }
            }
        }
    }
    // Let every woken future finish, then cancel the rest and drain.
    for t in tasks.iter_mut() {
        step(t, &mut book);
    }
    for t in tasks.iter_mut() {
        if let Task::Sending(v, _) = t {
            book.maybe_sent.insert(*v);
        }
        *t = Task::Idle;
    }
    if !tx.is_closed() {
        tx.close();
    }
    loop {
        match rx.try_recv() {
            Ok(v) => book.got(v),
            Err(TryRecvError::Closed) => break,
            Err(TryRecvError::Empty) => panic!("closed channel reported Empty"),
        }
    }
    for (v, n) in &book.received {
        assert_eq!(*n, 1, "value {v} received {n} times");
        assert!(
            book.sent_ok.contains(v) || book.maybe_sent.contains(v),
            "value {v} never sent"
        );
        assert!(
            !book.returned.contains(v),
            "value {v} returned and received"
        );
    }
    for v in &book.sent_ok {
        assert!(book.received.contains_key(v), "value {v} sent but lost");
    }
}

/// Only try ops: the channel is a bounded FIFO queue (for cap 0, never ready).
fn run_try_only(cap: usize, ops: Vec<bool>) {
    let (tx, rx) = goro::chan::<u32>(cap);
    let mut model = VecDeque::new();
    for (i, is_send) in ops.into_iter().enumerate() {
        let i = i as u32;
        if is_send {
            let r = tx.try_send(i);
            if model.len() < cap {
                assert_eq!(r, Ok(()));
                model.push_back(i);
            } else {
                assert_eq!(r, Err(TrySendError::Full(i)));
            }
        } else {
            let r = rx.try_recv();
            match model.pop_front() {
                Some(v) => assert_eq!(r, Ok(v)),
                None => assert_eq!(r, Err(TryRecvError::Empty)),
            }
        }
        assert_eq!(tx.len(), model.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_ops_never_lose_or_duplicate(cap in 0usize..4, ops in prop::collection::vec(op(), 1..80)) {
        run(cap, ops);
    }

    #[test]
    fn try_ops_match_fifo_model(cap in 0usize..5, ops in prop::collection::vec(any::<bool>(), 0..60)) {
        run_try_only(cap, ops);
    }
}
