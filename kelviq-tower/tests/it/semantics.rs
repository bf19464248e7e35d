//! Tower semantics: readiness, clone-and-swap, errors and bodies of the inner service.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use http::{Request, Response};
use kelviq_tower::GateBuilderExt;
use tower::{Layer, Service, ServiceExt};

use crate::support::{Setup, read, request};

/// A service that must be polled ready before each call; its clones start unready.
#[derive(Debug, Default)]
struct MustBeReady {
    ready: bool,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        MustBeReady { ready: false }
    }
}

impl Service<Request<String>> for MustBeReady {
    type Response = Response<String>;
    type Error = &'static str;
    type Future = Ready<Result<Response<String>, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<String>) -> Self::Future {
        let was_ready = std::mem::replace(&mut self.ready, false);
        ready(if was_ready {
            Ok(Response::new("called ready".to_owned()))
        } else {
            Err("called without poll_ready")
        })
    }
}

#[tokio::test]
async fn the_service_polled_ready_is_the_one_called_on_both_paths() {
    let setup = Setup::start().await;
    let layer = setup.kelviq.gate().require("reports").into_layer();
    // Cold: the gate awaits a fetch before calling the inner service.
    let mut service = layer.layer(MustBeReady::default());
    let response = service
        .ready()
        .await
        .unwrap()
        .call(request(Some("cust_pro"), "/"))
        .await
        .unwrap();
    assert_eq!(read(response).await, (200, "called ready".to_owned()));
    // Warm: decided from the cache, called at once.
    let response = service
        .ready()
        .await
        .unwrap()
        .call(request(Some("cust_pro"), "/"))
        .await
        .unwrap();
    assert_eq!(read(response).await, (200, "called ready".to_owned()));
}

#[tokio::test]
async fn errors_of_the_inner_service_pass_through_unchanged() {
    let setup = Setup::start().await;
    let failing = tower::service_fn(|_: Request<String>| async {
        Err::<Response<String>, _>("inner failed")
    });
    let service = setup.kelviq.gate().into_layer().layer(failing);
    let error = service
        .oneshot(request(Some("cust_pro"), "/"))
        .await
        .unwrap_err();
    assert_eq!(error, "inner failed");
}

#[tokio::test]
async fn the_inner_body_streams_through_unbuffered() {
    use http_body_util::{BodyExt, StreamBody};

    let setup = Setup::start().await;
    let streaming = tower::service_fn(|_: Request<String>| async {
        let frames = futures::stream::iter(["one", "two"].map(|chunk| {
            Ok::<_, Infallible>(http_body::Frame::data(bytes::Bytes::from_static(
                chunk.as_bytes(),
            )))
        }));
        Ok::<_, Infallible>(Response::new(StreamBody::new(frames)))
    });
    let service = setup.kelviq.gate().into_layer().layer(streaming);
    let response = service
        .oneshot(request(Some("cust_pro"), "/"))
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        chunks.push(frame.unwrap().into_data().unwrap());
    }
    assert_eq!(chunks, ["one", "two"]);
}
