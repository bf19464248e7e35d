//! Building a client: defaults, the environment, and secrets kept out of `Debug`.

use std::collections::HashMap;

use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Error, Kelviq, KelviqBuilder};

use crate::support::Setup;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults_to_the_sandbox_hosts() {
    let kelviq = Kelviq::new("sk_test_abc").unwrap();
    assert_eq!(kelviq.api_url(), "https://sandboxapi.kelviq.com");
    assert_eq!(kelviq.edge_url(), "https://edge.sandboxapi.kelviq.com");
}

#[test]
fn from_env_reads_the_four_variables() {
    let kelviq = Kelviq::from_env_with(env(&[
        ("KELVIQ_API_KEY", "sk_live_abc"),
        ("KELVIQ_ENV", "production"),
    ]))
    .unwrap();
    assert_eq!(kelviq.api_url(), "https://api.kelviq.com");
    assert_eq!(kelviq.edge_url(), "https://edge.api.kelviq.com");

    let kelviq = Kelviq::from_env_with(env(&[
        ("KELVIQ_API_KEY", "k"),
        ("KELVIQ_BASE_URL", "http://127.0.0.1:4010/"),
        ("KELVIQ_EDGE_URL", "http://127.0.0.1:4011"),
    ]))
    .unwrap();
    assert_eq!(kelviq.api_url(), "http://127.0.0.1:4010");
    assert_eq!(kelviq.edge_url(), "http://127.0.0.1:4011");

    let sandbox =
        Kelviq::from_env_with(env(&[("KELVIQ_API_KEY", "k"), ("KELVIQ_ENV", "")])).unwrap();
    assert_eq!(sandbox.api_url(), "https://sandboxapi.kelviq.com");
}

#[test]
fn bad_environment_values_are_clear_errors() {
    let missing = Kelviq::from_env_with(env(&[])).unwrap_err();
    assert!(missing.to_string().contains("KELVIQ_API_KEY"), "{missing}");
    let bad_env =
        Kelviq::from_env_with(env(&[("KELVIQ_API_KEY", "k"), ("KELVIQ_ENV", "live")])).unwrap_err();
    assert!(bad_env.to_string().contains("KELVIQ_ENV"), "{bad_env}");
    let bad_url = Kelviq::from_env_with(env(&[
        ("KELVIQ_API_KEY", "k"),
        ("KELVIQ_BASE_URL", "localhost:4010"),
    ]))
    .unwrap_err();
    assert!(matches!(bad_url, Error::Config(_)), "{bad_url:?}");
    let bad_token = Kelviq::from_env_with(env(&[("KELVIQ_API_KEY", "sk live")])).unwrap_err();
    assert!(!bad_token.to_string().contains("sk live"));
}

#[tokio::test]
async fn the_environment_and_builder_options_combine() {
    let setup = Setup::start().await;
    let vars = setup.mock.env_vars();
    let pairs = vars.each_ref().map(|(name, value)| (*name, value.as_str()));
    let lookup = env(&pairs);
    let kelviq = KelviqBuilder::from_env_with(&lookup)
        .entitlement_cache(CacheConfig::default().max_customers(10))
        .usage_meter(MeterConfig::default().concurrency(2))
        .build()
        .unwrap();
    assert_eq!(kelviq.api_url(), setup.mock.url());
    assert_eq!(kelviq.edge_url(), setup.mock.edge_url());
    assert!(kelviq.has_entitlement_cache());
    for _ in 0..2 {
        assert!(
            kelviq
                .entitlements()
                .has_access("cust_pro", "reports")
                .await
                .unwrap()
        );
    }
    assert_eq!(setup.mock.entitlement_calls("cust_pro"), 1);

    // An option given after the environment wins over the default.
    let uncached = KelviqBuilder::from_env_with(&lookup)
        .no_entitlement_cache()
        .build()
        .unwrap();
    assert!(!uncached.has_entitlement_cache());
    uncached.customers().retrieve("cust_pro").await.unwrap();
}

