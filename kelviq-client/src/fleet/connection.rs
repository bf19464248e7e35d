//! The fleet's two Redis connections: one for commands — a [`ConnectionManager`] on one
//! server, a [`ClusterConnection`] on a cluster (both reconnect by themselves) — and the
//! subscriber's own (see `invalidation`). Every command runs under the command timeout; a
//! failure is counted, warned about at most every few seconds, and answered `None`, so
//! that the caller falls back.
//!
//! On a cluster, a pipeline may only hold commands of one slot: [`Connection::pipeline`]
//! splits the callers' pipelines (one script per customer, plus one-key commands on the
//! fleet-wide keys) per slot, sends the parts concurrently and puts the replies back in
//! order, so the callers do not know which mode they run in.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::cluster::ClusterConfig;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{Arg, Cmd, FromRedisValue, Pipeline, RedisError, ScriptInvocation, Value};

use super::config::Server;
use super::stats::{Counters, Event, RateLimitedWarn};

/// Commands to the fleet's Redis.
pub(crate) struct Connection {
    server: Server,
    /// Made on first use, inside a runtime (the manager spawns its own tasks).
    manager: OnceLock<Commands>,
    /// The cluster node the subscriber tries next.
    next_node: AtomicUsize,
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

/// The command connection of either mode (both are cheap clones of a shared handle).
#[derive(Clone)]
enum Commands {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Why a command gave no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    Redis(RedisError),
    Timeout,
    /// The connection ended: the server closed it (a restart, `CLIENT KILL`) or it was reset.
    Closed,
    /// A pipeline split over a cluster's slots: some parts ran, this one failed.
    Partial(RedisError),
}

impl Failure {
    /// The failure of a command Redis answered with `error`: the client's own response
    /// timeout (an I/O error of kind `TimedOut`) is a [`Failure::Timeout`], so that the
    /// warning says "timed out" rather than "redis error (Io)".
    pub(crate) fn from_redis(error: RedisError) -> Self {
        if error.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Redis(error)
        }
    }

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
            Failure::Closed => f.write_str("redis connection closed"),
            Failure::Partial(error) => write!(
                f,
                "redis error in part of a pipeline ({:?}{}{})",
                error.kind(),
                if error.code().is_some() { ", " } else { "" },
                error.code().unwrap_or_default()
            ),
        }
    }
}

impl Connection {
    pub(crate) fn new(
        server: Server,
        command_timeout: Duration,
        connect_timeout: Duration,
    ) -> Self {
        Connection {
            server,
            manager: OnceLock::new(),
            next_node: AtomicUsize::new(0),
            command_timeout,
            connect_timeout,
            warn: RateLimitedWarn::every_period(),
        }
    }

