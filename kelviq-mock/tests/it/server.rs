//! What every route shares: the two listeners, authentication, the order of checks, the
//! journal, fault injection and shutdown.

use std::time::{Duration, Instant};

use kelviq_mock::{ApiVersion, Base, Fault, FaultRule, MockServer, Outcome, RandomFaults, Route};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, Reply};

fn usage(value: i64) -> Value {
    json!({"value": value, "customerId": "cust_pro", "featureId": "api-calls", "behaviour": "DELTA"})
}

async fn report(api: &Api, value: i64) -> Result<Reply, reqwest::Error> {
    let response = api
        .http
        .post(format!("{}/api/v1/report/usage/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .json(&usage(value))
        .send()
        .await?;
    Ok(Reply::from(response).await)
}

/// Waits until `check` holds, polling; panics after a generous deadline. For effects that
/// happen on the server after the client already saw its outcome.
async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

/// The path of `route` with each parameter replaced by `x`.
fn concrete_path(route: Route) -> String {
    concrete(route.path_template())
}

/// `template` with each parameter replaced by `x`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_is_served_with_its_method_on_its_listener() {
    let api = Api::start().await;
    for route in Route::ALL {
        let base = match route.base() {
            Base::Api => api.mock.url(),
            Base::Edge => api.mock.edge_url(),
        };
        let url = format!("{base}{}", concrete_path(route));
        let mut request = api
            .http
            .request(route.method(), url)
            .bearer_auth(api.mock.token());
        if route.method() == Method::POST || route.method() == Method::PATCH {
            request = request.json(&json!({}));
        }
        let status = request.send().await.unwrap().status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{route}");
        let last = api.mock.journal().pop().unwrap();
        assert_eq!(last.route, Some(route), "{route} answered {status}");
        assert_eq!(last.base, route.base());
    }
    assert_eq!(api.mock.call_counts().len(), Route::ALL.len());
}

#[tokio::test]
async fn a_route_on_the_wrong_listener_is_not_found() {
    let api = Api::start().await;
    let reply = api.get("/api/v1/entitlements?customer_id=cust_pro").await;
    assert_eq!(reply.expect(404), &json!({"detail": "Not found."}));
    let reply = api.edge_get("/api/v1/customers/").await;
    reply.expect(404);
    assert_eq!(api.mock.journal()[0].route, None);
}

#[tokio::test]
async fn trailing_slashes_are_exactly_as_the_spec() {
    let api = Api::start().await;
    api.get("/api/v1/customers").await.expect(404);
    api.get("/api/v1/customers/").await.expect(200);
    api.edge_get("/api/v1/entitlements/?customer_id=cust_pro")
        .await
        .expect(404);
    api.get("/api/v1/transactions/").await.expect(404);
    api.get("/api/v1/payment_methods/").await.expect(404);
    api.get("/customers/").await.expect(404);
}

#[tokio::test]
async fn every_route_is_served_under_v1_and_v2_and_no_other_version() {
    let api = Api::start().await;
    for route in Route::ALL {
        let base = match route.base() {
            Base::Api => api.mock.url(),
            Base::Edge => api.mock.edge_url(),
        };
        for version in ApiVersion::ALL {
            let path = concrete(&route.versioned_path_template(version));
            assert!(path.starts_with(&format!("/api/{version}/")), "{path}");
            let mut request = api
                .http
                .request(route.method(), format!("{base}{path}"))
                .bearer_auth(api.mock.token());
            if route.method() == Method::POST || route.method() == Method::PATCH {
                request = request.json(&json!({}));
            }
            let status = request.send().await.unwrap().status();
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{route} under {version}"
            );
            let last = api.mock.journal().pop().unwrap();
            assert_eq!(last.route, Some(route), "{route} under {version}");
            assert_eq!(last.api_version(), Some(version));
            assert_eq!(last.path_params().len(), path.matches("/x/").count());
        }
    }
    for (version, expected) in [("v1", ApiVersion::V1), ("v2", ApiVersion::V2)] {
        api.get(&format!("/api/{version}/customers/cust_pro/"))
            .await
            .expect(200);
        let last = api.mock.journal().pop().unwrap();
        assert_eq!(last.api_version(), Some(expected));
        assert_eq!(last.path_params(), ["cust_pro"]);
        api.edge_get(&format!("/api/{version}/entitlements?customer_id=cust_pro"))
            .await
            .expect(200);
    }
    for unknown in ["v3", "v0", "V1", "v01", "1", "latest"] {
        let reply = api.get(&format!("/api/{unknown}/customers/")).await;
        assert_eq!(
            reply.expect(404),
            &json!({"detail": "Not found."}),
            "{unknown}"
        );
        let last = api.mock.journal().pop().unwrap();
        assert_eq!(last.route, None);
        assert_eq!(last.api_version(), None);
        api.edge_get(&format!("/api/{unknown}/entitlements?customer_id=cust_pro"))
            .await
            .expect(404);
    }
    // Same state whichever version wrote it.
    let created = api
        .post("/api/v2/customers/", json!({"customer_id": "cust_v2"}))
        .await;
    created.expect(201);
    api.get("/api/v1/customers/cust_v2/").await.expect(200);
}

