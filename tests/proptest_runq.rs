//! proptest model of a P's local run queue (Go's `runqput`, `runqputslow`,
//! `runqget`, `runqgrab`/`runqsteal`, proc.go) through the hidden hook
//! `goro::runtime::testing::TestRunQueue`, single-threaded, against a
//! reference model of `runnext: Option<u64>` plus a `VecDeque<u64>` ring.
//!
//! The model states Go's rules:
//! - `put(g, next)`: with `next`, `g` becomes runnext and the old runnext
//!   (if any) is put at the tail; without, `g` goes to the tail.
//! - a put on a full ring (`TEST_RUNQ_SIZE` Gs) moves the oldest half of the
//!   ring plus the G being put to the global queue, in that order
//!   (`runqputslow`), and returns them.
//! - `get` (the scheduler's `runqget` plus `execute`'s time slice): runnext
//!   first (`from_runnext == true`), then FIFO; but once
//!   `TEST_RUNNEXT_BUDGET` runnext picks have chained in one time slice and
//!   the ring is not empty, runnext goes to the tail and the oldest G runs
//!   (a new slice starts with every G not taken from runnext).
//! - `steal_from(victim, steal_next)`: takes the oldest half, rounded up, of
//!   the victim's ring; runs the last one stolen and puts the others at the
//!   thief's tail in order (findRunnable steals only into an empty queue;
//!   should the thief's ring fill, its overflow goes to the global queue
//!   as for any put). With an empty ring and `steal_next`, takes the
//!   victim's runnext; the victim's runnext is never taken otherwise.
//! - `drain`: runnext, then the ring in FIFO order, then what went to the
//!   global queue.
//!
//! Every id is put once; at the end every id has been seen exactly once
//! (got, stolen-and-run, overflowed, or drained).

use goro::runtime::testing::{TEST_RUNNEXT_BUDGET, TEST_RUNQ_SIZE, TestRunQueue};
use proptest::prelude::*;
use std::collections::{HashSet, VecDeque};

const NQ: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// Put `k` fresh ids on queue `q` (with or without `next`).
    Put {
        q: usize,
        next: bool,
        k: usize,
    },
    Get {
        q: usize,
    },
    /// `thief` steals from `victim` (skipped unless `thief != victim` and
    /// the thief has room, as Go only steals into an empty queue).
    Steal {
        thief: usize,
        victim: usize,
        next: bool,
    },
    Drain {
        q: usize,
    },
    /// `k` times: put a fresh id with `next`, then get (a G readying the
    /// next one in a chain, long enough to reach the runnext budget).
    Chain {
        q: usize,
        k: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..NQ, any::<bool>(), prop_oneof![3 => 1usize..4, 1 => 1usize..(TEST_RUNQ_SIZE + 40)])
            .prop_map(|(q, next, k)| Op::Put { q, next, k }),
        4 => (0..NQ).prop_map(|q| Op::Get { q }),
        3 => (0..NQ, 0..NQ, any::<bool>()).prop_map(|(thief, victim, next)| Op::Steal { thief, victim, next }),
        1 => (0..NQ).prop_map(|q| Op::Drain { q }),
        1 => (0..NQ, 1usize..(2 * TEST_RUNNEXT_BUDGET as usize)).prop_map(|(q, k)| Op::Chain { q, k }),
    ]
}

#[derive(Default, Clone, Debug)]
struct Model {
    next: Option<u64>,
    ring: VecDeque<u64>,
    /// Runnext picks in the current time slice.
    streak: u32,
    /// What a steal into this queue could not fit: the scheduler's global
    /// queue (FIFO here: the dummy Gs never ran).
    global: Vec<u64>,
}

impl Model {
    fn len(&self) -> usize {
        self.ring.len() + usize::from(self.next.is_some())
    }

    /// runqput; returns the overflow batch.
    fn put(&mut self, id: u64, next: bool) -> Vec<u64> {
        let mut g = id;
        if next {
            match self.next.replace(id) {
                None => return Vec::new(),
                Some(old) => g = old,
            }
        }
        if self.ring.len() < TEST_RUNQ_SIZE {
            self.ring.push_back(g);
            return Vec::new();
        }
        let mut batch: Vec<u64> = self.ring.drain(..TEST_RUNQ_SIZE / 2).collect();
        batch.push(g);
        batch
    }

    fn get(&mut self) -> Option<(u64, bool)> {
        if let Some(n) = self.next.take() {
            if self.streak < TEST_RUNNEXT_BUDGET || self.ring.is_empty() {
                self.streak += 1;
                return Some((n, true));
            }
            self.streak = 0;
            let head = self.ring.pop_front();
            assert!(self.put(n, false).is_empty(), "model: no room");
            return head.map(|g| (g, false));
        }
        let g = self.ring.pop_front()?;
        self.streak = 0;
        Some((g, false))
    }

