//! One call per key however many callers ask at once: the first caller starts the call on
//! its own task, later callers await the same shared result, and the task frees the key
//! when it ends — even if every caller gave up waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::sync::lock;

/// Shares in-flight calls by key. Clones share the calls.
#[derive(Clone)]
pub(crate) struct SingleFlight<T: Clone> {
    inflight: Arc<Mutex<Inflight<T>>>,
}

struct Inflight<T: Clone> {
    next_call: u64,
    calls: HashMap<String, (u64, Shared<BoxFuture<'static, T>>)>,
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            inflight: Arc::new(Mutex::new(Inflight {
                next_call: 0,
                calls: HashMap::new(),
            })),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// The call in flight for `key`, or a new one made by `start`, already running on its
    /// own task: awaiting the answer is optional (a background refresh drops it). Must run
    /// inside a tokio runtime.
    pub(crate) fn call<F>(
        &self,
        key: &str,
        start: impl FnOnce() -> F,
        abandoned: fn() -> T,
    ) -> Shared<BoxFuture<'static, T>>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let mut inflight = lock(&self.inflight);
        if let Some((_, call)) = inflight.calls.get(key) {
            return call.clone();
        }
        let id = inflight.next_call;
        inflight.next_call = inflight.next_call.wrapping_add(1);
        let call = start();
        let registry = Arc::clone(&self.inflight);
        let owned_key = key.to_owned();
        let task = tokio::spawn(async move {
            let result = call.await;
            let mut inflight = lock(&registry);
            if inflight
                .calls
                .get(&owned_key)
                .is_some_and(|(current, _)| *current == id)
            {
                inflight.calls.remove(&owned_key);
            }
            result
        });
        let shared = async move { task.await.unwrap_or_else(|_| abandoned()) }
            .boxed()
            .shared();
        inflight.calls.insert(key.to_owned(), (id, shared.clone()));
        shared
    }

    /// How many calls are in flight.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inflight).calls.len()
    }

    /// Whether a call for `key` is in flight.
    pub(crate) fn is_running(&self, key: &str) -> bool {
        lock(&self.inflight).calls.contains_key(key)
    }

    /// Lets the next caller for `key` start a new call instead of joining the one in
    /// flight (whose result still reaches the callers already waiting on it).
    pub(crate) fn forget(&self, key: &str) {
        lock(&self.inflight).calls.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_call_and_later_ones_start_another() {
        let flight = Arc::new(SingleFlight::<usize>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, wait) = tokio::sync::watch::channel(false);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let flight = Arc::clone(&flight);
                let calls = Arc::clone(&calls);
                let mut wait = wait.clone();
                tokio::spawn(async move {
                    flight
                        .call(
                            "k",
                            move || async move {
                                let _ = wait.wait_for(|go| *go).await;
                                calls.fetch_add(1, Ordering::SeqCst) + 1
                            },
                            || 0,
                        )
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        let calls_again = Arc::clone(&calls);
        let again = flight
            .call(
                "k",
                move || async move { calls_again.fetch_add(1, Ordering::SeqCst) + 1 },
                || 0,
            )
            .await;
        assert_eq!(again, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_whose_callers_all_gave_up_still_completes_and_frees_the_key() {
        let flight = SingleFlight::<usize>::default();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(10),
            flight.call(
                "k",
                || async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    1
                },
                || 0,
            ),
        )
        .await;
        assert!(gave_up.is_err());
        assert!(
            !lock(&flight.inflight).calls.is_empty(),
            "the abandoned call is still in flight"
        );
        // Virtual time: the abandoned call's task finishes its 50 ms sleep.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(lock(&flight.inflight).calls.is_empty());
        assert_eq!(flight.call("k", || async { 2 }, || 0).await, 2);
    }
}
