//! Faults a real Prefect server will not produce on demand: 503 storms, `Retry-After`, a 500, a
//! dropped connection, a slow answer. (The main path is tested against a real server in the
//! workspace's integration tests.)

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prefab_client::api::{AutomationCreate, FlowCreate};
use prefab_client::{
    BackoffConfig, ClientConfig, ClientError, PrefectClient, RetryConfig, request,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn fast_retry(max: u32) -> RetryConfig {
    RetryConfig::default().with_max_retries(max).with_backoff(
        BackoffConfig::new(Duration::from_millis(5), Duration::from_millis(20), 2.0).with_seed(42),
    )
}

fn client(url: &str, retry: RetryConfig) -> PrefectClient {
    let config = ClientConfig::new(format!("{url}/api"))
        .unwrap()
        .with_retry(retry);
    PrefectClient::new(config).unwrap()
}

/// Answers 503 `fail` times, then 201 with a flow.
struct Storm {
    fail: usize,
    seen: Arc<AtomicUsize>,
}

impl Respond for Storm {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < self.fail {
            ResponseTemplate::new(503)
                .set_body_json(serde_json::json!({"exception_message": "Service Unavailable"}))
        } else {
            ResponseTemplate::new(201).set_body_json(flow_json())
        }
    }
}

fn flow_json() -> serde_json::Value {
    serde_json::json!({"id": "5e94a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d", "created": "2026-11-26T14:51:20.905285Z",
        "updated": "2026-11-26T14:51:20.905285Z", "name": "f", "tags": [], "labels": {}})
}

#[tokio::test]
async fn a_503_storm_that_clears_succeeds_and_counts_attempts() {
    let server = MockServer::start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/api/flows/"))
        .respond_with(Storm {
            fail: 4,
            seen: seen.clone(),
        })
        .mount(&server)
        .await;
    let c = client(&server.uri(), fast_retry(5));
    let resp = c
        .send(&request::create_flow(&FlowCreate::new("f".into())).unwrap())
        .await
        .unwrap();
    assert_eq!((resp.status, resp.attempts), (201, 5));
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    let stats = c.stats();
    assert_eq!(
        (
            stats.requests,
            stats.attempts,
            stats.retried_503,
            stats.failed
        ),
        (1, 5, 4, 0)
    );
}

#[tokio::test]
async fn a_storm_longer_than_the_retries_is_a_server_error_with_the_count() {
    let server = MockServer::start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .respond_with(Storm {
            fail: 100,
            seen: seen.clone(),
        })
        .mount(&server)
        .await;
    let c = client(&server.uri(), fast_retry(3));
    let err = c
        .create_flow(&FlowCreate::new("f".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                status: 503,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(true))
        .mount(&server)
        .await;
    let c = client(&server.uri(), fast_retry(3));
    let started = Instant::now();
    assert!(c.health().await.unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited only {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_500_is_an_immediate_typed_error_with_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(serde_json::json!({"exception_message": "Internal Server Error"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri(), fast_retry(5));
    let err = c
        .create_flow(&FlowCreate::new("f".into()))
        .await
        .unwrap_err();
    let ClientError::Server {
        status,
        body,
        attempts,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*status, *attempts), (500, 1));
    assert!(body.contains("Internal Server Error"));
    assert!(err.may_have_reached_server());
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(true)
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let config = ClientConfig::new(format!("{}/api", server.uri()))
        .unwrap()
        .with_retry(fast_retry(1))
        .with_request_timeout(Duration::from_millis(200));
    let c = PrefectClient::new(config).unwrap();
    let started = Instant::now();
    let err = c.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("0.2s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A raw HTTP server: connection `i` gets `plan[i]` (`None` = read the request, then drop the
/// connection without answering). Returns its URL and the count of connections.
fn raw_server(plan: Vec<Option<&'static str>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for (stream, answer) in listener.incoming().zip(plan) {
            let mut stream = stream.unwrap();
            seen.fetch_add(1, Ordering::SeqCst);
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            if let Some(body) = answer {
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes());
            }
            drop(stream);
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_request_safe_to_repeat() {
    let flow = flow_json().to_string();
    let flow: &'static str = Box::leak(flow.into_boxed_str());
    let (url, count) = raw_server(vec![None, Some(flow)]);
    let c = client(&url, fast_retry(3));
    let upserted = c.create_flow(&FlowCreate::new("f".into())).await.unwrap();
    assert_eq!(upserted.value.name, "f");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_not_retried_for_a_create_that_would_duplicate() {
    let (url, count) = raw_server(vec![None, Some("{}")]);
    let c = client(&url, fast_retry(3));
    let automation: AutomationCreate = serde_json::from_value(serde_json::json!({
        "name": "a", "trigger": {"type": "event", "posture": "Reactive"}, "actions": []
    }))
    .unwrap();
    let err = c.create_automation(&automation).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { reached: true, .. }),
        "{err:?}"
    );
    assert!(err.may_have_reached_server());
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unreachable_server_says_so_and_names_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = client(&url, fast_retry(1));
    let err = c.health().await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { reached: false, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&url) && err.to_string().contains("PREFECT_API_URL"),
        "{err}"
    );
}

#[test]
fn clients_are_send_and_sync() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<PrefectClient>();
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<ClientError>();
}

/// A refused connection (a stopped server, a wrong `PREFECT_API_URL`) is retried only
/// `max_connect_retries` times, however many retries 503s may have.
#[tokio::test]
async fn a_refused_connection_has_its_own_small_retry_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = client(&url, fast_retry(10));
    assert!(c.health().await.is_err());
    let stats = c.stats();
    assert_eq!(stats.attempts, 3, "{stats:?}");
    assert_eq!(stats.retried_transport, 2, "{stats:?}");
    let c = client(&url, fast_retry(10).with_max_connect_retries(0));
    assert!(c.health().await.is_err());
    assert_eq!(c.stats().attempts, 1);
}

/// With an `http://` API URL the client loads no certificate authorities; a redirect to
/// `https://` is still followed, by a TLS client built at that moment (the TLS handshake
/// arrives at the redirect's target).
#[tokio::test]
async fn a_redirect_from_http_to_https_is_followed_with_tls() {
    let tls_target = TcpListener::bind("127.0.0.1:0").unwrap();
    let tls_port = tls_target.local_addr().unwrap().port();
    let first_bytes = std::thread::spawn(move || {
        let (mut conn, _) = tls_target.accept().unwrap();
        let mut record = [0u8; 3];
        conn.read_exact(&mut record).unwrap();
        record
    });
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/health"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("https://127.0.0.1:{tls_port}/api/health"),
        ))
        .mount(&server)
        .await;
    let err = client(&server.uri(), fast_retry(0))
        .health()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    // A TLS handshake record (0x16) of TLS 1.x (0x03 0x01).
    assert_eq!(first_bytes.join().unwrap(), [0x16, 0x03, 0x01]);
}

/// Redirects between `http://` URLs are followed as before.
#[tokio::test]
async fn a_redirect_between_http_urls_is_followed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/health"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/moved/api/health", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/moved/api/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(true))
        .expect(1)
        .mount(&server)
        .await;
    assert!(client(&server.uri(), fast_retry(0)).health().await.unwrap());
}