#[tokio::test]
async fn requests_without_the_token_are_unauthorized() {
    let api = Api::start().await;
    let url = format!("{}/api/v1/customers/", api.mock.url());

    let missing = Reply::from(api.http.get(&url).send().await.unwrap()).await;
    assert_eq!(
        missing.expect(401),
        &json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(missing.headers["www-authenticate"], "Bearer");

    let wrong = api.http.get(&url).bearer_auth("not-the-token");
    let wrong = Reply::from(wrong.send().await.unwrap()).await;
    assert_eq!(wrong.expect(401), &json!({"detail": "Invalid token."}));

    let scheme = api
        .http
        .get(&url)
        .header("authorization", format!("Token {}", api.mock.token()));
    Reply::from(scheme.send().await.unwrap()).await.expect(401);

    let edge = api.http.get(format!(
        "{}/api/v1/entitlements?customer_id=cust_pro",
        api.mock.edge_url()
    ));
    Reply::from(edge.send().await.unwrap()).await.expect(401);
}

#[tokio::test]
async fn the_accepted_token_is_configurable() {
    let api = Api::with(MockServer::builder().token("sk_live_custom")).await;
    assert_eq!(api.mock.token(), "sk_live_custom");
    api.get("/api/v1/customers/").await.expect(200);
    let default = api
        .http
        .get(format!("{}/api/v1/customers/", api.mock.url()))
        .bearer_auth(kelviq_mock::DEFAULT_TOKEN);
    Reply::from(default.send().await.unwrap()).await.expect(401);
}

#[tokio::test]
async fn wrong_method_is_405_after_authentication() {
    let api = Api::start().await;
    let reply = api.call(Method::PUT, "/api/v1/customers/", None).await;
    assert_eq!(
        reply.expect(405),
        &json!({"detail": "Method \"PUT\" not allowed."})
    );
    let reply = api.call(Method::GET, "/api/v1/report/usage/", None).await;
    reply.expect(405);
    let anonymous = api
        .http
        .put(format!("{}/api/v1/customers/", api.mock.url()));
    Reply::from(anonymous.send().await.unwrap())
        .await
        .expect(401);
}

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let api = Api::start().await;
    let url = format!("{}/api/v1/report/usage/", api.mock.url());
    let text = api
        .http
        .post(&url)
        .bearer_auth(api.mock.token())
        .header("content-type", "text/plain")
        .body("value=1");
    let reply = Reply::from(text.send().await.unwrap()).await;
    assert_eq!(
        reply.expect(415),
        &json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );

    let broken = api
        .http
        .post(&url)
        .bearer_auth(api.mock.token())
        .header("content-type", "application/json")
        .body("{\"value\": ");
    let reply = Reply::from(broken.send().await.unwrap()).await;
    let detail = reply.expect(400)["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error"), "{detail}");

    let list = api.post("/api/v1/report/usage/", json!([usage(1)])).await;
    assert_eq!(
        list.field_errors("non_field_errors"),
        ["Invalid data. Expected a dictionary, but got list."]
    );
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 12);
}

#[tokio::test]
async fn unknown_and_repeated_query_parameters_are_refused() {
    let api = Api::start().await;
    let reply = api.get("/api/v1/customers/?pageSize=5").await;
    assert_eq!(reply.field_errors("pageSize"), ["Unknown query parameter."]);
    let reply = api.get("/api/v1/customers/?page=1&page=2").await;
    reply.expect(400);
    let reply = api
        .edge_get("/api/v1/entitlements?customerId=cust_pro")
        .await;
    assert_eq!(
        reply.field_errors("customer_id"),
        ["This field is required."]
    );
    assert_eq!(
        reply.field_errors("customerId"),
        ["Unknown query parameter."]
    );
}

