//! How a request's context refers to its customer's snapshot without making every core
//! write one counter.
//!
//! A context keeps its snapshot alive while the request runs (handlers read it, the
//! request's hold is settled on it). An `Arc<Snapshot>` per request would be one reference
//! count per customer, written twice per request by every core serving that customer: a
//! hot customer's requests on two cores take turns on that line (measured with
//! `engine-scaling --one-customer --gate`: 1.2× from 1 to 2 threads). So each stripe of a
//! gate keeps a *lease* on the snapshot it last admitted on — one allocation holding one
//! reference to it — and the contexts of that stripe share the lease: its count is a line
//! only that stripe's requests write. A lease is checked against the cache's current
//! snapshot on every admission (a pointer compare) and replaced when the customer or the
//! snapshot changed, so it never hands out a replaced snapshot; it keeps at most one
//! snapshot per stripe of each gate alive beyond the cache (until the stripe admits on
//! another). A stripe whose lease is busy (another thread of the same stripe, in practice
//! rare) hands out a plain `Arc`.

use std::sync::{Arc, Mutex};

use crate::cache::Snapshot;

/// One reference to a snapshot, shared by the contexts of one stripe of a gate.
#[derive(Debug)]
pub(super) struct Lease {
    snapshot: Arc<Snapshot>,
}

/// A context's reference to its snapshot: its stripe's lease, or its own `Arc`.
#[derive(Debug, Clone)]
pub(super) enum SnapshotRef {
    /// Its own reference (a load, a fallback, a lease that was busy).
    Owned(Arc<Snapshot>),
    /// Its stripe's lease.
    Leased(Arc<Lease>),
}

impl SnapshotRef {
    /// The snapshot.
    pub(super) fn get(&self) -> &Arc<Snapshot> {
        match self {
            SnapshotRef::Owned(snapshot) => snapshot,
            SnapshotRef::Leased(lease) => &lease.snapshot,
        }
    }
}

impl std::ops::Deref for SnapshotRef {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        self.get()
    }
}

/// A stripe's lease slot: the lease on the snapshot it last admitted on.
#[derive(Debug, Default)]
pub(super) struct LeaseSlot {
    current: Mutex<Option<Arc<Lease>>>,
}

impl LeaseSlot {
    /// A reference to `snapshot` for a context of this stripe: the stripe's lease when it
    /// is on this very snapshot, else a new lease that replaces it (or, when another
    /// thread holds the slot, an `Arc` of the context's own).
    pub(super) fn reference(&self, snapshot: &Arc<Snapshot>) -> SnapshotRef {
        let Ok(mut current) = self.current.try_lock() else {
            return SnapshotRef::Owned(Arc::clone(snapshot));
        };
        if let Some(lease) = current.as_ref()
            && Arc::ptr_eq(&lease.snapshot, snapshot)
        {
            return SnapshotRef::Leased(Arc::clone(lease));
        }
        let lease = Arc::new(Lease {
            snapshot: Arc::clone(snapshot),
        });
        *current = Some(Arc::clone(&lease));
        SnapshotRef::Leased(lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Entitlements, RawEntitlements};

    fn snapshot(customer: &str) -> Arc<Snapshot> {
        let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
            "customerId": customer, "entitlements": []
        }))
        .unwrap();
        Arc::new(Snapshot::new(Entitlements::from_raw(raw)))
    }

    #[test]
    fn a_stripe_shares_one_lease_per_snapshot_and_lets_replaced_ones_go() {
        let slot = LeaseSlot::default();
        let first = snapshot("a");
        let (SnapshotRef::Leased(one), SnapshotRef::Leased(two)) =
            (slot.reference(&first), slot.reference(&first))
        else {
            panic!("an idle slot leases");
        };
        assert!(Arc::ptr_eq(&one, &two));
        // One reference to the snapshot for both contexts (and the test's own).
        assert_eq!(Arc::strong_count(&first), 2);
        let second = snapshot("b");
        let three = slot.reference(&second);
        assert!(Arc::ptr_eq(three.get(), &second));
        drop((one, two));
        // The slot moved on: nothing keeps the first snapshot but the test.
        assert_eq!(Arc::strong_count(&first), 1);
        // A busy slot hands out the snapshot itself.
        let busy = slot.current.lock().unwrap();
        assert!(matches!(slot.reference(&second), SnapshotRef::Owned(_)));
        drop(busy);
    }
}
