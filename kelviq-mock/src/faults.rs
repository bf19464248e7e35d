//! Deterministic fault injection: what the mock does instead of (or besides) answering.
//!
//! A [`FaultPlan`] is consulted once per request that matched a [`Route`]. It holds:
//!
//! - a fixed latency added to every request (globally or for one route);
//! - an ordered list of [`FaultRule`]s — the first rule that targets the request's route and
//!   has uses left decides the fault (`FaultRule::next(2, Fault::status(503))`: 503 twice,
//!   then normal);
//! - optionally, [`RandomFaults`]: a seeded generator that picks a fault with given
//!   probabilities when no rule applied. The sequence of draws depends only on the seed.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::route::Route;

/// What the mock does to one request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status without processing the request. The body is the given JSON,
    /// or Django REST Framework's `{"detail": "<reason>"}` when `body` is `None`.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The JSON body; `None` for a `{"detail": ...}` body.
        body: Option<serde_json::Value>,
    },
    /// Answer `429 Too Many Requests` with a `Retry-After` header (whole seconds) without
    /// processing the request.
    RateLimited {
        /// The value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// Wait this long, then process the request normally.
    Delay(Duration),
    /// Close the connection without a response, before processing the request.
    DropConnection,
    /// Process the request (its state change is applied), then wait this long before
    /// answering: a client with a shorter timeout gives up although the change happened.
    ApplyThenDelay(Duration),
    /// Process the request (its state change is applied), then close the connection without
    /// a response: the outcome is unknown to the client.
    ApplyThenDrop,
}

impl Fault {
    /// An answer with `status` and a `{"detail": ...}` body, without processing.
    pub fn status(status: u16) -> Self {
        Fault::Status { status, body: None }
    }

    /// An answer with `status` and the given JSON body, without processing.
    pub fn status_with_body(status: u16, body: serde_json::Value) -> Self {
        Fault::Status {
            status,
            body: Some(body),
        }
    }

    /// A `429` with `Retry-After: <retry_after_secs>`, without processing.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Fault::RateLimited { retry_after_secs }
    }

    /// Whether the request is processed (its state change applied) under this fault.
    pub fn applies_request(&self) -> bool {
        matches!(
            self,
            Fault::Delay(_) | Fault::ApplyThenDelay(_) | Fault::ApplyThenDrop
        )
    }
}

/// A short description: `status 503`, `429, Retry-After 1 s`, `delay 250 ms`, `dropped
/// connection`, `applied, then delay 250 ms`, `applied, then dropped connection`.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status { status, .. } => write!(f, "status {status}"),
            Fault::RateLimited { retry_after_secs } => {
                write!(f, "429, Retry-After {retry_after_secs} s")
            }
            Fault::Delay(delay) => write!(f, "delay {} ms", delay.as_millis()),
            Fault::DropConnection => f.write_str("dropped connection"),
            Fault::ApplyThenDelay(delay) => {
                write!(f, "applied, then delay {} ms", delay.as_millis())
            }
            Fault::ApplyThenDrop => f.write_str("applied, then dropped connection"),
        }
    }
}

/// A fault for some requests: all of them or the next `n`, on every route or on one.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    fault: Fault,
    route: Option<Route>,
    remaining: Option<usize>,
}

impl FaultRule {
    /// The fault for every request from now on (until [`MockServer::clear_faults`]).
    ///
    /// [`MockServer::clear_faults`]: crate::MockServer::clear_faults
    pub fn always(fault: Fault) -> Self {
        FaultRule {
            fault,
            route: None,
            remaining: None,
        }
    }

    /// The fault for the next `n` requests, then normal service.
    pub fn next(n: usize, fault: Fault) -> Self {
        FaultRule {
            fault,
            route: None,
            remaining: Some(n),
        }
    }

    /// Restricts the rule to requests of one route (by default it targets every route).
    #[must_use]
    pub fn on(mut self, route: Route) -> Self {
        self.route = Some(route);
        self
    }

    fn matches(&self, route: Route) -> bool {
        self.route.is_none_or(|target| target == route) && self.remaining != Some(0)
    }
}

