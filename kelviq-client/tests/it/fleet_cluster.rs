//! The fleet on a Redis Cluster (three primaries on loopback, `kelviq_mock::RedisCluster`):
//! the guarantees of `fleet.rs` where a cluster could break them — customers on different
//! nodes, pipelines spanning slots, invalidations published on one node and heard on the
//! others. Every test also asserts that Redis never failed: a split pipeline refused
//! (`CROSSSLOT`) would fall back to one instance and pass for the wrong reason.

use std::time::{Duration, Instant};

use kelviq_client::Kelviq;
use kelviq_client::fleet::FleetConfig;
use kelviq_client::gate::Gate;
use kelviq_client::webhook::{Reception, Webhook, WebhookRoute};
use kelviq_mock::{MockServer, RedisCluster};

use crate::fleet::{
    admit, eventually, hammer, member_with, mock_with, prefix, shut_down_cleanly, signed_delivery,
    stats, strict_gate, total,
};

/// Fleet member `index` of a cluster: its seed list starts at node `index` (mod 3), so
/// the subscribers of consecutive members listen on different nodes.
fn cluster_member(mock: &MockServer, cluster: &RedisCluster, prefix: &str, index: usize) -> Kelviq {
    let mut urls = cluster.urls();
    let len = urls.len();
    urls.rotate_left(index % len);
    member_with(mock, FleetConfig::redis_cluster(urls).prefix(prefix))
}

/// Waits until every member's subscriber is subscribed.
async fn subscribed(fleet: &[Kelviq]) {
    let all = eventually(Duration::from_secs(10), async || {
        fleet
            .iter()
            .all(|kelviq| stats(kelviq).subscriber_connected)
    })
    .await;
    assert!(all, "a subscriber never subscribed");
}

