//! `cargo xtask compare-flows DIR… [--env K=V]… [--json]`: prefab's static flow reader and
//! Prefect 3.9.1's `RunnerDeployment.from_entrypoint` on every flow in a directory, and what
//! differs between them.
//!
//! Each DIR is a project root, as `prefect deploy` has it: the working directory, the root of
//! file entrypoints and of imports. Its flows are found by reading the syntax tree
//! (`xtask/python/compare_flows.py discover`: every `@flow`-decorated function or method and
//! every `x = flow(func)` in every `.py` file, nothing imported). Then, file by file, each with
//! a timeout (`--timeout`):
//!
//! * Prefect: a fresh Python process in DIR runs `from_entrypoint` on the file's flows, with a
//!   throw-away `HOME` and `PREFECT_HOME` and a `PREFECT_API_URL` nobody listens on, so what a
//!   module does when imported stays in that process (a module that fails to import gets
//!   Prefect's own static fallback loader, as in `prefect deploy`);
//! * prefab: this binary again (`compare-flows-prefab`), reading the same flows with
//!   `prefab_flows::load_flow_from_entrypoint` in the same environment.
//!
//! Compared: flow name, description, version, `async`, and the parameter schema field by field
//! (JSON pointers; numbers by value, object key order ignored except in `properties`, whose
//! order is the parameters' order). A `null` version from Prefect's fallback loader against
//! prefab's file MD5 is accepted when the module failed to import because a package is not
//! installed (`ModuleNotFoundError`), as the conformance corpus accepts it (docs/deviations.md
//! F1), and counted apart. Exit status 1 when any flow differs or only one side fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::{venv, workspace_root};

/// An address nothing answers on: a flow module that calls the API when imported fails
/// quickly there instead of reaching a real server (or starting Prefect's ephemeral one).
const UNREACHABLE_API_URL: &str = "http://127.0.0.1:9/api";
/// How long prefab's side may take for one file (it reads source; seconds are plenty).
const PREFAB_TIMEOUT: Duration = Duration::from_secs(60);

/// The command's options.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) env: Vec<String>,
    pub(crate) json: bool,
    pub(crate) timeout: Duration,
    pub(crate) jobs: usize,
}

/// How one flow came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Equal,
    Differ,
    PrefabError,
    PrefectError,
    BothError,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Equal => "equal",
            Status::Differ => "differ",
            Status::PrefabError => "prefab error",
            Status::PrefectError => "Prefect error",
            Status::BothError => "both error",
        }
    }
}

/// One field that differs: where, prefab's value, Prefect's (`None`: absent).
#[derive(Debug, Clone)]
struct Difference {
    path: String,
    prefab: Option<Value>,
    prefect: Option<Value>,
}

/// One flow's comparison.
#[derive(Debug)]
struct Outcome {
    dir: PathBuf,
    entrypoint: String,
    status: Status,
    differences: Vec<Difference>,
    /// Differences accepted as documented deviations (the F1 version).
    accepted: Vec<String>,
    prefab: Value,
    prefect: Value,
}

/// One file's flows, the unit each side runs in one process.
#[derive(Debug)]
struct FileJob {
    dir: PathBuf,
    path: String,
    entrypoints: Vec<String>,
}