    pub(crate) fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// The command connection, made (without connecting yet) on first use.
    fn manager(&self) -> Result<Commands, RedisError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let manager = match &self.server {
            Server::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.command_timeout))
                    // Reconnection attempts back off from 50 ms to 1 s; every failed
                    // command triggers a new round, so the manager never gives up for good.
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1))
                    .set_number_of_retries(3);
                Commands::Single(ConnectionManager::new_lazy_with_config(
                    client.clone(),
                    config,
                )?)
            }
            // Connects to the nodes in the background: the first commands wait for it
            // (within their timeout). It refreshes the slots itself on `MOVED` and on
            // failed connections.
            Server::Cluster { client, .. } => Commands::Cluster(
                client.get_pending_async_connection_with_config(
                    ClusterConfig::new()
                        .set_connection_timeout(self.connect_timeout)
                        .set_response_timeout(self.command_timeout),
                ),
            ),
        };
        Ok(self.manager.get_or_init(|| manager).clone())
    }

    /// Runs a script under the command timeout. `op` names it in the warning.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &ScriptInvocation<'_>,
        counters: &Counters,
    ) -> Result<T, Failure> {
        match self.connected(op, counters)? {
            Commands::Single(mut manager) => {
                self.bounded(op, counters, invocation.invoke_async(&mut manager))
                    .await
            }
            Commands::Cluster(mut cluster) => {
                self.bounded(op, counters, invocation.invoke_async(&mut cluster))
                    .await
            }
        }
    }

    /// Runs a pipeline under the command timeout, answering each command's reply (with
    /// `ignore_errors`, a command that failed on the server is its own
    /// [`Value::ServerError`](redis::Value::ServerError), the others still run). `op`
    /// names it in the warning.
    ///
    /// On a cluster, the pipeline is split per slot (see [`stages`]): every part runs
    /// with `ignore_errors` (a caller without it sees a failed command as a `ServerError`
    /// reply, which no caller takes for success), and when some parts ran but another
    /// failed, the failure is [`Failure::Partial`] (never "never sent").
    pub(crate) async fn pipeline(
        &self,
        op: &'static str,
        pipeline: &Pipeline,
        counters: &Counters,
    ) -> Result<Vec<Value>, Failure> {
        match self.connected(op, counters)? {
            Commands::Single(mut manager) => {
                self.bounded(op, counters, pipeline.query_async(&mut manager))
                    .await
            }
            Commands::Cluster(cluster) => {
                let split = async {
                    let mut answers = Vec::new();
                    for stage in stages(pipeline) {
                        let stage = futures::future::join_all(stage.into_iter().map(
                            |(positions, part)| {
                                let mut cluster = cluster.clone();
                                async move {
                                    let replies: PartReplies = part.query_async(&mut cluster).await;
                                    (positions, replies.and_then(redirected))
                                }
                            },
                        ))
                        .await;
                        let failed = stage.iter().any(|(_, replies)| replies.is_err());
                        answers.extend(stage);
                        // The later stages depend on this one's order: not sent.
                        if failed {
                            break;
                        }
                    }
                    merge(answers)
                };
                match tokio::time::timeout(self.command_timeout, split).await {
                    Ok(Ok(replies)) => Ok(replies),
                    Ok(Err(failure)) => {
                        self.failed(op, &failure, counters);
                        Err(failure)
                    }
                    Err(_) => {
                        self.failed(op, &Failure::Timeout, counters);
                        Err(Failure::Timeout)
                    }
                }
            }
        }
    }

    /// The command connection, or the failure to make one (counted).
    fn connected(&self, op: &'static str, counters: &Counters) -> Result<Commands, Failure> {
        self.manager().map_err(|error| {
            let failure = Failure::from_redis(error);
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
            Ok(Err(error)) => Err(Failure::from_redis(error)),
            Err(_) => Err(Failure::Timeout),
        };
        if let Err(failure) = &result {
            self.failed(op, failure, counters);
        }
        result
    }

    /// Counts a failure and warns about it, at most every
    /// [`WARN_EVERY`](crate::log_limit::WARN_EVERY) (the counters have every one).
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

    /// A new pub/sub connection, within the connect timeout. On a cluster, to one of the
    /// seed nodes, the next one at each call (so a subscriber whose node failed moves on):
    /// a cluster forwards every `PUBLISH` to every node, so any node hears the whole
    /// fleet.
    pub(crate) async fn pubsub(&self) -> Result<PubSub, Failure> {
        let client = match &self.server {
            Server::Single(client) => client,
            Server::Cluster { nodes, .. } => {
                let next = self.next_node.fetch_add(1, Ordering::Relaxed);
                match nodes.get(next % nodes.len().max(1)) {
                    Some(client) => client,
                    None => {
                        return Err(Failure::Redis(RedisError::from((
                            redis::ErrorKind::InvalidClientConfig,
                            "no cluster node",
                        ))));
                    }
                }
            }
        };
        tokio::time::timeout(self.connect_timeout, client.get_async_pubsub())
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(Failure::from_redis)
    }

    /// The connect timeout (subscriptions run under it too).
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}

/// Whether `command` is `SCRIPT LOAD` (the callers load a pipeline's scripts first, and
/// ignore the answer).
fn is_script_load(command: &Cmd) -> bool {
    let mut args = command.args_iter();
    matches!(
        (args.next(), args.next()),
        (Some(Arg::Simple(name)), Some(Arg::Simple(sub)))
            if name.eq_ignore_ascii_case(b"SCRIPT") && sub.eq_ignore_ascii_case(b"LOAD")
    )
}

