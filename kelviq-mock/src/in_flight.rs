//! How many requests of each route the mock is working on at once, and the most so far:
//! the upstream concurrency a client causes, as the server counts it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::route::Route;
use crate::server::lock;

/// Requests in flight per route, and the peak of each.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    routes: Mutex<BTreeMap<Route, Count>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    now: usize,
    peak: usize,
}

impl InFlight {
    /// A request of `route` arrived, whose injected latency is `latency`: it counts until
    /// the returned guard is dropped, or — when the client abandons it first, and the
    /// handler is dropped with it — until its latency is over, as at a backend that
    /// finishes the work a client walked away from.
    pub(crate) fn enter(self: &Arc<Self>, route: Route, latency: Duration) -> Busy {
        {
            let mut routes = lock(&self.routes);
            let count = routes.entry(route).or_default();
            count.now = count.now.saturating_add(1);
            count.peak = count.peak.max(count.now);
        }
        let now = Instant::now();
        Busy {
            in_flight: Arc::clone(self),
            route,
            until: now.checked_add(latency).unwrap_or(now),
        }
    }

    /// How many requests of `route` are in flight now.
    pub(crate) fn now(&self, route: Route) -> usize {
        lock(&self.routes).get(&route).map_or(0, |count| count.now)
    }

    /// The most requests of `route` in flight at once so far.
    pub(crate) fn peak(&self, route: Route) -> usize {
        lock(&self.routes).get(&route).map_or(0, |count| count.peak)
    }

    fn leave(&self, route: Route) {
        if let Some(count) = lock(&self.routes).get_mut(&route) {
            count.now = count.now.saturating_sub(1);
        }
    }
}

/// One request in flight; see [`InFlight::enter`].
#[derive(Debug)]
pub(crate) struct Busy {
    in_flight: Arc<InFlight>,
    route: Route,
    until: Instant,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let in_flight = Arc::clone(&self.in_flight);
        let route = self.route;
        let until = self.until;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if Instant::now() < until => {
                runtime.spawn(async move {
                    tokio::time::sleep_until(until).await;
                    in_flight.leave(route);
                });
            }
            _ => in_flight.leave(route),
        }
    }
}
