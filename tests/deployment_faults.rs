//! A fault a real server produces only by chance: the connection of a `POST /automations/` is
//! closed before any answer (seen against SQLite after a 503). `apply` must not repeat that
//! non-idempotent POST blindly, and must not fail: the read of the deployment's automations that
//! ends every apply with triggers finds out whether it landed, and creates it only if it did not
//! (docs/deviations.md D12, D32).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{
    ApplyEvent, ApplyOptions, BulkOptions, DEFAULT_CIRCUIT_BREAKER, RunnerDeployment, StopSignal,
    apply, apply_all,
};
use serde_json::json;

/// A raw HTTP/1.1 server: connection `i` reads one request, records its request line and
/// answers `plan[i]` (`None` = close without answering).
fn raw_server(plan: Vec<Option<(u16, String)>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (stream, answer) in listener.incoming().zip(plan) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = vec![0u8; 65536];
            let n = stream.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]);
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or_default().to_owned());
            if let Some((status, body)) = answer {
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes());
            }
        }
    });
    (url, seen)
}

#[tokio::test]
async fn an_unanswered_automation_create_is_checked_not_repeated_blindly() {
    let id = |n: u8| format!("{{\"id\": \"00000000-0000-0000-0000-0000000000{n:02}\"}}");
    let (url, seen) = raw_server(vec![
        Some((404, r#"{"detail": "Deployment not found"}"#.into())),
        Some((201, id(1))),
        Some((201, id(2))),
        Some((204, String::new())),
        None,
        // It did not land: the trigger has no automation.
        Some((200, "[]".into())),
        Some((201, id(3))),
        Some((200, format!("[{}]", id(3)))),
    ]);
    let client = PrefectClient::new(ClientConfig::new(url).unwrap()).unwrap();
    let d = RunnerDeployment::builder("d")
        .flow_name("f")
        .trigger_json(json!({"type": "event", "expect": ["x.done"]}))
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let options = ApplyOptions::default()
        .inference_dir(work.path())
        .env(Default::default());
    let applied = apply(&client, &d, &options).await.unwrap();
    assert_eq!(applied.to_string(), "00000000-0000-0000-0000-000000000002");
    let deployment = "prefect.deployment.00000000-0000-0000-0000-000000000002";
    let owner = format!("/api/automations/owned-by/{deployment}");
    let related = format!("GET /api/automations/related-to/{deployment} HTTP/1.1");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "GET /api/deployments/name/f/d HTTP/1.1".to_owned(),
            "POST /api/flows/ HTTP/1.1".to_owned(),
            "POST /api/deployments/ HTTP/1.1".to_owned(),
            format!("DELETE {owner} HTTP/1.1"),
            "POST /api/automations/ HTTP/1.1".to_owned(),
            related.clone(),
            "POST /api/automations/ HTTP/1.1".to_owned(),
            related,
        ]
    );
}

