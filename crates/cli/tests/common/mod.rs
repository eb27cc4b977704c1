//! What the CLI's integration tests share: the binary, run without the test process's Prefect
//! settings, and its output as text.
#![allow(dead_code)] // each test file uses what it needs

use std::process::{Command, Output};

/// The `prefab` binary with none of the test process's `PREFECT_*` variables (a developer's
/// profile or a CI's settings must not reach the binary under test); `api_url`, if given, as
/// `PREFECT_API_URL`.
pub fn prefab(api_url: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prefab"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PREFECT_") {
            cmd.env_remove(key);
        }
    }
    if let Some(url) = api_url {
        cmd.env("PREFECT_API_URL", url);
    }
    cmd
}

/// stdout, then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