/// Splits a pipeline for a cluster into stages run one after the other, each of parts
/// run concurrently: one part per slot its commands touch (commands without a key make a
/// part of their own), each led by the pipeline's `SCRIPT LOAD`s (so that its `EVALSHA`s
/// find their scripts on that part's node), with each command's position among the
/// pipeline's replies (`SCRIPT LOAD`s answer none).
///
/// Commands of one slot keep their order (one part). Across slots, the callers rely on
/// order only between the customers' keys (hash-tagged) and the fleet-wide keys (not
/// tagged): a push writes the pending usage *then* lists the customer in the index, a
/// delivery unlists *then* looks at the pending hash again. So a stage ends where the
/// pipeline turns from tagged keys to untagged ones or back.
fn stages(pipeline: &Pipeline) -> Vec<Vec<(Vec<usize>, Pipeline)>> {
    let loads: Vec<&Cmd> = pipeline
        .cmd_iter()
        .filter(|command| is_script_load(command))
        .collect();
    let mut stages = Vec::new();
    let mut index: HashMap<Option<Slot>, usize> = HashMap::new();
    let mut parts: Vec<(Vec<usize>, Pipeline)> = Vec::new();
    let mut tagged: Option<bool> = None;
    let mut position = 0;
    for command in pipeline.cmd_iter() {
        if is_script_load(command) {
            continue;
        }
        let key = first_key(command);
        let is_tagged = key.is_some_and(|key| key.contains(&b'{'));
        if tagged.is_some_and(|tagged| tagged != is_tagged) {
            stages.push(std::mem::take(&mut parts));
            index.clear();
        }
        tagged = Some(is_tagged);
        let at = *index.entry(key.map(Slot::for_key)).or_insert_with(|| {
            let mut part = redis::pipe();
            part.ignore_errors();
            for load in &loads {
                part.add_command((*load).clone()).ignore();
            }
            parts.push((Vec::new(), part));
            parts.len() - 1
        });
        if let Some((positions, part)) = parts.get_mut(at) {
            part.add_command(command.clone());
            positions.push(position);
        }
        position += 1;
    }
    if !parts.is_empty() {
        stages.push(parts);
    }
    stages
}

/// The key a command of the fleet's is routed by: the first key of `EVAL`/`EVALSHA`
/// (name, script, key count, keys…), the first argument of the others (one-key commands:
/// `ZADD`, `ZREM`, `ZRANGE`, `EXISTS`, `HGETALL`…); none for a script without keys.
fn first_key(command: &Cmd) -> Option<&[u8]> {
    let mut args = command.args_iter();
    let key = match args.next()? {
        Arg::Simple(name)
            if name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL") =>
        {
            match args.nth(1)? {
                Arg::Simple(b"0") => return None,
                _ => args.next()?,
            }
        }
        _ => args.next()?,
    };
    match key {
        Arg::Simple(key) => Some(key),
        _ => None,
    }
}

/// A part whose node answered one of its commands "not here" (`MOVED`, `ASK`: its slot is
/// moving or moved; `TRYAGAIN`, `CLUSTERDOWN`) failed as a whole: with `ignore_errors` the
/// answer would be a mere reply, and a caller could take "not taken" for "nothing
/// there". The cluster client learns the new owner at the next command of that slot.
fn redirected(replies: Vec<Value>) -> PartReplies {
    for reply in &replies {
        if let Value::ServerError(error) = reply
            && matches!(error.code(), "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN")
        {
            return Err(error.clone().into());
        }
    }
    Ok(replies)
}

/// What one part of a split pipeline answered.
type PartReplies = Result<Vec<Value>, RedisError>;

