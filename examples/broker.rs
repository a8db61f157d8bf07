//! The topic queue of `pubsub.rs`, served over TCP, with its clients in
//! the same program (127.0.0.1 only).
//!
//! Run: `cargo run --release --example broker`.
//!
//! A line protocol, one command per line:
//!
//! ```text
//! SUB <topic>            -> OK SUB <topic>      (from now on: MSG <topic> <message>)
//! UNSUB <topic>          -> OK UNSUB <topic>
//! PUB <topic> <message>  -> OK PUB <n>          (n: subscribers it was queued for)
//! ```
//!
//! Each connection gets two Gs, as a Go server would: a reader that parses
//! commands, and a writer that drains the connection's outbox channel onto
//! the socket (so a slow subscriber back-pressures through its own buffer,
//! never blocking other connections' reads). The broker's topic map sits
//! behind a plain mutex, held only to read or change the map.
//!
//! The clients: subscribers to "orders", "payments" or both, then
//! publishers; every subscriber counts what it received per topic and the
//! program checks every count.

use goro::chan::{Receiver, Sender};
use goro::net::{OwnedReadHalf, TcpListener, TcpStream};
use goro::sync::WaitGroup;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A line reader over the read half of a connection (Go's bufio.Scanner).
struct Lines {
    r: OwnedReadHalf,
    buf: Vec<u8>,
    start: usize,
}

impl Lines {
    fn new(r: OwnedReadHalf) -> Lines {
        Lines {
            r,
            buf: Vec::with_capacity(4096),
            start: 0,
        }
    }

    /// The next line without its newline; None at EOF.
    async fn next(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(i) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let line =
                    String::from_utf8_lossy(&self.buf[self.start..self.start + i]).into_owned();
                self.start += i + 1;
                return Ok(Some(line));
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let mut chunk = [0u8; 4096];
            let n = self.r.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A subscriber: its connection id and that connection's outbox.
type Sub = (u64, Sender<String>);

/// The topic map: topic -> subscribers.
#[derive(Default)]
struct Broker {
    topics: Mutex<HashMap<String, Vec<Sub>>>,
    next_conn: AtomicU64,
}

impl Broker {
    fn sub(&self, topic: &str, conn: u64, out: &Sender<String>) {
        let mut t = self.topics.lock().unwrap();
        let subs = t.entry(topic.to_string()).or_default();
        if !subs.iter().any(|(c, _)| *c == conn) {
            subs.push((conn, out.clone()));
        }
    }

    fn unsub(&self, topic: &str, conn: u64) {
        if let Some(subs) = self.topics.lock().unwrap().get_mut(topic) {
            subs.retain(|(c, _)| *c != conn);
        }
    }

    /// Queues `MSG topic message` for every subscriber (waiting for room:
    /// back-pressure); returns how many took it.
    async fn publish(&self, topic: &str, message: &str) -> usize {
        let subs = self
            .topics
            .lock()
            .unwrap()
            .get(topic)
            .cloned()
            .unwrap_or_default();
        let line = format!("MSG {topic} {message}\n");
        let mut n = 0;
        for (_, out) in subs {
            if out.send(line.clone()).await.is_ok() {
                n += 1;
            }
        }
        n
    }

    fn drop_conn(&self, conn: u64) {
        for subs in self.topics.lock().unwrap().values_mut() {
            subs.retain(|(c, _)| *c != conn);
        }
    }
}

/// Serves one connection: a reader G (this one) and a writer G.
async fn serve(broker: Arc<Broker>, conn: TcpStream) {
    let id = broker.next_conn.fetch_add(1, Ordering::Relaxed);
    let (r, w) = conn.into_split();
    let (out, outbox): (Sender<String>, Receiver<String>) = goro::chan(64);
    let writer = goro::go(async move {
        while let Some(line) = outbox.recv().await {
            if w.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut lines = Lines::new(r);
    while let Ok(Some(line)) = lines.next().await {
        let reply = match line.split_once(' ') {
            Some(("SUB", topic)) => {
                broker.sub(topic, id, &out);
                format!("OK SUB {topic}\n")
            }
            Some(("UNSUB", topic)) => {
                broker.unsub(topic, id);
                format!("OK UNSUB {topic}\n")
            }
            Some(("PUB", rest)) => match rest.split_once(' ') {
                Some((topic, msg)) => format!("OK PUB {}\n", broker.publish(topic, msg).await),
                None => "ERR PUB needs a topic and a message\n".to_string(),
            },
            _ => format!("ERR unknown command {line:?}\n"),
        };
        if out.send(reply).await.is_err() {
            break;
        }
    }
    broker.drop_conn(id);
    drop(out); // the writer drains the outbox, then ends
    let _ = writer.await;
}

/// A client connection: send a command, read lines.
struct Client {
    lines: Lines,
    w: goro::net::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Client {
            lines: Lines::new(r),
            w,
        }
    }

    async fn send(&mut self, cmd: &str) {
        self.w
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn line(&mut self) -> String {
        self.lines
            .next()
            .await
            .unwrap()
            .expect("broker closed the connection")
    }
}

/// What each subscriber subscribes to.
const PLANS: [&[&str]; 4] = [
    &["orders"],
    &["payments"],
    &["orders", "payments"],
    &["orders"],
];
const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 250; // alternating orders / payments

fn main() {
    goro::run(async {
        let ln = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = ln.local_addr().unwrap();
        println!("broker on {addr}");
        let broker = Arc::new(Broker::default());
        goro::go(async move {
            while let Ok((conn, _)) = ln.accept().await {
                goro::go(serve(broker.clone(), conn));
            }
        });

        // Subscribers: each SUBs, waits for the OKs, then counts.
        let per_topic = (PUBLISHERS * PER_PUBLISHER / 2) as u64;
        // (subscriber index, messages received per topic)
        type Counts = Vec<(usize, HashMap<String, u64>)>;
        let counts: Arc<Mutex<Counts>> = Arc::default();
        let ready = WaitGroup::new();
        let subscribers = WaitGroup::new();
        for (i, topics) in PLANS.iter().enumerate() {
            let (ready, counts) = (ready.clone(), counts.clone());
            ready.add(1);
            subscribers.go(async move {
                let mut c = Client::connect(addr).await;
                for t in topics.iter() {
                    c.send(&format!("SUB {t}")).await;
                    assert_eq!(c.line().await, format!("OK SUB {t}"));
                }
                ready.done();
                let want = per_topic * topics.len() as u64;
                let mut got: HashMap<String, u64> = HashMap::new();
                let mut total = 0;
                while total < want {
                    let line = c.line().await;
                    let mut parts = line.splitn(3, ' ');
                    assert_eq!(parts.next(), Some("MSG"), "{line}");
                    *got.entry(parts.next().unwrap().to_string()).or_default() += 1;
                    total += 1;
                }
                for t in topics.iter() {
                    c.send(&format!("UNSUB {t}")).await;
                    assert_eq!(c.line().await, format!("OK UNSUB {t}"));
                }
                counts.lock().unwrap().push((i, got));
            });
        }
        ready.wait().await;

        // Publishers.
        let publishers = WaitGroup::new();
        for p in 0..PUBLISHERS {
            publishers.go(async move {
                let mut c = Client::connect(addr).await;
                for seq in 0..PER_PUBLISHER {
                    let topic = if seq % 2 == 0 { "orders" } else { "payments" };
                    c.send(&format!("PUB {topic} p{p}-{seq}")).await;
                    let ok = c.line().await;
                    assert!(ok.starts_with("OK PUB "), "{ok}");
                }
            });
        }
        publishers.wait().await;
        subscribers.wait().await;

        // After everyone unsubscribed, a publish reaches nobody.
        let mut c = Client::connect(addr).await;
        c.send("PUB orders late").await;
        assert_eq!(c.line().await, "OK PUB 0");

        let mut counts = counts.lock().unwrap().clone();
        counts.sort_by_key(|(i, _)| *i);
        for (i, got) in &counts {
            let mut topics: Vec<_> = got.iter().collect();
            topics.sort();
            println!("  subscriber {i} ({:?}): {topics:?}", PLANS[*i]);
            for t in PLANS[*i] {
                assert_eq!(
                    got.get(*t).copied(),
                    Some(per_topic),
                    "subscriber {i}, topic {t}"
                );
            }
            assert_eq!(got.len(), PLANS[*i].len());
        }
        println!(
            "{PUBLISHERS} publishers x {PER_PUBLISHER} messages over TCP: every subscriber got every message of its topics"
        );
    });
}
