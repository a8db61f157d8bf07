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

/// A boxed test body, to run as a G (`goro::go`) or on a thread.
pub type Body = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Go's TestSelectStress: four channels (capacities 0, 0, 2, 3), a sender
/// and a receiver per channel doing `n` plain operations each, one body
/// doing `4n` selects over the four sends and one over the four receives,
/// each turning a case into a nil channel once it has done `n`. Returns the
/// ten bodies and the receivers (all empty once every body has finished).
pub fn select_stress(n: usize) -> (Vec<Body>, Vec<goro::chan::Receiver<i32>>) {
    use goro::chan::{Receiver, Sender};
    let chans: Vec<(Sender<i32>, Receiver<i32>)> = [0usize, 0, 2, 3]
        .iter()
        .map(|&cap| goro::chan(cap))
        .collect();
    let mut bodies: Vec<Body> = Vec::new();
    for (tx, rx) in &chans {
        let (tx, rx) = (tx.clone(), rx.clone());
        bodies.push(Box::pin(async move {
            for _ in 0..n {
                tx.send(0).await.unwrap();
            }
        }));
        bodies.push(Box::pin(async move {
            for _ in 0..n {
                rx.recv().await.unwrap();
            }
        }));
    }
    let txs: Vec<Sender<i32>> = chans.iter().map(|c| c.0.clone()).collect();
    bodies.push(Box::pin(async move {
        let mut done = [0usize; 4];
        let mut c: Vec<Option<&Sender<i32>>> = txs.iter().map(Some).collect();
        for _ in 0..4 * n {
            let k = goro::select! {
                send(c[3], 0) -> r => { r.unwrap(); 3 },
                send(c[2], 0) -> r => { r.unwrap(); 2 },
                send(c[0], 0) -> r => { r.unwrap(); 0 },
                send(c[1], 0) -> r => { r.unwrap(); 1 },
            };
            done[k] += 1;
            if done[k] == n {
                c[k] = None;
            }
        }
    }));
    let rxs: Vec<Receiver<i32>> = chans.iter().map(|c| c.1.clone()).collect();
    bodies.push(Box::pin(async move {
        let mut done = [0usize; 4];
        let mut c: Vec<Option<&Receiver<i32>>> = rxs.iter().map(Some).collect();
        for _ in 0..4 * n {
            let k = goro::select! {
                recv(c[0]) -> v => { v.unwrap(); 0 },
                recv(c[1]) -> v => { v.unwrap(); 1 },
                recv(c[2]) -> v => { v.unwrap(); 2 },
                recv(c[3]) -> v => { v.unwrap(); 3 },
            };
            done[k] += 1;
            if done[k] == n {
                c[k] = None;
            }
        }
    }));
    (bodies, chans.into_iter().map(|(_, rx)| rx).collect())
}
