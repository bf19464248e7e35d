//! The gRPC example app: a tonic report service behind the Kelviq layer, gated on
//! `reports` and metered on `api-calls`.
//!
//! - `cargo run -p kelviq-examples --bin grpc-app` serves on 127.0.0.1:50051 (`PORT` to
//!   change); without `KELVIQ_API_KEY` on an embedded kelviq-mock. It prints how to call it.
//! - `cargo run -p kelviq-examples --bin grpc-app -- --call KEY get|stream [ROWS] [--fail]`
//!   is a tiny client of a running server (no `grpcurl` or reflection needed).
//! - `cargo run -p kelviq-examples --bin grpc-app -- --demo` starts the server on a free
//!   port, makes each kind of call once, prints the answers and the metered usage, and exits.
//!
//! The fake authentication is the other examples': the `x-api-key` metadata names the
//! customer (`pro-key`, `free-key`), turned into a `CustomerId` request extension by an
//! interceptor layer in front of the Kelviq layer. Every call needs `reports` (pro only);
//! an `OK` unary call meters 1 api-call, an `OK` stream meters its rows once it ends; an
//! error status meters nothing. `api-calls` has a hard limit (10,000 for pro): a stream
//! holds its rows before sending them (it sends only the rows the limit leaves), and once
//! the limit is reached every call is refused with `RESOURCE_EXHAUSTED`
//! (`kelviq-error: usage_limit_reached`).

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use futures::Stream;
use kelviq_client::Kelviq;
use kelviq_client::gate::FailurePolicy;
use kelviq_examples::report::report_service_client::ReportServiceClient;
use kelviq_examples::report::report_service_server::{ReportService, ReportServiceServer};
use kelviq_examples::report::{Report, ReportRequest};
use kelviq_examples::{
    ApiCalls, Reports, backend, customer_for_api_key, init_logging, try_console,
};
use kelviq_tower::{CustomerId, KelviqLayer, RequestContext};
use tonic::service::InterceptorLayer;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The report service. Kelviq never appears here: the layer gated the call already.
struct ReportApi;

type RowStream = Pin<Box<dyn Stream<Item = Result<Report, Status>> + Send>>;

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<Report>, Status> {
        let request = request.into_inner();
        if request.fail {
            return Err(Status::internal("the report failed (asked to)"));
        }
        Ok(Response::new(Report {
            name: request.name,
            row: 0,
            body: "quarterly numbers".to_owned(),
        }))
    }

    type StreamReportStream = RowStream;

    async fn stream_report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<RowStream>, Status> {
        // Meter the rows sent instead of the gate's 1, if the stream ends OK: held first, so
        // that a stream never passes the hard limit; it sends the rows the limit leaves.
        let mut rows = request.get_ref().rows;
        if let Some(context) = request.extensions().get::<RequestContext>() {
            let held = context
                .reserve(i64::from(rows))
                .await
                .map_err(|refused| Status::resource_exhausted(refused.to_string()))?;
            rows = rows.min(u32::try_from(held).unwrap_or(u32::MAX));
            context.set_usage_amount(i64::from(rows));
        }
        let request = request.into_inner();
        let name = request.name;
        let rows = (1..=rows).map(move |row| {
            Ok(Report {
                name: name.clone(),
                row,
                body: format!("row {row}"),
            })
        });
        let end = request
            .fail
            .then(|| Err(Status::data_loss("the report broke mid-stream (asked to)")));
        Ok(Response::new(Box::pin(futures::stream::iter(
            rows.chain(end),
        ))))
    }
}

/// The fake authentication: `x-api-key` metadata → the customer, for the Kelviq layer.
fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
    let customer = request
        .metadata()
        .get("x-api-key")
        .and_then(|key| key.to_str().ok())
        .and_then(customer_for_api_key);
    if let Some(customer) = customer {
        request.extensions_mut().insert(CustomerId::new(customer));
    }
    Ok(request)
}

/// Serves the report service behind authentication and the Kelviq layer until `stop`.
async fn serve(
    kelviq: &Kelviq,
    incoming: TcpIncoming,
    stop: impl Future<Output = ()>,
) -> Result<(), Error> {
    // Every call of the server: `reports` required, 1 api-call metered per OK call.
    let gate = kelviq
        .gate()
        .failure_policy(FailurePolicy::Deny)
        // gRPC calls carry no quota headers; the REST routes beside them would.
        .quota_headers(true)
        .require(Reports)
        .meter(ApiCalls, 1)
        .build()?;
    Server::builder()
        .layer(InterceptorLayer::new(authenticate))
        .layer(KelviqLayer::new(gate))
        .add_service(ReportServiceServer::new(ReportApi))
        .serve_with_incoming_shutdown(incoming, stop)
        .await?;
    Ok(())
}

/// One call as a client: `key` as `x-api-key`, `method` `get` or `stream`. Prints the
/// answer, or the status with its Kelviq metadata.
async fn call(
    addr: SocketAddr,
    key: &str,
    method: &str,
    rows: u32,
    fail: bool,
) -> Result<(), Error> {
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut client = ReportServiceClient::new(channel);
    let mut request = Request::new(ReportRequest {
        name: "q3".to_owned(),
        rows,
        fail,
    });
    request.metadata_mut().insert("x-api-key", key.parse()?);
    let outcome = match method {
        "get" => client.get_report(request).await.map(|report| {
            println!("  report: {:?}", report.into_inner().body);
        }),
        "stream" => match client.stream_report(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(row)) => println!("  row {}: {:?}", row.row, row.body),
                        Ok(None) => break Ok(()),
                        Err(status) => break Err(status),
                    }
                }
            }
            Err(status) => Err(status),
        },
        other => return Err(format!("unknown method {other:?}: get or stream").into()),
    };
    match outcome {
        Ok(()) => println!("  -> OK"),
        Err(status) => {
            let metadata = |key: &str| {
                status
                    .metadata()
                    .get(key)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-")
                    .to_owned()
            };
            println!(
                "  -> {:?}: {:?} (kelviq-error: {}, kelviq-feature: {})",
                status.code(),
                status.message(),
                metadata("kelviq-error"),
                metadata("kelviq-feature")
            );
        }
    }
    Ok(())
}