/// Runs the comparison; `Err` when something differs (or the command could not run).
pub(crate) fn run(options: &Options) -> Result<(), String> {
    let env = parse_env(&options.env)?;
    let dirs: Vec<PathBuf> = options
        .dirs
        .iter()
        .map(|d| {
            d.canonicalize()
                .map_err(|e| format!("{}: {e}", d.display()))
        })
        .collect::<Result<_, _>>()?;
    let venv = venv::prefect()?;
    let python = venv.python().to_path_buf();
    let script = workspace_root().join("xtask/python/compare_flows.py");
    let (jobs, unparsed) = discover(&python, &script, &dirs)?;
    let flows: usize = jobs.iter().map(|j| j.entrypoints.len()).sum();
    eprintln!(
        "xtask: {flows} flows in {} files under {} directories; running both sides file by file…",
        jobs.len(),
        dirs.len()
    );
    let scratch = std::env::temp_dir().join(format!("prefab-compare-flows-{}", std::process::id()));
    fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let me = std::env::current_exe().map_err(|e| format!("this binary's path: {e}"))?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<Outcome>)>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..options.jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let work = scratch.join(i.to_string());
                    let outcomes = compare_file(
                        job,
                        &Sides {
                            me: &me,
                            python: &python,
                            script: &script,
                            env: &env,
                            work: &work,
                            timeout: options.timeout,
                        },
                    );
                    let _ = fs::remove_dir_all(&work);
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    let worst = outcomes.iter().map(|o| o.status).max();
                    eprintln!(
                        "xtask: [{n}/{}] {} {}: {}",
                        jobs.len(),
                        dir_label(&job.dir),
                        job.path,
                        worst.map_or("no flows", Status::label)
                    );
                    results.lock().expect("results").push((i, outcomes));
                }
            });
        }
    });
    let _ = fs::remove_dir_all(&scratch);
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = results.into_iter().flat_map(|(_, o)| o).collect();

    let summary = Summary::of(&outcomes, jobs.len(), dirs.len(), &unparsed);
    if options.json {
        let report = json!({
            "environment": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "summary": summary.to_json(),
            "unparsed": unparsed,
            "flows": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", text_report(&outcomes, &unparsed));
        print!("{}", summary.to_text());
    }
    if summary.failures() > 0 {
        return Err(format!(
            "{} of {} flows differ between prefab and Prefect 3.9.1",
            summary.failures(),
            outcomes.len()
        ));
    }
    Ok(())
}

fn parse_env(pairs: &[String]) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("--env {p:?}: expected KEY=VALUE")),
        })
        .collect()
}

fn dir_label(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into())
}

/// Lists the flows under each directory (nothing imported).
fn discover(
    python: &Path,
    script: &Path,
    dirs: &[PathBuf],
) -> Result<(Vec<FileJob>, Vec<Value>), String> {
    let out = Command::new(python)
        .arg(script)
        .arg("discover")
        .args(dirs)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running compare_flows.py discover: {e}"))?;
    if !out.status.success() {
        return Err(format!("compare_flows.py discover failed: {}", out.status));
    }
    let found: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("compare_flows.py discover printed no JSON: {e}"))?;
    let mut jobs = Vec::new();
    let mut unparsed = Vec::new();
    for d in found["dirs"].as_array().into_iter().flatten() {
        let dir = PathBuf::from(d["dir"].as_str().unwrap_or_default());
        for f in d["files"].as_array().into_iter().flatten() {
            jobs.push(FileJob {
                dir: dir.clone(),
                path: f["path"].as_str().unwrap_or_default().to_string(),
                entrypoints: f["entrypoints"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect(),
            });
        }
        for u in d["unparsed"].as_array().into_iter().flatten() {
            unparsed.push(json!({"dir": dir, "path": u["path"], "error": u["error"]}));
        }
    }
    Ok((jobs, unparsed))
}

/// What both sides need to run one file.
struct Sides<'a> {
    me: &'a Path,
    python: &'a Path,
    script: &'a Path,
    env: &'a [(String, String)],
    work: &'a Path,
    timeout: Duration,
}

/// Runs both sides on one file's flows and compares them.
fn compare_file(job: &FileJob, sides: &Sides<'_>) -> Vec<Outcome> {
    let prefect = run_prefect(job, sides);
    let prefab = run_prefab(job, sides);
    job.entrypoints
        .iter()
        .map(|ep| {
            let a = lookup(&prefab, ep);
            let b = lookup(&prefect, ep);
            compare(&job.dir, ep, a, b)
        })
        .collect()
}

/// A side's answers by entrypoint, or why there are none.
type Answers = Result<BTreeMap<String, Value>, String>;

fn lookup(answers: &Answers, ep: &str) -> Value {
    match answers {
        Ok(map) => map.get(ep).cloned().unwrap_or_else(|| {
            json!({"error": "NoAnswer", "error_message": "the process ended before answering for this flow"})
        }),
        Err(why) => json!({"error": "NoAnswer", "error_message": why}),
    }
}

/// The environment both sides run in: the caller's, then the sandbox, then `--env`.
fn sandboxed(cmd: &mut Command, home: &Path, env: &[(String, String)]) {
    cmd.env("HOME", home)
        .env("PREFECT_HOME", home.join(".prefect"))
        .env("PREFECT_API_URL", UNREACHABLE_API_URL)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
}

