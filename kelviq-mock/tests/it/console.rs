//! The console page and the control endpoints behind it: state, faults.

use std::time::Duration;

use kelviq_mock::console::MAX_CONTROL_RULES;
use kelviq_mock::{MockServer, Route};
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::Api;
use crate::webhooks::{Receiver, mock_sending_to};

const WAIT: Duration = Duration::from_secs(10);

async fn get_status(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_console_is_off_unless_the_builder_turns_it_on() {
    let off = MockServer::start().await;
    assert_eq!(off.console_url(), None);
    assert_eq!(get_status(&format!("{}/_console", off.url())).await, 404);
    assert_eq!(
        get_status(&format!("{}/_console/console.js", off.url())).await,
        404
    );

    let on = MockServer::builder().console(true).start().await.unwrap();
    let url = on.console_url().unwrap();
    assert_eq!(url, format!("{}/_console", on.url()));
    assert_eq!(get_status(&url).await, 200);
    // Only on the API listener.
    assert_eq!(
        get_status(&format!("{}/_console", on.edge_url())).await,
        404
    );
}

#[tokio::test]
async fn the_page_carries_the_token_escaped_and_its_assets_are_served_with_a_strict_policy() {
    let token = r#"tok"><script>alert(1)</script>&"#;
    let mock = MockServer::builder()
        .console(true)
        .token(token)
        .start()
        .await
        .unwrap();
    let page = reqwest::get(mock.console_url().unwrap()).await.unwrap();
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"content="tok&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;""#));
    assert!(!html.contains("<script>alert(1)"));

    for (path, content_type, needle) in [
        (
            "/_console/console.js",
            "text/javascript; charset=utf-8",
            "/_mock/state",
        ),
        ("/_console/console.css", "text/css; charset=utf-8", ".bar"),
    ] {
        let asset = reqwest::get(format!("{}{path}", mock.url())).await.unwrap();
        assert_eq!(asset.status(), 200, "{path}");
        assert_eq!(asset.headers()[CONTENT_TYPE], content_type, "{path}");
        assert!(asset.text().await.unwrap().contains(needle), "{path}");
    }
    // The console reading itself leaves the journal to the app's requests.
    let api = Api {
        http: reqwest::Client::new(),
        mock,
    };
    api.get("/_mock/state").await.expect(200);
    assert!(api.mock.journal().is_empty());
}

#[tokio::test]
async fn the_state_shows_customers_usage_requests_webhooks_and_faults() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    api.edge_get("/api/v1/entitlements?customer_id=cust_pro")
        .await
        .expect(200);
    api.mock.inject(
        kelviq_mock::FaultRule::next(1, kelviq_mock::Fault::status(503)).on(Route::CustomersList),
    );
    api.get("/api/v1/customers/").await.expect(503);
    api.post("/_mock/customers/cust_free/plan", json!({"plan": "pro"}))
        .await
        .expect(200);
    api.mock.wait_for_webhooks(1, WAIT).await;

    let state = api.get("/_mock/state").await;
    let state = state.expect(200);
    assert_eq!(column(&state["plans"], "identifier"), ["free", "pro"]);
    assert_eq!(state["customersTotal"], 2);

    let pro = customer(state, "cust_pro");
    assert_eq!(pro["name"], "Pro Inc");
    assert_eq!(pro["subscriptions"][0]["plan"], "pro");
    assert_eq!(pro["subscriptions"][0]["status"], "active");
    let calls = feature(pro, "api-calls");
    assert_eq!(calls["type"], "METER");
    assert_eq!(calls["hasAccess"], true);
    assert_eq!(calls["usage"], 12);
    assert_eq!(calls["limit"], 10_000);
    assert!(calls["resetAt"].as_str().unwrap().ends_with("00:00:00"));
    assert_eq!(feature(pro, "reports")["usage"], Value::Null);
    assert_eq!(calls["inPlan"], true);

    // cust_free moved to pro through the control route; every feature of every plan is
    // listed, entitled or not.
    let free = customer(state, "cust_free");
    assert_eq!(free["subscriptions"][0]["plan"], "pro");
    assert_eq!(feature(free, "reports")["hasAccess"], true);
    assert_eq!(feature(free, "reports")["inPlan"], true);
    assert_eq!(
        column(&free["features"], "featureId"),
        ["api-calls", "seats", "reports"]
    );

    // The journal, newest first, with the control request, the faulted one and the read.
    let entries = state["journal"]["entries"].as_array().unwrap();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/_mock/customers/cust_free/plan",
            "/api/v1/customers/",
            "/api/v1/entitlements?customer_id=cust_pro",
        ]
    );
    assert_eq!(entries[1]["status"], 503);
    assert_eq!(entries[1]["fault"], "status 503");
    assert_eq!(entries[2]["listener"], "edge");
    assert_eq!(entries[2]["fault"], Value::Null);
    // reqwest names no client instance.
    assert!(entries.iter().all(|e| e["instance"].is_null()));
    assert!(entries.iter().all(|e| e["latencyMs"].is_u64()));
    assert!(entries[0]["atMs"].as_i64().unwrap() >= entries[2]["atMs"].as_i64().unwrap());
    assert_eq!(state["journal"]["kept"], 3);

    let webhooks = &state["webhooks"];
    assert_eq!(webhooks["endpoint"], receiver.url.as_str());
    let delivery = &webhooks["deliveries"][0];
    assert_eq!(delivery["type"], "subscription.updated");
    assert_eq!(delivery["customerId"], "cust_free");
    assert_eq!(delivery["outcome"], "delivered");
    assert_eq!(delivery["attempts"][0]["status"], 200);
    assert_eq!(delivery["attempts"][0]["answer"], "answer");

    // The used-up fault rule is gone.
    assert_eq!(state["faults"]["rules"], json!([]));
}

