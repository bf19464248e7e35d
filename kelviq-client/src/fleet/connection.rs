//! The fleet's two Redis connections: one [`ConnectionManager`] for commands (it
//! reconnects by itself), and the subscriber's own (see `invalidation`). Every command runs
//! under the command timeout; a failure is counted, warned about at most every few
//! seconds, and answered `None`, so that the caller falls back.

use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::{FromRedisValue, Pipeline, RedisError, ScriptInvocation};

use super::stats::{Counters, Event, RateLimitedWarn};

/// How often a Redis failure is logged at most (the counters have every one).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Commands to the fleet's Redis.
pub(crate) struct Connection {
    client: redis::Client,
    /// Made on first use, inside a runtime (the manager spawns its own tasks).
    manager: OnceLock<ConnectionManager>,
    command_timeout: Duration,
    connect_timeout: Duration,
    warn: RateLimitedWarn,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's own Debug would show the connection info, password included.
        f.debug_struct("Connection")
            .field("connected", &self.manager.get().is_some())
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

/// Why a command gave no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    Redis(RedisError),
    Timeout,
}

impl Failure {
    /// Whether the command certainly did not reach Redis (the connection was refused), so
    /// that it did not run; after any other failure it may have.
    pub(crate) fn never_sent(&self) -> bool {
        matches!(self, Failure::Redis(error) if error.is_connection_refusal())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The kind and the server's code only: a connection error's text may quote the
            // address, never the password, but keep it short all the same.
            Failure::Redis(error) => write!(
                f,
                "redis error ({:?}{}{})",
                error.kind(),
                if error.code().is_some() { ", " } else { "" },
                error.code().unwrap_or_default()
            ),
            Failure::Timeout => f.write_str("redis command timed out"),
        }
    }
}

impl Connection {
    pub(crate) fn new(
        client: redis::Client,
        command_timeout: Duration,
        connect_timeout: Duration,
    ) -> Self {
        Connection {
            client,
            manager: OnceLock::new(),
            command_timeout,
            connect_timeout,
            warn: RateLimitedWarn::new(WARN_EVERY),
        }
    }

    pub(crate) fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// The command connection, made (without connecting yet) on first use.
    fn manager(&self) -> Result<ConnectionManager, RedisError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.command_timeout))
            // Reconnection attempts back off from 50 ms to 1 s; every failed command
            // triggers a new round, so the manager never gives up for good.
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(3);
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        Ok(self.manager.get_or_init(|| manager).clone())
    }

    /// Runs a script under the command timeout. `op` names it in the warning.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &ScriptInvocation<'_>,
        counters: &Counters,
    ) -> Result<T, Failure> {
        let mut manager = self.connected(op, counters)?;
        self.bounded(op, counters, invocation.invoke_async(&mut manager))
            .await
    }

    /// Runs a pipeline under the command timeout, answering each command's reply (with
    /// `ignore_errors`, a command that failed on the server is its own
    /// [`Value::ServerError`](redis::Value::ServerError), the others still run). `op`
    /// names it in the warning.
    pub(crate) async fn pipeline(
        &self,
        op: &'static str,
        pipeline: &Pipeline,
        counters: &Counters,
    ) -> Result<Vec<redis::Value>, Failure> {
        let mut manager = self.connected(op, counters)?;
        self.bounded(op, counters, pipeline.query_async(&mut manager))
            .await
    }

    /// The command connection, or the failure to make one (counted).
    fn connected(
        &self,
        op: &'static str,
        counters: &Counters,
    ) -> Result<ConnectionManager, Failure> {
        self.manager().map_err(|error| {
            let failure = Failure::Redis(error);
            self.failed(op, &failure, counters);
            failure
        })
    }

    /// `command` under the command timeout; a failure is counted.
    async fn bounded<T>(
        &self,
        op: &'static str,
        counters: &Counters,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Failure> {
        let result = match tokio::time::timeout(self.command_timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Failure::Redis(error)),
            Err(_) => Err(Failure::Timeout),
        };
        if let Err(failure) = &result {
            self.failed(op, failure, counters);
        }
        result
    }

    /// Counts a failure and warns about it, at most every [`WARN_EVERY`].
    pub(crate) fn failed(&self, op: &'static str, failure: &Failure, counters: &Counters) {
        counters.count(Event::RedisError);
        if let Some(held_back) = self.warn.allow() {
            tracing::warn!(
                op,
                error = %failure,
                held_back,
                "kelviq fleet: redis unavailable; falling back to this instance alone"
            );
        }
    }

    /// A new pub/sub connection, within the connect timeout.
    pub(crate) async fn pubsub(&self) -> Result<PubSub, Failure> {
        tokio::time::timeout(self.connect_timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(Failure::Redis)
    }

    /// The connect timeout (subscriptions run under it too).
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}
