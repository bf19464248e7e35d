//! [`RedisServer`]: a real `redis-server` on a free loopback port, for tests of a fleet.
//!
//! Fleet tests need a real Redis, not a fake: the behaviour under test (Lua scripts,
//! pub/sub, reconnection) is Redis's own. [`RedisServer::shared`] gives every test of one
//! test binary the same server (each test then uses its own key prefix, so they run in
//! parallel); [`RedisServer::start`] gives a test a server of its own, which it can
//! [`stop`](RedisServer::stop) and [`restart`](RedisServer::restart) on the same port.
//!
//! Servers run with persistence off (`--save "" --appendonly no`) on 127.0.0.1, and are
//! killed when dropped — and, through a watchdog shell that reads the test's pipe, when the
//! test process dies without dropping them (a shared server lives in a `static`).
//!
//! When `KELVIQ_TEST_REDIS_URL` is set, [`RedisServer::shared`] uses that server instead of
//! starting one. When no `redis-server` can be found, it prints a line saying so and how to
//! install it, and answers `None` (the test returns early) — unless `CI` is `true`, where
//! it panics: CI must run every test.
//!
//! ```no_run
//! use kelviq_mock::RedisServer;
//!
//! let Some(redis) = RedisServer::shared() else {
//!     return; // skipped, and said so
//! };
//! println!("fleet tests talk to {}", redis.url());
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::server::lock;

/// The variable naming an existing server for [`RedisServer::shared`].
pub const TEST_REDIS_URL_VAR: &str = "KELVIQ_TEST_REDIS_URL";

/// How long a server may take to answer its first `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `redis-server` in the background, prints its pid, and kills it (`SIGKILL`) when
/// its standard input closes: when the [`RedisServer`] stops it, or when the test process
/// dies. A cluster node's config file (`KELVIQ_REDIS_NODE_FILE`) is removed then, and its
/// directory with the last one.
const WATCHDOG: &str = r#"redis-server "$@" >/dev/null 2>&1 &
pid=$!
echo "$pid"
read _ignored
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -n "${KELVIQ_REDIS_NODE_FILE:-}" ]; then
  rm -f "$KELVIQ_REDIS_NODE_FILE"
  rmdir "$(dirname "$KELVIQ_REDIS_NODE_FILE")" 2>/dev/null
fi
exit 0"#;

/// A `redis-server` for tests (see the [module documentation](self)).
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    port: u16,
    /// `None` for a server named by `KELVIQ_TEST_REDIS_URL`, or while stopped.
    process: Mutex<Option<Running>>,
}

#[derive(Debug)]
pub(crate) struct Running {
    watchdog: Child,
    /// Closing it kills the server.
    stdin: Option<ChildStdin>,
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisServerError {
    /// No `redis-server` on the `PATH`.
    #[error("redis-server was not found; install it with `apt-get install redis-server`")]
    NotInstalled,
    /// It did not start or did not answer.
    #[error("redis-server did not start: {0}")]
    Start(String),
}

impl RedisServer {
    /// Starts a server of its own on a free loopback port.
    ///
    /// # Errors
    ///
    /// [`RedisServerError::NotInstalled`] without `redis-server`;
    /// [`RedisServerError::Start`] when it does not answer within 10 s.
    pub fn start() -> Result<RedisServer, RedisServerError> {
        if !installed() {
            return Err(RedisServerError::NotInstalled);
        }
        let mut last = String::new();
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port().map_err(|error| RedisServerError::Start(error.to_string()))?;
            match spawn(port) {
                Ok(running) => {
                    return Ok(RedisServer {
                        url: format!("redis://127.0.0.1:{port}"),
                        port,
                        process: Mutex::new(Some(running)),
                    });
                }
                Err(error) => last = error,
            }
        }
        Err(RedisServerError::Start(last))
    }