#[tokio::test]
async fn the_journal_records_each_request_without_the_token() {
    let api = Api::start().await;
    api.post("/api/v1/report/usage/", usage(2))
        .await
        .expect(201);
    api.get("/api/v1/customers/?page_size=1").await.expect(200);
    api.get("/api/v1/nowhere/").await.expect(404);

    let journal = api.mock.journal();
    assert_eq!(journal.len(), 3);
    let post = &journal[0];
    assert_eq!(post.seq, 0);
    assert_eq!(post.method, Method::POST);
    assert_eq!(post.path, "/api/v1/report/usage/");
    assert_eq!(post.route, Some(Route::ReportUsage));
    assert_eq!(post.outcome, Outcome::Responded(201));
    assert_eq!(post.json(), Some(usage(2)));
    assert!(post.headers.get("authorization").is_none());
    assert_eq!(post.headers["content-type"], "application/json");
    let list = &journal[1];
    assert_eq!(list.query.as_deref(), Some("page_size=1"));
    assert_eq!(
        list.query_pairs(),
        [("page_size".to_owned(), "1".to_owned())]
    );
    assert_eq!(journal[2].route, None);
    assert_eq!(journal[2].status(), Some(404));
    assert!(journal[0].received_at <= journal[2].received_at);
    assert_eq!(api.mock.calls(Route::ReportUsage), 1);
    assert_eq!(api.mock.requests(Route::CustomersList).len(), 1);
    let debug = format!("{journal:?}");
    assert!(!debug.contains(api.mock.token()), "token leaked: {debug}");

    api.mock.clear_journal();
    assert!(api.mock.journal().is_empty());
}

#[tokio::test]
async fn the_journal_keeps_the_last_n_requests_and_truncates_big_bodies() {
    let api = Api::with(
        MockServer::builder()
            .journal_capacity(3)
            .journal_body_limit(32),
    )
    .await;
    for value in 1..=4 {
        api.post("/api/v1/report/usage/", usage(value))
            .await
            .expect(201);
    }
    api.get("/api/v1/nowhere/").await.expect(404);

    let journal = api.mock.journal();
    assert_eq!(
        journal
            .iter()
            .map(|request| request.seq)
            .collect::<Vec<_>>(),
        [2, 3, 4],
        "the oldest two were dropped"
    );
    assert_eq!(api.mock.journal_dropped(), 2);
    assert_eq!(
        journal
            .iter()
            .map(|request| request.status())
            .collect::<Vec<_>>(),
        [Some(201), Some(201), Some(404)],
        "routes and outcomes still reach the kept entries"
    );
    assert_eq!(journal[0].route, Some(Route::ReportUsage));
    assert_eq!(
        api.mock.calls(Route::ReportUsage),
        2,
        "counts cover kept entries"
    );
    assert_eq!(
        api.mock.usage_total("cust_pro", "api-calls"),
        12 + 1 + 2 + 3 + 4,
        "the state is not the journal's: nothing dropped there"
    );

    // Bodies over the limit are kept truncated; the route saw all of it.
    let full = serde_json::to_vec(&usage(3)).unwrap();
    let kept = &journal[1];
    assert!(kept.body_truncated());
    assert_eq!(kept.body_len, full.len());
    assert_eq!(kept.body.len(), 32);
    assert_eq!(kept.body[..], full[..32]);
    assert_eq!(kept.json(), None);
    assert!(!journal[2].body_truncated());

    api.mock.clear_journal();
    api.get("/api/v1/nowhere/").await.expect(404);
    assert_eq!(
        api.mock.journal()[0].seq,
        5,
        "sequence numbers keep counting"
    );
}

#[tokio::test]
async fn the_journal_has_bounded_defaults() {
    assert_eq!(kelviq_mock::DEFAULT_JOURNAL_CAPACITY, 10_000);
    assert_eq!(kelviq_mock::DEFAULT_JOURNAL_BODY_LIMIT, 64 * 1024);
    let api = Api::start().await;
    let big = json!({"name": "x".repeat(100 * 1024), "customer_id": "c_big"});
    api.post("/api/v1/customers/", big.clone())
        .await
        .expect(201);
    let request = &api.mock.journal()[0];
    assert_eq!(request.body.len(), 64 * 1024);
    assert_eq!(request.body_len, serde_json::to_vec(&big).unwrap().len());
}

#[tokio::test]
async fn a_journal_of_capacity_zero_keeps_nothing() {
    let api = Api::with(MockServer::builder().journal_capacity(0)).await;
    api.post("/api/v1/report/usage/", usage(1))
        .await
        .expect(201);
    assert!(api.mock.journal().is_empty());
    assert_eq!(api.mock.journal_dropped(), 1);
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 13);
}

