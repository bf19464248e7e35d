//! One `kelviq.request` span per call, with the path template and never an id or the token.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use kelviq_mock::{Fault, FaultRule, Route};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::support::Setup;

type Fields = BTreeMap<String, String>;

/// Collects the fields of every `kelviq.request` span opened on a thread that is
/// capturing. The subscriber is global (installed once): per-thread subscribers race with
/// tracing's callsite interest cache when other tests run in parallel.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(Id, Fields)>>>);

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}

fn spans() -> &'static Spans {
    static SPANS: OnceLock<Spans> = OnceLock::new();
    SPANS.get_or_init(|| {
        let spans = Spans::default();
        let subscriber = tracing_subscriber::registry().with(spans.clone());
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        spans
    })
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "kelviq.request" && CAPTURING.with(Cell::get) {
            let mut fields = Fields::new();
            attrs.record(&mut Collect(&mut fields));
            self.0.lock().unwrap().push((id.clone(), fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans.iter_mut().find(|(span, _)| span == id) {
            values.record(&mut Collect(fields));
        }
    }
}

#[tokio::test]
async fn each_call_has_a_span_with_template_status_attempt_and_elapsed() {
    let spans = spans();
    CAPTURING.with(|capturing| capturing.set(true));

    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::next(1, Fault::status(503)).on(Route::CustomersRetrieve));
    setup.kelviq.customers().retrieve("cust_pro").await.unwrap();
    setup
        .kelviq
        .customers()
        .retrieve("secret-id-42")
        .await
        .unwrap_err();

    CAPTURING.with(|capturing| capturing.set(false));
    let spans = spans.0.lock().unwrap();
    assert_eq!(spans.len(), 2);
    let first = &spans[0].1;
    assert_eq!(first["operation"], "customers.retrieve");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/customers/{customer_id}/");
    assert_eq!(first["attempt"], "2");
    assert_eq!(first["status"], "200");
    assert!(first.contains_key("elapsed_ms"));
    assert_eq!(spans[1].1["status"], "404");
    let everything = format!("{spans:?}");
    assert!(!everything.contains("secret-id-42"), "{everything}");
    assert!(!everything.contains(setup.mock.token()), "{everything}");
}
