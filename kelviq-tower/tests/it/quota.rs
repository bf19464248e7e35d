//! The quota headers (`RateLimit-Policy`, `RateLimit`) of a gate that sends them, read
//! with a structured-field parser.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Request, Response, StatusCode};
use kelviq_client::CacheConfig;
use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};
use kelviq_tower::{CustomerId, GateBuilderExt, RequestContext, UsageAmount};
use serde_json::Value;
use tokio::sync::Notify;
use tower::{ServiceBuilder, ServiceExt};

use crate::support::{Setup, read};

/// One policy of a structured-field list: its name and its integer parameters.
#[derive(Debug, PartialEq, Eq)]
struct Policy {
    name: String,
    params: Vec<(String, i64)>,
}

impl Policy {
    fn param(&self, key: &str) -> Option<i64> {
        self.params
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| *value)
    }
}

/// The field `name` parsed as an sf-list of string items with integer parameters.
fn parse(headers: &HeaderMap, name: &str) -> Vec<Policy> {
    let value = headers.get(name).unwrap_or_else(|| panic!("no {name}"));
    let list: sfv::List = sfv::Parser::new(value.as_bytes()).parse().unwrap();
    list.into_iter()
        .map(|entry| match entry {
            sfv::ListEntry::Item(item) => Policy {
                name: item
                    .bare_item
                    .as_string()
                    .expect("the policy name is an sf-string")
                    .as_str()
                    .to_owned(),
                params: item
                    .params
                    .iter()
                    .map(|(key, value)| {
                        let value = value.as_integer().expect("an integer parameter");
                        (key.as_str().to_owned(), i64::from(value))
                    })
                    .collect(),
            },
            sfv::ListEntry::InnerList(_) => panic!("{name}: an inner list"),
        })
        .collect()
}

/// The one policy of each field: (q, w) of `RateLimit-Policy`, (r, t) of `RateLimit`.
fn quota(headers: &HeaderMap) -> ((i64, Option<i64>), (i64, Option<i64>)) {
    let policies = parse(headers, "ratelimit-policy");
    let current = parse(headers, "ratelimit");
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(current.len(), 1, "{current:?}");
    let (policy, current) = (&policies[0], &current[0]);
    assert_eq!(policy.name, "api-calls");
    assert_eq!(
        current.name, policy.name,
        "both fields name the same policy"
    );
    (
        (policy.param("q").unwrap(), policy.param("w")),
        (current.param("r").unwrap(), current.param("t")),
    )
}

fn within(seconds: Option<i64>, expected: i64) {
    let seconds = seconds.expect("the reset is known");
    assert!(
        (expected - 5..=expected + 1).contains(&seconds),
        "{seconds} s, expected about {expected} s"
    );
}

fn call(customer: &str, query: &str) -> Request<String> {
    let mut request = Request::builder()
        .uri(format!("/calls?{query}"))
        .body(String::new())
        .unwrap();
    request.extensions_mut().insert(CustomerId::new(customer));
    request
}

#[tokio::test]
async fn quota_headers_follow_the_draft() {
    let seed = Seed::empty()
        .plan(Plan::new("small").feature(Feature::metered("api-calls").limit(10)))
        .customer(
            SeedCustomer::new("acme")
                .subscribe("small")
                .usage("api-calls", 2),
        );
    let mock = MockServer::builder().seed(seed).start().await.unwrap();
    // Three days left in the period.
    let period = 3 * 24 * 3600;
    mock.set_period_end(Some(
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(period))
            .unwrap(),
    ));
    let setup = Setup::with(mock, CacheConfig::default()).await;
    let release = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let handler = {
        let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
        move |request: Request<String>| {
            let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
            async move {
                let query = request.uri().query().unwrap_or_default().to_owned();
                let context = request
                    .extensions()
                    .get::<RequestContext>()
                    .unwrap()
                    .clone();
                let mut response = Response::new(String::new());
                if let Some(amount) = query.strip_prefix("amount=") {
                    let amount: i64 = amount.parse().unwrap();
                    assert_eq!(context.reserve(amount).await.unwrap(), amount);
                    response.extensions_mut().insert(UsageAmount(amount));
                }
                if query == "wait" {
                    entered.notify_one();
                    release.notified().await;
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        }
    };
    let gates = setup
        .kelviq
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .quota_headers(true);
    let service = ServiceBuilder::new()
        .layer(gates.clone().meter("api-calls", 1).into_layer())
        .service_fn(handler.clone());

    // 10 allowed, 2 used: this request's unit leaves 7.
    let response = service.clone().oneshot(call("acme", "")).await.unwrap();
    assert_eq!(response.status(), 200);
    let ((q, w), (r, t)) = quota(response.headers());
    assert_eq!((q, r), (10, 7));
    within(w, period);
    within(t, period);
    assert!(!response.headers().contains_key("retry-after"));

    // Remaining goes down by the metered amount: 3 units.
    let response = service
        .clone()
        .oneshot(call("acme", "amount=3"))
        .await
        .unwrap();
    assert_eq!(quota(response.headers()).1.0, 4);

    // A request in flight holds its unit: the next one sees it taken.
    let slow = tokio::spawn(service.clone().oneshot(call("acme", "wait")));
    tokio::time::timeout(Duration::from_secs(5), entered.notified())
        .await
        .expect("the slow request reaches its handler");
    let response = service.clone().oneshot(call("acme", "")).await.unwrap();
    assert_eq!(
        quota(response.headers()).1.0,
        2,
        "4 − the held unit − this one"
    );
    release.notify_one();
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(quota(slow.headers()).1.0, 2, "the held unit was kept");

    // The last two units, then the limit.
    let response = service
        .clone()
        .oneshot(call("acme", "amount=2"))
        .await
        .unwrap();
    assert_eq!(quota(response.headers()).1.0, 0);
    let denied = service.clone().oneshot(call("acme", "")).await.unwrap();
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    let ((q, w), (r, t)) = quota(denied.headers());
    assert_eq!((q, r), (10, 0), "a limit denial says 0 remaining");
    within(w, period);
    within(t, period);
    // Three days: no Retry-After; the reset is in RateLimit and the problem details.
    assert!(!denied.headers().contains_key("retry-after"));
    let (_, body) = read(denied).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["remaining"], 0);
    assert_eq!(body["limit"], 10);
    assert_eq!(body["used"], 10);
    assert!(body["resetAt"].as_str().unwrap().ends_with('Z'));

    // A gate without the option sends nothing.
    let plain = ServiceBuilder::new()
        .layer(setup.kelviq.gate().meter("api-calls", 1).into_layer())
        .service_fn(handler);
    let denied = plain.oneshot(call("acme", "")).await.unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(!denied.headers().contains_key("ratelimit"));
    assert!(!denied.headers().contains_key("ratelimit-policy"));
}

#[test]
fn policy_names_parse_as_sf_strings() {
    for feature in ["api-calls", r#"a"b\c"#, "100% é\n"] {
        let name = kelviq_client::gate::policy_name(feature);
        let item: sfv::Item = sfv::Parser::new(name.as_bytes()).parse().unwrap();
        let parsed = item.bare_item.as_string().unwrap().as_str().to_owned();
        let decoded: String = {
            // Percent-decoding gives the id back.
            let bytes = parsed.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    out.push(u8::from_str_radix(&parsed[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        };
        assert_eq!(decoded, feature);
    }
}