#[tokio::test]
async fn path_parameters_are_decoded_in_the_journal() {
    let api = Api::start().await;
    api.get("/api/v1/customers/a%2Fb%20c%3F%23%25%E2%82%AC/")
        .await
        .expect(404);
    let request = api.mock.journal().pop().unwrap();
    assert_eq!(request.route, Some(Route::CustomersRetrieve));
    assert_eq!(
        request.path,
        "/api/v1/customers/a%2Fb%20c%3F%23%25%E2%82%AC/"
    );
    assert_eq!(request.path_params(), ["a/b c?#%€"]);

    api.get("/api/v1/customers/..%2F..%2Fsubscriptions/")
        .await
        .expect(404);
    let request = api.mock.journal().pop().unwrap();
    assert_eq!(request.route, Some(Route::CustomersRetrieve));
    assert_eq!(request.path_params(), ["../../subscriptions"]);
}

#[tokio::test]
async fn a_status_fault_answers_the_next_n_requests_then_service_resumes() {
    let api = Api::start().await;
    api.mock
        .inject(FaultRule::next(2, Fault::status(503)).on(Route::ReportUsage));
    let first = report(&api, 1).await.unwrap();
    assert_eq!(first.expect(503), &json!({"detail": "Service Unavailable"}));
    report(&api, 1).await.unwrap().expect(503);
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 12);
    report(&api, 1).await.unwrap().expect(201);
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 13);
    api.get("/api/v1/customers/").await.expect(200);

    let faults: Vec<_> = api
        .mock
        .requests(Route::ReportUsage)
        .into_iter()
        .map(|request| request.fault)
        .collect();
    assert_eq!(
        faults,
        [Some(Fault::status(503)), Some(Fault::status(503)), None]
    );
}

#[tokio::test]
async fn a_status_fault_can_carry_a_body_and_precedes_authentication() {
    let api = Api::start().await;
    let body = json!({"value": ["Ensure this value is less than 1000."]});
    api.mock.inject(FaultRule::next(
        1,
        Fault::status_with_body(422, body.clone()),
    ));
    let anonymous = api
        .http
        .get(format!("{}/api/v1/customers/", api.mock.url()));
    let reply = Reply::from(anonymous.send().await.unwrap()).await;
    assert_eq!(reply.expect(422), &body);
}

#[tokio::test]
async fn rate_limiting_sends_retry_after_and_applies_nothing() {
    let api = Api::start().await;
    api.mock.inject(FaultRule::next(1, Fault::rate_limited(2)));
    let reply = report(&api, 5).await.unwrap();
    reply.expect(429);
    assert_eq!(reply.headers["retry-after"], "2");
    assert_eq!(
        reply.body,
        json!({"detail": "Request was throttled. Expected available in 2 seconds."})
    );
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 12);
}

#[tokio::test]
async fn a_dropped_connection_gets_no_response_and_applies_nothing() {
    let api = Api::start().await;
    api.mock
        .inject(FaultRule::next(1, Fault::DropConnection).on(Route::ReportUsage));
    let error = report(&api, 5).await.unwrap_err();
    assert!(error.is_request(), "{error:?}");
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 12);
    let dropped = api.mock.requests(Route::ReportUsage).pop().unwrap();
    assert_eq!(dropped.outcome, Outcome::Dropped);
    report(&api, 5).await.unwrap().expect(201);
}

#[tokio::test]
async fn apply_then_drop_changes_state_but_sends_no_response() {
    let api = Api::start().await;
    api.mock
        .inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ReportUsage));
    report(&api, 5).await.unwrap_err();
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 17);
    assert_eq!(
        api.mock.requests(Route::ReportUsage)[0].outcome,
        Outcome::Dropped
    );
}