fn run_prefect(job: &FileJob, sides: &Sides<'_>) -> Answers {
    let home = sides.work.join("home");
    fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let out = sides.work.join("prefect.jsonl");
    let mut cmd = Command::new(sides.python);
    cmd.arg(sides.script)
        .arg("prefect")
        .arg("--out")
        .arg(&out)
        .args(&job.entrypoints)
        .current_dir(&job.dir);
    sandboxed(&mut cmd, &home, sides.env);
    let status = run_bounded(&mut cmd, sides.work, "prefect", sides.timeout)?;
    let answers = read_lines(&out);
    if answers.len() < job.entrypoints.len() {
        let tail = stderr_tail(&sides.work.join("prefect.stderr"));
        let why = format!("the Python process ended ({status}) before answering: {tail}");
        let mut answers = answers;
        for ep in &job.entrypoints {
            answers
                .entry(ep.clone())
                .or_insert_with(|| json!({"error": "NoAnswer", "error_message": why}));
        }
        return Ok(answers);
    }
    Ok(answers)
}

fn run_prefab(job: &FileJob, sides: &Sides<'_>) -> Answers {
    let home = sides.work.join("home");
    fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let mut cmd = Command::new(sides.me);
    cmd.arg("compare-flows-prefab")
        .arg("--root")
        .arg(&job.dir)
        .arg("--")
        .args(&job.entrypoints)
        .current_dir(&job.dir);
    sandboxed(&mut cmd, &home, sides.env);
    let status = run_bounded(&mut cmd, sides.work, "prefab", PREFAB_TIMEOUT)?;
    let answers = read_lines(&sides.work.join("prefab.stdout"));
    if answers.len() < job.entrypoints.len() {
        let tail = stderr_tail(&sides.work.join("prefab.stderr"));
        return Err(format!("prefab's reader ended ({status}) early: {tail}"));
    }
    Ok(answers)
}

/// Runs a command in its own process group with stdout and stderr in `WORK/NAME.std…`; kills
/// the whole group when it outlives `limit`.
fn run_bounded(
    cmd: &mut Command,
    work: &Path,
    name: &str,
    limit: Duration,
) -> Result<ExitStatus, String> {
    let file = |suffix: &str| {
        fs::File::create(work.join(format!("{name}.{suffix}")))
            .map_err(|e| format!("{}: {e}", work.display()))
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file("stdout")?)
        .stderr(file("stderr")?)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {name}: {e}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if started.elapsed() > limit {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(format!("timed out after {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_lines(path: &Path) -> BTreeMap<String, Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["entrypoint"].as_str()?.to_string(), v)))
        .collect()
}

fn stderr_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        "no output".to_string()
    } else {
        tail.join(" / ")
    }
}

/// Compares one flow's answers.
fn compare(dir: &Path, entrypoint: &str, prefab: Value, prefect: Value) -> Outcome {
    let mut differences = Vec::new();
    let mut accepted = Vec::new();
    let a_err = prefab.get("error").and_then(Value::as_str);
    let b_err = prefect.get("error").and_then(Value::as_str);
    let status = match (a_err, b_err) {
        (Some(a), Some(b)) => {
            if a != b {
                differences.push(Difference {
                    path: "error".into(),
                    prefab: Some(Value::String(a.into())),
                    prefect: Some(Value::String(b.into())),
                });
            }
            Status::BothError
        }
        (Some(_), None) => Status::PrefabError,
        (None, Some(_)) => Status::PrefectError,
        (None, None) => {
            for field in ["flow_name", "description", "is_async"] {
                if prefab.get(field) != prefect.get(field) {
                    differences.push(Difference {
                        path: field.into(),
                        prefab: prefab.get(field).cloned(),
                        prefect: prefect.get(field).cloned(),
                    });
                }
            }
            let (va, vb) = (&prefab["version"], &prefect["version"]);
            if va != vb {
                // F1 covers a package that is not installed where Prefect runs; a module that
                // fails to import for any other reason fails everywhere, so that difference
                // stays a difference.
                let not_installed = prefect["import_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("ModuleNotFoundError"));
                if vb.is_null() && prefab["version_source"] == "file_md5" && not_installed {
                    accepted.push(
                        "version: Prefect's fallback loader has none (a package is not installed), prefab has the file's MD5 (F1)"
                            .to_string(),
                    );
                } else {
                    differences.push(Difference {
                        path: "version".into(),
                        prefab: Some(va.clone()),
                        prefect: Some(vb.clone()),
                    });
                }
            }
            diff_json(
                "parameter_openapi_schema",
                Some(&prefab["parameter_openapi_schema"]),
                Some(&prefect["parameter_openapi_schema"]),
                &mut differences,
            );
            if differences.is_empty() {
                Status::Equal
            } else {
                Status::Differ
            }
        }
    };
    Outcome {
        dir: dir.to_path_buf(),
        entrypoint: entrypoint.to_string(),
        status,
        differences,
        accepted,
        prefab,
        prefect,
    }
}

/// Numbers by value (`1` = `1.0`); everything else by JSON equality.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_i64(), y.as_i64()) {
                    (Some(i), Some(j)) => i == j,
                    _ => x.as_f64() == y.as_f64(),
                }
        }
        _ => a == b,
    }
}

