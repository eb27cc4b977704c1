//! A fault a real server produces only by chance: the connection of a `POST /automations/` is
//! closed before any answer (seen against SQLite after a 503). `apply` must not repeat that
//! non-idempotent POST blindly, and must not fail: it runs the automations step again as a
//! whole — delete what the deployment owns, create one per trigger (docs/deviations.md D12).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{ApplyOptions, RunnerDeployment, apply};
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
async fn an_unanswered_automation_create_reruns_the_whole_step() {
    let id = |n: u8| format!("{{\"id\": \"00000000-0000-0000-0000-0000000000{n:02}\"}}");
    let (url, seen) = raw_server(vec![
        Some((404, r#"{"detail": "Deployment not found"}"#.into())),
        Some((201, id(1))),
        Some((201, id(2))),
        Some((204, String::new())),
        None,
        Some((204, String::new())),
        Some((201, id(3))),
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
    let owner = "/api/automations/owned-by/prefect.deployment.00000000-0000-0000-0000-000000000002";
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "GET /api/deployments/name/f/d HTTP/1.1".to_owned(),
            "POST /api/flows/ HTTP/1.1".to_owned(),
            "POST /api/deployments/ HTTP/1.1".to_owned(),
            format!("DELETE {owner} HTTP/1.1"),
            "POST /api/automations/ HTTP/1.1".to_owned(),
            format!("DELETE {owner} HTTP/1.1"),
            "POST /api/automations/ HTTP/1.1".to_owned(),
        ]
    );
}
