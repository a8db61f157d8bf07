//! proptest: random selects over random channel sets, checked step by step
//! against a reference model of Go's channels.
//!
//! Each program runs on one thread. Its steps are non-blocking selects
//! (`select!` with `default`, `Select::try_select`), blocking selects polled
//! once (they either complete at once or stay parked, and are re-polled after
//! every later step), dropping a parked select, and closing a channel. After
//! each step every parked select is polled, so the model knows exactly which
//! completed. The model (buffers, closed flags, the parked selects in parking
//! order) checks that:
//! - a completed case was ready, `default` or parking only happens when no
//!   case was ready (a ready case is never hidden);
//! - buffers are FIFO; a parked peer is served first-in first-out and an
//!   unbuffered transfer pairs exactly one sender with one receiver;
//! - a receive on a closed, drained channel yields `None`, a send on a closed
//!   channel gives its own value back, a close completes every parked select
//!   with a case on that channel and nothing else;
//! - at the end (everything closed and drained): every value whose send
//!   completed was received exactly once, and no other value was received.

use goro::Select;
use goro::chan::{Receiver, Sender};
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

type Chans = &'static [(Sender<u64>, Receiver<u64>)];

/// One case as generated: the channel index (`None`: a nil channel).
#[derive(Clone, Copy, Debug)]
enum CaseGen {
    Recv(Option<usize>),
    Send(Option<usize>),
}

#[derive(Clone, Debug)]
enum Step {
    /// `select!` with three fixed slots (recv, send, recv) and `default`.
    TryMacro(CaseGen, CaseGen, CaseGen),
    /// `Select::try_select` over a run-time list of cases.
    TryDyn(Vec<CaseGen>),
    /// A blocking `select!` (two slots: recv, send), polled once.
    ParkMacro(CaseGen, CaseGen),
    /// A blocking `Select::select`, polled once.
    ParkDyn(Vec<CaseGen>),
    /// Drop the i-th parked select (modulo their number).
    Cancel(usize),
    /// Close channel i (modulo the number of channels), if still open.
    Close(usize),
}

/// A case with its channel resolved and its value chosen.
#[derive(Clone, Copy, Debug)]
enum Spec {
    Recv(Option<usize>),
    Send(Option<usize>, u64),
}

/// What a completed select did.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Res {
    Recv(Option<u64>),
    Send(Result<(), u64>),
}

type Outcome = (usize, Res);

struct Parked {
    specs: Vec<Spec>,
    fut: Pin<Box<dyn Future<Output = Outcome>>>,
}

struct Model {
    cap: Vec<usize>,
    buf: Vec<VecDeque<u64>>,
    closed: Vec<bool>,
}

fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

fn case_gen(nchan: usize) -> impl Strategy<Value = CaseGen> {
    let ch = prop_oneof![1 => Just(None), 4 => (0..nchan).prop_map(Some)];
    (any::<bool>(), ch).prop_map(|(recv, ch)| {
        if recv {
            CaseGen::Recv(ch)
        } else {
            CaseGen::Send(ch)
        }
    })
}

fn recv_gen(nchan: usize) -> impl Strategy<Value = CaseGen> {
    prop_oneof![1 => Just(None), 4 => (0..nchan).prop_map(Some)].prop_map(CaseGen::Recv)
}

fn send_gen(nchan: usize) -> impl Strategy<Value = CaseGen> {
    prop_oneof![1 => Just(None), 4 => (0..nchan).prop_map(Some)].prop_map(CaseGen::Send)
}

fn step_gen(nchan: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (recv_gen(nchan), send_gen(nchan), recv_gen(nchan)).prop_map(|(a, b, c)| Step::TryMacro(a, b, c)),
        4 => prop::collection::vec(case_gen(nchan), 0..5).prop_map(Step::TryDyn),
        3 => (recv_gen(nchan), send_gen(nchan)).prop_map(|(a, b)| Step::ParkMacro(a, b)),
        4 => prop::collection::vec(case_gen(nchan), 0..5).prop_map(Step::ParkDyn),
        1 => (0..8usize).prop_map(Step::Cancel),
        1 => (0..nchan).prop_map(Step::Close),
    ]
}

