//! The fake Kelviq's console in a real browser: headless Chromium through ChromeDriver
//! (WebDriver, `fantoccini`), over the axum example app and its embedded mock.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without
//! them the test prints a skip line and passes, except under `CI=true`, where it fails.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use kelviq_client::CacheConfig;
use serde_json::{Value, json};

use crate::support::serve_app;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "apt-get install chromium chromium-driver";

/// The bound on every wait: for the browser to start, for the page to show a change.
const WAIT: Duration = Duration::from_secs(30);
/// How often a condition is checked while waiting for it.
const POLL: Duration = Duration::from_millis(100);

/// ChromeDriver (and the Chromium it starts) on a loopback port, with a fresh profile;
/// dropping it kills their process group and removes the profile.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    /// Starts ChromeDriver and waits (at most [`WAIT`]) until it listens.
    async fn start() -> Driver {
        // A port the OS says is free; ChromeDriver binds it a moment later.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let profile =
            std::env::temp_dir().join(format!("kelviq-console-test-{}-{port}", std::process::id()));
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Chromium dies with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}"));
        let driver = Driver {
            child,
            port,
            profile,
        };
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within {WAIT:?}"
            );
            tokio::time::sleep(POLL).await;
        }
        driver
    }

    /// A WebDriver session of headless Chromium, `width` × `height`.
    async fn browser(&self, width: u32, height: u32) -> Client {
        let options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", self.profile.display()),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|error| panic!("cannot start {CHROMIUM}: {error}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: ChromeDriver and every Chromium process it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Whether the browser is installed. When it is not: a failure under `CI=true`, else a
/// visible skip line (written past the test harness's capture) and `false`.
fn browser_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "the console's browser test needs {}; install with `{INSTALL}`",
        missing.join(" and ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message} (CI=true: a missing browser is a failure)"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
    false
}

/// The property `property` (`textContent`, `value`) of the first element matching `css`,
/// `None` when there is none.
async fn read(browser: &Client, css: &str, property: &str) -> Option<String> {
    let script =
        format!("const e = document.querySelector(arguments[0]); return e ? e.{property} : null;");
    match browser.execute(&script, vec![json!(css)]).await.unwrap() {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// Waits (at most [`WAIT`]) until the `property` of the element matching `css` is
/// `expected` by `matches`; fails naming what it was last.
async fn wait_for(
    browser: &Client,
    css: &str,
    property: &str,
    expected: &str,
    matches: fn(&str, &str) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let shown = read(browser, css, property).await;
        if shown
            .as_deref()
            .is_some_and(|shown| matches(shown, expected))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} should show {expected:?} as its {property} within {WAIT:?}; it shows {shown:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the element matching `css` shows text containing `expected`.
async fn wait_for_text(browser: &Client, css: &str, expected: &str) {
    wait_for(browser, css, "textContent", expected, |shown, expected| {
        shown.contains(expected)
    })
    .await;
}

/// Waits until the input matching `css` holds `expected`.
async fn wait_for_value(browser: &Client, css: &str, expected: &str) {
    wait_for(browser, css, "value", expected, |shown, expected| {
        shown == expected
    })
    .await;
}

/// Resizes the window so that the page's viewport is `width` × `height` (the window is
/// larger by its frame).
async fn set_viewport(browser: &Client, width: u32, height: u32) {
    browser.set_window_size(width, height).await.unwrap();
    let frame = browser
        .execute(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
            vec![],
        )
        .await
        .unwrap();
    let frame = |i: usize| u32::try_from(frame[i].as_u64().unwrap()).unwrap();
    browser
        .set_window_size(width + frame(0), height + frame(1))
        .await
        .unwrap();
    let inner = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap();
    assert_eq!(inner, json!([width, height]));
}

/// Chooses the option `value` of the select matching `css`.
async fn select(browser: &Client, css: &str, value: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
        .select_by_value(value)
        .await
        .unwrap();
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
        .click()
        .await
        .unwrap();
}

/// Status and body of `GET {base}{path}` as the customer whose API key is `key`.
async fn app_get(base: &str, path: &str, key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn app_post(base: &str, path: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_and_steers_what_the_example_app_sees() {
    if !browser_installed() {
        return;
    }
    // An hour of TTL: only the plan-change webhook can explain a fresh answer. A short
    // error backoff, so that the app retries Kelviq soon after the faults are cleared.
    let cache = CacheConfig::default()
        .ttl(Duration::from_secs(3600))
        .error_backoff(Duration::from_millis(50));
    let (backend, base) = serve_app(cache).await;
    let mock = backend.mock.as_ref().unwrap();
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 1000).await;
    browser.goto(&mock.console_url().unwrap()).await.unwrap();

    // The seeded customers, their plans and usage.
    let free = r#"[data-customer="cust_free"]"#;
    let pro = r#"[data-customer="cust_pro"]"#;
    let usage = |customer: &str, feature: &str| {
        format!(r#"{customer} tr[data-feature="{feature}"] .usage-text"#)
    };
    wait_for_text(&browser, &format!("{free} .plan-name"), "free").await;
    wait_for_text(&browser, &format!("{pro} .plan-name"), "pro").await;
    wait_for_text(&browser, &usage(free, "api-calls"), "0 / 5").await;
    wait_for_text(&browser, &usage(pro, "api-calls"), "0 / 10000").await;
    wait_for_text(&browser, &usage(pro, "seats"), "0 / 10").await;
    wait_for_text(
        &browser,
        &format!(r#"{free} tr[data-feature="reports"] .access"#),
        "no",
    )
    .await;
    // The usage input starts at the selected feature's usage.
    let usage_input = |customer: &str| format!("{customer} .usage-form input[name=value]");
    wait_for_value(&browser, &usage_input(free), "0").await;

    // The app meters two calls; the usage moves on the page without a reload.
    assert_eq!(app_post(&base, "/api/calls", "free-key").await, 200);
    assert_eq!(app_post(&base, "/api/calls", "free-key").await, 200);
    wait_for_text(&browser, &usage(free, "api-calls"), "2 / 5").await;
    wait_for_value(&browser, &usage_input(free), "2").await;
    wait_for_text(&browser, "#journal tbody", "/api/v1/report/usage/").await;
    // Each request names the client instance that sent it: the app's.
    let instance = backend.kelviq.instance_name();
    assert!(
        instance.starts_with(&format!("{}@", std::process::id())),
        "{instance}"
    );
    let report_rows = browser
        .execute(
            "return [...document.querySelectorAll('#journal tbody tr')]
                 .filter(row => row.textContent.includes('/api/v1/report/usage/'))
                 .map(row => row.querySelector('td.instance').textContent);",
            vec![],
        )
        .await
        .unwrap();
    let report_rows = report_rows.as_array().unwrap();
    assert!(!report_rows.is_empty());
    assert!(
        report_rows.iter().all(|shown| shown == instance),
        "{report_rows:?}"
    );

    // Free has no reports; the answer is now cached for an hour.
    assert_eq!(app_get(&base, "/reports", "free-key").await.0, 403);

    // Upgrade cust_free with a click: the mock sends the plan-change webhook, the app drops
    // its snapshot, and its next answer follows the new plan at once.
    select(&browser, &format!("{free} select[name=plan]"), "pro").await;
    click(&browser, &format!("{free} .plan-form button")).await;
    wait_for_text(&browser, "#notice", "Moved cust_free to plan pro.").await;
    // The console's own requests name no instance.
    wait_for_text(&browser, "#journal tbody tr:first-child td.instance", "—").await;
    let deliveries = mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries[0].event_type, "subscription.updated");
    assert_eq!(app_get(&base, "/reports", "free-key").await.0, 200);
    wait_for_text(&browser, &format!("{free} .plan-name"), "pro").await;
    wait_for_text(&browser, &usage(free, "api-calls"), "2 / 10000").await;
    wait_for_text(&browser, "#webhooks tbody", "subscription.updated").await;
    wait_for_text(&browser, "#webhooks tbody", "delivered").await;

    // Usage set from the console (cust_pro is not loaded by the app yet, and stays so).
    let pro_calls = browser
        .find(Locator::Css(&format!(
            "{pro} .usage-form input[name=value]"
        )))
        .await
        .unwrap();
    pro_calls.clear().await.unwrap();
    pro_calls.send_keys("8600").await.unwrap();
    click(&browser, &format!("{pro} .usage-form button[type=submit]")).await;
    wait_for_text(&browser, &usage(pro, "api-calls"), "8600 / 10000").await;
    assert_eq!(mock.usage_total("cust_pro", "api-calls"), 8600);
    wait_for_value(&browser, &usage_input(pro), "8600").await;
    // Setting it again changes nothing, and the console says so (no webhook is sent).
    click(&browser, &format!("{pro} .usage-form button[type=submit]")).await;
    wait_for_text(&browser, "#notice", "nothing changed, no webhook sent").await;
    // Another feature, and back: the input follows the selection.
    let feature_select = format!("{pro} .usage-form select[name=feature]");
    for (feature, shown) in [("seats", "0"), ("api-calls", "8600")] {
        select(&browser, &feature_select, feature).await;
        wait_for_value(&browser, &usage_input(pro), shown).await;
    }

    // Kelviq answers 503 from now on (set in the console): cust_pro, never loaded, has no
    // snapshot to fall back on, so the app's failure policy answers 503; cust_free's
    // fresh snapshot still answers.
    select(&browser, "#fault-kind", "status").await;
    let status = browser.find(Locator::Css("#fault-status")).await.unwrap();
    status.clear().await.unwrap();
    status.send_keys("503").await.unwrap();
    click(&browser, "#inject-fault").await;
    wait_for_text(&browser, "#faults-list", "status 503").await;
    wait_for_text(&browser, "#faults-list", "until cleared").await;
    let (status, body) = app_get(&base, "/reports", "pro-key").await;
    assert_eq!((status, &body["code"]), (503, &json!("kelviq_unavailable")));
    assert_eq!(app_get(&base, "/reports", "free-key").await.0, 200);
    wait_for_text(
        &browser,
        "#journal tbody tr.faulted",
        "customer_id=cust_pro",
    )
    .await;
    wait_for_text(&browser, "#journal tbody tr.faulted", "status 503").await;

    // At 1280 × 900 no panel is stretched empty and the customer cards fill their row.
    set_viewport(&browser, 1280, 900).await;
    let empty = browser
        .execute(
            "const gaps = [];
             for (const panel of document.querySelectorAll('.panel')) {
               const last = panel.lastElementChild.getBoundingClientRect().bottom;
               gaps.push(Math.round(panel.getBoundingClientRect().bottom - last));
             }
             const cards = document.querySelector('.cards');
             const lastCard = cards.lastElementChild.getBoundingClientRect().right;
             gaps.push(Math.round(cards.getBoundingClientRect().right - lastCard));
             return gaps;",
            vec![],
        )
        .await
        .unwrap();
    let gaps: Vec<i64> = empty
        .as_array()
        .unwrap()
        .iter()
        .map(|gap| gap.as_i64().unwrap())
        .collect();
    assert!(
        gaps.iter().all(|gap| (0..=40).contains(gap)),
        "empty space below a panel's content, or beside the last customer card (px): {gaps:?}"
    );
    std::fs::write(
        artifact("console-1280x900.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    // The whole page (the README's screenshot, docs/console.png).
    let bottom = browser
        .execute(
            "return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom);",
            vec![],
        )
        .await
        .unwrap();
    let bottom = u32::try_from(bottom.as_u64().unwrap()).unwrap();
    set_viewport(&browser, 1280, bottom.max(900)).await;
    let screenshot = browser.screenshot().await.unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"));
    std::fs::write(artifact("console.png"), &screenshot).unwrap();

    // Cleared from the console: the app reaches Kelviq again.
    click(&browser, "#clear-faults").await;
    wait_for_text(&browser, "#faults-list", "No faults").await;
    let deadline = Instant::now() + WAIT;
    while app_get(&base, "/reports", "pro-key").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the app still fails after the faults were cleared"
        );
        tokio::time::sleep(POLL).await;
    }

    // Reset from the console.
    click(&browser, &format!("{pro} .usage-form button.secondary")).await;
    wait_for_text(&browser, &usage(pro, "api-calls"), "0 / 10000").await;
    assert_eq!(mock.usage_total("cust_pro", "api-calls"), 0);

    // Every control has a label, and a phone-width window scrolls only vertically.
    let unlabeled = browser
        .execute(
            "return [...document.querySelectorAll('input, select')]
                 .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
                 .map(e => e.outerHTML);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabeled, json!([]));
    browser.set_window_size(390, 900).await.unwrap();
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(inner <= 400, "the window did not narrow: {widths}");
    assert!(
        scroll <= inner,
        "the page overflows a {inner} px window: {scroll} px"
    );
    std::fs::write(
        artifact("console-390.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    browser.close().await.unwrap();
    drop(driver);
}
