//! Fleet-wide invalidation: one script deletes the customer's shared snapshot and lease,
//! bumps its generation and publishes; every instance's subscriber drops its local
//! snapshot. The subscriber also wakes the instances waiting for a load.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures::StreamExt;
use redis::aio::PubSubSink;
use redis::{Msg, Script, Value};
use tokio::sync::watch;

use super::connection::Failure;
use super::helpers::millis;
use super::stats::Event;
use super::{Fleet, Shared, Subscriber};
use crate::cache::LocalCache;

/// `KEYS`: snapshot, lease, generation; `ARGV`: generation TTL ms, channel, message.
static INVALIDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
",
    )
});

/// The first wait before the subscriber connects again; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How often the subscriber pings its connection, to notice one that died silently.
const HEARTBEAT: Duration = Duration::from_secs(5);

impl Fleet {
    /// Invalidates the customer in Redis and, through the channel, on every other
    /// instance (this one's local cache is the caller's business). Returns at once; the
    /// update runs in the background, and this instance's next load of the customer waits
    /// for it.
    pub(super) fn publish_invalidation(&self, customer_id: &str) {
        self.start();
        let shared = Arc::clone(&self.shared);
        let customer = customer_id.to_owned();
        self.shared.spawn_background(Some(customer_id), async move {
            let keys = shared.keys.customer(&customer);
            let mut invocation = INVALIDATE.prepare_invoke();
            invocation
                .key(&keys.snapshot)
                .key(&keys.lease)
                .key(&keys.generation)
                .arg(millis(shared.generation_ttl))
                .arg(shared.keys.channel())
                .arg(shared.message('i', &customer));
            if shared
                .redis
                .run::<i64>("invalidate", &invocation, &shared.counters)
                .await
                .is_ok()
            {
                shared.count(Event::InvalidationSent);
            }
        });
    }
}

impl Shared {
    fn set_subscriber(&self, state: Subscriber) {
        self.subscriber.send_replace(state);
        self.counters
            .subscriber_connected(state == Subscriber::Subscribed);
    }

    /// Applies one message of the channel to the local cache.
    fn receive(&self, cache: &LocalCache, message: &Msg) {
        let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) else {
            return;
        };
        let mut parts = text.splitn(3, ' ');
        let (Some(kind), Some(instance), Some(customer_id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        match kind {
            "i" if instance != self.instance => {
                cache.invalidate(customer_id);
                self.count(Event::InvalidationReceived);
                tracing::debug!("kelviq fleet: snapshot invalidated by another instance");
            }
            "r" => self.waiters.wake(customer_id),
            _ => {}
        }
    }
}

/// Pings a subscribed connection, within `timeout`. Subscribed, Redis answers `PING` with
/// an array (`pong` and an empty message) under RESP2 and a plain `PONG` under RESP3: any
/// answer but an error is a live connection.
async fn ping(sink: &mut PubSubSink, timeout: Duration) -> Result<(), Failure> {
    match tokio::time::timeout(timeout, sink.ping::<Value>()).await {
        Ok(answer) => answer
            .and_then(Value::extract_error)
            .map(drop)
            .map_err(Failure::from_redis),
        Err(_) => Err(Failure::Timeout),
    }
}

/// Marks the subscriber disconnected when its task ends, however it ends (the fleet
/// dropped, the runtime shut down).
struct Listening<'a>(&'a Shared);

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        self.0.set_subscriber(Subscriber::Down);
    }
}

/// The subscriber task: listens on the fleet's channel until the fleet is dropped (with
/// the client, its cache and meter), reconnecting with backoff. After any gap (a failed
/// first attempt, a disconnect) it empties the local cache: invalidations may have been
/// published meanwhile.
pub(super) async fn subscribe(
    shared: Arc<Shared>,
    cache: LocalCache,
    mut stop: watch::Receiver<bool>,
) {
    let _listening = Listening(&shared);
    let channel = shared.keys.channel();
    let mut backoff = MIN_BACKOFF;
    let mut gap = false;
    loop {
        let connect = async {
            let (mut sink, stream) = shared.redis.pubsub().await?.split();
            tokio::time::timeout(shared.redis.connect_timeout(), sink.subscribe(&channel))
                .await
                .map_err(|_| Failure::Timeout)?
                .map_err(Failure::from_redis)?;
            Ok::<_, Failure>((sink, stream))
        };
        let connected = tokio::select! {
            connected = connect => connected,
            _ = stop.changed() => return,
        };
        match connected {
            Ok((mut sink, mut stream)) => {
                if gap {
                    shared.count(Event::SubscriberReconnect);
                    cache.invalidate_all();
                    tracing::info!(
                        "kelviq fleet: subscribed again; local snapshots dropped (invalidations may have been missed)"
                    );
                }
                shared.set_subscriber(Subscriber::Subscribed);
                backoff = MIN_BACKOFF;
                let mut heartbeat = tokio::time::interval(HEARTBEAT);
                heartbeat.tick().await;
                let failure = loop {
                    tokio::select! {
                        message = stream.next() => match message {
                            Some(message) => shared.receive(&cache, &message),
                            None => break Failure::Closed,
                        },
                        _ = heartbeat.tick() => {
                            let timeout = shared.redis.connect_timeout();
                            if let Err(failure) = ping(&mut sink, timeout).await {
                                break failure;
                            }
                        }
                        _ = stop.changed() => return,
                    }
                };
                shared
                    .redis
                    .failed("subscription lost", &failure, &shared.counters);
            }
            Err(failure) => shared.redis.failed("subscribe", &failure, &shared.counters),
        }
        gap = true;
        shared.set_subscriber(Subscriber::Down);
        let jitter = Duration::from_millis(fastrand::u64(0..=millis(backoff) / 2));
        tokio::select! {
            () = tokio::time::sleep(backoff.saturating_add(jitter)) => {}
            _ = stop.changed() => return,
        }
        backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
    }
}