/// Field-level differences between two JSON values, as JSON-pointer-like paths. Object key
/// order is ignored except in `properties` (the parameters' order); lists compare element by
/// element when their lengths agree, else whole.
fn diff_json(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Difference>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = y.keys().collect();
            keys.extend(x.keys().filter(|k| !y.contains_key(*k)));
            for k in keys {
                diff_json(&format!("{path}/{}", escape(k)), x.get(k), y.get(k), out);
            }
            if path.ends_with("/properties") {
                let xs: Vec<&String> = x.keys().filter(|k| y.contains_key(*k)).collect();
                let ys: Vec<&String> = y.keys().filter(|k| x.contains_key(*k)).collect();
                if xs != ys {
                    out.push(Difference {
                        path: format!("{path} (order)"),
                        prefab: Some(json!(xs)),
                        prefect: Some(json!(ys)),
                    });
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_json(&format!("{path}/{i}"), Some(p), Some(q), out);
            }
        }
        (Some(p), Some(q)) if same_scalar(p, q) => {}
        (None, None) => {}
        (p, q) => out.push(Difference {
            path: path.to_string(),
            prefab: p.cloned(),
            prefect: q.cloned(),
        }),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".to_string(),
        Some(v) => {
            let s = serde_json::to_string(v).unwrap_or_default();
            if s.chars().count() > 160 {
                format!("{}…", s.chars().take(160).collect::<String>())
            } else {
                s
            }
        }
    }
}

impl Outcome {
    fn to_json(&self) -> Value {
        json!({
            "dir": self.dir,
            "entrypoint": self.entrypoint,
            "status": self.status.label(),
            "differences": self.differences.iter().map(|d| json!({
                "path": d.path,
                "prefab": d.prefab,
                "prefect": d.prefect,
            })).collect::<Vec<_>>(),
            "accepted": self.accepted,
            "prefab": self.prefab,
            "prefect": self.prefect,
        })
    }
}

fn error_line(side: &Value) -> String {
    format!(
        "{}: {}",
        side["error"].as_str().unwrap_or("?"),
        side["error_message"].as_str().unwrap_or_default()
    )
}

fn text_report(outcomes: &[Outcome], unparsed: &[Value]) -> String {
    let mut out = String::new();
    for o in outcomes.iter().filter(|o| o.status != Status::Equal) {
        let _ = writeln!(
            out,
            "{}  {}  {}",
            o.status.label().to_uppercase(),
            dir_label(&o.dir),
            o.entrypoint
        );
        for d in &o.differences {
            let _ = writeln!(
                out,
                "  {}: prefab {}, Prefect {}",
                d.path,
                show(&d.prefab),
                show(&d.prefect)
            );
        }
        if o.prefab.get("error").is_some() {
            let _ = writeln!(out, "  prefab: {}", error_line(&o.prefab));
        }
        if o.prefect.get("error").is_some() {
            let _ = writeln!(out, "  Prefect: {}", error_line(&o.prefect));
        }
        if let Some(cause) = o.prefect.get("import_error").and_then(Value::as_str) {
            let cause = cause.split_whitespace().collect::<Vec<_>>().join(" ");
            let fallback = if o.prefect.get("error").is_some() {
                "could not build the flow"
            } else {
                "built the flow"
            };
            let _ = writeln!(
                out,
                "  Prefect: the module failed to import ({cause}); its static fallback loader {fallback}"
            );
        }
        for note in o.prefab["notes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  prefab note: {}", note.as_str().unwrap_or_default());
        }
    }
    for u in unparsed {
        let _ = writeln!(
            out,
            "UNPARSED  {}  {}: {}",
            dir_label(Path::new(u["dir"].as_str().unwrap_or_default())),
            u["path"].as_str().unwrap_or_default(),
            u["error"].as_str().unwrap_or_default()
        );
    }
    out
}