#[tokio::test]
async fn apply_then_delay_lets_the_client_time_out_after_the_change() {
    let api = Api::start().await;
    api.mock.inject(
        FaultRule::next(1, Fault::ApplyThenDelay(Duration::from_secs(30))).on(Route::ReportUsage),
    );
    let error = api
        .http
        .post(format!("{}/api/v1/report/usage/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .json(&usage(4))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    eventually(|| api.mock.usage_total("cust_pro", "api-calls") == 16).await;
}

#[tokio::test]
async fn a_delay_fault_slows_one_request_then_processes_it() {
    let api = Api::start().await;
    let delay = Duration::from_millis(200);
    api.mock
        .inject(FaultRule::next(1, Fault::Delay(delay)).on(Route::CustomersList));
    let started = Instant::now();
    api.get("/api/v1/customers/").await.expect(200);
    assert!(started.elapsed() >= delay);
    let timed_out = api
        .http
        .get(format!("{}/api/v1/customers/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(timed_out.status(), 200);
    assert_eq!(api.mock.requests(Route::CustomersList)[1].fault, None);
}

#[tokio::test]
async fn latency_applies_globally_or_per_route_until_cleared() {
    let api = Api::start().await;
    let latency = Duration::from_millis(100);
    api.mock.set_route_latency(Route::CustomersList, latency);
    let started = Instant::now();
    api.get("/api/v1/customers/").await.expect(200);
    assert!(started.elapsed() >= latency);
    api.mock.set_latency(latency);
    let started = Instant::now();
    report(&api, 1).await.unwrap().expect(201);
    assert!(started.elapsed() >= latency);
    api.mock.clear_faults();
    api.mock.inject(FaultRule::always(Fault::status(500)));
    report(&api, 1).await.unwrap().expect(500);
    report(&api, 1).await.unwrap().expect(500);
    api.mock.clear_faults();
    report(&api, 1).await.unwrap().expect(201);
}

#[tokio::test]
async fn random_faults_repeat_for_the_same_seed() {
    async fn statuses(seed: u64) -> (Vec<Option<u16>>, i64) {
        let api = Api::start().await;
        api.mock.set_random_faults(
            RandomFaults::new(seed)
                .with(0.3, Fault::status(503))
                .with(0.2, Fault::rate_limited(1))
                .with(0.1, Fault::DropConnection)
                .on([Route::ReportUsage]),
        );
        let mut seen = Vec::new();
        for _ in 0..60 {
            seen.push(
                report(&api, 1)
                    .await
                    .ok()
                    .map(|reply| reply.status.as_u16()),
            );
        }
        api.get("/api/v1/customers/").await.expect(200);
        (seen, api.mock.usage_total("cust_pro", "api-calls"))
    }
    let (first, total) = statuses(42).await;
    let (again, _) = statuses(42).await;
    assert_eq!(first, again);
    let count = |wanted: Option<u16>| first.iter().filter(|s| **s == wanted).count();
    assert!(count(Some(503)) > 0 && count(Some(429)) > 0 && count(None) > 0);
    let delivered = i64::try_from(count(Some(201))).unwrap();
    assert_eq!(total, 12 + delivered);
    assert_ne!(statuses(43).await.0, first);
}

#[tokio::test]
async fn bad_input_never_breaks_the_server() {
    let api = Api::start().await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let reply = api
        .http
        .post(format!("{}/api/v1/report/usage/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
    api.get("/api/v1/customers/%FF%FE/").await.expect(404);
    api.get("/api/v1/customers/?page=%zz").await.expect(404);
    api.get("/api/v1/customers/?page=-1").await.expect(404);
    api.get("/api/v1/customers/?page_size=0").await.expect(400);
    let binary = api
        .http
        .post(format!("{}/api/v1/customers/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .header("content-type", "application/json")
        .body(vec![0xff, 0x00, 0xfe]);
    Reply::from(binary.send().await.unwrap()).await.expect(400);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep = api
        .http
        .post(format!("{}/api/v1/customers/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .header("content-type", "application/json")
        .body(deep);
    Reply::from(deep.send().await.unwrap()).await.expect(400);
    api.get("/api/v1/customers/").await.expect(200);
}

#[tokio::test]
async fn dropping_the_server_closes_both_listeners() {
    let mock = MockServer::start().await;
    let addrs = [mock.api_addr(), mock.edge_addr()];
    drop(mock);
    for addr in addrs {
        let mut closed = false;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(closed, "{addr} still accepts connections");
    }
}

#[tokio::test]
async fn env_vars_point_a_client_at_the_mock() {
    let mock = MockServer::start().await;
    let vars = mock.env_vars();
    assert_eq!(vars[0], ("KELVIQ_API_KEY", mock.token().to_owned()));
    assert_eq!(vars[1], ("KELVIQ_BASE_URL", mock.url().to_owned()));
    assert_eq!(vars[2], ("KELVIQ_EDGE_URL", mock.edge_url().to_owned()));
    assert!(mock.url().starts_with("http://127.0.0.1:"));
    assert_ne!(mock.url(), mock.edge_url());
}
