//! `cargo xtask hostile`: hostile input, lying servers and dead servers against the *release*
//! `prefab` binary and a real Prefect 3.9.1 server (issue 12). Every case is bounded in time and
//! checked for: no panic, the documented exit code, the words that name the problem, and the
//! server state — what changed on the server is exactly what the report says (counted:
//! deployments, flows, automations, work pools).
//!
//! The cases are in [`cases`]; each writes its own files into a fresh directory and uses
//! deployment names of its own, so a case never sees another's state.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prefab_client::local_server::{LocalServer, ServerOptions};
use serde_json::Value;

use crate::workspace_root;

/// What one case expects.
struct Case {
    name: &'static str,
    /// Files to write (relative path, contents).
    files: Vec<(String, String)>,
    /// `prefab` arguments.
    args: Vec<String>,
    /// Where `PREFECT_API_URL` points.
    api: Api,
    /// The exit code.
    code: i32,
    /// Words the output (stdout + stderr) must hold.
    says: Vec<&'static str>,
    /// Words it must not hold.
    denies: Vec<&'static str>,
    /// Deployments the run creates on the real server (0 for refused input).
    creates: u64,
    /// The longest the case may take.
    limit: Duration,
}

/// The API a case talks to.
enum Api {
    /// The real server.
    Real,
    /// A port nothing listens on.
    Closed,
    /// A server that answers everything with this status, content type and body.
    Fake(u16, &'static str, &'static str),
}

const FLOW: &str =
    "from prefect import flow\n\n\n@flow\ndef good(n: int = 1, label: str = \"\"):\n    pass\n";

fn file(name: &str, text: impl Into<String>) -> (String, String) {
    (name.to_owned(), text.into())
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A deployment file of `n` valid deployments named `{prefix}-NNN`.
fn many(prefix: &str, n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "- {{entrypoint: f.py:good, name: {prefix}-{i:03}, cron: '{} 3 * * *'}}\n",
            i % 60
        ));
    }
    text
}

