//! The global run queue (Go's `sched.runq`, with `globrunqput`,
//! `globrunqputhead` and `globrunqget`'s batch), kept as two FIFOs.
//!
//! Go keeps one FIFO. We split it by what a G has done so far:
//! - `ready`: Gs that have run before and were made runnable again (woken
//!   by a channel, a timer or a WaitGroup, yielded by `gosched`, or moved
//!   here when a local queue overflowed);
//! - `fresh`: Gs that have never run (spawned with `go` when the spawner's
//!   local queue was full or it had no P).
//!
//! `take` serves `ready` first, except every `FRESH_TURN`-th batch, which
//! serves `fresh` first, so neither class can starve the other. Why: a
//! program that spawns faster than its Gs run (W12's sleepers) parks tens
//! of thousands of never-started Gs here; in one FIFO a G whose timer
//! fired, overflowing its P's local queue, would wait behind all of them,
//! and its wake-up would be late by the time they take to run. Work that has
//! started finishes first; new work still gets one batch in `FRESH_TURN`.
//! Within each class the order is Go's FIFO.
//!
//! Not synchronized itself: `Sched` keeps it under its `global` lock. Shutdown
//! closes it (`close_and_drain`); `Sched` then drops, after unlocking, what
//! it would have queued.

use super::g::GRef;
use std::collections::VecDeque;

/// One batch in this many serves never-run Gs first.
const FRESH_TURN: u32 = 4;

/// The two FIFOs of the global run queue.
#[derive(Default)]
pub(crate) struct GlobalRunq {
    ready: VecDeque<GRef>,
    fresh: VecDeque<GRef>,
    /// Batches taken so far (picks the `FRESH_TURN` ones).
    batches: u32,
    /// Set by shutdown: nothing is queued again (`Sched` drops what it is
    /// handed instead).
    closed: bool,
}

impl GlobalRunq {
    pub(crate) fn len(&self) -> usize {
        self.ready.len() + self.fresh.len()
    }

    /// globrunqput: at the tail of its class.
    pub(crate) fn push(&mut self, g: GRef) {
        if g.header().has_run() {
            self.ready.push_back(g);
        } else {
            self.fresh.push_back(g);
        }
    }

    /// globrunqputhead for a batch (a retired P's queue), keeping the
    /// batch's order within each class.
    pub(crate) fn push_head(&mut self, batch: Vec<GRef>) {
        for g in batch.into_iter().rev() {
            if g.header().has_run() {
                self.ready.push_front(g);
            } else {
                self.fresh.push_front(g);
            }
        }
    }

    /// Takes up to `n` Gs, handing each to `f` in order: from `ready`
    /// first, or on a fresh turn from `fresh` first; the other class fills
    /// what is left.
    pub(crate) fn take_each(&mut self, n: usize, mut f: impl FnMut(GRef)) {
        self.batches = self.batches.wrapping_add(1);
        let fresh_first = self.batches % FRESH_TURN == 0;
        let (a, b) = if fresh_first {
            (&mut self.fresh, &mut self.ready)
        } else {
            (&mut self.ready, &mut self.fresh)
        };
        let from_a = n.min(a.len());
        a.drain(..from_a).for_each(&mut f);
        let from_b = (n - from_a).min(b.len());
        b.drain(..from_b).for_each(f);
    }

    /// Whether shutdown closed the queue.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closes the queue (shutdown) and takes every G out.
    pub(crate) fn close_and_drain(&mut self) -> Vec<GRef> {
        self.closed = true;
        self.drain_all()
    }

    /// Every G, in class order.
    pub(crate) fn drain_all(&mut self) -> Vec<GRef> {
        let mut out: Vec<GRef> = self.ready.drain(..).collect();
        out.extend(self.fresh.drain(..));
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::sched::Sched;
    use std::panic::Location;

    /// A dummy G with goid `id`, marked started if `ran`.
    fn g(sched: &std::sync::Arc<Sched>, id: u64, ran: bool) -> GRef {
        let (g, join) = GRef::new(async {}, sched.clone(), id, 0, Location::caller());
        drop(join);
        if ran {
            g.header().mark_started();
        }
        g
    }

    fn ids(v: &[GRef]) -> Vec<u64> {
        v.iter().map(|g| g.header().id).collect()
    }

    impl GlobalRunq {
        fn take(&mut self, n: usize) -> Vec<GRef> {
            let mut out = Vec::new();
            self.take_each(n, |g| out.push(g));
            out
        }
    }

    #[test]
    fn started_gs_go_first_fifo_within_each_class() {
        let s = Sched::new_detached();
        let mut q = GlobalRunq::default();
        for id in 1..=6 {
            q.push(g(&s, id, id % 2 == 0)); // evens have run
        }
        assert_eq!(q.len(), 6);
        assert_eq!(ids(&q.take(2)), [2, 4]);
        assert_eq!(ids(&q.take(3)), [6, 1, 3]); // ready runs out, fresh fills
        assert_eq!(q.len(), 1);
        assert_eq!(ids(&q.drain_all()), [5]);
    }

    #[test]
    fn every_fourth_batch_serves_fresh_first() {
        let s = Sched::new_detached();
        let mut q = GlobalRunq::default();
        for id in 0..20 {
            q.push(g(&s, id, id >= 10)); // 0..10 fresh, 10..20 ready
        }
        assert_eq!(ids(&q.take(1)), [10]);
        assert_eq!(ids(&q.take(1)), [11]);
        assert_eq!(ids(&q.take(1)), [12]);
        assert_eq!(ids(&q.take(2)), [0, 1]); // the fresh turn
        assert_eq!(ids(&q.take(1)), [13]);
    }

    #[test]
    fn push_head_keeps_batch_order_per_class() {
        let s = Sched::new_detached();
        let mut q = GlobalRunq::default();
        q.push(g(&s, 100, true));
        q.push(g(&s, 200, false));
        q.push_head(vec![g(&s, 1, true), g(&s, 2, false), g(&s, 3, true)]);
        assert_eq!(ids(&q.drain_all()), [1, 3, 100, 2, 200]);
    }
}
