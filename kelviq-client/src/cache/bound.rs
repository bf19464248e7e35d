//! What bounds the snapshot index: the order in which snapshots were stored, and the
//! eviction that each store runs on it.
//!
//! Every store appends one record, (customer, when its snapshot was fetched), and then
//! drops records from the front: a record whose snapshot is no longer the indexed one
//! (replaced by a refresh, or invalidated) is dropped alone; the indexed snapshot of the
//! front record is removed from the index too while the index holds more customers than
//! its capacity (the least recently fetched go first), or once it is past its lifetime
//! (its stale window, plus some slack). Records of replaced snapshots left behind the front
//! are swept out whenever the records outnumber twice the customers, so the work stays
//! constant per store on average and the records (40 bytes each: the id, inline up to 23
//! bytes, and an instant) take 40–80 bytes per customer, plus the queue's spare capacity.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use smol_str::SmolStr;
use tokio::time::Instant;

use super::Index;
use crate::sync::lock;

/// The store order of the indexed snapshots.
#[derive(Default)]
pub(super) struct StoreOrder {
    records: Mutex<VecDeque<(SmolStr, Instant)>>,
}

impl StoreOrder {
    /// Records that `customer`'s snapshot fetched at `fetched_at` was just stored in
    /// `index`, then evicts: past `capacity` customers the least recently fetched, and
    /// every snapshot older than `lifetime`.
    pub(super) fn stored(
        &self,
        index: &Index,
        customer: SmolStr,
        fetched_at: Instant,
        capacity: usize,
        lifetime: Duration,
    ) {
        let mut records = lock(&self.records);
        records.push_back((customer, fetched_at));
        let index = index.pin();
        // Whether the customer's indexed snapshot is the one fetched at `fetched_at`.
        let is_current = |customer: &str, fetched_at: Instant| {
            index
                .get(customer)
                .is_some_and(|snapshot| snapshot.fetched_at() == fetched_at)
        };
        let now = Instant::now();
        while let Some((customer, fetched_at)) = records.front() {
            if is_current(customer, *fetched_at) {
                let expired = now.saturating_duration_since(*fetched_at) >= lifetime;
                if !expired && index.len() <= capacity {
                    break;
                }
                let fetched_at = *fetched_at;
                let _ = index.remove_if(customer.as_str(), |_, snapshot| {
                    snapshot.fetched_at() == fetched_at
                });
            }
            records.pop_front();
        }
        if records.len() > index.len().saturating_mul(2) {
            records.retain(|(customer, fetched_at)| is_current(customer, *fetched_at));
            let kept = records.len();
            records.shrink_to(kept.saturating_mul(2));
        }
    }

    /// Forgets every record (the index was cleared).
    pub(super) fn clear(&self) {
        lock(&self.records).clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cache::Snapshot;
    use crate::models::{Entitlements, RawEntitlements};

    fn snapshot(customer: &str) -> Arc<Snapshot> {
        let raw: RawEntitlements =
            serde_json::from_value(serde_json::json!({"customerId": customer})).unwrap();
        Arc::new(Snapshot::new(Entitlements::from_raw(raw)))
    }

    fn store(index: &Index, order: &StoreOrder, customer: &str, lifetime: Duration) {
        let snapshot = snapshot(customer);
        let fetched_at = snapshot.fetched_at();
        index.pin().insert(SmolStr::new(customer), snapshot);
        order.stored(index, SmolStr::new(customer), fetched_at, 2, lifetime);
    }

    #[tokio::test(start_paused = true)]
    async fn evicts_the_least_recently_fetched_and_reclaims_the_expired() {
        let (index, order) = (Index::default(), StoreOrder::default());
        let lifetime = Duration::from_secs(60);
        store(&index, &order, "a", lifetime);
        tokio::time::advance(Duration::from_secs(1)).await;
        store(&index, &order, "b", lifetime);
        tokio::time::advance(Duration::from_secs(1)).await;
        store(&index, &order, "a", lifetime);
        tokio::time::advance(Duration::from_secs(1)).await;
        store(&index, &order, "c", lifetime);
        let mut kept: Vec<String> = index.pin().keys().map(|key| key.to_string()).collect();
        kept.sort();
        assert_eq!(kept, ["a", "c"], "b was fetched least recently");
        assert!(order.records.lock().unwrap().len() <= 2 * index.len());
        tokio::time::advance(Duration::from_secs(60)).await;
        store(&index, &order, "d", lifetime);
        let kept: Vec<String> = index.pin().keys().map(|key| key.to_string()).collect();
        assert_eq!(kept, ["d"], "a and c are past their lifetime");
    }
}
