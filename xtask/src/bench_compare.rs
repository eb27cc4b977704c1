//! `cargo xtask bench-compare`: Prefect 3.9.1's own Python and prefab on the same inputs, in the
//! same run, on the same machine — never a timed assertion in a test.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::{target_dir, venv, workspace_root};

/// The schedule benches: (criterion id, what one unit is, the target per unit in ns).
const SCHEDULE_BENCHES: &[(&str, &str, f64)] = &[
    (
        "cron_parse",
        "parse + validate `*/15 9-17 * * mon-fri`",
        1_000.0,
    ),
    (
        "cron_ny_1000",
        "per date, `*/5 * * * *` New York across 8 Mar",
        150.0,
    ),
    ("interval_ny_1000", "per date, every 900 s New York", 30.0),
    ("rrule_ny_1000", "per date, weekly MO,WE,FR New York", 250.0),
    (
        "rrule_undated_first",
        "first date of undated `FREQ=MINUTELY;INTERVAL=5`",
        20_000.0,
    ),
];

/// Runs the throughput bench against a real server it provisions and returns its table.
pub(crate) fn throughput(write_docs: bool) -> Result<(), String> {
    server_bench(
        "throughput",
        "a real Prefect server",
        "Prefect 3.9.1 with SQLite (API only) and the client on one machine",
        write_docs,
    )
}

/// Runs the storage-pull bench (git and moto servers it provisions; prefab, `git clone` and
/// Prefect's own storage classes on the same inputs) and returns its table.
pub(crate) fn storage(write_docs: bool) -> Result<(), String> {
    server_bench(
        "storage_pull",
        "git and moto S3 servers, Prefect 3.9.1 + s3fs",
        "servers, Prefect and prefab (release build) on one machine; medians of `PREFAB_STORAGE_RUNS` runs (default 3)",
        write_docs,
    )
}

/// `cargo bench -p prefab-benches --bench NAME`, whose stdout's table lines become the
/// `bench-compare:NAME` section of docs/performance.md.
fn server_bench(name: &str, what: &str, setting: &str, write_docs: bool) -> Result<(), String> {
    eprintln!("xtask: running `cargo bench -p prefab-benches --bench {name}` ({what})…");
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args(["bench", "-p", "prefab-benches", "--bench", name])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("running the {name} bench: {e}"))?;
    if !output.status.success() {
        return Err(format!("the {name} bench failed: {}", output.status));
    }
    let table: String = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok();
    let date = date
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let text = format!("Measured {date}, {cores} cores, {setting}.\n\n{table}");
    println!("{text}");
    if write_docs {
        replace_section(name, &text)?;
    }
    Ok(())
}

pub(crate) fn run(quick: bool, write_docs: bool) -> Result<(), String> {
    let venv = venv::prefect()?;
    eprintln!("xtask: timing Prefect 3.9.1 (server-side schedule classes)…");
    let mut py = Command::new(venv.python());
    py.arg(workspace_root().join("xtask/python/bench_schedules.py"));
    if quick {
        py.arg("--quick");
    }
    let output = py
        .output()
        .map_err(|e| format!("running bench_schedules.py: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "bench_schedules.py failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let prefect: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("bench_schedules.py printed no JSON: {e}"))?;

    eprintln!("xtask: running `cargo bench -p prefab-benches --bench schedules`…");
    let mut bench = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    bench.current_dir(workspace_root()).args([
        "bench",
        "-p",
        "prefab-benches",
        "--bench",
        "schedules",
        "--",
    ]);
    if quick {
        bench.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    let status = bench
        .status()
        .map_err(|e| format!("running cargo bench: {e}"))?;
    if !status.success() {
        return Err(format!("cargo bench failed: {status}"));
    }

    let mut rows = Vec::new();
    for &(id, unit, target) in SCHEDULE_BENCHES {
        let ours = criterion_ns_per_element(id)?;
        let theirs = prefect[id]
            .as_f64()
            .ok_or_else(|| format!("no Prefect figure for {id}"))?;
        rows.push((id, unit, theirs, ours, target));
    }
    let table = render(&rows, &prefect, quick);
    println!("{table}");
    if write_docs {
        write_performance_doc(&table)?;
    }
    Ok(())
}

/// Criterion's median for `schedules/<id>`, divided by its declared throughput (elements).
fn criterion_ns_per_element(id: &str) -> Result<f64, String> {
    let dir = target_dir()
        .join("criterion")
        .join("schedules")
        .join(id)
        .join("new");
    let read = |name: &str| -> Result<Value, String> {
        let path = dir.join(name);
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let estimates = read("estimates.json")?;
    let median = estimates["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{id}: no median in estimates.json"))?;
    let elements = read("benchmark.json")?["throughput"]["Elements"]
        .as_f64()
        .unwrap_or(1.0);
    Ok(median / elements.max(1.0))
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn render(rows: &[(&str, &str, f64, f64, f64)], prefect: &Value, quick: bool) -> String {
    let mut out = String::new();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok();
    let date = date
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new("rustc").arg("--version").output().ok();
    let rustc = rustc
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Measured {date} on {cpu} ({cores} cores); {rustc}; Prefect 3.9.1 on CPython {}{}.\n",
        prefect["python"].as_str().unwrap_or("?"),
        if quick {
            " — QUICK run, indicative only"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "| bench | unit | Prefect 3.9.1 | prefab | speed-up | target |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
    for (id, unit, theirs, ours, target) in rows {
        let ok = if ours <= target { "met" } else { "MISSED" };
        let _ = writeln!(
            out,
            "| `{id}` | {unit} | {} | {} | {:.0}× | ≤ {} ({ok}) |",
            human_ns(*theirs),
            human_ns(*ours),
            theirs / ours,
            human_ns(*target)
        );
    }
    if let Some(counts) = prefect.get("counts") {
        let _ = writeln!(
            out,
            "\nDates returned for n=1000 (both sides): cron {}, interval {}, rrule {} — Prefect's \
             candidate cap makes the cron run across the spring-forward gap return 990.",
            counts["cron_ny_1000"], counts["interval_ny_1000"], counts["rrule_ny_1000"]
        );
    }
    out
}

fn write_performance_doc(table: &str) -> Result<(), String> {
    replace_section("schedules", table)
}

/// Replaces the text between `<!-- bench-compare:NAME:start -->` and `…:end -->`.
pub(crate) fn replace_section(name: &str, text: &str) -> Result<(), String> {
    let start = format!("<!-- bench-compare:{name}:start -->");
    let end = format!("<!-- bench-compare:{name}:end -->");
    let path = workspace_root().join("docs/performance.md");
    let doc = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(a), Some(b)) = (doc.find(&start), doc.find(&end)) else {
        return Err(format!(
            "{} lacks the {start} … {end} markers",
            path.display()
        ));
    };
    let updated = format!("{}{start}\n{text}{}", &doc[..a], &doc[b..]);
    fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("xtask: updated {}", path.display());
    Ok(())
}
