//! A multi-producer, multi-consumer message queue with topics.
//!
//! Run: `cargo run --release --example pubsub`.
//!
//! * The broker keeps a topic map (`topic -> subscribers`) behind a
//!   `goro::sync::RwMutex`, as Go's `sync.RWMutex`: publishers hold the
//!   read lock while they send (across the `.await`, parking only the G),
//!   so many publish at once; `subscribe`, `disconnect` and `close` take
//!   the write lock. A publisher never takes the write lock while holding
//!   the read lock: it collects subscribers to disconnect and removes them
//!   after `RUnlock`.
//! * Every subscriber gets its own buffered channel. Several Gs may share
//!   one subscription's `Receiver` (a consumer group: each message goes to
//!   exactly one of them), since goro channels are multi-consumer.
//! * Slow subscribers are handled explicitly, per subscription:
//!   - `Policy::Block`: the publisher waits for room (back-pressure; no
//!     message is lost, but a slow subscriber slows every producer);
//!   - `Policy::Drop { disconnect_after }`: a full buffer drops the message
//!     and counts it; past `disconnect_after` drops the subscriber is
//!     removed and its channel closed, so its consumer sees the end.

use goro::chan::{Receiver, Sender, TrySendError};
use goro::sync::{RwMutex, WaitGroup};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
struct Msg {
    topic: &'static str,
    producer: usize,
    seq: u64,
}

#[derive(Clone, Copy, Debug)]
enum Policy {
    Block,
    Drop { disconnect_after: u64 },
}

struct Subscription {
    id: usize,
    name: &'static str,
    tx: Sender<Msg>,
    policy: Policy,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Broker {
    topics: RwMutex<HashMap<&'static str, Vec<Arc<Subscription>>>>,
    next_id: AtomicUsize,
    /// Subscribers removed for being too slow: (name, messages dropped).
    disconnected: Mutex<Vec<(&'static str, u64)>>,
}

impl Broker {
    /// Subscribes to `topic` with a buffer of `cap` messages.
    async fn subscribe(
        &self,
        topic: &'static str,
        name: &'static str,
        cap: usize,
        policy: Policy,
    ) -> Receiver<Msg> {
        let (tx, rx) = goro::chan(cap);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sub = Arc::new(Subscription {
            id,
            name,
            tx,
            policy,
            dropped: AtomicU64::new(0),
        });
        self.topics
            .write()
            .await
            .entry(topic)
            .or_default()
            .push(sub);
        rx
    }

    /// Delivers `msg` to every subscriber of its topic; returns how many got it.
    async fn publish(&self, msg: Msg) -> usize {
        let topics = self.topics.read().await; // b.mu.RLock()
        let Some(subs) = topics.get(msg.topic) else {
            return 0;
        };
        let mut delivered = 0;
        let mut too_slow = Vec::new();
        for sub in subs {
            match sub.policy {
                Policy::Block => {
                    // Err only if the subscriber's receivers are all gone.
                    if sub.tx.send(msg.clone()).await.is_ok() {
                        delivered += 1;
                    }
                }
                Policy::Drop { disconnect_after } => match sub.tx.try_send(msg.clone()) {
                    Ok(()) => delivered += 1,
                    Err(TrySendError::Full(_)) => {
                        let dropped = sub.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        if dropped == disconnect_after {
                            too_slow.push(sub.clone());
                        }
                    }
                    Err(TrySendError::Closed(_)) => {}
                },
            }
        }
        drop(topics); // b.mu.RUnlock(), before disconnect takes the write lock
        for sub in too_slow {
            self.disconnect(msg.topic, &sub).await;
        }
        delivered
    }

    /// Removes a subscriber and closes its channel: its consumer drains
    /// what is buffered, then `recv` returns `None`.
    async fn disconnect(&self, topic: &'static str, sub: &Subscription) {
        if let Some(subs) = self.topics.write().await.get_mut(topic) {
            subs.retain(|s| s.id != sub.id);
        }
        if !sub.tx.is_closed() {
            sub.tx.close();
            let n = sub.dropped.load(Ordering::Relaxed);
            self.disconnected.lock().unwrap().push((sub.name, n));
        }
    }

    /// Closes every subscription (the end of the stream for all consumers).
    async fn close(&self) {
        let topics = std::mem::take(&mut *self.topics.write().await);
        for sub in topics.into_values().flatten() {
            if !sub.tx.is_closed() {
                sub.tx.close();
            }
        }
    }
}

fn main() {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: u64 = 500;
    goro::run(async {
        let broker = Arc::new(Broker::default());

        // Subscribers.
        let audit_orders = broker.subscribe("orders", "audit", 64, Policy::Block).await;
        let audit_payments = broker
            .subscribe("payments", "audit", 64, Policy::Block)
            .await;
        let billing = broker
            .subscribe("payments", "billing", 32, Policy::Block)
            .await;
        let mailer = broker
            .subscribe(
                "orders",
                "mailer",
                8,
                Policy::Drop {
                    disconnect_after: 100,
                },
            )
            .await;

        let consumers = WaitGroup::new();
        let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let count = |name: String, rx: Receiver<Msg>, delay: Duration| {
            let counts = counts.clone();
            consumers.go(async move {
                let mut n = 0;
                while let Some(msg) = rx.recv().await {
                    debug_assert!(msg.producer < PRODUCERS && msg.seq < PER_PRODUCER);
                    n += 1;
                    if !delay.is_zero() {
                        goro::time::sleep(delay).await; // a slow consumer
                    }
                }
                *counts.lock().unwrap().entry(name).or_default() += n;
            });
        };
        count("audit/orders".into(), audit_orders, Duration::ZERO);
        count("audit/payments".into(), audit_payments, Duration::ZERO);
        for i in 0..3 {
            // A consumer group: three Gs share one subscription.
            count(
                format!("billing/worker-{i}"),
                billing.clone(),
                Duration::ZERO,
            );
        }
        drop(billing);
        count(
            "mailer/orders (slow)".into(),
            mailer,
            Duration::from_millis(1),
        );

        // Producers.
        let producers = WaitGroup::new();
        for p in 0..PRODUCERS {
            let broker = broker.clone();
            producers.go(async move {
                for seq in 0..PER_PRODUCER {
                    let topic = if seq % 2 == 0 { "orders" } else { "payments" };
                    broker
                        .publish(Msg {
                            topic,
                            producer: p,
                            seq,
                        })
                        .await;
                    if seq % 50 == 0 {
                        goro::gosched().await;
                    }
                }
            });
        }
        producers.wait().await;
        broker.close().await;
        consumers.wait().await;

        let total = PRODUCERS as u64 * PER_PRODUCER;
        println!("{PRODUCERS} producers published {total} messages on 2 topics");
        let counts = counts.lock().unwrap();
        let mut names: Vec<_> = counts.keys().cloned().collect();
        names.sort();
        for name in &names {
            println!("  {name:24} received {}", counts[name]);
        }
        for (name, dropped) in broker.disconnected.lock().unwrap().iter() {
            println!(
                "  subscriber {name:?} was too slow: {dropped} messages dropped, then disconnected"
            );
        }
        let billing: u64 = names
            .iter()
            .filter(|n| n.starts_with("billing/"))
            .map(|n| counts[n])
            .sum();
        println!("  billing group total: {billing} (each payment went to exactly one worker)");
        assert_eq!(counts["audit/orders"] + counts["audit/payments"], total);
        assert_eq!(billing, total / 2);
    });
}