fn program() -> impl Strategy<Value = (Vec<usize>, Vec<Step>)> {
    (1..=3usize).prop_flat_map(|n| {
        (
            prop::collection::vec(0..=2usize, n),
            prop::collection::vec(step_gen(n), 1..40),
        )
    })
}

/// Runs the specs as a `Select` (blocking or not).
async fn run_dyn(chans: Chans, specs: Vec<Spec>, block: bool) -> Option<Outcome> {
    let mut sel = Select::new();
    for s in &specs {
        match *s {
            Spec::Recv(c) => sel.recv(c.map(|c| &chans[c].1)),
            Spec::Send(c, v) => sel.send(c.map(|c| &chans[c].0), v),
        };
    }
    let op = if block {
        Some(sel.select().await)
    } else {
        sel.try_select()
    };
    let op = op?;
    let i = op.index();
    Some(match specs[i] {
        Spec::Recv(c) => (i, Res::Recv(op.recv(&chans[c.unwrap()].1))),
        Spec::Send(c, _) => (
            i,
            Res::Send(op.send_result(&chans[c.unwrap()].0).map_err(|e| e.0)),
        ),
    })
}

/// The three-slot non-blocking `select!`.
async fn run_try_macro(chans: Chans, s: [Spec; 3]) -> Option<Outcome> {
    let (Spec::Recv(a), Spec::Send(b, v), Spec::Recv(c)) = (s[0], s[1], s[2]) else {
        unreachable!()
    };
    let (a, b, c) = (
        a.map(|i| &chans[i].1),
        b.map(|i| &chans[i].0),
        c.map(|i| &chans[i].1),
    );
    goro::select! {
        recv(a) -> r => Some((0, Res::Recv(r))),
        send(b, v) -> r => Some((1, Res::Send(r.map_err(|e| e.0)))),
        recv(c) -> r => Some((2, Res::Recv(r))),
        default => None,
    }
}

/// The two-slot blocking `select!`.
async fn run_park_macro(chans: Chans, s: [Spec; 2]) -> Outcome {
    let (Spec::Recv(a), Spec::Send(b, v)) = (s[0], s[1]) else {
        unreachable!()
    };
    let (a, b) = (a.map(|i| &chans[i].1), b.map(|i| &chans[i].0));
    goro::select! {
        recv(a) -> r => (0, Res::Recv(r)),
        send(b, v) -> r => (1, Res::Send(r.map_err(|e| e.0))),
    }
}

struct Runner {
    chans: Chans,
    model: Model,
    parked: Vec<Parked>,
    next_value: u64,
    /// Values whose send completed with Ok, and values received.
    sent: Vec<u64>,
    received: Vec<u64>,
    /// Ranks of the parked selects that completed in the current step.
    completed: Vec<usize>,
}

impl Runner {
    fn spec(&mut self, g: CaseGen) -> Spec {
        match g {
            CaseGen::Recv(c) => Spec::Recv(c),
            CaseGen::Send(c) => {
                self.next_value += 1;
                Spec::Send(c, self.next_value)
            }
        }
    }

    fn parked_sender_on(&self, ch: usize) -> bool {
        self.parked.iter().any(|p| {
            p.specs
                .iter()
                .any(|s| matches!(s, Spec::Send(Some(c), _) if *c == ch))
        })
    }
    fn parked_receiver_on(&self, ch: usize) -> bool {
        self.parked.iter().any(|p| {
            p.specs
                .iter()
                .any(|s| matches!(s, Spec::Recv(Some(c)) if *c == ch))
        })
    }

    fn ready(&self, s: &Spec) -> bool {
        let m = &self.model;
        match *s {
            Spec::Recv(None) | Spec::Send(None, _) => false,
            Spec::Recv(Some(c)) => !m.buf[c].is_empty() || m.closed[c] || self.parked_sender_on(c),
            Spec::Send(Some(c), _) => {
                m.closed[c] || m.buf[c].len() < m.cap[c] || self.parked_receiver_on(c)
            }
        }
    }

