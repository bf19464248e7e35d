//! A mock, a client with the cache and a fast-flushing meter, and a plain service to wrap.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kelviq_client::meter::{MeterConfig, UsageMeter};
use kelviq_client::{CacheConfig, Kelviq, RetryPolicy};
use kelviq_mock::MockServer;
use kelviq_tower::{CustomerId, RequestContext, ResponseBody, UsageAmount};

pub struct Setup {
    pub mock: MockServer,
    pub kelviq: Kelviq,
}

impl Setup {
    pub async fn start() -> Setup {
        Setup::with(MockServer::start().await, CacheConfig::default()).await
    }

    pub async fn with(mock: MockServer, cache: CacheConfig) -> Setup {
        let kelviq = Kelviq::builder()
            .access_token(mock.token())
            .api_url(mock.url())
            .edge_url(mock.edge_url())
            .retry_policy(RetryPolicy::none())
            .entitlement_cache(cache)
            .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
            .build()
            .unwrap();
        Setup { mock, kelviq }
    }

    /// The client's meter (started on first use).
    pub fn meter(&self) -> &UsageMeter {
        self.kelviq.usage_meter().unwrap()
    }
}

/// A request from `customer` (through the `CustomerId` extension) to `path`.
pub fn request(customer: Option<&str>, path: &str) -> Request<String> {
    let mut request = Request::builder().uri(path).body(String::new()).unwrap();
    if let Some(customer) = customer {
        request.extensions_mut().insert(CustomerId::new(customer));
    }
    request
}

/// A handler that answers the status in the `status` query (default 200), the units in
/// `amount` as a `UsageAmount` response extension, the units in `set` through the
/// context, and echoes the customer the layer saw.
pub async fn handler(request: Request<String>) -> Result<Response<String>, Infallible> {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let context = request.extensions().get::<RequestContext>();
    let body = match context {
        Some(context) => format!(
            "customer={} snapshot={} stale={}",
            context.customer_id(),
            context.snapshot().is_some(),
            context.is_stale()
        ),
        None => "no context".to_owned(),
    };
    // The amounts may pass the admission's hold of a hard limit: hold them first.
    let asked = ["set", "amount"]
        .into_iter()
        .filter_map(|name| param(name)?.parse::<i64>().ok())
        .max();
    if let (Some(context), Some(asked)) = (context, asked) {
        context.reserve(asked).await.unwrap();
    }
    if let (Some(context), Some(set)) = (context, param("set")) {
        context.set_usage_amount(set.parse().unwrap());
    }
    let mut response = Response::new(body);
    if let Some(status) = param("status") {
        *response.status_mut() = StatusCode::from_u16(status.parse().unwrap()).unwrap();
    }
    if let Some(amount) = param("amount") {
        response
            .extensions_mut()
            .insert(UsageAmount(amount.parse().unwrap()));
    }
    Ok(response)
}

/// Status and body text of a response.
pub async fn read<B>(response: Response<ResponseBody<B>>) -> (u16, String)
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}