    /// The server every test of this process shares: `KELVIQ_TEST_REDIS_URL`'s, else one
    /// started on first use. `None` when `redis-server` is missing, after printing a line
    /// that says the test is skipped and how to install it.
    ///
    /// # Panics
    ///
    /// When no server can be had and the `CI` variable is `true` (or `1`): in CI a Redis
    /// test never skips. Also when `redis-server` is installed but does not start.
    pub fn shared() -> Option<&'static RedisServer> {
        static SHARED: OnceLock<Option<RedisServer>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            if let Ok(url) = std::env::var(TEST_REDIS_URL_VAR)
                && !url.is_empty()
            {
                return Some(RedisServer {
                    url,
                    port: 0,
                    process: Mutex::new(None),
                });
            }
            match RedisServer::start() {
                Ok(server) => Some(server),
                Err(RedisServerError::NotInstalled) => None,
                Err(error) => panic!("{error}"),
            }
        });
        if shared.is_none() {
            skip_or_fail();
        }
        shared.as_ref()
    }

    /// Whether `redis-server` can be started here; when not, prints the skip line (and
    /// panics in CI, as [`RedisServer::shared`]). For tests that start their own server.
    pub fn available() -> bool {
        let installed = installed();
        if !installed {
            skip_or_fail();
        }
        installed
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the server (`SIGKILL`: clients see their connections reset, as in a crash)
    /// and waits until it is gone. Does nothing to a `KELVIQ_TEST_REDIS_URL` server.
    pub fn stop(&self) {
        let Some(mut running) = lock(&self.process).take() else {
            return;
        };
        drop(running.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = running.watchdog.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = running.watchdog.kill();
        let _ = running.watchdog.wait();
    }

    /// Starts the server again on the same port, empty (nothing was persisted).
    ///
    /// # Errors
    ///
    /// [`RedisServerError::Start`] when it does not answer within 10 s (or the port was
    /// taken meanwhile), and for a `KELVIQ_TEST_REDIS_URL` server.
    pub fn restart(&self) -> Result<(), RedisServerError> {
        if self.port == 0 {
            return Err(RedisServerError::Start(
                "a server named by KELVIQ_TEST_REDIS_URL is not restarted".to_owned(),
            ));
        }
        self.stop();
        let running = spawn(self.port).map_err(RedisServerError::Start)?;
        *lock(&self.process) = Some(running);
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub(crate) fn skip_or_fail() {
    let in_ci = std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1");
    let message = "redis-server was not found: install it with `apt-get install redis-server` \
                   (or set KELVIQ_TEST_REDIS_URL)";
    assert!(
        !in_ci,
        "{message}; CI=true, so Redis tests may not be skipped"
    );
    eprintln!("SKIPPED (Redis test): {message}");
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Starts a server on `port` under the watchdog and waits for its first `PONG`.
fn spawn(port: u16) -> Result<Running, String> {
    spawn_with(port, &std::env::temp_dir(), &[], None)
}

/// Starts a server on `port`, working in `dir`, with `extra` arguments (a cluster node's),
/// under the watchdog, and waits for its first `PONG`. `node_file`, a file the watchdog
/// removes with the server (and `dir` once empty).
pub(crate) fn spawn_with(
    port: u16,
    dir: &std::path::Path,
    extra: &[&str],
    node_file: Option<&std::path::Path>,
) -> Result<Running, String> {
    let mut command = Command::new("sh");
    if let Some(node_file) = node_file {
        command.env("KELVIQ_REDIS_NODE_FILE", node_file);
    }
    let mut watchdog = command
        .arg("-c")
        .arg(WATCHDOG)
        .arg("sh")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--daemonize", "no"])
        .args(["--protected-mode", "no"])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run sh: {error}"))?;
    let stdin = watchdog.stdin.take();
    // The watchdog prints the server's pid once it is launched.
    if let Some(stdout) = watchdog.stdout.take() {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let running = Running { watchdog, stdin };
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if ping(port) {
            return Ok(running);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(running);
    Err(format!("no PONG on port {port} within {READY_TIMEOUT:?}"))
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.watchdog.wait();
    }
}

/// Whether a server on `port` answers `PING`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}