/// The counts.
struct Summary {
    dirs: usize,
    files: usize,
    unparsed: usize,
    counts: BTreeMap<Status, usize>,
    accepted_f1: usize,
    both_error_disagree: usize,
}

impl Summary {
    fn of(outcomes: &[Outcome], files: usize, dirs: usize, unparsed: &[Value]) -> Self {
        let mut counts = BTreeMap::new();
        for o in outcomes {
            *counts.entry(o.status).or_insert(0) += 1;
        }
        Summary {
            dirs,
            files,
            unparsed: unparsed.len(),
            counts,
            accepted_f1: outcomes
                .iter()
                .filter(|o| o.status == Status::Equal && !o.accepted.is_empty())
                .count(),
            both_error_disagree: outcomes
                .iter()
                .filter(|o| o.status == Status::BothError && !o.differences.is_empty())
                .count(),
        }
    }

    fn count(&self, s: Status) -> usize {
        self.counts.get(&s).copied().unwrap_or(0)
    }

    /// Flows where the two sides disagree: a difference, one side failing alone, or both
    /// failing with different errors.
    fn failures(&self) -> usize {
        self.count(Status::Differ)
            + self.count(Status::PrefabError)
            + self.count(Status::PrefectError)
            + self.both_error_disagree
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("directories".into(), json!(self.dirs));
        m.insert("files".into(), json!(self.files));
        m.insert("unparsed_files".into(), json!(self.unparsed));
        m.insert("flows".into(), json!(self.counts.values().sum::<usize>()));
        for s in [
            Status::Equal,
            Status::Differ,
            Status::PrefabError,
            Status::PrefectError,
            Status::BothError,
        ] {
            m.insert(s.label().replace(' ', "_"), json!(self.count(s)));
        }
        m.insert("equal_up_to_f1_version".into(), json!(self.accepted_f1));
        m.insert(
            "both_error_with_different_errors".into(),
            json!(self.both_error_disagree),
        );
        Value::Object(m)
    }

    fn to_text(&self) -> String {
        let total: usize = self.counts.values().sum();
        let mut out = format!(
            "\ncompare-flows: {total} flows in {} files under {} directories",
            self.files, self.dirs
        );
        if self.unparsed > 0 {
            let _ = write!(
                out,
                " ({} of the files Prefect's Python cannot parse)",
                self.unparsed
            );
        }
        out.push('\n');
        for s in [
            Status::Equal,
            Status::Differ,
            Status::PrefabError,
            Status::PrefectError,
            Status::BothError,
        ] {
            let _ = write!(out, "  {:<14}{:>5}", s.label(), self.count(s));
            match s {
                Status::Equal if self.accepted_f1 > 0 => {
                    let _ = write!(
                        out,
                        "  ({} of them with Prefect's fallback loader's null version, F1)",
                        self.accepted_f1
                    );
                }
                Status::BothError if self.both_error_disagree > 0 => {
                    let _ = write!(
                        out,
                        "  ({} with different errors)",
                        self.both_error_disagree
                    );
                }
                _ => {}
            }
            out.push('\n');
        }
        out
    }
}

/// `compare-flows-prefab --root DIR -- ENTRYPOINT…`: prefab's side, one JSON line per
/// entrypoint on stdout (run in its own process so the caller's `--env` reaches it and a
/// crash costs one file).
pub(crate) fn prefab_side(root: &Path, entrypoints: &[String]) -> ExitCode {
    for ep in entrypoints {
        let answer = std::panic::catch_unwind(|| prefab_answer(root, ep)).unwrap_or_else(
            |_| json!({"error": "Panic", "error_message": "prefab's reader panicked (see stderr)"}),
        );
        let mut line = answer;
        line["entrypoint"] = Value::String(ep.clone());
        println!("{line}");
    }
    ExitCode::SUCCESS
}

