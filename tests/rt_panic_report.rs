//! How a runtime keeps the panics of its detached Gs (`Sched::report_panic`):
//! the first is kept for `run`/`block_on`; a later one is dropped with no
//! lock held, since dropping a payload may run user code.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::guard;

/// What the payloads share.
struct Shared {
    /// Payloads dropped so far.
    drops: AtomicUsize,
    /// Set when the third G's payload is dropped.
    third_dropped: AtomicBool,
    /// What the first dropped payload saw: whether the third G's panic
    /// was reported (and its payload dropped) while it waited.
    seen: Mutex<Option<bool>>,
}

/// A panic payload whose drop, the first time, panics a third detached G
/// and waits (up to 5 s) until that G's payload was dropped too: the
/// runtime reports that panic from another M, which must not find the
/// report lock held by this drop.
struct Payload(Arc<Shared>);

impl Drop for Payload {
    fn drop(&mut self) {
        let s = &self.0;
        if s.drops.fetch_add(1, Ordering::SeqCst) != 0 {
            return;
        }
        let s3 = s.clone();
        drop(goro::go(async move {
            std::panic::panic_any(Third(s3));
        }));
        let until = Instant::now() + Duration::from_secs(5);
        while !s.third_dropped.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        *s.seen.lock().unwrap() = Some(s.third_dropped.load(Ordering::SeqCst));
    }
}

/// The third G's payload: marks its drop.
struct Third(Arc<Shared>);

impl Drop for Third {
    fn drop(&mut self) {
        self.0.third_dropped.store(true, Ordering::SeqCst);
    }
}

/// Two detached Gs panic with `Payload`s: one is kept, the other dropped,
/// and that drop waits for a third panic's report. Before, the second
/// payload was dropped with the report lock held: the third report waited
/// for the lock, the drop waited for the third report, until its 5 s ran
/// out.
#[test]
fn second_panic_payload_is_dropped_after_unlocking() {
    let seen = guard(60, || {
        let shared = Arc::new(Shared {
            drops: AtomicUsize::new(0),
            third_dropped: AtomicBool::new(false),
            seen: Mutex::new(None),
        });
        let rt = goro::Runtime::builder().max_procs(2).build();
        for _ in 0..2 {
            let s = shared.clone();
            drop(rt.spawn(async move {
                std::panic::panic_any(Payload(s));
            }));
        }
        let until = Instant::now() + Duration::from_secs(30);
        while shared.seen.lock().unwrap().is_none() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        let seen = *shared.seen.lock().unwrap();
        drop(rt);
        seen
    });
    assert_eq!(
        seen,
        Some(true),
        "the dropped payload waited in vain for the next report"
    );
}