    fn steal_into(&mut self, victim: &mut Model, steal_next: bool) -> Option<u64> {
        let n = victim.ring.len();
        let take = n - n / 2;
        if take == 0 {
            return if steal_next { victim.next.take() } else { None };
        }
        let mut grabbed: Vec<u64> = victim.ring.drain(..take).collect();
        let run = grabbed.pop();
        for g in grabbed {
            let over = self.put(g, false);
            self.global.extend(over);
        }
        run
    }

    fn drain(&mut self) -> Vec<u64> {
        self.streak = 0;
        let mut out: Vec<u64> = self.next.take().into_iter().collect();
        out.extend(self.ring.drain(..));
        out.append(&mut self.global);
        out
    }
}

struct Seen(HashSet<u64>);

impl Seen {
    fn all(&mut self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            assert!(self.0.insert(id), "id {id} seen twice");
        }
    }
}

thread_local! {
    /// The queues, reused by every case on this thread (each queue costs an
    /// M thread today, see `test_run_queue_spawns_no_threads`); reuse also
    /// lets the ring indices wrap around across cases.
    static QUEUES: Vec<TestRunQueue> = (0..NQ).map(|_| TestRunQueue::new()).collect();
}

fn run_ops(ops: Vec<Op>) {
    QUEUES.with(|qs| {
        for q in qs {
            q.drain(); // left over by a failed case while shrinking
        }
        run_ops_on(qs, ops)
    })
}

fn run_ops_on(qs: &[TestRunQueue], ops: Vec<Op>) {
    let mut ms: Vec<Model> = vec![Model::default(); NQ];
    let mut next_id = 1u64;
    let mut seen = Seen(HashSet::new());
    for op in ops {
        match op {
            Op::Put { q, next, k } => {
                for _ in 0..k {
                    let id = next_id;
                    next_id += 1;
                    // SAFETY: this test thread is the only one touching the queues.
                    let got = unsafe { qs[q].put(id, next) };
                    let want = ms[q].put(id, next);
                    assert_eq!(got, want, "put({id}, next={next}) overflow on q{q}");
                    seen.all(got);
                }
            }
            Op::Get { q } => {
                // SAFETY: single-threaded use.
                let got = unsafe { qs[q].get() };
                assert_eq!(got, ms[q].get(), "get on q{q}");
                seen.all(got.map(|(id, _)| id));
            }
            Op::Steal {
                thief,
                victim,
                next,
            } => {
                if thief == victim {
                    continue;
                }
                // SAFETY: single-threaded use.
                let got = unsafe { qs[thief].steal_from(&qs[victim], next) };
                let (a, b) = two_mut(&mut ms, thief, victim);
                let want = a.steal_into(b, next);
                assert_eq!(got, want, "q{thief} steals from q{victim} (next={next})");
                seen.all(got);
            }
            Op::Drain { q } => {
                let got = qs[q].drain();
                assert_eq!(got, ms[q].drain(), "drain q{q}");
                seen.all(got);
            }
            Op::Chain { q, k } => {
                for _ in 0..k {
                    let id = next_id;
                    next_id += 1;
                    // SAFETY: single-threaded use.
                    let over = unsafe { qs[q].put(id, true) };
                    assert_eq!(over, ms[q].put(id, true), "chain put({id}) on q{q}");
                    seen.all(over);
                    // SAFETY: single-threaded use.
                    let got = unsafe { qs[q].get() };
                    assert_eq!(got, ms[q].get(), "chain get on q{q}");
                    seen.all(got.map(|(id, _)| id));
                }
            }
        }
        for (q, m) in qs.iter().zip(&ms) {
            assert_eq!(q.len(), m.len(), "len");
            assert_eq!(q.is_empty(), m.len() == 0, "is_empty");
        }
    }
    for (q, m) in qs.iter().zip(ms.iter_mut()) {
        let got = q.drain();
        assert_eq!(got, m.drain(), "final drain");
        seen.all(got);
    }
    assert_eq!(seen.0.len() as u64, next_id - 1, "ids lost");
}

fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b);
    if a < b {
        let (l, r) = v.split_at_mut(b);
        (&mut l[a], &mut r[0])
    } else {
        let (l, r) = v.split_at_mut(a);
        (&mut r[0], &mut l[b])
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn runq_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        run_ops(ops);
    }
}

#[test]
fn overflow_moves_oldest_half_plus_new() {
    let q = TestRunQueue::new();
    for id in 0..TEST_RUNQ_SIZE as u64 {
        // SAFETY: single-threaded.
        assert!(unsafe { q.put(id, false) }.is_empty());
    }
    // SAFETY: single-threaded.
    let over = unsafe { q.put(1000, false) };
    let mut want: Vec<u64> = (0..TEST_RUNQ_SIZE as u64 / 2).collect();
    want.push(1000);
    assert_eq!(over, want);
    assert_eq!(q.len(), TEST_RUNQ_SIZE / 2);
    let rest = q.drain();
    assert_eq!(
        rest,
        (TEST_RUNQ_SIZE as u64 / 2..TEST_RUNQ_SIZE as u64).collect::<Vec<_>>()
    );
}