#[tokio::test]
async fn the_journal_shows_which_client_instance_sent_each_request() {
    let api = Api::start().await;
    let client = |name: &str| {
        kelviq_client::Kelviq::builder()
            .access_token(api.mock.token())
            .api_url(api.mock.url())
            .edge_url(api.mock.edge_url())
            .instance_name(name)
            .no_entitlement_cache()
            .build()
            .unwrap()
    };
    let (web1, web2) = (client("4242@web-1"), client("77@web-2"));
    web1.entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    web2.customers().retrieve("cust_free").await.unwrap();
    api.get("/api/v1/customers/").await.expect(200);

    let state = api.get("/_mock/state").await;
    let entries = state.expect(200)["journal"]["entries"].as_array().unwrap();
    let shown: Vec<(&str, &Value)> = entries
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), &e["instance"]))
        .collect();
    assert_eq!(
        shown,
        [
            ("/api/v1/customers/", &Value::Null),
            ("/api/v1/customers/cust_free/", &json!("77@web-2")),
            (
                "/api/v1/entitlements?customer_id=cust_pro&feature_id=reports",
                &json!("4242@web-1")
            ),
        ]
    );
    let journal = api.mock.journal();
    assert_eq!(journal[0].client_instance(), Some("4242@web-1"));
    assert_eq!(journal[2].client_instance(), None);
}

