//! `kelviq.license()` against the mock.

use kelviq_client::ActivateLicense;
use kelviq_mock::Route;
use serde_json::{Map, json};

use crate::subscriptions::refused;
use crate::support::Setup;

const KEY: &str = "PRO-LICENSE-0001";

#[tokio::test]
async fn activate_validate_and_deactivate_an_instance() {
    let setup = Setup::start().await;
    let license = setup.kelviq.license();
    let mut metadata = Map::new();
    metadata.insert("os".to_owned(), json!("linux"));
    let activation = license
        .activate(
            ActivateLicense::new(KEY)
                .customer_id("cust_pro")
                .instance_name("build-box")
                .metadata(metadata.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::LicenseActivate)[0]
            .json()
            .unwrap(),
        json!({
            "license_key": KEY,
            "customer_id": "cust_pro",
            "instance_name": "build-box",
            "metadata": {"os": "linux"}
        })
    );
    assert!(!activation.instance_id.is_empty());
    assert!(!activation.activated_at.is_empty());
    let details = &activation.license;
    assert_eq!(details.license_key, KEY);
    assert_eq!(details.activation_usage, 1);
    assert_eq!(details.activation_limit, 3);
    assert!(details.enabled);
    assert!(details.activated_on.is_some());
    let customer = details.customer.as_ref().unwrap();
    assert_eq!(customer.customer_id, "cust_pro");
    assert_eq!(customer.email.as_deref(), Some("owner@pro.example"));
    let plan = details.plan.as_ref().unwrap();
    assert_eq!(plan.identifier, "pro");
    assert_eq!(
        plan.product
            .as_ref()
            .and_then(|product| product.identifier.as_deref()),
        Some("pro")
    );
    assert_eq!(plan.version, Some(1));
    assert_eq!(plan.is_latest, Some(true));
    let subscription = details.subscription.as_ref().unwrap();
    assert_eq!(subscription.customer_id.as_deref(), Some("cust_pro"));
    assert_eq!(subscription.license[0].license_key.as_deref(), Some(KEY));
    assert_eq!(subscription.license[0].activation_usage, Some(1));

    let verdict = license
        .validate(KEY, Some(&activation.instance_id))
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::LicenseValidate)[0]
            .json()
            .unwrap(),
        json!({"license_key": KEY, "instance_id": activation.instance_id})
    );
    assert!(verdict.valid);
    assert_eq!(verdict.code, "VALID");
    assert_eq!(verdict.metadata, Some(metadata));
    assert_eq!(verdict.license.as_ref().unwrap().license_key, KEY);

    let key_only = license.validate(KEY, None).await.unwrap();
    assert_eq!(
        setup.mock.requests(Route::LicenseValidate)[1]
            .json()
            .unwrap(),
        json!({"license_key": KEY})
    );
    assert!(key_only.valid);
    assert_eq!(key_only.metadata, None);

    let deactivated = license
        .deactivate(KEY, &activation.instance_id)
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::LicenseDeactivate)[0]
            .json()
            .unwrap(),
        json!({"license_key": KEY, "instance_id": activation.instance_id})
    );
    assert!(!deactivated.message.is_empty());
    assert!(!deactivated.deactivated_at.is_empty());

    let gone = license
        .validate(KEY, Some(&activation.instance_id))
        .await
        .unwrap();
    assert!(!gone.valid);
    assert_eq!(gone.code, "INSTANCE_NOT_FOUND");
    let error = license
        .deactivate(KEY, &activation.instance_id)
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));
}

#[tokio::test]
async fn unknown_keys_validate_false_and_are_not_found_elsewhere() {
    let setup = Setup::start().await;
    let license = setup.kelviq.license();
    let verdict = license.validate("NO-SUCH-KEY", None).await.unwrap();
    assert!(!verdict.valid);
    assert_eq!(verdict.code, "NOT_FOUND");
    assert!(verdict.license.is_none());

    let error = license
        .activate(ActivateLicense::new("NO-SUCH-KEY"))
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));
    assert_eq!(
        setup.mock.requests(Route::LicenseActivate)[0]
            .json()
            .unwrap(),
        json!({"license_key": "NO-SUCH-KEY"})
    );
    let error = license
        .deactivate(KEY, "no-such-instance")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));

    let error = license
        .activate(ActivateLicense::new(KEY).customer_id("cust_free"))
        .await
        .unwrap_err();
    assert_eq!(
        error.as_api().unwrap().field_errors(),
        [(
            "customer_id",
            vec!["This license key belongs to another customer."]
        )]
    );
}

#[tokio::test]
async fn the_activation_limit_holds() {
    let setup = Setup::start().await;
    let license = setup.kelviq.license();
    for used in 1..=3 {
        let activation = license.activate(ActivateLicense::new(KEY)).await.unwrap();
        assert_eq!(activation.license.activation_usage, used);
    }
    let error = license
        .activate(ActivateLicense::new(KEY))
        .await
        .unwrap_err();
    assert_eq!(error.as_api().unwrap().status.as_u16(), 400);
    assert_eq!(setup.mock.calls(Route::LicenseActivate), 4);
}

#[tokio::test]
async fn invalid_license_parameters_are_refused_before_any_request() {
    let setup = Setup::start().await;
    let license = setup.kelviq.license();
    assert_eq!(
        refused(license.activate(ActivateLicense::new("")).await),
        "license_key"
    );
    assert_eq!(
        refused(
            license
                .activate(ActivateLicense::new(KEY).customer_id(""))
                .await
        ),
        "customer_id"
    );
    assert_eq!(refused(license.deactivate("", "i-1").await), "license_key");
    assert_eq!(refused(license.deactivate(KEY, "").await), "instance_id");
    assert_eq!(refused(license.validate("", None).await), "license_key");
    assert_eq!(
        refused(license.validate(KEY, Some("")).await),
        "instance_id"
    );
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn the_license_key_is_not_in_debug_output() {
    let setup = Setup::start().await;
    let license = setup.kelviq.license();
    let params = ActivateLicense::new(KEY).instance_name("build-box");
    let params_debug = format!("{params:?}");
    assert!(!params_debug.contains(KEY), "{params_debug}");
    assert!(params_debug.contains("***"), "{params_debug}");

    let activation = license.activate(params).await.unwrap();
    assert_eq!(
        activation.license.license_key, KEY,
        "the field keeps the key"
    );
    let validation = license
        .validate(KEY, Some(&activation.instance_id))
        .await
        .unwrap();
    for debug in [
        format!("{activation:?}"),
        format!("{activation:#?}"),
        format!("{:?}", activation.license),
        format!("{validation:?}"),
    ] {
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("license_key: \"***\""), "{debug}");
        assert!(
            debug.contains(&activation.license.id),
            "other fields stay: {debug}"
        );
    }

    let summary: kelviq_client::models::LicenseSummary =
        serde_json::from_value(json!({"id": "lic_1", "licenseKey": KEY})).unwrap();
    let debug = format!("{summary:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("lic_1"), "{debug}");
}
