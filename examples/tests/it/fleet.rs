//! Two `axum-app` processes in one fleet (`--redis`), on one fake Kelviq over loopback:
//! an instance killed with `SIGKILL` loses none of the usage it had pushed to Redis.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kelviq_examples::example_seed;
use kelviq_mock::{MockServer, RedisServer};

/// One `axum-app` process; killed (`SIGKILL`) when dropped.
struct App {
    child: Child,
    base: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `axum-app --redis <redis> --port <free port>` against `mock`, and waits until
/// it answers.
async fn start_app(mock: &MockServer, redis: &str) -> App {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_axum-app"))
        .args(["--redis", redis, "--port", &port.to_string()])
        .env("KELVIQ_API_KEY", mock.token())
        .env("KELVIQ_BASE_URL", mock.url())
        .env("KELVIQ_EDGE_URL", mock.edge_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let app = App {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let up = eventually(Duration::from_secs(30), async || {
        reqwest::get(format!("{}/", app.base))
            .await
            .is_ok_and(|response| response.status().is_success())
    })
    .await;
    assert!(up, "axum-app did not start");
    app
}

/// Polls `done` every 10 ms until it holds, for at most `within`.
async fn eventually(within: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// `requests` metered calls of the pro customer on `base`, 8 at a time; the successes.
async fn load(base: &str, requests: usize) -> u64 {
    let client = reqwest::Client::new();
    let calls = (0..requests).map(|_| {
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/api/calls"))
                .header("x-api-key", "pro-key")
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
        }
    });
    let results: Vec<bool> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
        futures::stream::iter(calls),
        8,
    ))
    .await;
    results.into_iter().map(u64::from).sum()
}

/// The units an app handed to the fleet's Redis, from its `/metrics`.
async fn pushed(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("kelviq_meter_units_pushed_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_instance_loses_nothing_in_redis() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().unwrap();
    let mock = MockServer::builder()
        .seed(example_seed())
        .start()
        .await
        .unwrap();
    let total = || mock.usage_total("cust_pro", "api-calls");
    let before = total();
    // B starts first and takes the delivery lease: A, killed, holds no usage in flight
    // (a holder killed mid-report loses those reports' units as unknown, by design).
    let b = start_app(&mock, redis.url()).await;
    let lease_held = eventually(Duration::from_secs(20), async || {
        Command::new("redis-cli")
            .args(["-u", redis.url(), "EXISTS", "kelviq-example:fleet:delivery"])
            .output()
            .is_ok_and(|output| output.stdout.starts_with(b"1"))
    })
    .await;
    assert!(lease_held, "B never took the delivery lease");
    let a = start_app(&mock, redis.url()).await;
    // Both under load; then A's load ends, and once A pushed all it counted, A is killed
    // while B is still loaded.
    let (a_ok, b_first) = tokio::join!(load(&a.base, 300), load(&b.base, 300));
    assert_eq!(a_ok, 300);
    let a_pushed = eventually(Duration::from_secs(20), async || {
        pushed(&a.base).await == a_ok
    })
    .await;
    assert!(a_pushed, "A pushed {} of {a_ok}", pushed(&a.base).await);
    let b_more = tokio::spawn({
        let base = b.base.clone();
        async move { load(&base, 300).await }
    });
    drop(a);
    let b_ok = b_first + b_more.await.unwrap();
    // The survivor delivers A's pushed units and its own: exactly those, nothing twice.
    let expected = before + i64::try_from(a_ok + b_ok).unwrap();
    assert!(
        eventually(Duration::from_secs(30), async || total() == expected).await,
        "Kelviq counts {} of {}",
        total() - before,
        expected - before
    );
    // One more call on B: once B delivered it, Kelviq counts exactly one more (B's later
    // deliveries brought nothing of A's again).
    assert_eq!(load(&b.base, 1).await, 1);
    assert!(
        eventually(Duration::from_secs(30), async || total() != expected).await,
        "B delivered nothing more"
    );
    assert_eq!(total(), expected + 1, "a unit was delivered twice");
}