    /// Polls every parked select; returns the completed ones, in parking order.
    fn poll_parked(&mut self) -> Vec<(Vec<Spec>, Outcome)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.parked.len() {
            if let Poll::Ready(o) = poll_once(self.parked[i].fut.as_mut()) {
                let p = self.parked.remove(i);
                done.push((p.specs, o));
            } else {
                i += 1;
            }
        }
        done
    }

    /// Records a completed case's transfer in the totals.
    fn account(&mut self, specs: &[Spec], o: Outcome) {
        match (specs[o.0], o.1) {
            (Spec::Recv(Some(_)), Res::Recv(Some(v))) => self.received.push(v),
            (Spec::Recv(Some(_)), Res::Recv(None)) => {}
            (Spec::Send(Some(_), v), Res::Send(Ok(()))) => self.sent.push(v),
            (Spec::Send(Some(_), v), Res::Send(Err(w))) => {
                assert_eq!(v, w, "send gave back another value")
            }
            (s, r) => panic!("case {s:?} completed with {r:?}"),
        }
    }

    /// Checks a select's own completion against the model state before the
    /// step, given which parked selects completed in the same step (`peers`,
    /// in parking order, each with the parking-order rank it had).
    fn check_op(
        &mut self,
        specs: &[Spec],
        own: Option<Outcome>,
        peers: &[(usize, Vec<Spec>, Outcome)],
    ) {
        let Some((i, res)) = own else {
            for s in specs {
                assert!(!self.ready(s), "default/park chosen though {s:?} was ready");
            }
            assert!(
                peers.is_empty(),
                "a parked select completed without a partner"
            );
            return;
        };
        let spec = specs[i];
        assert!(self.ready(&spec), "case {spec:?} chosen but not ready");
        match (spec, res) {
            (Spec::Recv(Some(c)), Res::Recv(Some(v))) => {
                if let Some(head) = self.model.buf[c].pop_front() {
                    assert_eq!(v, head, "buffer not FIFO");
                    if self.parked_sender_on(c) {
                        let w = self.expect_one_peer(peers, c, false);
                        assert_eq!(w.1, Res::Send(Ok(())));
                        let Spec::Send(_, pv) = w.0 else {
                            unreachable!()
                        };
                        self.model.buf[c].push_back(pv);
                    } else {
                        assert!(peers.is_empty());
                    }
                } else {
                    let w = self.expect_one_peer(peers, c, false);
                    let Spec::Send(_, pv) = w.0 else {
                        unreachable!()
                    };
                    assert_eq!((pv, w.1), (v, Res::Send(Ok(()))), "handoff value mismatch");
                }
            }
            (Spec::Recv(Some(c)), Res::Recv(None)) => {
                assert!(
                    self.model.closed[c] && self.model.buf[c].is_empty(),
                    "None from an open or non-empty channel"
                );
                assert!(peers.is_empty());
            }
            (Spec::Send(Some(c), v), Res::Send(Ok(()))) => {
                assert!(!self.model.closed[c], "send succeeded on a closed channel");
                if self.parked_receiver_on(c) {
                    assert!(self.model.buf[c].is_empty());
                    let w = self.expect_one_peer(peers, c, true);
                    assert_eq!(w.1, Res::Recv(Some(v)), "handoff value mismatch");
                } else {
                    assert!(self.model.buf[c].len() < self.model.cap[c]);
                    assert!(peers.is_empty());
                    self.model.buf[c].push_back(v);
                }
            }
            (Spec::Send(Some(c), v), Res::Send(Err(w))) => {
                assert_eq!(v, w);
                assert!(self.model.closed[c], "send failed on an open channel");
                assert!(peers.is_empty());
            }
            (s, r) => panic!("case {s:?} completed with {r:?}"),
        }
    }

    /// Exactly one parked select completed, the first parked one with a
    /// matching case on `ch` (FIFO), on such a case. Returns (spec, result).
    fn expect_one_peer(
        &self,
        peers: &[(usize, Vec<Spec>, Outcome)],
        ch: usize,
        recv: bool,
    ) -> (Spec, Res) {
        assert_eq!(
            peers.len(),
            1,
            "expected exactly one parked partner, got {peers:?}"
        );
        let (rank, specs, (i, res)) = &peers[0];
        let matches = |s: &Spec| match *s {
            Spec::Recv(Some(c)) => recv && c == ch,
            Spec::Send(Some(c), _) => !recv && c == ch,
            _ => false,
        };
        assert!(matches(&specs[*i]), "partner completed an unrelated case");
        let first = self.parked.iter().position(|p| p.specs.iter().any(matches));
        assert_eq!(first, Some(*rank), "parked partners not served FIFO");
        (specs[*i], *res)
    }

    /// Runs a step: the op itself, then polls the parked selects, checks
    /// everything against the model and updates it.
    fn step(&mut self, step: Step) {
        let chans = self.chans;
        let (specs, own, park): (
            Vec<Spec>,
            Option<Outcome>,
            Option<Pin<Box<dyn Future<Output = Outcome>>>>,
        ) = match step {
            Step::TryMacro(a, b, c) => {
                let s = [self.spec(a), self.spec(b), self.spec(c)];
                let own = goro::block_on(run_try_macro(chans, s));
                (s.to_vec(), own, None)
            }
            Step::TryDyn(gs) => {
                let s: Vec<Spec> = gs.into_iter().map(|g| self.spec(g)).collect();
                let own = goro::block_on(run_dyn(chans, s.clone(), false));
                (s, own, None)
            }
            Step::ParkMacro(a, b) => {
                let s = [self.spec(a), self.spec(b)];
                let mut f: Pin<Box<dyn Future<Output = Outcome>>> =
                    Box::pin(run_park_macro(chans, s));
                match poll_once(f.as_mut()) {
                    Poll::Ready(o) => (s.to_vec(), Some(o), None),
                    Poll::Pending => (s.to_vec(), None, Some(f)),
                }
            }
            Step::ParkDyn(gs) => {
                let s: Vec<Spec> = gs.into_iter().map(|g| self.spec(g)).collect();
                let mut f: Pin<Box<dyn Future<Output = Outcome>>> = Box::pin({
                    let s = s.clone();
                    async move { run_dyn(chans, s, true).await.unwrap() }
                });
                match poll_once(f.as_mut()) {
                    Poll::Ready(o) => (s, Some(o), None),
                    Poll::Pending => (s, None, Some(f)),
                }
            }
            Step::Cancel(i) => {
                if !self.parked.is_empty() {
                    let i = i % self.parked.len();
                    drop(self.parked.remove(i));
                }
                assert!(
                    self.poll_parked().is_empty(),
                    "cancel completed a parked select"
                );
                return;
            }
            Step::Close(c) => {
                let c = c % self.chans.len();
                if !self.model.closed[c] {
                    self.close(c);
                }
                return;
            }
        };
        let done = self.poll_parked_with_rank();
        self.check_op(&specs, own, &done);
        if let Some(o) = own {
            self.account(&specs, o);
        }
        for (_, s, o) in &done {
            self.account(s, *o);
        }
        if let Some(fut) = park {
            self.parked.push(Parked { specs, fut });
        }
    }

    /// Polls every parked select, returning the completed ones with their
    /// rank in the parking order. They stay listed (as never-ready
    /// placeholders) until `finish_step`, so the checks see the list as it
    /// was before the step.
    fn poll_parked_with_rank(&mut self) -> Vec<(usize, Vec<Spec>, Outcome)> {
        let mut done = Vec::new();
        for (rank, p) in self.parked.iter_mut().enumerate() {
            if let Poll::Ready(o) = poll_once(p.fut.as_mut()) {
                done.push((rank, p.specs.clone(), o));
            }
        }
        // The checks need the pre-step list (for readiness and FIFO ranks);
        // the completed futures must not be polled again, so replace them by
        // never-ready placeholders until `finish_step` removes them.
        for (rank, _, _) in &done {
            self.parked[*rank].fut = Box::pin(std::future::pending());
        }
        self.completed = done.iter().map(|d| d.0).collect();
        done
    }

    fn close(&mut self, c: usize) {
        self.chans[c].0.close();
        self.model.closed[c] = true;
        let mut done = Vec::new();
        for (rank, p) in self.parked.iter_mut().enumerate() {
            if let Poll::Ready(o) = poll_once(p.fut.as_mut()) {
                done.push((rank, p.specs.clone(), o));
            }
        }
        let on_c = |specs: &[Spec]| {
            specs
                .iter()
                .any(|s| matches!(s, Spec::Recv(Some(x)) | Spec::Send(Some(x), _) if *x == c))
        };
        let expected: Vec<usize> = self
            .parked
            .iter()
            .enumerate()
            .filter(|(_, p)| on_c(&p.specs))
            .map(|(i, _)| i)
            .collect();
        let got: Vec<usize> = done.iter().map(|d| d.0).collect();
        assert_eq!(
            got, expected,
            "close must complete exactly the selects parked on it"
        );
        for (_, specs, (i, res)) in &done {
            match (specs[*i], *res) {
                (Spec::Recv(Some(x)), Res::Recv(None)) if x == c => {
                    assert!(self.model.buf[c].is_empty());
                }
                (Spec::Send(Some(x), v), Res::Send(Err(w))) if x == c => assert_eq!(v, w),
                other => panic!("close completed {other:?}"),
            }
            self.account(specs, (*i, *res));
        }
        for rank in got.iter().rev() {
            self.parked.remove(*rank);
        }
    }
}