#[test]
fn overflow_through_runnext_kicks_old_runnext() {
    let q = TestRunQueue::new();
    // SAFETY: (all calls below) single-threaded.
    unsafe {
        assert!(q.put(500, true).is_empty());
        for id in 0..TEST_RUNQ_SIZE as u64 {
            assert!(q.put(id, false).is_empty());
        }
        // 501 takes runnext; 500 goes to the full ring and overflows.
        let over = q.put(501, true);
        let mut want: Vec<u64> = (0..TEST_RUNQ_SIZE as u64 / 2).collect();
        want.push(500);
        assert_eq!(over, want);
        assert_eq!(q.get(), Some((501, true)));
        assert_eq!(q.get(), Some((TEST_RUNQ_SIZE as u64 / 2, false)));
    }
}

/// Go's inheritTime, bounded: a G that keeps readying the next one into
/// runnext (a ping-pong) gets `TEST_RUNNEXT_BUDGET` picks in a row; the
/// next pick goes to the tail and the oldest waiting G runs.
#[test]
fn runnext_chain_yields_to_the_ring_after_its_budget() {
    let q = TestRunQueue::new();
    // SAFETY: (all calls below) single-threaded.
    unsafe {
        assert!(q.put(1000, false).is_empty()); // waits in the ring
        for id in 0..TEST_RUNNEXT_BUDGET as u64 {
            assert!(q.put(id, true).is_empty());
            assert_eq!(q.get(), Some((id, true)));
        }
        assert!(q.put(77, true).is_empty());
        assert_eq!(q.get(), Some((1000, false)), "the ring's G runs");
        assert_eq!(q.get(), Some((77, false)), "runnext went to the tail");
        // a new slice: runnext first again
        assert!(q.put(78, true).is_empty());
        assert_eq!(q.get(), Some((78, true)));
    }
    assert!(q.drain().is_empty());
}

#[test]
fn steal_takes_half_rounded_up_runs_last() {
    let victim = TestRunQueue::new();
    let thief = TestRunQueue::new();
    // SAFETY: (all calls below) single-threaded.
    unsafe {
        victim.put(99, true);
        for id in 1..=5 {
            victim.put(id, false);
        }
        // 5 in the ring: steal 3 (1, 2, 3), run 3, keep 1, 2.
        assert_eq!(thief.steal_from(&victim, true), Some(3));
        assert_eq!(thief.drain(), vec![1, 2]);
        assert_eq!(victim.drain(), vec![99, 4, 5]);
        // Empty ring: runnext only when asked.
        victim.put(7, true);
        assert_eq!(thief.steal_from(&victim, false), None);
        assert_eq!(thief.steal_from(&victim, true), Some(7));
        assert_eq!(thief.steal_from(&victim, true), None);
        assert!(victim.is_empty());
    }
}

/// A steal into a queue with no room for what it grabbed: the overflow
/// goes to the global queue (it used to be leaked on purpose, as
/// "unreachable"), so no G is lost.
#[test]
fn steal_into_a_full_queue_spills_to_the_global_queue() {
    let victim = TestRunQueue::new();
    let thief = TestRunQueue::new();
    let n = TEST_RUNQ_SIZE as u64;
    // SAFETY: (all calls below) single-threaded.
    unsafe {
        for id in 0..n {
            assert!(victim.put(id, false).is_empty());
            assert!(thief.put(1000 + id, false).is_empty());
        }
        // grabs 0..n/2, runs the last, puts the others into a full ring
        assert_eq!(thief.steal_from(&victim, false), Some(n / 2 - 1));
    }
    let mut all = thief.drain();
    all.extend(victim.drain());
    all.push(n / 2 - 1);
    all.sort_unstable();
    let mut want: Vec<u64> = (0..n).chain(1000..1000 + n).collect();
    want.sort_unstable();
    assert_eq!(all, want, "a G was lost or duplicated");
}

/// Names of this process's threads that are goro Ms (`goro-m<id>`).
fn goro_m_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .filter(|c| c.starts_with("goro-m"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn test_run_queue_spawns_no_threads() {
    if !std::path::Path::new("/proc/self/task").exists() {
        return;
    }
    let before = goro_m_threads();
    let qs: Vec<_> = (0..8).map(|_| TestRunQueue::new()).collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let during = goro_m_threads();
    drop(qs);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let after = goro_m_threads();
    assert_eq!(during, before, "TestRunQueue::new started M threads");
    assert_eq!(after, before, "M threads left after the queues dropped");
}