/// Seeded random faults: for each request (of the chosen routes) one draw decides whether a
/// fault applies and which. Probabilities add up; what is left over means normal service.
#[derive(Debug, Clone)]
pub struct RandomFaults {
    rng: fastrand::Rng,
    choices: Vec<(f64, Fault)>,
    routes: Option<Vec<Route>>,
}

impl RandomFaults {
    /// A generator with no faults yet, seeded for a reproducible sequence of draws.
    pub fn new(seed: u64) -> Self {
        RandomFaults {
            rng: fastrand::Rng::with_seed(seed),
            choices: Vec::new(),
            routes: None,
        }
    }

    /// Adds `fault` with `probability` (0.0 to 1.0; out-of-range values are clamped).
    #[must_use]
    pub fn with(mut self, probability: f64, fault: Fault) -> Self {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        self.choices.push((probability, fault));
        self
    }

    /// Restricts the draws to requests of these routes (by default every route).
    #[must_use]
    pub fn on(mut self, routes: impl IntoIterator<Item = Route>) -> Self {
        self.routes = Some(routes.into_iter().collect());
        self
    }

    fn draw(&mut self, route: Route) -> Option<Fault> {
        if let Some(routes) = &self.routes
            && !routes.contains(&route)
        {
            return None;
        }
        let roll = self.rng.f64();
        let mut threshold = 0.0;
        for (probability, fault) in &self.choices {
            threshold += probability;
            if roll < threshold {
                return Some(fault.clone());
            }
        }
        None
    }
}

/// Everything the mock injects: latency, rules and random faults.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultPlan {
    latency: Duration,
    route_latency: Vec<(Route, Duration)>,
    rules: Vec<FaultRule>,
    random: Option<RandomFaults>,
}

impl FaultPlan {
    pub(crate) fn set_latency(&mut self, route: Option<Route>, latency: Duration) {
        match route {
            None => self.latency = latency,
            Some(route) => {
                self.route_latency.retain(|(r, _)| *r != route);
                self.route_latency.push((route, latency));
            }
        }
    }

