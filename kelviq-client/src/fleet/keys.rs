//! The fleet's key names: `<prefix>:{<customer>}:<what>`.
//!
//! Customer and feature ids are input the service does not control. Inside a key they are
//! percent-encoded — `%`, `{`, `}`, `:`, spaces, control characters and every non-ASCII
//! byte — so that:
//!
//! - no two (customer, what) pairs give the same key (`:` and `}` cannot end an id early);
//! - the hash tag `{…}` is exactly the encoded customer id (no brace inside it), so every
//!   key of one customer lands on one Redis Cluster slot and one Lua script may touch them
//!   all, and different customers spread over the slots.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// What is escaped in an id inside a key.
const KEY_UNSAFE: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'{').add(b'}').add(b':');

/// Builds the fleet's key and channel names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// The keys of one customer (one hash tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CustomerKeys {
    /// `<prefix>:{<customer>}`: what every key of the customer starts with.
    base: String,
    /// The shared snapshot (the wire JSON and when it was fetched).
    pub(crate) snapshot: String,
    /// The loader's lease.
    pub(crate) lease: String,
    /// Bumped by every invalidation: a load that started before one is not stored.
    pub(crate) generation: String,
    /// Durable usage pushed by the fleet and not yet taken for delivery: feature → units.
    pub(crate) pending: String,
    /// Usage taken by a delivery lease holder and not yet settled: `<take>:<feature>` →
    /// units. Never delivered again (its outcome may be unknown).
    pub(crate) flight: String,
    /// The last push applied from each instance: instance → push number (so that a push
    /// whose answer was lost is applied once when sent again).
    pub(crate) pushed: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// The keys of `customer_id`.
    pub(crate) fn customer(&self, customer_id: &str) -> CustomerKeys {
        let base = format!("{}:{{{}}}", self.prefix, encode(customer_id));
        CustomerKeys {
            snapshot: format!("{base}:snap"),
            lease: format!("{base}:lease"),
            generation: format!("{base}:gen"),
            pending: format!("{base}:pending"),
            flight: format!("{base}:flight"),
            pushed: format!("{base}:pushed"),
            base,
        }
    }

    /// The one pub/sub channel of the fleet: invalidations and load notifications.
    pub(crate) fn channel(&self) -> String {
        format!("{}:fleet:events", self.prefix)
    }

    /// The index of customers with pending usage (a sorted set scored by the time of their
    /// first push, so that the longest waiting go first). Touched by one-key commands only.
    pub(crate) fn usage_index(&self) -> String {
        format!("{}:fleet:usage", self.prefix)
    }

    /// The delivery lease: whoever holds it delivers the fleet's pending usage to Kelviq.
    pub(crate) fn delivery_lease(&self) -> String {
        format!("{}:fleet:delivery", self.prefix)
    }
}

impl CustomerKeys {
    /// The shared usage counter of one feature of the customer in one usage period (the
    /// `resetAt` Kelviq gives; empty when it gives none): a new period starts a new counter.
    pub(crate) fn counter(&self, feature_id: &str, period: &str) -> String {
        format!(
            "{}:used:{}:{}",
            self.base,
            encode(feature_id),
            encode(period)
        )
    }

    /// The keys of one feature's shared limit in one usage period: its counter and the
    /// holds of the reservations in flight against it.
    pub(crate) fn limit(&self, feature_id: &str, period: &str) -> LimitKeys {
        let (feature, period) = (encode(feature_id), encode(period));
        LimitKeys {
            counter: format!("{}:used:{feature}:{period}", self.base),
            holds: format!("{}:holds:{feature}:{period}", self.base),
            expiry: format!("{}:holds-until:{feature}:{period}", self.base),
        }
    }
}

/// The keys of one shared limit (strict reservations): all on the customer's hash tag, so
/// that one script touches the three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitKeys {
    /// The units counted against the limit: kept ones plus every hold's (see
    /// [`CustomerKeys::counter`]).
    pub(crate) counter: String,
    /// The holds in flight: reservation id → units held.
    pub(crate) holds: String,
    /// When each hold lapses unless renewed: reservation id scored by Redis's clock (Unix
    /// milliseconds).
    pub(crate) expiry: String,
}

/// An id, escaped for a key.
fn encode(id: &str) -> String {
    utf8_percent_encode(id, KEY_UNSAFE).to_string()
}

/// The part of a key Redis Cluster hashes: between the first `{` and the first `}` after
/// it, when not empty; else the whole key.
#[cfg(test)]
fn hash_slot_part(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(close) = key[open + 1..].find('}')
        && close > 0
    {
        return &key[open + 1..open + 1 + close];
    }
    key
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    // (An empty id never gets here: every entry point refuses it.)
    const HOSTILE: [&str; 9] = [
        "plain",
        "a}b",
        "a{b",
        "{a}",
        "a:b",
        "a b",
        "a%7Db",
        "ünïcødé 客户",
        "}:snap",
    ];

    #[test]
    fn every_key_of_a_customer_shares_one_hash_tag_that_is_the_whole_id() {
        let keys = Keys::new("kelviq");
        for id in HOSTILE {
            let customer = keys.customer(id);
            let tag = hash_slot_part(&customer.snapshot);
            assert_eq!(tag, encode(id), "{id:?}");
            for key in [
                &customer.lease,
                &customer.generation,
                &customer.pending,
                &customer.flight,
                &customer.pushed,
                &customer.counter("api:calls}", "2026-01-01 00:00:00"),
                &customer.limit("api:calls}", "p").holds,
                &customer.limit("api:calls}", "p").expiry,
            ] {
                assert_eq!(hash_slot_part(key), tag, "{id:?}: {key}");
            }
            assert!(!tag.contains(['{', '}', ':', ' ']), "{tag}");
        }
    }

    #[test]
    fn hostile_ids_never_give_the_same_key() {
        let keys = Keys::new("kelviq");
        let mut seen = HashSet::new();
        for id in HOSTILE {
            let customer = keys.customer(id);
            for key in [customer.snapshot, customer.lease, customer.generation] {
                assert!(seen.insert(key.clone()), "collision on {key}");
            }
        }
        // Ids and features that would run together without escaping.
        let pairs = [("a", "b:c"), ("a:b", "c"), ("a", "b"), ("a}", "b")];
        let mut counters = HashSet::new();
        for (customer, feature) in pairs {
            let key = keys.customer(customer).counter(feature, "p");
            assert!(counters.insert(key.clone()), "collision on {key}");
        }
        assert_ne!(
            keys.customer("a").counter("b", "c:d"),
            keys.customer("a").counter("b:c", "d")
        );
        // The escape is the percent sign's own: `%7D` as typed and `}` differ.
        assert_ne!(keys.customer("a%7Db"), keys.customer("a}b"));
    }

    #[test]
    fn keys_read_as_documented() {
        let keys = Keys::new("svc");
        let customer = keys.customer("cust 1");
        assert_eq!(customer.snapshot, "svc:{cust%201}:snap");
        assert_eq!(customer.lease, "svc:{cust%201}:lease");
        assert_eq!(
            customer.counter("api-calls", "2026-02-01 00:00:00"),
            "svc:{cust%201}:used:api-calls:2026-02-01%2000%3A00%3A00"
        );
        let limit = customer.limit("api-calls", "p");
        assert_eq!(limit.counter, customer.counter("api-calls", "p"));
        assert_eq!(limit.holds, "svc:{cust%201}:holds:api-calls:p");
        assert_eq!(limit.expiry, "svc:{cust%201}:holds-until:api-calls:p");
        assert_eq!(keys.channel(), "svc:fleet:events");
    }
}
