//! Mutex: mutual exclusion across Gs and threads, guards across .await,
//! cancel safety of pending lock futures, starvation mode, dumps.

#[path = "common/mod.rs"]
mod common;

use goro::sync::Mutex;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn many_gs_count_exactly() {
    let n = common::guard(60, || {
        goro::run(async {
            let m = Arc::new(Mutex::new(0u64));
            let wg = goro::sync::WaitGroup::new();
            for _ in 0..16 {
                let m = m.clone();
                wg.go(async move {
                    for i in 0..2000u64 {
                        let mut g = m.lock().await;
                        *g += 1;
                        if i % 100 == 0 {
                            goro::gosched().await;
                        }
                    }
                });
            }
            wg.wait().await;
            let v = *m.lock().await;
            v
        })
    });
    assert_eq!(n, 32_000);
}