#[test]
fn environment_errors_surface_at_build_naming_the_variable() {
    // The builder takes options whatever the environment; build() reports it.
    let missing = KelviqBuilder::from_env_with(env(&[]))
        .entitlement_cache(CacheConfig::default())
        .build()
        .unwrap_err();
    assert!(matches!(missing, Error::Config(_)), "{missing:?}");
    assert!(missing.to_string().contains("KELVIQ_API_KEY"), "{missing}");
    let empty = KelviqBuilder::from_env_with(env(&[("KELVIQ_API_KEY", "")]))
        .build()
        .unwrap_err();
    assert!(empty.to_string().contains("KELVIQ_API_KEY"), "{empty}");
    let bad_env =
        KelviqBuilder::from_env_with(env(&[("KELVIQ_API_KEY", "k"), ("KELVIQ_ENV", "live")]))
            .no_entitlement_cache()
            .build()
            .unwrap_err();
    assert!(bad_env.to_string().contains("KELVIQ_ENV"), "{bad_env}");
    // The first problem is the one reported.
    let both = KelviqBuilder::from_env_with(env(&[("KELVIQ_ENV", "live")]))
        .build()
        .unwrap_err();
    assert!(both.to_string().contains("KELVIQ_API_KEY"), "{both}");
}

#[test]
fn builder_refuses_bad_options() {
    let one_url = Kelviq::builder()
        .access_token("k")
        .api_url("http://127.0.0.1:1")
        .build()
        .unwrap_err();
    assert!(one_url.to_string().contains("both base URLs"), "{one_url}");
    assert!(matches!(Kelviq::builder().build(), Err(Error::Config(_))));
    assert!(
        Kelviq::builder()
            .access_token("k")
            .timeout(std::time::Duration::ZERO)
            .build()
            .is_err()
    );
    assert!(
        Kelviq::builder()
            .access_token("k")
            .user_agent_suffix("bad\nsuffix")
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn debug_output_never_contains_the_token() {
    let secret = "sk_live_super_secret_token_123";
    let builder = Kelviq::builder().access_token(secret);
    assert!(!format!("{builder:?}").contains(secret));
    let kelviq = builder.build().unwrap();
    let debug = format!("{kelviq:?}");
    assert!(!debug.contains(secret), "{debug}");
    assert!(debug.contains("***"));

    let setup = Setup::start().await;
    let wrong = crate::support::client_for(&setup.mock)
        .access_token(secret)
        .build()
        .unwrap();
    let error = wrong.customers().retrieve("cust_pro").await.unwrap_err();
    assert!(!format!("{error:?}").contains(secret));
    assert!(!error.to_string().contains(secret));
    let request = setup.mock.journal().pop().unwrap();
    assert!(!format!("{request:?}").contains(secret));
}

#[tokio::test]
async fn no_error_kind_shows_the_token() {
    use std::time::Duration;

    use kelviq_client::{CreateCustomer, RetryPolicy};
    use kelviq_mock::{Fault, FaultRule, MockServer, Route};

    let secret = "sk_live_never_print_me";
    let mock = MockServer::builder().token(secret).start().await.unwrap();
    let kelviq = crate::support::client_for(&mock)
        .access_token(secret)
        .timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let customers = kelviq.customers();
    let mut errors = vec![customers.create(CreateCustomer::new("")).await.unwrap_err()];
    mock.inject(
        FaultRule::next(1, Fault::Delay(Duration::from_secs(5))).on(Route::CustomersRetrieve),
    );
    errors.push(customers.retrieve("cust_pro").await.unwrap_err());
    mock.inject(FaultRule::next(1, Fault::DropConnection).on(Route::CustomersRetrieve));
    errors.push(customers.retrieve("cust_pro").await.unwrap_err());
    mock.inject(
        FaultRule::next(1, Fault::status_with_body(200, serde_json::json!([])))
            .on(Route::CustomersRetrieve),
    );
    errors.push(customers.retrieve("cust_pro").await.unwrap_err());
    errors.push(customers.retrieve("nobody").await.unwrap_err());
    errors.push(
        Kelviq::builder()
            .access_token(secret)
            .api_url("nope")
            .build()
            .unwrap_err(),
    );
    let kinds: Vec<String> = errors
        .iter()
        .map(|error| {
            format!("{error:?}")
                .split([' ', '(', '{'])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Validation",
            "Timeout",
            "Transport",
            "Decode",
            "Api",
            "Config"
        ]
    );
    for error in &errors {
        let shown = format!("{error} {error:?} {:?}", std::error::Error::source(error));
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn http_base_urls_are_refused_for_hosts_that_are_not_loopback() {
    let build = |api: &str, edge: &str, allow: Option<bool>| {
        let builder = Kelviq::builder()
            .access_token("sk_test_abc")
            .api_url(api)
            .edge_url(edge);
        match allow {
            Some(allow) => builder.allow_insecure_http(allow),
            None => builder,
        }
        .build()
    };

    for (api, edge, host) in [
        (
            "http://api.example.test",
            "https://edge.example.test",
            "api.example.test",
        ),
        (
            "https://api.example.test",
            "http://10.1.2.3:8080/",
            "10.1.2.3",
        ),
    ] {
        for allow in [None, Some(false)] {
            let error = build(api, edge, allow).unwrap_err();
            let Error::Config(message) = &error else {
                panic!("{error:?}");
            };
            assert!(message.contains(host), "{message}");
            assert!(message.contains("http://"), "{message}");
        }
        let kelviq = build(api, edge, Some(true)).unwrap();
        assert_eq!(kelviq.api_url(), api.trim_end_matches('/'));
        assert_eq!(kelviq.edge_url(), edge.trim_end_matches('/'));
    }

    // The environment variables follow the same rule.
    let error = Kelviq::from_env_with(env(&[
        ("KELVIQ_API_KEY", "k"),
        ("KELVIQ_BASE_URL", "http://kelviq.internal"),
        ("KELVIQ_EDGE_URL", "http://kelviq.internal:81"),
    ]))
    .unwrap_err();
    assert!(error.to_string().contains("kelviq.internal"), "{error}");
}

#[tokio::test]
async fn http_on_a_loopback_host_needs_no_option() {
    let setup = Setup::start().await;
    for (api, edge) in [
        (
            setup.mock.url().to_owned(),
            setup.mock.edge_url().to_owned(),
        ),
        (
            setup.mock.url().replace("127.0.0.1", "localhost"),
            setup.mock.edge_url().replace("127.0.0.1", "localhost"),
        ),
        (
            format!("http://[::1]:{}", setup.mock.api_addr().port()),
            format!("http://[::1]:{}", setup.mock.edge_addr().port()),
        ),
    ] {
        let kelviq = Kelviq::builder()
            .access_token(setup.mock.token())
            .api_url(&api)
            .edge_url(&edge)
            .build()
            .unwrap();
        assert_eq!(kelviq.api_url(), api);
    }
    // And the mock on 127.0.0.1 answers such a client.
    assert!(
        setup
            .kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn every_request_names_the_client_instance() {
    let mock = kelviq_mock::MockServer::start().await;
    let default = crate::support::client_for(&mock).build().unwrap();
    assert!(
        default
            .instance_name()
            .starts_with(&format!("{}@", std::process::id())),
        "{}",
        default.instance_name()
    );
    let named = crate::support::client_for(&mock)
        .instance_name("billing-api/pod-7")
        .no_entitlement_cache()
        .build()
        .unwrap();
    assert_eq!(named.instance_name(), "billing-api/pod-7");

    // Both listeners, with and without a body.
    default
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    named
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    named.customers().retrieve("cust_pro").await.unwrap();
    named
        .reporting()
        .report_usage(kelviq_client::ReportUsage::delta(
            "cust_pro",
            "api-calls",
            1,
        ))
        .await
        .unwrap();
    let sent: Vec<String> = mock
        .journal()
        .iter()
        .map(|request| request.client_instance().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        [
            default.instance_name(),
            "billing-api/pod-7",
            "billing-api/pod-7",
            "billing-api/pod-7"
        ]
    );
    assert_eq!(kelviq_client::INSTANCE_HEADER, "x-kelviq-client-instance");
}

#[tokio::test]
async fn a_bad_instance_name_fails_the_build_before_any_request() {
    let mock = kelviq_mock::MockServer::start().await;
    for bad in [
        String::new(),
        "pod 7".to_owned(),
        "pod\r\n7".to_owned(),
        "pöd".to_owned(),
        "x".repeat(kelviq_client::MAX_INSTANCE_NAME_LEN + 1),
    ] {
        let error = crate::support::client_for(&mock)
            .instance_name(bad.clone())
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, Error::Config(message) if message.contains("instance_name")),
            "{bad:?}: {error}"
        );
    }
    assert!(mock.journal().is_empty());
}
