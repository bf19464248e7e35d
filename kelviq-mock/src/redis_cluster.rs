//! [`RedisCluster`]: a real three-node Redis Cluster on free loopback ports, for tests of a
//! fleet in cluster mode.
//!
//! Three `redis-server --cluster-enabled yes` processes (persistence off, each with its
//! cluster config file in a directory of its own under the temporary directory), joined
//! by `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes` (three primaries,
//! the 16,384 slots split between them), ready once every node reports
//! `cluster_state:ok`. [`RedisCluster::stop_node`] kills one; the others keep serving
//! their slots (`cluster-require-full-coverage no`). The nodes are killed when the cluster is dropped, or when the test
//! process dies (the watchdog of [`RedisServer`](crate::RedisServer)), and the directory
//! is removed with the last one.
//!
//! When `redis-server` or `redis-cli` is missing, [`RedisCluster::shared`] prints a line
//! saying so and answers `None` (the test returns early) — unless `CI` is `true`, where it
//! panics.
//!
//! ```no_run
//! use kelviq_mock::RedisCluster;
//!
//! let Some(cluster) = RedisCluster::shared() else {
//!     return; // skipped, and said so
//! };
//! println!("fleet tests talk to {:?}", cluster.urls());
//! ```

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::RedisServerError;
use crate::redis_server::{Running, free_port, installed, skip_or_fail, spawn_with};
use crate::server::lock;

/// How many nodes (all primaries).
const NODES: usize = 3;

/// How long the joined cluster may take to report `cluster_state:ok` on every node.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A three-node Redis Cluster for tests (see the [module documentation](self)).
#[derive(Debug)]
pub struct RedisCluster {
    ports: Vec<u16>,
    /// `None` once stopped.
    nodes: Mutex<Vec<Option<Running>>>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts three nodes on free loopback ports and joins them into a cluster.
    ///
    /// # Errors
    ///
    /// [`RedisServerError::NotInstalled`] without `redis-server` or `redis-cli`;
    /// [`RedisServerError::Start`] when a node does not start, the join fails, or the
    /// cluster is not `ok` within 30 s.
    pub fn start() -> Result<RedisCluster, RedisServerError> {
        if !installed() || !cli_installed() {
            return Err(RedisServerError::NotInstalled);
        }
        let dir = std::env::temp_dir().join(format!(
            "kelviq-redis-cluster-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|error| RedisServerError::Start(error.to_string()))?;
        let mut cluster = RedisCluster {
            ports: Vec::with_capacity(NODES),
            nodes: Mutex::new(Vec::with_capacity(NODES)),
            dir,
        };
        for _ in 0..NODES {
            let (port, running) = cluster.start_node()?;
            cluster.ports.push(port);
            lock(&cluster.nodes).push(Some(running));
        }
        cluster.join()?;
        Ok(cluster)
    }

    /// The cluster every test of this process shares, started on first use. `None` when
    /// `redis-server` or `redis-cli` is missing, after printing a line that says the test is
    /// skipped and how to install them.
    ///
    /// # Panics
    ///
    /// When they are missing and the `CI` variable is `true` (or `1`); also when they are
    /// installed but the cluster does not start.
    pub fn shared() -> Option<&'static RedisCluster> {
        static SHARED: OnceLock<Option<RedisCluster>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| match RedisCluster::start() {
            Ok(cluster) => Some(cluster),
            Err(RedisServerError::NotInstalled) => None,
            Err(error) => panic!("{error}"),
        });
        if shared.is_none() {
            skip_or_fail();
        }
        shared.as_ref()
    }

    /// `redis://127.0.0.1:<port>` of each node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// Kills node `index` (`SIGKILL`, as in a crash; the order of [`urls`](Self::urls)) and
    /// waits until it is gone. The others keep serving their slots (the nodes run with
    /// `cluster-require-full-coverage no`). Does nothing to a node stopped already.
    pub fn stop_node(&self, index: usize) {
        let running = lock(&self.nodes).get_mut(index).and_then(Option::take);
        drop(running);
    }

    /// One node on a free port (a few tries: a port found free can be taken meanwhile).
    fn start_node(&self) -> Result<(u16, Running), RedisServerError> {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|error| RedisServerError::Start(error.to_string()))?;
            let file = self.dir.join(format!("nodes-{port}.conf"));
            let config = file.to_string_lossy();
            let extra = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                config.as_ref(),
                "--cluster-node-timeout",
                "5000",
                "--cluster-require-full-coverage",
                "no",
            ];
            match spawn_with(port, &self.dir, &extra, Some(&file)) {
                Ok(running) => return Ok((port, running)),
                Err(error) => last = error,
            }
        }
        Err(RedisServerError::Start(last))
    }

    /// `redis-cli --cluster create`, then waits for `cluster_state:ok` on every node.
    fn join(&self) -> Result<(), RedisServerError> {
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in &self.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|error| RedisServerError::Start(format!("cannot run redis-cli: {error}")))?;
        if !output.status.success() {
            return Err(RedisServerError::Start(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&output.stdout)
            )));
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.ports.iter().all(|port| cluster_ok(*port)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(RedisServerError::Start(format!(
            "the cluster on ports {:?} was not ok within {READY_TIMEOUT:?}",
            self.ports
        )))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // Each node's watchdog kills it as its `Running` drops.
        lock(&self.nodes).clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cli_installed() -> bool {
    Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether the node on `port` reports `cluster_state:ok` (slots all covered, agreed).
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "cluster",
            "info",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains("cluster_state:ok"))
}