fn prefab_answer(root: &Path, ep: &str) -> Value {
    match prefab_flows::load_flow_from_entrypoint(ep, root) {
        Ok(loaded) => {
            let flow = &loaded.flow;
            let version_source = match loaded.version_source {
                prefab_flows::VersionSource::Explicit => "explicit",
                prefab_flows::VersionSource::FileMd5 => "file_md5",
                _ => "unavailable",
            };
            json!({
                "flow_name": flow.name,
                "description": flow.description,
                "version": flow.version,
                "version_source": version_source,
                "is_async": flow.is_async,
                "parameter_openapi_schema": flow.parameter_schema.to_json(),
                "notes": loaded.notes,
            })
        }
        Err(e) => json!({
            "error": e.python_class(),
            "error_message": e.python_message(),
            "detail": e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(a: Value, b: Value) -> Vec<String> {
        let mut out = Vec::new();
        diff_json("s", Some(&a), Some(&b), &mut out);
        out.into_iter().map(|d| d.path).collect()
    }

    #[test]
    fn numbers_compare_by_value_and_keys_without_order() {
        assert!(paths(json!({"a": 1, "b": 2.5}), json!({"b": 2.5, "a": 1.0})).is_empty());
        assert_eq!(paths(json!({"a": 1}), json!({"a": 2})), ["s/a"]);
        assert_eq!(paths(json!({"a": 1}), json!({"a": true})), ["s/a"]);
    }

    #[test]
    fn missing_keys_and_lists_are_reported_where_they_differ() {
        assert_eq!(
            paths(json!({"x": {"t": "a"}}), json!({"x": {"t": "a", "d": 3}})),
            ["s/x/d"]
        );
        assert_eq!(paths(json!([1, 2]), json!([1, 3])), ["s/1"]);
        assert_eq!(paths(json!([1]), json!([1, 2])), ["s"]);
        assert_eq!(paths(json!({"a/b": 1}), json!({"a/b": 2})), ["s/a~1b"]);
    }

    #[test]
    fn parameter_order_matters_only_in_properties() {
        let a = json!({"properties": {"x": {}, "y": {}}, "required": ["x"]});
        let b = json!({"required": ["x"], "properties": {"y": {}, "x": {}}});
        assert_eq!(paths(a, b), ["s/properties (order)"]);
    }

    fn flow(version: Value, source: &str) -> Value {
        json!({
            "flow_name": "f", "description": null, "is_async": false, "version": version,
            "version_source": source,
            "parameter_openapi_schema": {"title": "Parameters", "type": "object", "properties": {}},
        })
    }

    #[test]
    fn a_null_fallback_version_is_accepted_only_for_a_package_not_installed() {
        let dir = Path::new("/p");
        let mut prefect = flow(Value::Null, "");
        prefect["import_error"] = json!("ModuleNotFoundError: No module named 'pandas'");
        let o = compare(
            dir,
            "f.py:f",
            flow(json!("abc"), "file_md5"),
            prefect.clone(),
        );
        assert_eq!(o.status, Status::Equal);
        assert_eq!(o.accepted.len(), 1);

        prefect["import_error"] = json!("ImportError: cannot import name 'JSON'");
        let o = compare(dir, "f.py:f", flow(json!("abc"), "file_md5"), prefect);
        assert_eq!(o.status, Status::Differ);
        assert_eq!(o.differences[0].path, "version");
    }

    #[test]
    fn errors_are_sorted_by_side() {
        let dir = Path::new("/p");
        let err = json!({"error": "ScriptError", "error_message": "m"});
        let ok = flow(json!("1"), "explicit");
        assert_eq!(
            compare(dir, "e", ok.clone(), err.clone()).status,
            Status::PrefectError
        );
        assert_eq!(
            compare(dir, "e", err.clone(), ok).status,
            Status::PrefabError
        );
        let both = compare(dir, "e", err.clone(), err);
        assert_eq!(both.status, Status::BothError);
        assert!(both.differences.is_empty());
        assert!(parse_env(&["A=1".into(), "B==x".into()]).is_ok());
        assert!(parse_env(&["=1".into()]).is_err());
        assert!(parse_env(&["A".into()]).is_err());
    }
}
