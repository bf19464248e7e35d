//! What the measuring programs share (`engine-scaling`, `cache-memory`, `load-test`): a
//! fake Kelviq seeded with many customers, a client on it whose cache holds them all, the
//! warm-up that loads every one of them, and the distributions customers are drawn from.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq};
use kelviq_mock::{Feature, MockError, MockServer, Plan, Seed, SeedCustomer};

/// The metered feature every seeded customer has; its limit is never reached.
pub const METERED: &str = "api-calls";

/// The limit of [`METERED`]: a hard limit, so each check compares against it, but one no
/// run comes near.
pub const METERED_LIMIT: i64 = 1_000_000_000_000_000;

/// How many snapshot loads the warm-up keeps in flight, and the cache allows at once.
pub const WARM_CONCURRENCY: usize = 64;

/// The id of the `index`th seeded customer (`cust_0000042`).
pub fn customer_id(index: usize) -> String {
    format!("cust_{index:07}")
}

/// The ids of `count` customers, from [`customer_id`]`(0)`.
pub fn customer_ids(count: usize) -> Vec<String> {
    (0..count).map(customer_id).collect()
}

/// One plan, `bench`, with three features (a boolean `reports`, [`METERED`] with
/// [`METERED_LIMIT`], a customizable `seats`), and every customer of `ids` subscribed.
pub fn seed(ids: &[String]) -> Seed {
    let plan = Plan::new("bench")
        .feature(Feature::boolean("reports"))
        .feature(Feature::metered(METERED).limit(METERED_LIMIT))
        .feature(Feature::customizable("seats", 10));
    ids.iter().fold(Seed::empty().plan(plan), |seed, id| {
        seed.customer(SeedCustomer::new(id.as_str()).subscribe("bench"))
    })
}

/// Starts the fake Kelviq with [`seed`]`(ids)` and no request journal (nothing reads it,
/// and its ring would add memory and work to every call).
///
/// # Errors
///
/// When the fake cannot bind or the seed is invalid.
pub async fn start_mock(ids: &[String]) -> Result<MockServer, MockError> {
    MockServer::builder()
        .seed(seed(ids))
        .journal_capacity(0)
        .start()
        .await
}

/// A cache that holds `customers` customers with room to spare, fresh for an hour (no
/// refresh during a run), loading [`WARM_CONCURRENCY`] at once and waiting up to a minute
/// for a load (a warm-up of many customers queues), everything else as by default.
pub fn cache_config(customers: usize) -> CacheConfig {
    let capacity = u64::try_from(customers)
        .unwrap_or(u64::MAX)
        .saturating_mul(2)
        .max(10_000);
    CacheConfig::default()
        .ttl(Duration::from_secs(3600))
        .max_customers(capacity)
        .max_concurrent_loads(WARM_CONCURRENCY)
        .load_timeout(Duration::from_secs(60))
}

/// A client on `mock` with [`cache_config`]`(customers)` and its meter as `meter` says
/// (`MeterConfig::default()`: a flush every second).
///
/// # Errors
///
/// As [`KelviqBuilder::build`](kelviq_client::KelviqBuilder::build).
pub fn client(
    mock: &MockServer,
    customers: usize,
    meter: MeterConfig,
) -> kelviq_client::Result<Kelviq> {
    Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(cache_config(customers))
        .usage_meter(meter)
        .build()
}

/// Serves `router` on an ephemeral loopback port, in a task of the current runtime.
///
/// # Errors
///
/// When no port can be bound.
pub async fn serve(router: axum::Router) -> Result<SocketAddr, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("loopback server: {error}");
        }
    });
    Ok(addr)
}

/// Loads the snapshot of every customer of `ids` into the client's cache,
/// [`WARM_CONCURRENCY`] at once, then checks that each one is cached and fresh.
///
/// # Errors
///
/// The first failed load, or a customer whose snapshot is not in the cache afterwards (the
/// cache too small, say).
pub async fn warm(kelviq: &Kelviq, ids: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    stream::iter(ids)
        .map(|id| kelviq.entitlements_snapshot(id))
        .buffer_unordered(WARM_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    kelviq.sync_cache();
    let missing = ids
        .iter()
        .filter(|id| kelviq.cached_entitlements(id).is_none())
        .count();
    if missing > 0 {
        return Err(format!(
            "{missing} of {} customers are not in the cache after the warm-up",
            ids.len()
        )
        .into());
    }
    Ok(())
}

/// How customers are drawn: each equally often, or by popularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Every customer equally likely.
    Uniform,
    /// Zipf with exponent 1: the `k`th customer is drawn in proportion to `1 / k` (with
    /// 10,000 customers the first gets about 10 % of the draws, the first 100 about half).
    Zipf,
}

impl FromStr for Distribution {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "uniform" => Ok(Distribution::Uniform),
            "zipf" => Ok(Distribution::Zipf),
            other => Err(format!(
                "unknown distribution \"{other}\" (uniform or zipf)"
            )),
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Distribution::Uniform => "uniform",
            Distribution::Zipf => "zipf",
        })
    }
}

/// Draws customer indexes (`0..count`) from a [`Distribution`]; Zipf through a
/// precomputed cumulative distribution and a binary search (8 bytes per customer).
#[derive(Debug, Clone)]
pub struct Sampler {
    count: usize,
    /// For Zipf, `cdf[k]` is the weight of the customers `0..=k`.
    cdf: Option<Vec<f64>>,
}

impl Sampler {
    /// A sampler over `count` customers (at least one).
    pub fn new(distribution: Distribution, count: usize) -> Self {
        let count = count.max(1);
        let cdf = match distribution {
            Distribution::Uniform => None,
            Distribution::Zipf => Some(
                (1..=count)
                    .scan(0.0, |total, rank| {
                        *total += 1.0 / rank as f64;
                        Some(*total)
                    })
                    .collect(),
            ),
        };
        Sampler { count, cdf }
    }

    /// One customer index.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> usize {
        match &self.cdf {
            None => rng.usize(..self.count),
            Some(cdf) => {
                let total = cdf.last().copied().unwrap_or(0.0);
                let target = rng.f64() * total;
                cdf.partition_point(|&weight| weight <= target)
                    .min(self.count - 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_favours_the_first_customers_and_covers_the_range() {
        let sampler = Sampler::new(Distribution::Zipf, 10_000);
        let mut rng = fastrand::Rng::with_seed(7);
        let draws: Vec<usize> = (0..100_000).map(|_| sampler.sample(&mut rng)).collect();
        let first = draws.iter().filter(|&&index| index == 0).count();
        // 1 / H(10,000) ≈ 10.2 % of the draws.
        assert!((9_000..11_500).contains(&first), "{first}");
        assert!(draws.iter().all(|&index| index < 10_000));
        assert!(draws.iter().any(|&index| index > 5_000));
    }

    #[test]
    fn uniform_stays_in_range_and_one_customer_is_always_the_first() {
        let mut rng = fastrand::Rng::with_seed(7);
        let sampler = Sampler::new(Distribution::Uniform, 3);
        assert!((0..1_000).all(|_| sampler.sample(&mut rng) < 3));
        let single = Sampler::new(Distribution::Zipf, 1);
        assert!((0..1_000).all(|_| single.sample(&mut rng) == 0));
    }

    #[test]
    fn distributions_parse_and_print_their_names() {
        for distribution in [Distribution::Uniform, Distribution::Zipf] {
            assert_eq!(distribution.to_string().parse(), Ok(distribution));
        }
        assert!("pareto".parse::<Distribution>().is_err());
    }
}
