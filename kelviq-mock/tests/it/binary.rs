//! The `kelviq-mock` program: starts, prints where it listens, and serves both listeners.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_kelviq-mock");

/// Kills the program when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the program and reads the `export NAME=value` lines it prints (and the console's
/// URL, as `console`).
fn start(args: &[&str]) -> (Running, Vec<(String, String)>) {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut exports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(assignment) = line.trim().strip_prefix("export ") {
            let (name, value) = assignment.split_once('=').unwrap();
            exports.push((name.to_owned(), value.to_owned()));
        }
        if let Some(console) = line.trim().strip_prefix("console: ") {
            let url = console.split_whitespace().next().unwrap();
            exports.push(("console".to_owned(), url.to_owned()));
        }
        if line.starts_with("Stop with") {
            break;
        }
    }
    (running, exports)
}

fn var<'a>(exports: &'a [(String, String)], name: &str) -> &'a str {
    &exports.iter().find(|(n, _)| n == name).unwrap().1
}

#[tokio::test]
async fn the_program_prints_its_urls_and_serves_both_listeners() {
    let (_running, exports) = start(&["--port", "0", "--token", "tok_cli"]);
    assert_eq!(var(&exports, "KELVIQ_API_KEY"), "tok_cli");
    let api = var(&exports, "KELVIQ_BASE_URL");
    let edge = var(&exports, "KELVIQ_EDGE_URL");
    let http = reqwest::Client::new();
    let customers: Value = http
        .get(format!("{api}/api/v1/customers/"))
        .bearer_auth("tok_cli")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customers["count"], 2);
    let entitlements = http
        .get(format!("{edge}/api/v1/entitlements?customer_id=cust_pro"))
        .bearer_auth("tok_cli")
        .send()
        .await
        .unwrap();
    assert_eq!(entitlements.status(), 200);
    // The program serves the console.
    let console = var(&exports, "console");
    assert_eq!(console, format!("{api}/_console"));
    let page = http.get(console).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("kelviq-mock console"));
}

#[tokio::test]
async fn the_program_reads_a_seed_file() {
    let path = std::env::temp_dir().join(format!("kelviq-mock-seed-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"plans": [{"identifier": "p", "features": [{"id": "f", "type": "BOOLEAN"}]}],
            "customers": [{"customerId": "only", "subscriptions": [{"plan": "p"}]}]}"#,
    )
    .unwrap();
    let (_running, exports) = start(&["--port", "0", "--seed", path.to_str().unwrap()]);
    let api = var(&exports, "KELVIQ_BASE_URL");
    let customers: Value = reqwest::Client::new()
        .get(format!("{api}/api/v1/customers/"))
        .bearer_auth(var(&exports, "KELVIQ_API_KEY"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customers["results"][0]["customerId"], "only");
    assert_eq!(customers["count"], 1);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn bad_arguments_and_seeds_exit_with_status_2() {
    for args in [
        &["--port", "http"][..],
        &["--bogus", "1"],
        &["--port"],
        &["--seed", "/nonexistent/seed.json"],
    ] {
        let output = Command::new(BINARY).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty());
    }
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8(help.stdout).unwrap().contains("--seed"));
}

#[tokio::test]
async fn the_program_sends_signed_webhooks_when_asked_to() {
    use crate::webhooks::{Receiver, SECRET};

    let receiver = Receiver::start(&[]).await;
    let (_running, exports) = start(&[
        "--port",
        "0",
        "--webhook-url",
        &receiver.url,
        "--webhook-secret",
        SECRET,
    ]);
    let api = var(&exports, "KELVIQ_BASE_URL");
    let token = var(&exports, "KELVIQ_API_KEY");
    let http = reqwest::Client::new();
    let patched = http
        .patch(format!("{api}/api/v1/customers/cust_pro/"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "From the CLI"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let requests = receiver.wait_for(1).await;
    assert_eq!(requests.len(), 1);
    let (headers, body) = &requests[0];
    let event = kelviq_client::webhook::verify(SECRET, headers, body).unwrap();
    assert_eq!(event.event_type(), Some("customer.updated"));
    assert_eq!(event.customer_id(), Some("cust_pro"));
}

#[test]
fn a_webhook_url_without_a_secret_is_refused() {
    let output = Command::new(BINARY)
        .args(["--port", "0", "--webhook-url", "http://127.0.0.1:9/hooks"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--webhook-secret"));
}