/// The replies of a split pipeline, back in order; a failed part fails it all, as
/// [`Failure::Partial`] when another part ran.
fn merge(answers: Vec<(Vec<usize>, PartReplies)>) -> Result<Vec<Value>, Failure> {
    let total = answers.iter().map(|(positions, _)| positions.len()).sum();
    let ran = answers.iter().any(|(_, replies)| replies.is_ok());
    let mut slots: Vec<Option<Value>> = vec![None; total];
    for (positions, replies) in answers {
        let replies = match replies {
            Ok(replies) => replies,
            Err(error) if ran => return Err(Failure::Partial(error)),
            Err(error) => return Err(Failure::from_redis(error)),
        };
        for (position, reply) in positions.into_iter().zip(replies) {
            if let Some(slot) = slots.get_mut(position) {
                *slot = Some(reply);
            }
        }
    }
    Ok(slots
        .into_iter()
        .map(|reply| reply.unwrap_or(Value::Nil))
        .collect())
}

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, Script};

    use super::*;

    #[test]
    fn a_pipeline_is_split_per_slot_in_stages_with_its_scripts_loaded_on_each_part() {
        let script = Script::new("return 1");
        let mut pipe = redis::pipe();
        pipe.ignore_errors().load_script(&script).ignore();
        // Replies 0, 2: customer a; 1: customer b; 3: a one-key command on the index.
        let mut a = script.prepare_invoke();
        a.key("p:{a}:pending").key("p:{a}:pushed").arg(1);
        let mut b = script.prepare_invoke();
        b.key("p:{b}:pending").key("p:{b}:pushed").arg(1);
        pipe.invoke_script(&a);
        pipe.invoke_script(&b);
        pipe.cmd("HGETALL").arg("p:{a}:flight");
        pipe.cmd("ZADD").arg("p:fleet:usage").arg(1).arg("a");
        let stages = stages(&pipe);
        let positions: Vec<Vec<Vec<usize>>> = stages
            .iter()
            .map(|stage| stage.iter().map(|(p, _)| p.clone()).collect())
            .collect();
        // The customers' scripts first (concurrently), then the index (after them).
        assert_eq!(positions, [vec![vec![0, 2], vec![1]], vec![vec![3]]]);
        for (positions, part) in stages.iter().flatten() {
            // The script load (answer ignored) leads every part.
            assert_eq!(part.len(), positions.len() + 1);
            assert!(part.cmd_iter().next().is_some_and(is_script_load));
        }
    }

    #[test]
    fn a_part_answered_moved_fails_but_a_script_error_is_a_reply() {
        let moved = redis::parse_redis_value(b"-MOVED 3999 127.0.0.1:6381\r\n").unwrap();
        let refused =
            redis::parse_redis_value(b"-ERR kelviq: pending usage beyond 2^53\r\n").unwrap();
        assert!(redirected(vec![Value::Int(1), moved]).is_err());
        assert!(redirected(vec![Value::Int(1), refused]).is_ok());
    }

    #[test]
    fn replies_come_back_in_order_and_a_failed_part_is_a_lost_answer() {
        let answers = vec![
            (vec![0, 2], Ok(vec![Value::Int(0), Value::Int(2)])),
            (vec![1], Ok(vec![Value::Int(1)])),
        ];
        let merged = merge(answers).map_err(|failure| failure.to_string());
        assert_eq!(
            merged,
            Ok(vec![Value::Int(0), Value::Int(1), Value::Int(2)])
        );
        let refused =
            || RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        // One part ran: the other's refusal is not "never sent".
        let failure = merge(vec![
            (vec![0], Ok(vec![Value::Int(0)])),
            (vec![1], Err(refused())),
        ])
        .unwrap_err();
        assert!(matches!(failure, Failure::Partial(_)), "{failure}");
        assert!(!failure.never_sent());
        // None ran: a refusal is one.
        let failure = merge(vec![(vec![0], Err(refused()))]).unwrap_err();
        assert!(failure.never_sent(), "{failure}");
        let failure = merge(vec![(
            vec![0],
            Err(RedisError::from((ErrorKind::Io, "reset"))),
        )])
        .unwrap_err();
        assert!(!failure.never_sent());
    }

    #[test]
    fn the_clients_response_timeout_is_a_timeout() {
        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let failure = Failure::from_redis(timed_out);
        assert!(matches!(failure, Failure::Timeout), "{failure}");
        assert_eq!(failure.to_string(), "redis command timed out");
        let reset = Failure::from_redis(RedisError::from((ErrorKind::Io, "reset")));
        assert_eq!(reset.to_string(), "redis error (Io)");
    }
}
