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
    let err = c.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("0.2 s"), "{err}");
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

/// A server that never answers in time: the message says how many attempts timed out and how
/// long it took in all, and a timed-out request is retried once (not `max_retries` times).
#[tokio::test]
async fn a_server_that_never_answers_in_time_costs_two_attempts_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(true)
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let config = ClientConfig::new(format!("{}/api", server.uri()))
        .unwrap()
        .with_retry(fast_retry(10))
        .with_request_timeout(Duration::from_millis(300));
    let c = PrefectClient::new(config).unwrap();
    let err = tokio::time::timeout(HANG_GUARD, c.health())
        .await
        .expect("hang guard")
        .unwrap_err();
    let ClientError::Timeout {
        attempts, timeouts, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*attempts, *timeouts), (2, 2), "{err}");
    assert_eq!(c.stats().attempts, 2);
    let text = err.to_string();
    assert!(
        text.contains("within 0.3 s")
            && text.contains("on any of 2 attempts")
            && text.contains("in all"),
        "{text}"
    );
}

/// A 503 storm that outlasts the retries: the error says how many attempts and how long.
#[tokio::test]
async fn a_storm_error_says_attempts_and_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = client(&server.uri(), fast_retry(3))
        .create_flow(&FlowCreate::new("f".into()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("after 4 attempts (") && text.contains(" s in all)"),
        "{text}"
    );
}

/// Upper bound on any one fault test: a guard against hangs, not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Each wait before a retry is announced as an INFO event on `prefab_client::retry` with the
/// attempt, the attempts allowed, the wait, the reason and the request.
#[tokio::test]
async fn each_retry_wait_is_a_tracing_event_with_its_fields() {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use tracing_subscriber::layer::SubscriberExt as _;

    type Fields = BTreeMap<String, String>;
    struct Recorder(Arc<Mutex<Vec<(String, tracing::Level, Fields)>>>);
    struct Visitor<'a>(&'a mut Fields);
    impl tracing::field::Visit for Visitor<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let mut fields = Fields::new();
            event.record(&mut Visitor(&mut fields));
            let meta = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((meta.target().to_owned(), *meta.level(), fields));
        }
    }
    let events = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Recorder(events.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .respond_with(Storm {
            fail: 2,
            seen: seen.clone(),
        })
        .mount(&server)
        .await;
    let c = client(&server.uri(), fast_retry(5));
    c.create_flow(&FlowCreate::new("f".into())).await.unwrap();
    let events = events.lock().unwrap();
    let retries: Vec<_> = events
        .iter()
        .filter(|(target, ..)| target == prefab_client::RETRY_EVENT_TARGET)
        .collect();
    assert_eq!(retries.len(), 2, "{events:?}");
    for (i, (_, level, fields)) in retries.iter().enumerate() {
        assert_eq!(*level, tracing::Level::INFO);
        assert_eq!(fields["attempt"], (i + 1).to_string(), "{fields:?}");
        assert_eq!(fields["max_attempts"], "6", "{fields:?}");
        assert_eq!(fields["reason"], "status 503", "{fields:?}");
        assert_eq!(fields["method"], "POST", "{fields:?}");
        assert_eq!(fields["path"], "/flows/", "{fields:?}");
        let wait: u64 = fields["wait_ms"].parse().unwrap();
        assert!((1..=20).contains(&wait), "{fields:?}");
    }
}

/// A server that answers, but not as a Prefect API: HTML, broken JSON, JSON of the wrong
/// shape, an HTML 404. Each is `UnexpectedResponse` naming the URL, the status, the content
/// type and the start of the body (bounded).
#[tokio::test]
async fn answers_that_are_not_the_prefect_api_are_unexpected_responses() {
    let html = format!(
        "<!DOCTYPE html><html><body>{}</body></html>",
        "x".repeat(5000)
    );
    let cases: Vec<(&str, u16, &str, String, &str)> = vec![
        ("html", 200, "text/html; charset=utf-8", html, "not JSON"),
        (
            "broken json",
            200,
            "application/json",
            r#"{"id": "5e9"#.into(),
            "not JSON",
        ),
        (
            "wrong shape",
            200,
            "application/json",
            r#"{"flows": []}"#.into(),
            "unexpected shape",
        ),
        (
            "html 404",
            404,
            "text/html",
            "<h1>Not Found</h1>".into(),
            "404",
        ),
    ];
    for (what, status, content_type, body, reason) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(status).set_body_raw(body.clone().into_bytes(), content_type),
            )
            .mount(&server)
            .await;
        let c = client(&server.uri(), fast_retry(0));
        let err = c.read_flow_by_name("etl").await.unwrap_err();
        let ClientError::UnexpectedResponse {
            url,
            status: got,
            content_type: ct,
            body_start,
            ..
        } = &err
        else {
            panic!("{what}: {err:?}")
        };
        assert_eq!(
            url,
            &format!("{}/api/flows/name/etl", server.uri()),
            "{what}"
        );
        assert_eq!(*got, status, "{what}");
        assert_eq!(ct.as_deref(), Some(content_type), "{what}");
        assert!(
            body_start.chars().count() <= prefab_client::BODY_START_CHARS + 1,
            "{what}"
        );
        assert!(
            body.starts_with(body_start.trim_end_matches('…')),
            "{what}: {body_start}"
        );
        let text = err.to_string();
        for needle in [
            url.as_str(),
            &status.to_string(),
            content_type,
            reason,
            "PREFECT_API_URL",
        ] {
            assert!(
                text.contains(needle),
                "{what}: {needle:?} missing in {text}"
            );
        }
        assert!(
            text.len() < 1000,
            "{what}: the message is not bounded: {text}"
        );
        assert!(err.may_have_reached_server());
    }
}

