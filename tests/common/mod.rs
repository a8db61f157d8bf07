//! Shared by the integration tests: run a test body under a time limit, so
//! a bug fails the test instead of hanging CI.

#![allow(dead_code)]

use std::time::Duration;

/// Runs `f` on its own thread and returns its value; resumes its panic;
/// fails the test if it has not finished after `secs` seconds.
pub fn guard<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("test hung: no result after {secs} s"),
    }
}