#[tokio::test]
async fn the_state_endpoint_needs_the_token_and_takes_no_parameter() {
    let api = Api::start().await;
    let anonymous = reqwest::get(format!("{}/_mock/state", api.mock.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let refused = api.get("/_mock/state?journal=5").await;
    assert_eq!(
        refused.field_errors("journal"),
        ["Unknown query parameter."]
    );
}

#[tokio::test]
async fn faults_added_over_http_fire_in_order_and_are_cleared() {
    let api = Api::start().await;
    let answer = api
        .post(
            "/_mock/faults",
            json!({"kind": "status", "status": 503, "count": 2}),
        )
        .await;
    assert_eq!(
        answer.expect(200)["faults"]["rules"],
        json!([{"fault": "status 503", "route": null, "remaining": 2}])
    );
    api.post(
        "/_mock/faults",
        json!({"kind": "rateLimited", "retryAfter": 7, "count": 1}),
    )
    .await
    .expect(200);
    api.post("/_mock/faults", json!({"kind": "drop", "count": 1}))
        .await
        .expect(200);

    api.get("/api/v1/customers/").await.expect(503);
    api.get("/api/v1/customers/").await.expect(503);
    let limited = api.get("/api/v1/customers/").await;
    limited.expect(429);
    assert_eq!(limited.headers["retry-after"], "7");
    let dropped = api
        .http
        .get(format!("{}/api/v1/customers/", api.mock.url()))
        .bearer_auth(api.mock.token())
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    api.get("/api/v1/customers/").await.expect(200);

    // Latency, then a status for every request until cleared.
    let answer = api
        .post("/_mock/faults", json!({"kind": "latency", "ms": 20}))
        .await;
    assert_eq!(answer.expect(200)["faults"]["latencyMs"], 20);
    api.post("/_mock/faults", json!({"kind": "status", "status": 500}))
        .await
        .expect(200);
    for _ in 0..3 {
        api.get("/api/v1/customers/").await.expect(500);
    }
    let slowest = api
        .mock
        .journal()
        .last()
        .and_then(|request| request.latency)
        .unwrap();
    assert!(slowest >= Duration::from_millis(20), "{slowest:?}");

    let cleared = api.delete("/_mock/faults").await;
    assert_eq!(
        cleared.expect(200)["faults"],
        json!({"latencyMs": 0, "routeLatency": [], "rules": [], "random": false})
    );
    api.get("/api/v1/customers/").await.expect(200);
}

#[tokio::test]
async fn fault_bodies_are_checked_field_by_field() {
    let api = Api::start().await;
    let cases = [
        (json!({}), "kind", "This field is required."),
        (
            json!({"kind": "teapot"}),
            "kind",
            "\"teapot\" is not a valid choice.",
        ),
        (
            json!({"kind": "status", "status": 200}),
            "status",
            "Ensure this value is greater than or equal to 400.",
        ),
        (
            json!({"kind": "status", "status": "503"}),
            "status",
            "A valid integer is required.",
        ),
        (
            json!({"kind": "drop", "count": 0}),
            "count",
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            json!({"kind": "latency", "ms": 60_001}),
            "ms",
            "Ensure this value is less than or equal to 60000.",
        ),
        (
            json!({"kind": "latency", "ms": 5, "count": 2}),
            "count",
            "Unknown field.",
        ),
        (
            json!({"kind": "rateLimited"}),
            "retryAfter",
            "This field is required.",
        ),
    ];
    for (body, field, message) in cases {
        let reply = api.post("/_mock/faults", body.clone()).await;
        assert_eq!(reply.field_errors(field), [message], "{body}");
    }
    let not_json = api
        .http
        .post(format!("{}/_mock/faults", api.mock.url()))
        .bearer_auth(api.mock.token())
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    // Nothing was added by a refused body.
    api.get("/api/v1/customers/").await.expect(200);

    // A bound on the rules waiting at once.
    for _ in 0..MAX_CONTROL_RULES {
        api.post("/_mock/faults", json!({"kind": "drop", "count": 1}))
            .await
            .expect(200);
    }
    let full = api
        .post("/_mock/faults", json!({"kind": "drop", "count": 1}))
        .await;
    full.expect(400);
    assert!(
        full.body["detail"]
            .as_str()
            .unwrap()
            .contains("clear them first")
    );
}

/// The string `key` of each object in the array `list`.
fn column<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}

/// The object of the array `list` whose `key` is `id`.
fn find<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == id)
        .unwrap_or_else(|| panic!("no {key} {id} in {list}"))
}

fn customer<'a>(state: &'a Value, id: &str) -> &'a Value {
    find(&state["customers"], "customerId", id)
}

fn feature<'a>(customer: &'a Value, id: &str) -> &'a Value {
    find(&customer["features"], "featureId", id)
}