fn run_program(caps: Vec<usize>, steps: Vec<Step>) {
    let chans: Chans = Box::leak(
        caps.iter()
            .map(|&c| goro::chan::<u64>(c))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let n = caps.len();
    let mut r = Runner {
        chans,
        model: Model {
            cap: caps,
            buf: vec![VecDeque::new(); n],
            closed: vec![false; n],
        },
        parked: Vec::new(),
        next_value: 0,
        sent: Vec::new(),
        received: Vec::new(),
        completed: Vec::new(),
    };
    for s in steps {
        r.step(s);
        r.finish_step();
    }
    // Close everything: every parked select on a channel completes.
    for c in 0..n {
        if !r.model.closed[c] {
            r.close(c);
        }
    }
    // Only selects with nil cases alone are left; they park forever.
    for p in &r.parked {
        assert!(
            p.specs
                .iter()
                .all(|s| matches!(s, Spec::Recv(None) | Spec::Send(None, _)))
        );
    }
    r.parked.clear();
    // Drain: exactly the model's buffers, in order.
    for c in 0..n {
        let mut left = Vec::new();
        while let Ok(v) = chans[c].1.try_recv() {
            left.push(v);
        }
        assert_eq!(
            left,
            Vec::from(r.model.buf[c].clone()),
            "channel {c} buffer differs from the model"
        );
        r.received.extend(left);
    }
    // Conservation: every completed send received exactly once.
    let mut count: HashMap<u64, i64> = HashMap::new();
    for v in &r.sent {
        *count.entry(*v).or_default() += 1;
    }
    for v in &r.received {
        *count.entry(*v).or_default() -= 1;
    }
    for (v, c) in count {
        assert_eq!(c, 0, "value {v}: sent minus received = {c}");
    }
}

impl Runner {
    /// Removes the selects that completed in the last step.
    fn finish_step(&mut self) {
        let mut done = std::mem::take(&mut self.completed);
        done.sort_unstable();
        for rank in done.into_iter().rev() {
            self.parked.remove(rank);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn selects_match_the_model((caps, steps) in program()) {
        run_program(caps, steps);
    }
}
