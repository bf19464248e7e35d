//! `kelviq.customers()` against the mock.

use kelviq_client::{CreateCustomer, Error, ListCustomers, UpdateCustomer};
use kelviq_mock::Route;
use serde_json::{Map, json};

use crate::support::Setup;

#[tokio::test]
async fn create_sends_the_snake_case_body_and_returns_the_customer() {
    let setup = Setup::start().await;
    let mut metadata = Map::new();
    metadata.insert("tier".to_owned(), json!("gold"));
    let customer = setup
        .kelviq
        .customers()
        .create(
            CreateCustomer::new("acme")
                .email("ops@acme.test")
                .name("Acme")
                .metadata(metadata),
        )
        .await
        .unwrap();
    assert_eq!(customer.customer_id, "acme");
    assert_eq!(customer.name.as_deref(), Some("Acme"));
    let sent = setup.mock.requests(Route::CustomersCreate).pop().unwrap();
    assert_eq!(
        sent.json().unwrap(),
        json!({"name": "Acme", "email": "ops@acme.test", "metadata": {"tier": "gold"}, "customer_id": "acme"})
    );
    assert_eq!(sent.headers["content-type"], "application/json");
    assert!(
        sent.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("kelviq-rs/")
    );
}

#[tokio::test]
async fn list_retrieve_update_archive() {
    let setup = Setup::start().await;
    let customers = setup.kelviq.customers();
    let page = customers
        .list(ListCustomers::new().page_size(1))
        .await
        .unwrap();
    assert_eq!(page.count, 2);
    assert_eq!(page.results.len(), 1);
    assert!(page.has_next());
    let sent = setup.mock.requests(Route::CustomersList).pop().unwrap();
    assert_eq!(sent.query.as_deref(), Some("page_size=1"));

    let all = customers.list(ListCustomers::new()).await.unwrap();
    assert_eq!(all.results.len(), 2);
    assert_eq!(setup.mock.requests(Route::CustomersList)[1].query, None);

    let pro = customers.retrieve("cust_pro").await.unwrap();
    assert_eq!(pro.email.as_deref(), Some("owner@pro.example"));

    let renamed = customers
        .update("cust_pro", UpdateCustomer::new().name("Pro GmbH"))
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Pro GmbH"));
    assert_eq!(
        setup.mock.requests(Route::CustomersUpdate)[0]
            .json()
            .unwrap(),
        json!({"name": "Pro GmbH"})
    );

    let archived = customers.archive("cust_pro").await.unwrap();
    assert_eq!(archived.message, "Customer archived successfully.");
    let error = customers.retrieve("cust_pro").await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
}

#[tokio::test]
async fn invalid_parameters_are_refused_before_any_request() {
    let setup = Setup::start().await;
    let customers = setup.kelviq.customers();
    let checks = [
        customers.create(CreateCustomer::new("")).await.unwrap_err(),
        customers.retrieve("").await.unwrap_err(),
        customers.retrieve("..").await.unwrap_err(),
        customers
            .update("cust_pro", UpdateCustomer::new())
            .await
            .unwrap_err(),
        customers.archive(".").await.unwrap_err(),
        customers
            .list(ListCustomers::new().page(0))
            .await
            .unwrap_err(),
    ];
    for error in checks {
        assert!(matches!(error, Error::Validation { .. }), "{error:?}");
    }
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn a_taken_id_is_a_bad_request_with_the_field_message() {
    let setup = Setup::start().await;
    let error = setup
        .kelviq
        .customers()
        .create(CreateCustomer::new("cust_pro"))
        .await
        .unwrap_err();
    let api = error.as_api().unwrap();
    assert_eq!(api.status.as_u16(), 400);
    assert_eq!(
        api.field_errors(),
        [(
            "customer_id",
            vec!["customer with this customer id already exists."]
        )]
    );
    assert!(
        error
            .to_string()
            .contains("customer_id: customer with this customer id already exists.")
    );
}