fn cases() -> Vec<Case> {
    let deep = 150_000;
    let second = Duration::from_secs(30);
    vec![
        Case {
            name: "YAML nested 150k levels (was quadratic: minutes)",
            files: vec![file(
                "d.yaml",
                format!("{{x: {}{}}}", "[".repeat(deep), "]".repeat(deep)),
            )],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["d.yaml", "128 levels"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "YAML block sequences nested 100k levels",
            files: vec![file("d.yaml", format!("{}x\n", "- ".repeat(100_000)))],
            args: args(&["plan", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["128 levels"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "JSON nested 100k levels",
            files: vec![file(
                "d.json",
                format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            )],
            args: args(&["deploy", "--file", "d.json"]),
            api: Api::Real,
            code: 2,
            says: vec!["128 levels"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "TOML nested 100k levels",
            files: vec![file(
                "d.toml",
                format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
            )],
            args: args(&["deploy", "--file", "d.toml"]),
            api: Api::Real,
            code: 2,
            says: vec!["nested too deep"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "YAML alias bomb",
            files: vec![file("d.yaml", {
                let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
                for i in 1..12 {
                    let refs = vec![format!("*l{}", i - 1); 10].join(", ");
                    bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
                }
                bomb
            })],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["alias"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "tags that are not strings",
            files: vec![file(
                "d.yaml",
                "- {entrypoint: f.py:good, name: hostile-tags, tags: [1, true, null, {a: b}]}\n",
            )],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["tags[0]", "not a string"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: ".nan and .inf parameters",
            files: vec![file(
                "d.yaml",
                "- {entrypoint: f.py:good, name: hostile-nan, parameters: {n: .inf}}\n",
            )],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["line 1", "infinity"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "an integer beyond 64 bits",
            files: vec![file(
                "d.json",
                r#"[{"entrypoint": "f.py:good", "name": "hostile-big", "parameters": {"n": 1180591620717411303424}}]"#,
            )],
            args: args(&["deploy", "--file", "d.json"]),
            api: Api::Real,
            code: 2,
            says: vec!["64 bits"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "the same deployment twice",
            files: vec![file(
                "d.yaml",
                "- {entrypoint: f.py:good, name: hostile-twice}\n- {entrypoint: f.py:good, name: hostile-twice}\n",
            )],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["defined twice", "line 1", "line 2"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "a type error names its path and line",
            files: vec![file(
                "d.yaml",
                "deployments:\n  - entrypoint: f.py:good\n    name: hostile-type\n    paused: maybe\n",
            )],
            args: args(&["plan", "--file", "d.yaml"]),
            api: Api::Real,
            code: 2,
            says: vec!["deployments[0].paused (line 4, column 13)"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "a duplicate YAML key warns and applies the later value",
            files: vec![file(
                "d.yaml",
                "- entrypoint: f.py:good\n  name: hostile-dupkey\n  tags: [a]\n  tags: [b]\n",
            )],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Real,
            code: 0,
            says: vec!["duplicate key `tags`", "first at line 3", "1 applied"],
            denies: vec![],
            creates: 1,
            limit: second,
        },
        Case {
            name: "--param with an empty name",
            files: vec![],
            args: args(&[
                "deploy",
                "f.py:good",
                "--name",
                "hostile-p",
                "--param",
                "=x",
            ]),
            api: Api::Real,
            code: 2,
            says: vec!["parameter name"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "--concurrency 0",
            files: vec![file("d.yaml", many("hostile-c0", 2))],
            args: args(&["deploy", "--file", "d.yaml", "--concurrency", "0"]),
            api: Api::Real,
            code: 2,
            says: vec!["1 or more"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "a server that answers HTML",
            files: vec![file("d.yaml", many("hostile-html", 2))],
            args: args(&["plan", "--file", "d.yaml"]),
            api: Api::Fake(200, "text/html", "<html><body>Sign in</body></html>"),
            code: 1,
            says: vec!["text/html"],
            denies: vec![],
            creates: 0,
            limit: second,
        },
        Case {
            name: "a dead server: 100 deployments end after three",
            files: vec![file("d.yaml", many("hostile-dead", 100))],
            args: args(&["deploy", "--file", "d.yaml"]),
            api: Api::Closed,
            code: 1,
            says: vec!["3 failed, 97 not attempted"],
            denies: vec![],
            creates: 0,
            limit: Duration::from_secs(180),
        },
        Case {
            name: "dates near the year 9999 stay on the schedule",
            files: vec![],
            args: args(&[
                "schedule",
                "preview",
                "--interval",
                "86400",
                "--start",
                "9999-12-25T00:00:00Z",
                "-n",
                "10",
                "--output",
                "json",
            ]),
            api: Api::Closed,
            code: 0,
            // The last date on the schedule within representable time (S8), never the clamped
            // 9999-12-30T22:00:00Z that was returned before.
            says: vec!["9999-12-30T00:00:00"],
            denies: vec!["9999-12-30T22:00:00"],
            creates: 0,
            limit: second,
        },
    ]
}

/// Counts of what a run could change on the server.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    deployments: u64,
    flows: u64,
    automations: u64,
    work_pools: u64,
}

fn snapshot(api_url: &str) -> Result<Snapshot, String> {
    let client = prefab_client::blocking::PrefectClient::new(
        prefab_client::ClientConfig::new(api_url).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let count = |path: &str| -> Result<u64, String> {
        let request = prefab_client::request::ApiRequest {
            method: http::Method::POST,
            path: path.to_owned(),
            body: Some(b"{}".to_vec()),
            safety: prefab_client::request::Safety::Idempotent,
            subject: "count",
        };
        let response = client.send(&request).map_err(|e| format!("{path}: {e}"))?;
        serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.as_u64())
            .ok_or_else(|| format!("{path}: not a count"))
    };
    Ok(Snapshot {
        deployments: count("/deployments/count")?,
        flows: count("/flows/count")?,
        automations: count("/automations/count")?,
        work_pools: count("/work_pools/count")?,
    })
}

/// A server that answers every request with one canned response.
fn fake_server(status: u16, content_type: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let url = format!(
        "http://{}/api",
        listener.local_addr().expect("local address")
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(resp.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

fn closed_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    format!("http://127.0.0.1:{port}/api")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Runs one case; `Err` says what was wrong.
fn run_case(binary: &Path, server: &LocalServer, case: &Case) -> Result<Duration, String> {
    let dir = tempdir(case.name)?;
    std::fs::write(dir.join("f.py"), FLOW).map_err(|e| e.to_string())?;
    for (name, text) in &case.files {
        std::fs::write(dir.join(name), text).map_err(|e| e.to_string())?;
    }
    let api_url = match case.api {
        Api::Real => server.api_url().to_owned(),
        Api::Closed => closed_url(),
        Api::Fake(status, content_type, body) => fake_server(status, content_type, body),
    };
    let before = snapshot(server.api_url())?;
    let mut cmd = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("PREFECT_") {
            cmd.env_remove(key);
        }
    }
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let started = Instant::now();
    let mut child = cmd
        .current_dir(&dir)
        .env("PREFECT_API_URL", &api_url)
        .args(&case.args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err_path).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > case.limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {:?} (a hang)", case.limit));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    let output = format!(
        "{}{}",
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let mut problems = Vec::new();
    if output.contains("panicked") || output.contains("overflowed its stack") {
        problems.push("it panicked".to_owned());
    }
    match status.code() {
        Some(code) if code == case.code => {}
        Some(code) => problems.push(format!("exit {code}, expected {}", case.code)),
        None => problems.push(format!(
            "killed by a signal ({status}), expected exit {}",
            case.code
        )),
    }
    for needle in &case.says {
        if !output.contains(needle) {
            problems.push(format!("the output does not say {needle:?}"));
        }
    }
    for needle in &case.denies {
        if output.contains(needle) {
            problems.push(format!("the output says {needle:?}"));
        }
    }
    let after = snapshot(server.api_url())?;
    // New flows only with new deployments; automations and pools never (no case declares any).
    let flows_ok = if case.creates == 0 {
        after.flows == before.flows
    } else {
        after.flows >= before.flows
    };
    if after.deployments != before.deployments + case.creates
        || after.automations != before.automations
        || after.work_pools != before.work_pools
        || !flows_ok
    {
        problems.push(format!(
            "the server changed beyond the report: before {before:?}, after {after:?}, \
             expected {} new deployment(s)",
            case.creates
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if problems.is_empty() {
        Ok(took)
    } else {
        let start: String = output.chars().take(1500).collect();
        Err(format!(
            "{}\n--- output (start) ---\n{start}",
            problems.join("; ")
        ))
    }
}

fn tempdir(name: &str) -> Result<PathBuf, String> {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let dir = target_dir()
        .join("hostile")
        .join(format!("{slug}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

pub(crate) fn run() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask hostile: building the release binary…");
    let status = Command::new(&cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "-p", "prefab-cli", "--bin", "prefab"])
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build --release -p prefab-cli failed".into());
    }
    let binary = target_dir().join("release").join("prefab");
    // A server of its own, on a fresh database (the state of other runs is not ours to count).
    let state = target_dir().join("hostile").join("server");
    LocalServer::stop_in(&state, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&state);
    let server = ServerOptions::new()
        .state_dir(&state)
        .stop_when_unused(Duration::from_secs(120))
        .on_progress(|line| eprintln!("xtask hostile: server: {line}"))
        .start()
        .map_err(|e| format!("provisioning the Prefect server: {e}"))?;
    let cases = cases();
    let mut failed = Vec::new();
    for case in &cases {
        match run_case(&binary, &server, case) {
            Ok(took) => eprintln!("  ok    {:<60} {:>8.2?}", case.name, took),
            Err(why) => {
                eprintln!("  FAIL  {}: {why}", case.name);
                failed.push(case.name);
            }
        }
    }
    let _ = server.stop();
    println!(
        "hostile: {} passed, {} failed",
        cases.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("hostile cases failed: {}", failed.join(", ")))
    }
}
