//! `kelviq-mock`: the fake Kelviq server as a program, for offline development, with its
//! console on.
//!
//! ```text
//! cargo run -p kelviq-mock -- [--seed seed.json] [--port 4010] [--edge-port 4011] [--token T]
//!     [--webhook-url http://127.0.0.1:3000/webhooks/kelviq --webhook-secret whsec_...]
//! ```

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use kelviq_mock::{DEFAULT_TOKEN, MockServer, Seed};

const USAGE: &str = "\
usage: kelviq-mock [--seed FILE] [--port N] [--edge-port M] [--token TOKEN]
                   [--webhook-url URL --webhook-secret SECRET]

  --seed FILE      JSON seed with plans and customers (default: the shipped seed)
  --port N         API listener port on 127.0.0.1 (default 4010; 0 picks a free port)
  --edge-port M    edge (entitlements) listener port (default N+1, or a free port if N is 0)
  --token TOKEN    bearer token to accept (default kelviq_test_token)
  --webhook-url URL        send each state change (subscription created, updated,
                           cancelled; customer updated) as a signed webhook to this
                           http:// URL; needs --webhook-secret
  --webhook-secret SECRET  the secret webhooks are signed with";

struct Options {
    seed: Option<String>,
    port: u16,
    edge_port: Option<u16>,
    token: String,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        seed: None,
        port: 4010,
        edge_port: None,
        token: DEFAULT_TOKEN.to_owned(),
        webhook_url: None,
        webhook_secret: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let port = |value: &str| {
            value
                .parse::<u16>()
                .map_err(|_| format!("{flag}: \"{value}\" is not a port number"))
        };
        match flag.as_str() {
            "--seed" => options.seed = Some(value),
            "--port" => options.port = port(&value)?,
            "--edge-port" => options.edge_port = Some(port(&value)?),
            "--token" if value.is_empty() => return Err("--token must not be empty".to_owned()),
            "--token" => options.token = value,
            "--webhook-url" => options.webhook_url = Some(value),
            "--webhook-secret" if value.is_empty() => {
                return Err("--webhook-secret must not be empty".to_owned());
            }
            "--webhook-secret" => options.webhook_secret = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    match (&options.webhook_url, &options.webhook_secret) {
        (Some(_), None) => Err("--webhook-url needs --webhook-secret".to_owned()),
        (None, Some(_)) => Err("--webhook-secret needs --webhook-url".to_owned()),
        _ => Ok(Some(options)),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("kelviq-mock: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let seed = match &options.seed {
        Some(path) => match Seed::from_file(path) {
            Ok(seed) => seed,
            Err(error) => {
                eprintln!("kelviq-mock: {}", error_chain(&error));
                return ExitCode::from(2);
            }
        },
        None => Seed::default(),
    };
    let edge_port = options.edge_port.unwrap_or(match options.port {
        0 => 0,
        port => port.saturating_add(1),
    });
    let customers: Vec<String> = seed
        .customers
        .iter()
        .map(|customer| customer.customer_id.clone())
        .collect();
    let mut builder = MockServer::builder()
        .seed(seed)
        .token(options.token)
        .api_port(options.port)
        .edge_port(edge_port)
        .console(true);
    let webhook_url = options.webhook_url.clone();
    if let (Some(url), Some(secret)) = (options.webhook_url, options.webhook_secret) {
        builder = builder.webhook(url, secret);
    }
    let started = builder.start().await;
    let mock = match started {
        Ok(mock) => mock,
        Err(error) => {
            eprintln!("kelviq-mock: {}", error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    println!("kelviq-mock is serving the Kelviq API on loopback.");
    println!("  API:  {}/api/v1/", mock.url());
    println!("  edge: {}/api/v1/entitlements", mock.edge_url());
    println!("  API versions: v1, v2 (the same routes under /api/v2/)");
    println!("  customers: {}", customers.join(", "));
    if let Some(console) = mock.console_url() {
        println!("  console: {console} (plans, usage, requests, webhooks, faults)");
    }
    if let Some(url) = webhook_url {
        println!("  webhooks: signed, sent to {url}");
    }
    println!();
    println!("Point a client at it:");
    for (name, value) in mock.env_vars() {
        println!("  export {name}={value}");
    }
    println!();
    println!("Try:");
    println!(
        "  curl -H 'Authorization: Bearer {}' '{}/api/v1/entitlements?customer_id={}'",
        mock.token(),
        mock.edge_url(),
        customers.first().map_or("cust_pro", String::as_str)
    );
    println!(
        "  curl -H 'Authorization: Bearer {}' {}/api/v1/customers/",
        mock.token(),
        mock.url()
    );
    println!("  # as in Kelviq's dashboard (sends the webhooks when --webhook-url is set):");
    println!(
        "  curl -X POST -H 'Authorization: Bearer {}' -H 'content-type: application/json' \\\n    {}/_mock/customers/{}/plan -d '{{\"plan\": \"pro\"}}'",
        mock.token(),
        mock.url(),
        customers.first().map_or("cust_free", String::as_str)
    );
    println!();
    println!("Stop with Ctrl-C.");
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}

/// The error and its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