/// A server that answers every request with `status` (and counts them).
fn always(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    raw_server(vec![Some((status, r#"{"detail": "down"}"#.into())); 10_000])
}

fn definitions(n: usize) -> Vec<(RunnerDeployment, ApplyOptions)> {
    (0..n)
        .map(|i| {
            let d = RunnerDeployment::builder(format!("d{i}"))
                .flow_name("f")
                .build()
                .unwrap();
            (d, ApplyOptions::default())
        })
        .collect()
}

fn fast_client(url: String) -> PrefectClient {
    let retry = prefab_client::RetryConfig::default()
        .with_max_retries(2)
        .with_backoff(prefab_client::BackoffConfig::new(
            Duration::from_millis(1),
            Duration::from_millis(2),
            2.0,
        ));
    PrefectClient::new(ClientConfig::new(url).unwrap().with_retry(retry)).unwrap()
}

#[tokio::test]
async fn a_server_that_keeps_failing_trips_the_breaker_and_the_rest_are_not_attempted() {
    for status in [503, 500, 502] {
        let (url, seen) = always(status);
        let client = fast_client(url);
        let items = definitions(10);
        let events = Mutex::new(Vec::new());
        let results = apply_all(&client, &items, &BulkOptions::default(), |e| {
            events.lock().unwrap().push(e)
        })
        .await;
        let failed = results
            .iter()
            .filter(|r| r.as_ref().is_err_and(|e| !e.is_not_attempted()))
            .count();
        let not_attempted: Vec<_> = results
            .iter()
            .filter_map(|r| r.as_ref().err().filter(|e| e.is_not_attempted()))
            .collect();
        assert_eq!(failed, DEFAULT_CIRCUIT_BREAKER, "{status}: {results:?}");
        assert_eq!(not_attempted.len(), 10 - DEFAULT_CIRCUIT_BREAKER);
        assert!(
            not_attempted[0].to_string().contains("in a row failed"),
            "{}",
            not_attempted[0]
        );
        // Nothing was sent for them: each failed deployment stopped at its first request.
        let requests = seen.lock().unwrap().len();
        assert!(
            requests <= DEFAULT_CIRCUIT_BREAKER * 3,
            "{requests} requests"
        );
        let events = events.lock().unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, ApplyEvent::NotAttempted { .. }))
                .count(),
            10 - DEFAULT_CIRCUIT_BREAKER
        );
    }
}

#[tokio::test]
async fn a_refusal_is_not_unavailability_and_the_breaker_can_be_turned_off() {
    // 422 on every request: the server works and refuses; every deployment is tried.
    let (url, _) = always(422);
    let results = apply_all(
        &fast_client(url),
        &definitions(6),
        &BulkOptions::default(),
        |_| {},
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| !e.is_not_attempted()))
    );
    // Turned off: a dead server fails each deployment, none is skipped.
    let (url, _) = always(503);
    let results = apply_all(
        &fast_client(url),
        &definitions(6),
        &BulkOptions::default().circuit_breaker(None),
        |_| {},
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| !e.is_not_attempted()))
    );
}

#[tokio::test]
async fn a_refused_connection_trips_the_breaker_too() {
    // A port nothing listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = fast_client(format!("http://127.0.0.1:{port}/api"));
    let results = apply_all(&client, &definitions(20), &BulkOptions::default(), |_| {}).await;
    let not_attempted = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.is_not_attempted()))
        .count();
    assert_eq!(not_attempted, 20 - DEFAULT_CIRCUIT_BREAKER);
}

#[tokio::test]
async fn a_triggered_stop_starts_nothing_more() {
    let (url, seen) = always(503);
    let stop = StopSignal::new();
    stop.trigger();
    let results = apply_all(
        &fast_client(url),
        &definitions(5),
        &BulkOptions::default().stop(stop),
        |_| {},
    )
    .await;
    assert!(results.iter().all(|r| {
        r.as_ref()
            .is_err_and(|e| e.is_not_attempted() && e.to_string().contains("interrupted"))
    }));
    assert!(seen.lock().unwrap().is_empty(), "nothing is sent");
}

#[tokio::test]
async fn a_server_that_never_answers_opens_the_breaker_by_time_before_three_failures() {
    // Accepts connections and reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let mut config = ClientConfig::new(url).unwrap();
    config.request_timeout = Duration::from_millis(200);
    let client = PrefectClient::new(config).unwrap();
    let results = apply_all(
        &client,
        &definitions(10),
        &BulkOptions::default().circuit_breaker_window(Duration::from_millis(300)),
        |_| {},
    )
    .await;
    let failed = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| !e.is_not_attempted()))
        .count();
    // One deployment waits out two timeouts (~0.4 s), past the 0.3 s window: the rest wait
    // for nothing.
    assert_eq!(failed, 1, "{results:?}");
    let last = results.last().unwrap().as_ref().unwrap_err();
    assert!(
        last.is_not_attempted() && last.to_string().contains("over"),
        "{last}"
    );
}
