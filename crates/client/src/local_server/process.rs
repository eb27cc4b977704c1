//! Looking at and signalling processes by PID, without `unsafe` (the workspace forbids it):
//! `/proc` on Linux, `ps`/`kill` elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::LocalServerError;

/// `kill(1)`; invoked rather than `libc::kill` because `unsafe` is forbidden in the workspace.
const KILL: &str = "/bin/kill";

/// Whether `pid` is a live process. A zombie (exited, not yet reaped by its parent — the case
/// for a server started by the current process) counts as dead.
pub(crate) fn is_alive(pid: u32) -> bool {
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    if Path::new("/proc/self/stat").exists() {
        return match std::fs::read_to_string(&stat) {
            // The state is the first field after the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        };
    }
    Command::new(KILL)
        .args(["-0", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The command line of `pid`, one entry per argument (`None` if the process is gone).
pub(crate) fn command_line(pid: u32) -> Option<Vec<String>> {
    if Path::new("/proc/self/cmdline").exists() {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        return (!args.is_empty()).then_some(args);
    }
    // Without /proc (macOS, BSD), `ps` joins the arguments with spaces; our own arguments have
    // none, so splitting on whitespace recovers the ones we look at.
    let out = Command::new("ps")
        .args(["-p", &pid.to_string(), "-o", "command="])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout);
    let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    (out.status.success() && !args.is_empty()).then_some(args)
}

/// Whether `pid` is a live `prefect server start … --port <port>` process — a PID file can
/// outlive its process, and the PID be recycled for something else we must not signal.
pub(crate) fn is_prefect_server(pid: u32, port: u16) -> bool {
    is_alive(pid) && command_line(pid).is_some_and(|args| looks_like_server(&args, port))
}

fn looks_like_server(args: &[String], port: u16) -> bool {
    // `<venv>/bin/prefect` is a script, so argv[0] is its interpreter and the script follows.
    let runs_prefect = args.windows(3).any(|w| {
        Path::new(&w[0]).file_name().is_some_and(|n| n == "prefect")
            && w[1] == "server"
            && w[2] == "start"
    });
    let port = port.to_string();
    let on_port = args.windows(2).any(|w| w[0] == "--port" && w[1] == port);
    runs_prefect && on_port
}

/// Sends `SIG<signal>` to `pid`.
pub(crate) fn signal(pid: u32, signal: &'static str) -> Result<(), LocalServerError> {
    let out = Command::new(KILL)
        .args(["-s", signal, &pid.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LocalServerError::SpawnFailed {
            program: PathBuf::from(KILL),
            source,
        })?;
    if out.status.success() || !is_alive(pid) {
        // A process that exited on its own meanwhile is what we wanted anyway.
        return Ok(());
    }
    Err(LocalServerError::SignalFailed {
        pid,
        signal,
        reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// Waits up to `timeout` for `pid` to die; true if it did.
pub(crate) fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, up to `grace` for a clean exit, then SIGKILL. Returns whether SIGKILL was needed.
pub(crate) fn terminate(pid: u32, grace: Duration) -> Result<bool, LocalServerError> {
    signal(pid, "TERM")?;
    if wait_for_exit(pid, grace) {
        return Ok(false);
    }
    signal(pid, "KILL")?;
    let waited = Duration::from_secs(5);
    if wait_for_exit(pid, waited) {
        Ok(true)
    } else {
        Err(LocalServerError::StopFailed { pid, waited })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn recognises_our_server_command_line_only() {
        let ours = args(
            "/c/venvs/prefect-3.9.1/bin/python3.11 /c/venvs/prefect-3.9.1/bin/prefect server \
             start --host 127.0.0.1 --port 4242 --no-ui --analytics-off --no-services",
        );
        assert!(looks_like_server(&ours, 4242));
        assert!(!looks_like_server(&ours, 4243), "another server's port");
        assert!(!looks_like_server(&args("/usr/bin/sleep 4242"), 4242));
        assert!(!looks_like_server(
            &args("/v/bin/python /v/bin/prefect worker start --port 4242"),
            4242
        ));
    }

    #[test]
    fn sees_own_process_alive_and_reaped_child_dead() {
        assert!(is_alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not yet reaped: a zombie, which must count as dead.
        assert!(wait_for_exit(pid, Duration::from_secs(5)));
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn terminate_stops_a_process() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let forced = terminate(child.id(), Duration::from_secs(5)).unwrap();
        assert!(!forced, "sleep exits on SIGTERM");
        assert!(!child.wait().unwrap().success());
    }
}
