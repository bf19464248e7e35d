//! A mock on loopback and a raw HTTP client that speaks to it.

use kelviq_mock::{MockServer, MockServerBuilder};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A running mock and a client that sends the mock's token.
pub struct Api {
    pub mock: MockServer,
    pub http: reqwest::Client,
}

/// A response: status and JSON body (`Value::Null` when the body is empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    /// A mock with the default seed.
    pub async fn start() -> Api {
        Api::with(MockServer::builder()).await
    }

    /// A mock from a configured builder.
    pub async fn with(builder: MockServerBuilder) -> Api {
        Api {
            mock: builder.start().await.expect("mock starts"),
            http: reqwest::Client::new(),
        }
    }

    /// Sends `method path` to the API listener with the token and an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.mock.url());
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.mock.token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request reaches the mock")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// `GET` on the edge listener with the token.
    pub async fn edge_get(&self, path: &str) -> Reply {
        let url = format!("{}{path}", self.mock.edge_url());
        let request = self.http.get(url).bearer_auth(self.mock.token());
        Reply::from(request.send().await.expect("request reaches the mock")).await
    }
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body is read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    /// The messages of a DRF field error.
    #[track_caller]
    pub fn field_errors(&self, field: &str) -> Vec<String> {
        self.expect(400);
        self.body[field]
            .as_array()
            .unwrap_or_else(|| panic!("no errors for {field}: {}", self.body))
            .iter()
            .map(|message| message.as_str().unwrap().to_owned())
            .collect()
    }
}