    pub(crate) fn push(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub(crate) fn set_random(&mut self, random: Option<RandomFaults>) {
        self.random = random;
    }

    /// The latency to add to a request of `route`: the route's own, else the global one.
    pub(crate) fn latency(&self, route: Route) -> Duration {
        self.route_latency
            .iter()
            .find(|(r, _)| *r == route)
            .map_or(self.latency, |(_, latency)| *latency)
    }

    /// How many rules are waiting to fire.
    pub(crate) fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// What the plan holds, for the control API.
    pub(crate) fn view(&self) -> FaultsView {
        FaultsView {
            latency_ms: millis(self.latency),
            route_latency: self
                .route_latency
                .iter()
                .map(|(route, latency)| RouteLatencyView {
                    route: route.to_string(),
                    latency_ms: millis(*latency),
                })
                .collect(),
            rules: self
                .rules
                .iter()
                .map(|rule| RuleView {
                    fault: rule.fault.to_string(),
                    route: rule.route.map(|route| route.to_string()),
                    remaining: rule.remaining,
                })
                .collect(),
            random: self.random.is_some(),
        }
    }

    /// Decides the fault for one request of `route`, consuming a use of the rule that fires.
    pub(crate) fn next_fault(&mut self, route: Route) -> Option<Fault> {
        if let Some(rule) = self.rules.iter_mut().find(|rule| rule.matches(route)) {
            if let Some(remaining) = &mut rule.remaining {
                *remaining -= 1;
            }
            let fault = rule.fault.clone();
            self.rules.retain(|rule| rule.remaining != Some(0));
            return Some(fault);
        }
        self.random.as_mut().and_then(|random| random.draw(route))
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A [`FaultPlan`] as the control API shows it (`faults` in `GET /_mock/state`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FaultsView {
    /// Added to every request without a route latency.
    latency_ms: u64,
    route_latency: Vec<RouteLatencyView>,
    /// In the order they are tried.
    rules: Vec<RuleView>,
    /// Whether random faults are drawn ([`MockServer::set_random_faults`](crate::MockServer::set_random_faults)).
    random: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteLatencyView {
    route: String,
    latency_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleView {
    /// [`Fault`]'s description.
    fault: String,
    /// `None`: every route.
    route: Option<String>,
    /// `None`: until cleared.
    remaining: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_rule_fires_n_times_then_stops() {
        let mut plan = FaultPlan::default();
        plan.push(FaultRule::next(2, Fault::status(503)).on(Route::ReportUsage));
        assert_eq!(plan.next_fault(Route::CustomersList), None);
        assert_eq!(
            plan.next_fault(Route::ReportUsage),
            Some(Fault::status(503))
        );
        assert_eq!(
            plan.next_fault(Route::ReportUsage),
            Some(Fault::status(503))
        );
        assert_eq!(plan.next_fault(Route::ReportUsage), None);
    }

    #[test]
    fn rules_fire_in_order() {
        let mut plan = FaultPlan::default();
        plan.push(FaultRule::next(1, Fault::DropConnection));
        plan.push(FaultRule::always(Fault::rate_limited(1)));
        assert_eq!(
            plan.next_fault(Route::ReportUsage),
            Some(Fault::DropConnection)
        );
        assert_eq!(
            plan.next_fault(Route::ReportUsage),
            Some(Fault::rate_limited(1))
        );
        assert_eq!(
            plan.next_fault(Route::ReportUsage),
            Some(Fault::rate_limited(1))
        );
    }

    #[test]
    fn random_faults_repeat_for_a_seed_and_follow_probabilities() {
        let draws = |seed| {
            let mut random = RandomFaults::new(seed)
                .with(0.2, Fault::status(503))
                .with(0.1, Fault::DropConnection);
            (0..10_000)
                .map(|_| random.draw(Route::ReportUsage))
                .collect::<Vec<_>>()
        };
        let first = draws(7);
        assert_eq!(first, draws(7));
        assert_ne!(first, draws(8));
        let status = first
            .iter()
            .filter(|f| **f == Some(Fault::status(503)))
            .count();
        let dropped = first
            .iter()
            .filter(|f| **f == Some(Fault::DropConnection))
            .count();
        assert!((1_700..2_300).contains(&status), "{status}");
        assert!((800..1_200).contains(&dropped), "{dropped}");
    }

    #[test]
    fn random_faults_can_target_routes() {
        let mut random = RandomFaults::new(1)
            .with(1.0, Fault::DropConnection)
            .on([Route::ReportEvent]);
        assert_eq!(random.draw(Route::ReportUsage), None);
        assert_eq!(random.draw(Route::ReportEvent), Some(Fault::DropConnection));
    }

    #[test]
    fn the_view_describes_latency_and_rules_in_order() {
        let mut plan = FaultPlan::default();
        plan.set_latency(None, Duration::from_millis(250));
        plan.push(FaultRule::next(2, Fault::status(503)));
        plan.push(FaultRule::always(Fault::DropConnection).on(Route::ReportUsage));
        let view = serde_json::to_value(plan.view()).unwrap();
        assert_eq!(
            view,
            serde_json::json!({
                "latencyMs": 250,
                "routeLatency": [],
                "rules": [
                    {"fault": "status 503", "route": null, "remaining": 2},
                    {"fault": "dropped connection", "route": "POST /api/v1/report/usage/", "remaining": null},
                ],
                "random": false,
            })
        );
        assert_eq!(plan.rule_count(), 2);
        assert_eq!(Fault::rate_limited(2).to_string(), "429, Retry-After 2 s");
        assert_eq!(
            Fault::ApplyThenDelay(Duration::from_millis(40)).to_string(),
            "applied, then delay 40 ms"
        );
    }

    #[test]
    fn route_latency_overrides_the_global_one() {
        let mut plan = FaultPlan::default();
        plan.set_latency(None, Duration::from_millis(5));
        plan.set_latency(Some(Route::Entitlements), Duration::from_millis(50));
        assert_eq!(plan.latency(Route::ReportUsage), Duration::from_millis(5));
        assert_eq!(plan.latency(Route::Entitlements), Duration::from_millis(50));
    }
}
