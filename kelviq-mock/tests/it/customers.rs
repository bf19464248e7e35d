//! `/customers/`: create, list, retrieve, update, archive.

use kelviq_mock::{MockServer, Seed};
use serde_json::json;

use crate::support::Api;

async fn empty() -> Api {
    Api::with(MockServer::builder().seed(Seed::empty())).await
}

#[tokio::test]
async fn create_then_retrieve_returns_the_camel_case_customer() {
    let api = empty().await;
    let created = api
        .post(
            "/api/v1/customers/",
            json!({"name": "Acme", "email": "ops@acme.test", "metadata": {"tier": "gold"}, "customer_id": "acme"}),
        )
        .await;
    let created = created.expect(201).clone();
    assert_eq!(created["customerId"], "acme");
    assert_eq!(created["email"], "ops@acme.test");
    assert_eq!(created["name"], "Acme");
    assert_eq!(created["metadata"], json!({"tier": "gold"}));
    assert_eq!(created["details"], json!(null));
    assert_eq!(created["id"].as_str().unwrap().len(), 36);
    assert!(created["createdOn"].as_str().unwrap().ends_with('Z'));

    let fetched = api.get("/api/v1/customers/acme/").await;
    assert_eq!(fetched.expect(200), &created);
}

#[tokio::test]
async fn create_requires_the_snake_case_customer_id_only() {
    let api = empty().await;
    let reply = api
        .post("/api/v1/customers/", json!({"customerId": "acme"}))
        .await;
    assert_eq!(
        reply.field_errors("customer_id"),
        ["This field is required."]
    );
    assert_eq!(reply.field_errors("customerId"), ["Unknown field."]);

    let reply = api
        .post("/api/v1/customers/", json!({"customer_id": ""}))
        .await;
    assert_eq!(
        reply.field_errors("customer_id"),
        ["This field may not be blank."]
    );

    let reply = api
        .post(
            "/api/v1/customers/",
            json!({"customer_id": 7, "email": null}),
        )
        .await;
    assert_eq!(reply.field_errors("customer_id"), ["Not a valid string."]);
    assert_eq!(reply.field_errors("email"), ["This field may not be null."]);

    let reply = api
        .post(
            "/api/v1/customers/",
            json!({"customer_id": "a", "email": "nope", "metadata": [1]}),
        )
        .await;
    assert_eq!(
        reply.field_errors("email"),
        ["Enter a valid email address."]
    );
    assert_eq!(
        reply.field_errors("metadata"),
        ["Expected a dictionary of items but got type \"list\"."]
    );
    assert_eq!(api.get("/api/v1/customers/").await.expect(200)["count"], 0);
}

#[tokio::test]
async fn create_with_only_an_id_and_a_taken_id_is_refused() {
    let api = empty().await;
    let bare = api
        .post("/api/v1/customers/", json!({"customer_id": "a"}))
        .await;
    assert_eq!(bare.expect(201)["email"], json!(null));
    let again = api
        .post("/api/v1/customers/", json!({"customer_id": "a"}))
        .await;
    assert_eq!(
        again.field_errors("customer_id"),
        ["customer with this customer id already exists."]
    );
}

#[tokio::test]
async fn list_pages_in_creation_order() {
    let api = empty().await;
    for index in 0..5 {
        api.post(
            "/api/v1/customers/",
            json!({"customer_id": format!("c{index}")}),
        )
        .await
        .expect(201);
    }
    let first = api.get("/api/v1/customers/?page_size=2").await;
    let first = first.expect(200);
    assert_eq!(first["count"], 5);
    assert_eq!(first["previous"], json!(null));
    let ids: Vec<&str> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|customer| customer["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c0", "c1"]);
    let next = first["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!("{}/api/v1/customers/?page_size=2&page=2", api.mock.url())
    );

    let last = api.get("/api/v1/customers/?page=3&page_size=2").await;
    let last = last.expect(200);
    assert_eq!(last["results"][0]["customerId"], "c4");
    assert_eq!(last["next"], json!(null));
    assert_eq!(
        last["previous"],
        format!("{}/api/v1/customers/?page_size=2&page=2", api.mock.url())
    );
    let past = api.get("/api/v1/customers/?page=4&page_size=2").await;
    assert_eq!(past.expect(404), &json!({"detail": "Invalid page."}));
}

#[tokio::test]
async fn update_patches_given_fields_only() {
    let api = Api::start().await;
    let before = api
        .get("/api/v1/customers/cust_pro/")
        .await
        .expect(200)
        .clone();
    let after = api
        .patch("/api/v1/customers/cust_pro/", json!({"name": "Renamed"}))
        .await;
    let after = after.expect(200);
    assert_eq!(after["name"], "Renamed");
    assert_eq!(after["email"], before["email"]);
    assert_eq!(after["createdOn"], before["createdOn"]);
    assert_ne!(after["modifiedOn"], before["modifiedOn"]);

    let reply = api
        .patch(
            "/api/v1/customers/cust_pro/",
            json!({"customer_id": "other"}),
        )
        .await;
    assert_eq!(reply.field_errors("customer_id"), ["Unknown field."]);
    api.patch("/api/v1/customers/nobody/", json!({"name": "x"}))
        .await
        .expect(404);
}

#[tokio::test]
async fn archive_hides_the_customer_and_its_entitlements() {
    let api = Api::start().await;
    let reply = api.delete("/api/v1/customers/cust_pro/").await;
    reply.expect(204);
    api.get("/api/v1/customers/cust_pro/").await.expect(404);
    api.delete("/api/v1/customers/cust_pro/").await.expect(404);
    let list = api.get("/api/v1/customers/").await;
    assert_eq!(list.expect(200)["count"], 1);
    api.edge_get("/api/v1/entitlements?customer_id=cust_pro")
        .await
        .expect(404);
    let reuse = api
        .post("/api/v1/customers/", json!({"customer_id": "cust_pro"}))
        .await;
    reuse.expect(400);
}

#[tokio::test]
async fn ids_with_reserved_characters_name_one_customer() {
    let api = empty().await;
    let id = "a/b?c#d e%f..€";
    api.post("/api/v1/customers/", json!({"customer_id": id}))
        .await
        .expect(201);
    let encoded = "a%2Fb%3Fc%23d%20e%25f..%E2%82%AC";
    let reply = api.get(&format!("/api/v1/customers/{encoded}/")).await;
    assert_eq!(reply.expect(200)["customerId"], id);
    api.get("/api/v1/customers/a/").await.expect(404);
}