fn no_redis_errors(fleet: &[Kelviq]) {
    assert_eq!(
        total(fleet, |s| s.redis_errors),
        0,
        "redis failed on the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_loads_each_customer_once_across_instances() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    // Ten customers: their hash tags spread over the three nodes.
    let customers: Vec<String> = (0..10).map(|i| format!("cust_cl_once_{i}")).collect();
    let seeded: Vec<(&str, &str)> = customers.iter().map(|c| (c.as_str(), "pro")).collect();
    let mock = mock_with(&seeded).await;
    let prefix = prefix("cl-once");
    let fleet: Vec<Kelviq> = (0..4)
        .map(|i| cluster_member(&mock, cluster, &prefix, i))
        .collect();
    let checks: Vec<_> = (0..200)
        .map(|i| {
            let kelviq = fleet[i % 4].clone();
            let customer = customers[i % customers.len()].clone();
            tokio::spawn(async move { kelviq.entitlements_snapshot(&customer).await })
        })
        .collect();
    for check in checks {
        let snapshot = check.await.unwrap().expect("every first check is answered");
        assert!(snapshot.snapshot().has_access("reports"));
    }
    for customer in &customers {
        assert_eq!(mock.entitlement_calls(customer), 1, "{customer}");
    }
    assert_eq!(total(&fleet, |s| s.snapshots_loaded), 10);
    assert_eq!(total(&fleet, |s| s.load_fallbacks), 0);
    no_redis_errors(&fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_invalidation_reaches_every_instance() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    const TRIALS: usize = 30;
    // Three customers, so the invalidating script runs on more than one node.
    let customers = ["cust_cl_hook_a", "cust_cl_hook_b", "cust_cl_hook_c"];
    let mock = mock_with(&customers.map(|c| (c, "free"))).await;
    let prefix = prefix("cl-hook");
    // Four members: subscribers on nodes 0, 1, 2, 0.
    let fleet: Vec<Kelviq> = (0..4)
        .map(|i| cluster_member(&mock, cluster, &prefix, i))
        .collect();
    for kelviq in &fleet {
        for customer in customers {
            assert!(
                !kelviq
                    .entitlements()
                    .has_access(customer, "reports")
                    .await
                    .unwrap()
            );
        }
    }
    subscribed(&fleet).await;
    let secret = "whsec_cluster";
    let route = WebhookRoute::new(Webhook::new(secret).unwrap());
    for trial in 0..TRIALS {
        let customer = customers[trial % customers.len()];
        let pro = (trial / customers.len()).is_multiple_of(2);
        mock.set_plan(customer, if pro { "pro" } else { "free" })
            .unwrap();
        let (headers, body) = signed_delivery(secret, &format!("msg_cl_{trial}"), customer);
        // Each trial's webhook lands on another member.
        let receiver = trial % fleet.len();
        match route.receive(&headers, &body) {
            Reception::Deliver { event, receipt } => {
                fleet[receiver].invalidate_entitlements(event.customer_id().unwrap());
                receipt.finish(200);
            }
            Reception::Answer(response) => panic!("refused: {}", response.status()),
        }
        let sent = Instant::now();
        for (index, kelviq) in fleet.iter().enumerate() {
            if index == receiver {
                continue;
            }
            let reached = eventually(Duration::from_secs(10), async || {
                kelviq
                    .entitlements_snapshot(customer)
                    .await
                    .is_ok_and(|cached| cached.snapshot().has_access("reports") == pro)
            })
            .await;
            assert!(
                reached,
                "trial {trial}: member {index} never saw the new plan"
            );
        }
        assert!(sent.elapsed() < Duration::from_secs(10));
    }
    // Every other member heard every invalidation, whichever node it listens on (counted
    // just after the local snapshot is dropped: the last one may be a moment late).
    let heard = eventually(Duration::from_secs(5), async || {
        total(&fleet, |s| s.invalidations_received) == 3 * TRIALS as u64
    })
    .await;
    assert!(
        heard,
        "{} of {} invalidations heard",
        total(&fleet, |s| s.invalidations_received),
        3 * TRIALS
    );
    assert_eq!(total(&fleet, |s| s.subscriber_reconnects), 0);
    for customer in customers {
        // One upstream call per plan change (and the first load), not one per instance.
        assert_eq!(
            mock.entitlement_calls(customer),
            TRIALS / 3 + 1,
            "{customer}"
        );
    }
    no_redis_errors(&fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_strict_limit_is_never_passed_and_holds_are_released() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    // Two customers on (most likely) different nodes, each with a limit of 1,000.
    let customers = ["cust_cl_strict_a", "cust_cl_strict_b"];
    let mock = mock_with(&customers.map(|c| (c, "free"))).await;
    let prefix = prefix("cl-strict");
    let fleet: Vec<Kelviq> = (0..4)
        .map(|i| cluster_member(&mock, cluster, &prefix, i))
        .collect();
    let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();
    // Per customer: 4 instances × 16 workers × 24 requests, 1,536 attempts; every 7th
    // answers 503 and gives its hold back.
    let workers: Vec<_> = (0..2 * 4 * 16)
        .map(|worker| {
            let customer = customers[worker % 2];
            tokio::spawn(hammer(
                gates[(worker / 2) % 4].clone(),
                customer,
                24,
                Duration::ZERO,
            ))
        })
        .collect();
    let mut successes = [0_u64; 2];
    let mut refused = [0_u64; 2];
    for (worker, handle) in workers.into_iter().enumerate() {
        let (ok, no) = handle.await.unwrap();
        successes[worker % 2] += ok;
        refused[worker % 2] += no;
    }
    for (index, customer) in customers.iter().enumerate() {
        assert!(refused[index] > 0, "{customer}: the limit refused nothing");
        assert!(
            successes[index] <= 1_000,
            "{customer}: {} successes for a limit of 1,000",
            successes[index]
        );
        // The 503s gave their units back: the limit can be used up to the last unit,
        // and not one further.
        let mut filled = successes[index];
        let full = eventually(Duration::from_secs(10), async || {
            while let Ok(context) = admit(&gates[index], customer).await {
                gates[index].finish(&context, 200, None);
                filled += 1;
            }
            filled == 1_000
        })
        .await;
        assert!(
            full,
            "{customer}: {filled} admitted after refilling; {:?}",
            fleet.iter().map(stats).collect::<Vec<_>>()
        );
        assert!(admit(&gates[(index + 1) % 4], customer).await.is_err());
    }
    assert_eq!(total(&fleet, |s| s.reservation_fallbacks), 0);
    assert!(total(&fleet, |s| s.reservations_released) > 0);
    no_redis_errors(&fleet);
    shut_down_cleanly(&fleet).await;
    for customer in customers {
        assert_eq!(mock.usage_total(customer, "api-calls"), 1_000, "{customer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_durable_usage_is_delivered_once() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    // Twelve customers over the three nodes; one push pipeline spans them all.
    let customers: Vec<String> = (0..12).map(|i| format!("cust_cl_usage_{i}")).collect();
    let seeded: Vec<(&str, &str)> = customers.iter().map(|c| (c.as_str(), "pro")).collect();
    let mock = mock_with(&seeded).await;
    let before: Vec<i64> = customers
        .iter()
        .map(|c| mock.usage_total(c, "api-calls"))
        .collect();
    let prefix = prefix("cl-usage");
    let fleet: Vec<Kelviq> = (0..3)
        .map(|i| cluster_member(&mock, cluster, &prefix, i))
        .collect();
    // Each member records 10 units for each customer, in rounds across flushes.
    for round in 0..10 {
        for kelviq in &fleet {
            let meter = kelviq.usage_meter().unwrap();
            for customer in &customers {
                meter.record(customer, "api-calls", 1).unwrap();
            }
        }
        if round % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let expected = 3 * 10;
    let delivered = eventually(Duration::from_secs(20), async || {
        customers
            .iter()
            .zip(&before)
            .all(|(c, before)| mock.usage_total(c, "api-calls") == before + expected)
    })
    .await;
    assert!(delivered, "the fleet's usage was not delivered");
    // Through Redis: every unit was pushed, and the lease holders delivered them all.
    let all = (customers.len() as i128) * i128::from(expected);
    for kelviq in &fleet {
        let meter = kelviq.usage_meter().unwrap().stats();
        assert_eq!(meter.pushed, meter.recorded, "{meter:?}");
    }
    let counted = eventually(Duration::from_secs(5), async || {
        fleet.iter().map(|k| stats(k).usage_delivered).sum::<i128>() == all
    })
    .await;
    assert!(counted, "{:?}", fleet.iter().map(stats).collect::<Vec<_>>());
    no_redis_errors(&fleet);
    shut_down_cleanly(&fleet).await;
    // Once: nothing more arrives after the shutdown.
    for (customer, before) in customers.iter().zip(&before) {
        assert_eq!(
            mock.usage_total(customer, "api-calls"),
            before + expected,
            "{customer}"
        );
    }
}

/// A customer whose keys live on a node other than `node` (that node refuses its key with
/// `MOVED`).
async fn customer_off(node: &str, stem: &str) -> String {
    let mut direct = crate::fleet::raw(node).await;
    for i in 0.. {
        let customer = format!("{stem}_{i}");
        let answer: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(format!("{{{customer}}}"))
            .query_async(&mut direct)
            .await;
        if answer.is_err() {
            return customer;
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_subscriber_moves_to_another_node_when_its_node_dies() {
    if !kelviq_mock::RedisServer::available() {
        return;
    }
    // A cluster of its own: one node is killed.
    let cluster = RedisCluster::start().unwrap();
    let urls = cluster.urls();
    let customer = customer_off(&urls[0], "cust_cl_moves").await;
    let mock = mock_with(&[(customer.as_str(), "free")]).await;
    let prefix = prefix("cl-moves");
    // A listens on node 0, B on node 1.
    let fleet: Vec<Kelviq> = (0..2)
        .map(|i| cluster_member(&mock, &cluster, &prefix, i))
        .collect();
    for kelviq in &fleet {
        assert!(
            !kelviq
                .entitlements()
                .has_access(&customer, "reports")
                .await
                .unwrap()
        );
    }
    subscribed(&fleet).await;
    cluster.stop_node(0);
    // A's subscription breaks; it subscribes again on the next node.
    let moved = eventually(Duration::from_secs(15), async || {
        let a = stats(&fleet[0]);
        a.subscriber_reconnects >= 1 && a.subscriber_connected
    })
    .await;
    assert!(moved, "{:?}", stats(&fleet[0]));
    // (Its local snapshots were dropped with the gap: load the customer again.)
    assert!(
        !fleet[0]
            .entitlements()
            .has_access(&customer, "reports")
            .await
            .unwrap()
    );
    let received = stats(&fleet[0]).invalidations_received;
    // B's invalidation runs on the customer's node (alive) and reaches A on its new node.
    mock.set_plan(&customer, "pro").unwrap();
    fleet[1].invalidate_entitlements(&customer);
    let reached = eventually(Duration::from_secs(10), async || {
        stats(&fleet[0]).invalidations_received > received
    })
    .await;
    assert!(reached, "{:?}", stats(&fleet[0]));
    assert!(
        fleet[0]
            .entitlements()
            .has_access(&customer, "reports")
            .await
            .unwrap()
    );
}
