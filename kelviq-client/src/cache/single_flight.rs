//! One call per key however many callers ask at once: the first caller starts the call,
//! later callers await the same shared future, and the key is free again when it ends.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::{BoxFuture, FutureExt, Shared};

/// Shares in-flight calls by key.
pub(crate) struct SingleFlight<T: Clone> {
    inflight: Mutex<Inflight<T>>,
}

struct Inflight<T: Clone> {
    next_call: u64,
    calls: HashMap<String, (u64, Shared<BoxFuture<'static, T>>)>,
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            inflight: Mutex::new(Inflight {
                next_call: 0,
                calls: HashMap::new(),
            }),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// The result of the call in flight for `key`, or of a new one made by `start`.
    ///
    /// The call is driven by whichever caller polls it; if the caller that started it is
    /// cancelled, the others carry on with the same call.
    pub(crate) async fn run<F>(&self, key: &str, start: impl FnOnce() -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (id, call) = {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match inflight.calls.get(key) {
                Some((id, call)) => (*id, call.clone()),
                None => {
                    let id = inflight.next_call;
                    inflight.next_call += 1;
                    let call = start().boxed().shared();
                    inflight.calls.insert(key.to_owned(), (id, call.clone()));
                    (id, call)
                }
            }
        };
        let result = call.await;
        let mut inflight = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inflight
            .calls
            .get(key)
            .is_some_and(|(current, _)| *current == id)
        {
            inflight.calls.remove(key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
                        .run("k", move || async move {
                            let _ = wait.wait_for(|go| *go).await;
                            calls.fetch_add(1, Ordering::SeqCst) + 1
                        })
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
            .run("k", move || async move {
                calls_again.fetch_add(1, Ordering::SeqCst) + 1
            })
            .await;
        assert_eq!(again, 2);
    }
}
