//! `cargo xtask gen-schedule-cases`: random schedule cases answered by Prefect itself.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{venv, workspace_root};

pub(crate) fn run(kind: &str, count: usize, seed: u64, out: &Path) -> Result<(), String> {
    // `interval-dst`: anchors after the start, windows across DST gaps and folds (issue 12).
    let (script, family) = match kind {
        "interval" => ("gen_interval_cases.py", None),
        "interval-dst" => ("gen_interval_cases.py", Some("future-anchor-dst")),
        "cron" => ("gen_cron_cases.py", None),
        "rrule" => ("gen_rrule_cases.py", None),
        other => {
            return Err(format!(
                "--kind {other:?}: expected interval, interval-dst, cron or rrule"
            ));
        }
    };
    let venv = venv::prefect()?;
    let file = File::create(out).map_err(|e| format!("--out {}: {e}", out.display()))?;
    let status = Command::new(venv.python())
        .arg(workspace_root().join("xtask/python").join(script))
        .args(["--cases", &count.to_string(), "--seed", &seed.to_string()])
        .args(family.iter().flat_map(|f| ["--family", f]))
        .stdout(Stdio::from(file))
        .status()
        .map_err(|e| format!("running {script}: {e}"))?;
    if !status.success() {
        return Err(format!("{script} failed: {status}"));
    }
    eprintln!("xtask: wrote {count} {kind} cases to {}", out.display());
    Ok(())
}
