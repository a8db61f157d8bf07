//! The goroutine dump (`goro::runtime::stack()`) and Go's `SCHED` lines
//! (`GODEBUG=schedtrace`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::guard;

#[test]
fn dump_shows_wait_reasons_and_creators() {
    let dump = guard(30, || {
        goro::run(async {
            let (tx, rx) = goro::chan::<u8>(0);
            let (tx2, rx2) = goro::chan::<u8>(0);
            let r = goro::go(async move { rx.recv().await });
            let s = goro::go(async move { tx2.send(1).await });
            let t = goro::go(async { goro::time::sleep(Duration::from_secs(5)).await });
            let wg = goro::sync::WaitGroup::new();
            wg.add(1);
            let w = {
                let wg = wg.clone();
                goro::go(async move { wg.wait().await })
            };
            goro::time::sleep(Duration::from_millis(50)).await;
            let dump = goro::runtime::stack();
            tx.send(1).await.unwrap();
            rx2.recv().await;
            wg.done();
            r.await.unwrap();
            s.await.unwrap().unwrap();
            w.await.unwrap();
            drop(t);
            dump
        })
    });
    assert!(dump.contains("goroutine 1 [running]:"), "{dump}");
    assert!(dump.contains("goroutine 2 [chan receive]:"), "{dump}");
    assert!(dump.contains("goroutine 3 [chan send]:"), "{dump}");
    assert!(dump.contains("goroutine 4 [sleep]:"), "{dump}");
    assert!(
        dump.contains("goroutine 5 [sync.WaitGroup.Wait]:"),
        "{dump}"
    );
    assert_eq!(
        dump.matches("created by goroutine 1 at tests/rt_trace.rs:")
            .count(),
        4,
        "{dump}"
    );
    assert!(
        dump.contains("created by a thread at tests/rt_trace.rs:"),
        "{dump}"
    );
    // entries separated by blank lines, in goid order
    let ids: Vec<u64> = dump
        .lines()
        .filter_map(|l| l.strip_prefix("goroutine "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(dump.matches("\n\n").count(), 4);
}

#[test]
fn stack_outside_runtime_is_empty() {
    assert_eq!(goro::runtime::stack(), "");
}

fn check_sched_line(l: &str, procs: usize) {
    let rest = l
        .strip_prefix("SCHED ")
        .unwrap_or_else(|| panic!("not a SCHED line: {l}"));
    let (ms, rest) = rest.split_once("ms: ").unwrap();
    ms.parse::<u64>().unwrap();
    let fields = [
        "gomaxprocs=",
        "idleprocs=",
        "threads=",
        "spinningthreads=",
        "needspinning=",
        "idlethreads=",
        "runqueue=",
    ];
    let words: Vec<&str> = rest.split(' ').collect();
    for (w, f) in words.iter().zip(fields) {
        let v = w
            .strip_prefix(f)
            .unwrap_or_else(|| panic!("{f} missing in {l}"));
        v.parse::<u64>().unwrap();
    }
    assert_eq!(words[0], format!("gomaxprocs={procs}"));
    let tail = words[fields.len()..].join(" ");
    let (queues, ticks) = tail.split_once(" schedticks=").unwrap();
    let q: Vec<&str> = queues
        .trim_start_matches("[ ")
        .trim_end_matches(" ]")
        .split(' ')
        .collect();
    assert_eq!(q.len(), procs, "{l}");
    let t: Vec<&str> = ticks
        .trim_start_matches("[ ")
        .trim_end_matches(" ]")
        .split(' ')
        .collect();
    assert_eq!(t.len(), procs, "{l}");
}

#[test]
fn schedtrace_line_format() {
    let l = guard(30, || {
        let rt = goro::Runtime::builder().max_procs(3).build();
        rt.block_on(async { goro::runtime::schedtrace_line() })
    });
    assert!(l.ends_with('\n'));
    check_sched_line(l.trim_end(), 3);
}

/// The child half of `godebug_schedtrace_prints`: only runs when asked.
#[test]
#[ignore = "run as a child process by godebug_schedtrace_prints"]
fn schedtrace_child() {
    let rt = goro::Runtime::builder().max_procs(2).build();
    rt.block_on(async {
        for _ in 0..30 {
            goro::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

#[test]
fn godebug_schedtrace_prints() {
    let exe = std::env::current_exe().unwrap();
    let out = guard(60, move || {
        Command::new(exe)
            .args([
                "--exact",
                "schedtrace_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GODEBUG", "schedtrace=20,scheddetail=1")
            .output()
            .unwrap()
    });
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(lines.len() >= 2, "expected several SCHED lines, got: {err}");
    for l in &lines {
        check_sched_line(l, 2);
    }
    assert!(
        err.contains("  P0: status="),
        "scheddetail lines missing: {err}"
    );
    assert!(
        err.contains("  G1: status="),
        "scheddetail G lines missing: {err}"
    );
}
