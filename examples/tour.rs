//! A short tour of goro: every feature in one run, printing what it shows.
//!
//! Run: `cargo run --release --example tour`. Each section names the Go
//! construct it mirrors: the runtime, channels, select, sync (WaitGroup,
//! ErrGroup, Mutex, Semaphore, Once), context, time and net (the network
//! poller), then the goroutine dump. The whole tour takes well under a
//! second.

use goro::context::{self, ContextError};
use goro::net::{TcpListener, TcpStream};
use goro::sync::{ErrGroup, Mutex, Once, OnceCell, Semaphore, WaitGroup};
use goro::time::{self, Ticker, Timer};
use goro::{Select, chan};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() {
    // The tour shows a panicking G on purpose; keep its message out of the
    // output (the JoinError below reports it).
    std::panic::set_hook(Box::new(|_| {}));

    goro::run(async {
        section("runtime");
        println!("GOMAXPROCS = {}", goro::gomaxprocs(0));

        // go f() + a JoinHandle to wait for its result.
        let h = goro::go(async { 6 * 7 });
        println!("go: a G returned {}", h.await.unwrap());

        let n = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10_000)
            .map(|_| {
                let n = n.clone();
                goro::go(async move {
                    n.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        println!("go: 10,000 Gs ran ({} counted)", n.load(Ordering::Relaxed));

        goro::gosched().await;
        println!("gosched: yielded to the global run queue and came back");

        let e = goro::go(async { panic!("oops") }).await.unwrap_err();
        println!("a panicking G: JoinError.is_panic() = {}", e.is_panic());

        // A blocking call: the P is handed to another M while it runs.
        let v = goro::blocking(|| {
            std::thread::sleep(Duration::from_millis(5));
            "slept 5 ms on the M"
        });
        println!("blocking: {v}, other Gs kept running");

        let old = goro::gomaxprocs(1);
        goro::gomaxprocs(old);
        println!("gomaxprocs: resized {old} -> 1 -> {old}");

        channels().await;
        selects().await;
        sync_section().await;
        context_section().await;
        timers().await;
        net().await;

        introspection().await;
        println!("\ntour done");
    });
}

fn section(name: &str) {
    println!("\n== {name}");
}

async fn channels() {
    section("channels");
    // Unbuffered: a send completes only when a receiver takes the value.
    let (tx, rx) = chan::<&str>(0);
    goro::go(async move { tx.send("hello over an unbuffered channel").await.unwrap() });
    println!("chan(0): {}", rx.recv().await.unwrap());

    // Buffered: sends complete while there is room.
    let (tx, rx) = chan::<i32>(3);
    for i in 1..=3 {
        tx.send(i).await.unwrap();
    }
    println!(
        "chan(3): len = {}, cap = {} after 3 sends",
        tx.len(),
        tx.cap()
    );

    // close + range: receivers drain the buffer, then see None.
    tx.close();
    let mut got = Vec::new();
    while let Some(v) = rx.recv().await {
        got.push(v);
    }
    println!("close + range: drained {got:?}, then the loop ended");

    // Go panics on send to a closed channel; goro returns the value.
    let err = tx.send(4).await.unwrap_err();
    println!("send on closed channel: Err(SendError({}))", err.0);

    // Dropping the last Sender closes the channel.
    let (tx, rx) = chan::<i32>(1);
    drop(tx);
    println!("last Sender dropped: recv = {:?}", rx.recv().await);
}

async fn selects() {
    section("select");
    let (tx, rx) = chan::<i32>(1);

    // default: never parks.
    goro::select! {
        recv(rx) -> v => println!("got {v:?}"),
        default => println!("select with default: nothing ready, default ran"),
    }

    // A nil channel (None) is never chosen.
    tx.send(7).await.unwrap();
    let nil: Option<&goro::chan::Receiver<i32>> = None;
    goro::select! {
        recv(nil) -> _ => unreachable!("a nil channel is never ready"),
        recv(rx) -> v => println!("select with a nil case: the live case got {v:?}"),
    }

    // Timeout via time::after.
    let start = Instant::now();
    goro::select! {
        recv(rx) -> v => println!("got {v:?}"),
        recv(time::after(Duration::from_millis(20))) -> _ => {
            println!("select timeout: time::after fired after {:?}", round(start.elapsed()));
        }
    }

    // Fairness: two ready cases are chosen uniformly at random.
    let (a_tx, a) = chan::<()>(1);
    let (b_tx, b) = chan::<()>(1);
    let (mut na, mut nb) = (0, 0);
    for _ in 0..1000 {
        let _ = a_tx.try_send(());
        let _ = b_tx.try_send(());
        goro::select! {
            recv(a) => na += 1,
            recv(b) => nb += 1,
        }
    }
    println!("select fairness: 1000 selects with both ready chose a {na}x, b {nb}x");

    // Select: the run-time form (Go's reflect.Select) over a Vec of channels.
    let chans: Vec<_> = (0..4).map(|_| chan::<usize>(1)).collect();
    chans[2].0.send(2).await.unwrap();
    let mut sel = Select::new();
    for (_, rx) in &chans {
        sel.recv(rx);
    }
    let op = sel.select().await;
    let i = op.index();
    let v = op.recv(&chans[i].1);
    println!("Select over {} channels: case {i} got {v:?}", chans.len());
}

async fn sync_section() {
    section("sync");
    let wg = WaitGroup::new();
    let n = Arc::new(AtomicUsize::new(0));
    for _ in 0..8 {
        let n = n.clone();
        wg.go(async move {
            n.fetch_add(1, Ordering::Relaxed);
        });
    }
    wg.wait().await;
    println!("WaitGroup: waited for {} Gs", n.load(Ordering::Relaxed));

    let g = ErrGroup::<String>::new();
    g.set_limit(2);
    for i in 0..5 {
        g.go_async(async move {
            if i == 3 {
                Err(format!("task {i} failed"))
            } else {
                Ok(())
            }
        })
        .await;
    }
    println!("ErrGroup (limit 2): wait = {:?}", g.wait().await);

    // sync.Mutex: the guard may be held across an .await (the G parks,
    // never the thread, and other Gs queue for the lock).
    let counter = Arc::new(Mutex::new(0u64));
    let wg = WaitGroup::new();
    for _ in 0..4 {
        let counter = counter.clone();
        wg.go(async move {
            for _ in 0..50 {
                let mut n = counter.lock().await;
                let seen = *n;
                goro::gosched().await; // yield while holding the lock
                *n = seen + 1;
            }
        });
    }
    wg.wait().await;
    println!(
        "Mutex: 4 Gs x 50 increments, lock held across .await: {}",
        *counter.lock().await
    );

    // x/sync/semaphore.Weighted: at most 3 of 10 Gs in the section at once.
    let sem = Arc::new(Semaphore::new(3));
    let (inside, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let wg = WaitGroup::new();
    for _ in 0..10 {
        let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
        wg.go(async move {
            let _permit = sem.acquire(1).await; // released on drop
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            time::sleep(Duration::from_millis(2)).await;
            inside.fetch_sub(1, Ordering::SeqCst);
        });
    }
    wg.wait().await;
    println!(
        "Semaphore(3): 10 Gs, at most {} inside at once",
        peak.load(Ordering::SeqCst)
    );

    // sync.Once and sync.OnceValue: 5 Gs race, the init runs once.
    let once = Arc::new(Once::new());
    let cell = Arc::new(OnceCell::<String>::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    for i in 0..5 {
        let (once, cell, runs) = (once.clone(), cell.clone(), runs.clone());
        wg.go(async move {
            once.call_once(async {
                runs.fetch_add(1, Ordering::Relaxed);
            })
            .await;
            cell.get_or_init(async move { format!("config loaded by G {i}") })
                .await;
        });
    }
    wg.wait().await;
    println!(
        "Once: 5 callers, ran {} time(s); OnceCell: {:?}",
        runs.load(Ordering::Relaxed),
        cell.get().unwrap()
    );
}

async fn context_section() {
    section("context");
    // A tree: background -> timeout(30 ms) -> value -> a fan-out of 5 Gs.
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(30));
    let ctx = context::with_value(&ctx, "request-42");
    let start = Instant::now();
    let (g, gctx) = ErrGroup::<ContextError>::with_context(&ctx);
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..5u64 {
        let (ctx, done) = (gctx.clone(), done.clone());
        g.go(async move {
            // Each G "works" for longer than the deadline allows, in steps.
            loop {
                goro::select! {
                    recv(ctx.done()) => return Err(ctx.err().unwrap()),
                    recv(time::after(Duration::from_millis(5 + i))) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    let res = g.wait().await;
    println!(
        "context tree: timeout cancelled a fan-out of 5 Gs after {:?} ({} work steps done)",
        round(start.elapsed()),
        done.load(Ordering::Relaxed)
    );
    println!(
        "  errgroup wait = {res:?}, ctx.err() = {:?}, value = {:?}",
        ctx.err(),
        ctx.value::<&str>()
    );

    // Explicit cancel propagates to every descendant.
    let (parent, cancel) = context::with_cancel(&context::background());
    let (child, _c) = context::with_cancel(&parent);
    cancel.cancel();
    println!("cancel parent: child.err() = {:?}", child.err());
}

async fn timers() {
    section("time");
    let start = Instant::now();
    time::sleep(Duration::from_millis(10)).await;
    println!("sleep(10ms) took {:?}", round(start.elapsed()));

    let t = Timer::new(Duration::from_millis(50));
    println!("Timer::stop before it fired: {}", t.stop());
    t.reset(Duration::from_millis(5));
    t.c().recv().await;
    println!(
        "Timer::reset(5ms) then fired after {:?}",
        round(start.elapsed())
    );

    let ticker = Ticker::new(Duration::from_millis(5));
    let start = Instant::now();
    for _ in 0..3 {
        ticker.c().recv().await;
    }
    ticker.stop();
    println!("Ticker(5ms): 3 ticks in {:?}", round(start.elapsed()));

    let (tx, rx) = chan::<&str>(1);
    let _t = time::after_func(Duration::from_millis(5), move || {
        let _ = tx.try_send("after_func ran");
    });
    println!("time::after_func: {}", rx.recv().await.unwrap());

    let slow = time::timeout(
        Duration::from_millis(5),
        time::sleep(Duration::from_secs(1)),
    );
    let slow = slow.await.map_err(|e| e.to_string());
    println!("time::timeout(5ms, a 1s sleep): {slow:?}");

    let ticks = time::tick(Duration::from_millis(3));
    let start = Instant::now();
    for _ in 0..2 {
        ticks.recv().await;
    }
    println!("time::tick(3ms): 2 ticks in {:?}", round(start.elapsed()));
}

async fn net() {
    section("net");
    // net.Listen + Accept, one G per connection echoing what it reads.
    let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = ln.local_addr().unwrap();
    let server = goro::go(async move {
        for _ in 0..2 {
            let (conn, _) = ln.accept().await.unwrap();
            goro::go(async move {
                let mut buf = [0; 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return, // EOF: the client hung up
                        Ok(n) => conn.write_all(&buf[..n]).await.unwrap(),
                    }
                }
            });
        }
    });
    println!("listening on {addr}");

    let c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    c.read_exact(&mut buf).await.unwrap();
    println!(
        "echo: sent \"ping\", got {:?}",
        std::str::from_utf8(&buf).unwrap()
    );

    // SetReadDeadline: the server has nothing more to say.
    let start = Instant::now();
    c.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)));
    let err = c.read(&mut buf).await.unwrap_err();
    println!(
        "read deadline (10ms): {:?} after {:?}",
        err.kind(),
        round(start.elapsed())
    );

    // Dialer.DialContext: a live context connects, a cancelled one fails.
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_secs(1));
    let c2 = goro::net::dial_context(&ctx, addr).await.unwrap();
    c2.write_all(b"pong").await.unwrap();
    c2.read_exact(&mut buf).await.unwrap();
    println!(
        "dial_context: connected, echoed {:?}",
        std::str::from_utf8(&buf).unwrap()
    );
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    let err = goro::net::dial_context(&ctx, addr).await.unwrap_err();
    println!("dial_context on a cancelled context: {:?}", err.kind());

    server.await.unwrap();
    drop((c, c2)); // the echo Gs see EOF and return
    time::sleep(Duration::from_millis(1)).await;
}

async fn introspection() {
    section("introspection");
    // A few Gs parked on different primitives, so the dump has something to say.
    let (tx, rx) = chan::<()>(0);
    let (stop_tx, stop) = chan::<()>(0);
    let wg = WaitGroup::new();
    wg.add(1);
    let parked = [
        goro::go(async move {
            rx.recv().await;
        }),
        goro::go(async move {
            goro::select! {
                recv(stop) => {},
                recv(time::after(Duration::from_secs(60))) => {},
            }
        }),
        goro::go({
            let wg = wg.clone();
            async move { wg.wait().await }
        }),
        goro::go(time::sleep(Duration::from_millis(30))),
    ];
    time::sleep(Duration::from_millis(5)).await;
    println!("num_goroutine = {}", goro::num_goroutine());
    println!("goro::runtime::stack() (Go's runtime.Stack / SIGQUIT dump):");
    for line in goro::runtime::stack().lines().filter(|l| !l.is_empty()) {
        println!("  {line}");
    }
    println!("goro::runtime::schedtrace_line() (one GODEBUG=schedtrace=MS line):");
    print!("  {}", goro::runtime::schedtrace_line());
    drop((tx, stop_tx)); // closes both channels
    wg.done();
    for h in parked {
        h.await.unwrap();
    }
}

/// A duration rounded to whole milliseconds, for stable output.
fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