fn how_to_call(port: u16) -> String {
    let me = "cargo run -q -p kelviq-examples --bin grpc-app --";
    format!(
        "\
Try it from another terminal:
  # free has no reports: PermissionDenied, kelviq-error feature_not_entitled
  PORT={port} {me} --call free-key get
  # pro: OK, one api-call metered
  PORT={port} {me} --call pro-key get
  # a stream of 5 rows: 5 api-calls metered once it ends OK
  PORT={port} {me} --call pro-key stream 5
  # an error status (unary or at the end of a stream): nothing metered
  PORT={port} {me} --call pro-key stream 3 --fail
  # no key: Unauthenticated
  PORT={port} {me} --call nobody get
  # past the hard limit of api-calls (10,000 for pro): ResourceExhausted, kelviq-error
  # usage_limit_reached (`--demo` shows it: it sets the fake's usage near the limit)
Or with grpcurl (no reflection: give it the proto):
  grpcurl -plaintext -import-path examples/proto -proto report.proto \\
    -H 'x-api-key: pro-key' -d '{{\"name\":\"q3\",\"rows\":3}}' \\
    127.0.0.1:{port} report.v1.ReportService/StreamReport
"
    )
}

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(50051)
}

/// The usage of api-calls `--demo` sets cust_pro to: 2 below its hard limit of 10,000.
const LIMIT_DEMO_USED: i64 = 9_998;

/// `--demo`: a server on a free port, each kind of call once, the usage metered; then,
/// near the hard limit, a stream that gets only the rows the limit leaves and a call
/// refused with `RESOURCE_EXHAUSTED`.
async fn demo() -> Result<(), Error> {
    let backend = backend().await.map_err(|error| error.to_string())?;
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = incoming.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let kelviq = backend.kelviq.clone();
    let server = tokio::spawn(async move {
        serve(&kelviq, incoming, async {
            let _ = stopped.await;
        })
        .await
    });
    let calls: [(&str, &str, u32, bool); 6] = [
        ("nobody", "get", 0, false),
        ("free-key", "get", 0, false),
        ("pro-key", "get", 0, false),
        ("pro-key", "get", 0, true),
        ("pro-key", "stream", 3, false),
        ("pro-key", "stream", 2, true),
    ];
    for (key, method, rows, fail) in calls {
        println!("{key} {method} rows={rows} fail={fail}");
        call(addr, key, method, rows, fail).await?;
    }
    // Near the hard limit: set in the fake's dashboard, then seen by the app.
    if let Some(mock) = &backend.mock {
        backend.kelviq.usage_meter()?.flush().await?;
        let used = mock.usage_total("cust_pro", "api-calls");
        mock.set_usage("cust_pro", "api-calls", LIMIT_DEMO_USED)?;
        backend.kelviq.invalidate_entitlements("cust_pro");
        println!(
            "cust_pro's usage of api-calls set from {used} to {LIMIT_DEMO_USED} of 10,000 in the fake"
        );
        for (method, rows) in [("stream", 5), ("get", 0)] {
            println!("pro-key {method} rows={rows} fail=false");
            call(addr, "pro-key", method, rows, false).await?;
        }
    }
    let _ = stop.send(());
    server.await??;
    let meter = backend.kelviq.usage_meter()?;
    meter.flush().await?;
    if let Some(mock) = &backend.mock {
        println!(
            "api-calls metered for cust_pro: {} (the limit: 1 OK unary call + 3 rows of an OK stream \
             before, the failed calls nothing, then the 2 rows the limit left)",
            mock.usage_total("cust_pro", "api-calls")
        );
    }
    let _ = meter.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

async fn run(args: &[String]) -> Result<(), Error> {
    match args {
        [flag] if flag == "--demo" => demo().await,
        [flag, key, method, rest @ ..] if flag == "--call" => {
            let rows = rest.iter().find_map(|arg| arg.parse().ok()).unwrap_or(3);
            let fail = rest.iter().any(|arg| arg == "--fail");
            call(
                SocketAddr::from(([127, 0, 0, 1], port())),
                key,
                method,
                rows,
                fail,
            )
            .await
        }
        [] => {
            let backend = backend().await.map_err(|error| error.to_string())?;
            let port = port();
            let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
            match &backend.mock {
                Some(mock) => println!(
                    "gRPC example on 127.0.0.1:{port}, using an embedded fake Kelviq at {} (set KELVIQ_API_KEY for the real one)",
                    mock.url()
                ),
                None => println!(
                    "gRPC example on 127.0.0.1:{port}, using Kelviq at {}",
                    backend.kelviq.api_url()
                ),
            }
            println!("\n{}", how_to_call(port));
            if let Some(mock) = &backend.mock {
                println!("{}", try_console(mock));
            }
            println!("Stop with Ctrl-C.");
            let served = serve(&backend.kelviq, incoming, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
            if let Ok(meter) = backend.kelviq.usage_meter() {
                let report = meter.shutdown(Duration::from_secs(5)).await;
                println!("usage meter: {:?}", report.stats);
            }
            served
        }
        _ => Err("usage: grpc-app [--demo | --call KEY get|stream [ROWS] [--fail]]".into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("grpc-app: {error}");
            ExitCode::FAILURE
        }
    }
}