/// Transport failures say what failed: an `https://` URL at a plain-HTTP server is a TLS
/// handshake failure (with the hint), a closed port is a refused connection, a dropped
/// connection is a reset.
#[tokio::test]
async fn transport_failures_are_classified() {
    use prefab_client::TransportErrorKind;
    let server = MockServer::start().await;
    let https = server.uri().replace("http://", "https://");
    let c = client(&https, fast_retry(5));
    let err = c.health().await.unwrap_err();
    let ClientError::Transport { kind, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*kind, TransportErrorKind::Tls, "{err}");
    // Deterministic: not retried.
    assert_eq!(c.stats().attempts, 1);
    let text = err.to_string();
    assert!(
        text.contains("TLS handshake failed") && text.contains("plain http"),
        "{text}"
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&closed, fast_retry(0)).health().await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                kind: TransportErrorKind::ConnectionRefused,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("connection refused"), "{err}");

    let (url, _) = raw_server(vec![None]);
    let automation: AutomationCreate = serde_json::from_value(serde_json::json!({
        "name": "a", "trigger": {"type": "event", "posture": "Reactive"}, "actions": []
    }))
    .unwrap();
    let err = client(&url, fast_retry(0))
        .create_automation(&automation)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                kind: TransportErrorKind::ConnectionReset,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A host name that cannot resolve (`.invalid` never does, RFC 6761) is a DNS failure.
#[tokio::test]
async fn an_unresolvable_host_is_a_dns_failure() {
    let c = client("http://prefab-no-such-host.invalid", fast_retry(0));
    let err = tokio::time::timeout(HANG_GUARD, c.health())
        .await
        .expect("hang guard")
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                kind: prefab_client::TransportErrorKind::Dns,
                reached: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("could not be resolved"), "{err}");
}

/// A connection that cannot be opened in time (a listener whose accept queue is full drops
/// the SYN) costs a whole connect timeout per attempt: it is retried once, like a request
/// that timed out, not `max_connect_retries` times.
#[tokio::test]
async fn a_connect_timeout_is_retried_once() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(0).unwrap();
    // Fill the accept queue (never accepted), so that further SYNs are dropped.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let config = ClientConfig::new(format!("http://{addr}/api"))
        .unwrap()
        .with_retry(fast_retry(10).with_max_connect_retries(2))
        .with_connect_timeout(Duration::from_millis(300));
    let c = PrefectClient::new(config).unwrap();
    let err = tokio::time::timeout(HANG_GUARD, c.health())
        .await
        .expect("hang guard")
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                kind: prefab_client::TransportErrorKind::ConnectTimeout,
                reached: false,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(c.stats().attempts, 2);
    drop((listener, fillers));
}

/// Answers every request with `status` and the request's own head (as an echo service or a
/// debugging proxy does): the credentials come back in the body.
struct Echo(u16);

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers: String = request
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("")))
            .collect();
        ResponseTemplate::new(self.0).set_body_raw(
            format!("<pre>{}\n{headers}</pre>", request.url).into_bytes(),
            "text/html",
        )
    }
}

/// A server that echoes the request's headers: the credentials (the key, `user:password`, its
/// base64, the password) never reach an error's text or `Debug`.
#[tokio::test]
async fn credentials_echoed_by_a_server_stay_out_of_errors() {
    use prefab_client::{Auth, Secret};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Echo(200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Echo(500))
        .mount(&server)
        .await;
    for (auth, forms) in [
        (
            Auth::ApiKey(Secret::new("pnu_k3y-v4lue")),
            vec!["pnu_k3y-v4lue"],
        ),
        (
            Auth::Basic(Secret::new("admin:hunter2-pw")),
            // base64("admin:hunter2-pw")
            vec!["admin:hunter2-pw", "hunter2-pw", "YWRtaW46aHVudGVyMi1wdw=="],
        ),
    ] {
        let config = ClientConfig::new(format!("{}/api", server.uri()))
            .unwrap()
            .with_retry(fast_retry(0))
            .with_auth(auth);
        let c = PrefectClient::new(config).unwrap();
        let read = c.read_flow_by_name("etl").await.unwrap_err();
        assert!(
            matches!(read, ClientError::UnexpectedResponse { .. }),
            "{read:?}"
        );
        let write = c
            .create_flow(&FlowCreate::new("f".into()))
            .await
            .unwrap_err();
        assert!(
            matches!(write, ClientError::Server { status: 500, .. }),
            "{write:?}"
        );
        for err in [read, write] {
            let (text, debug) = (err.to_string(), format!("{err:?}"));
            assert!(text.contains("authorization"), "the echo is shown: {text}");
            for form in &forms {
                assert!(
                    !text.contains(form) && !debug.contains(form),
                    "{form} in {text}\n{debug}"
                );
            }
        }
    }
}

/// A proxy's HTML error page (a 502 from nginx when the server is down) is shown by its start
/// and content type, not as 2 KiB of markup.
#[tokio::test]
async fn a_proxy_error_page_is_shown_by_its_start() {
    let server = MockServer::start().await;
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "<p>nginx</p>".repeat(400)
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page.into_bytes(), "text/html"))
        .mount(&server)
        .await;
    let err = client(&server.uri(), fast_retry(1))
        .health()
        .await
        .unwrap_err();
    let ClientError::Server {
        status: 502,
        body,
        attempts: 2,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        body.starts_with("text/html body starting: <html><head><title>502 Bad Gateway"),
        "{body}"
    );
    assert!(body.chars().count() < 300, "{body}");
}
