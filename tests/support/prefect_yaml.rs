//! The prefect.yaml conformance corpus (`tests/fixtures/prefect-yaml/`): each project is
//! prepared on a dedicated Prefect server exactly as its recording was (the corpus README's
//! "Preparing the server and the environment", record.py's `wipe_server`, `setup_case`,
//! `git_init` and `run_project`), deployed by prefab (or, to check this harness, by Prefect
//! itself), and the server's normalised state is compared with `expected.json`'s.
//!
//! std and `serde_json` only, plus its sibling `prefect_state` (the normaliser and comparer).

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::prefect_state::{Api, Differences, compare_states, left_by_prefect, quote_segment};

/// How long one deploy may run (record.py's `RUN_TIMEOUT_S`).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variable that picks the deployer: `prefab` (default) or `prefect` (Prefect
/// 3.9.1's own CLI, `prefect --no-prompt ARGS`: the harness's self-check).
pub const DEPLOYER_VAR: &str = "PREFAB_PREFECT_YAML_DEPLOYER";

/// How many lines of the deployer's output a failure report shows.
pub const REPORT_TAIL_LINES: usize = 40;

/// The vendored corpus: `tests/fixtures/prefect-yaml` of the workspace.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("tests/fixtures/prefect-yaml/projects").is_dir())
        .map(|dir| dir.join("tests/fixtures/prefect-yaml"))
        .expect("tests/fixtures/prefect-yaml/projects above CARGO_MANIFEST_DIR")
}

/// Prefect 3.9.1's default base job template of a `process` work pool, what record.py used:
/// `get_default_base_job_template_for_infrastructure_type("process")`, i.e. `ProcessWorker`'s
/// template (the server's `/collections/views/aggregate-worker-metadata` serves an older,
/// different one for `process`). Regenerate with the command in the fixtures README.
pub fn process_base_job_template() -> Result<Value, String> {
    let path = fixtures_dir().join("process-base-job-template.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// One recorded project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder name, e.g. `001-multi-deployments`.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// `case.json`, or `{}`.
    pub case: Value,
    /// `expected.json`.
    pub expected: Value,
}

impl Project {
    /// Reads a project folder (`expected.json` is required, `case.json` optional).
    pub fn load(dir: &Path) -> Result<Project, String> {
        let read_json = |name: &str| -> Result<Option<Value>, String> {
            let path = dir.join(name);
            match fs::read_to_string(&path) {
                Ok(text) => serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", path.display())),
            }
        };
        let expected = read_json("expected.json")?
            .ok_or_else(|| format!("{}: no expected.json", dir.display()))?;
        if expected.get("inputs").is_none() || expected.get("state").is_none() {
            return Err(format!(
                "{}/expected.json has no inputs or state (not written by record.py run?)",
                dir.display()
            ));
        }
        Ok(Project {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: dir.to_path_buf(),
            case: read_json("case.json")?.unwrap_or_else(|| json!({})),
            expected,
        })
    }

    /// The CLI args after `prefect --no-prompt` (and after `prefab`), as recorded.
    pub fn args(&self) -> Vec<String> {
        let args = self.expected["args"]
            .as_array()
            .or_else(|| self.case["args"].as_array());
        match args {
            Some(args) if !args.is_empty() => args
                .iter()
                .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
                .collect(),
            _ => vec!["deploy".into(), "--all".into()],
        }
    }

    /// Prefect's exit code (`None` if the recording timed out).
    pub fn expected_exit_code(&self) -> Option<i64> {
        self.expected["exit_code"].as_i64()
    }

    /// The recorded normalised state.
    pub fn expected_state(&self) -> &Value {
        &self.expected["state"]
    }

    fn inputs(&self) -> &Value {
        &self.expected["inputs"]
    }
}

/// Every project folder under `root` (each is a test: folders added later are picked up),
/// sorted by name.
pub fn projects(root: &Path) -> Result<Vec<Project>, String> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|dir| Project::load(dir)).collect()
}

/// Step 1: deletes every automation, deployment, flow, work pool (`default` too: an API-only
/// server has none, and one left behind would show in the next project's `work_queues`),
/// variable, block document and global concurrency limit, then checks that none is left
/// (record.py's `wipe_server`). For a dedicated server only.
pub fn wipe_server(api: &Api) -> Result<(), String> {
    for (list, item) in [
        ("/automations/filter", "/automations"),
        ("/deployments/filter", "/deployments"),
        ("/flows/filter", "/flows"),
    ] {
        for x in api.filter_all(list, None)? {
            api.delete(&format!("{item}/{}", id_of(&x)?))?;
        }
    }
    for p in api.filter_all("/work_pools/filter", None)? {
        let name = p["name"].as_str().ok_or("a work pool without a name")?;
        api.delete(&format!("/work_pools/{}", quote_segment(name)))?;
    }
    for v in api.filter_all("/variables/filter", None)? {
        api.delete(&format!("/variables/{}", id_of(&v)?))?;
    }
    let no_secrets = json!({"include_secrets": false});
    for b in api.filter_all("/block_documents/filter", Some(&no_secrets))? {
        api.delete(&format!("/block_documents/{}", id_of(&b)?))?;
    }
    for c in api.filter_all("/v2/concurrency_limits/filter", None)? {
        api.delete(&format!("/v2/concurrency_limits/{}", id_of(&c)?))?;
    }
    let mut left = Vec::new();
    for kind in [
        "deployments",
        "flows",
        "automations",
        "variables",
        "work_pools",
    ] {
        let n = api.filter_all(&format!("/{kind}/filter"), None)?.len();
        if n > 0 {
            left.push(format!("{kind}: {n}"));
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("server not empty after wipe: {}", left.join(", ")))
    }
}

fn id_of(v: &Value) -> Result<&str, String> {
    v["id"].as_str().ok_or_else(|| format!("no id in {v}"))
}

/// Steps 2–3: creates the variables, block documents and work pools that `expected.json`'s
/// `inputs` lists (exactly what was created for the recording; a pool whose template is
/// `"custom"` takes it from `case.json`'s `work_pools`). `process_template`: see
/// [`process_base_job_template`].
pub fn create_inputs(api: &Api, project: &Project, process_template: &Value) -> Result<(), String> {
    let inputs = project.inputs();
    if let Some(variables) = inputs["variables"].as_object() {
        for (name, value) in variables {
            api.post(
                "/variables/",
                &json!({"name": name, "value": value, "tags": []}),
            )?;
        }
    }
    for block in inputs["blocks"].as_array().into_iter().flatten() {
        let slug = block["type"].as_str().ok_or("a block without a type")?;
        let name = block["name"].as_str().ok_or("a block without a name")?;
        create_block(api, slug, name, &block["data"])?;
    }
    for pool in inputs["work_pools"].as_array().into_iter().flatten() {
        let name = pool["name"].as_str().ok_or("a work pool without a name")?;
        let pool_type = pool["type"].as_str().unwrap_or("process");
        let template = if pool.get("base_job_template").is_some() {
            // "custom" in inputs: case.json holds it; listed twice, the last one wins.
            project.case["work_pools"]
                .as_array()
                .into_iter()
                .flatten()
                .rfind(|p| p["name"].as_str() == Some(name))
                .and_then(|p| p.get("base_job_template"))
                .cloned()
                .ok_or_else(|| {
                    format!("work pool {name:?}: custom template not in case.json's work_pools")
                })?
        } else if pool_type == "process" {
            process_template.clone()
        } else {
            collection_base_job_template(api, pool_type)?
        };
        let path = format!("/work_pools/{}", quote_segment(name));
        let existing = api.get(&path, &[404])?;
        if existing.get("id").is_some() {
            api.delete(&path)?;
        }
        api.post(
            "/work_pools/",
            &json!({"name": name, "type": pool_type, "base_job_template": template}),
        )?;
    }
    Ok(())
}

/// A block document as record.py's `create_block` makes it: the block type (created with a
/// one-string-field schema when the server has none of that slug), its first schema, `data`.
fn create_block(api: &Api, slug: &str, name: &str, data: &Value) -> Result<(), String> {
    let mut block_type = api.get(
        &format!("/block_types/slug/{}", quote_segment(slug)),
        &[404],
    )?;
    if block_type.get("id").is_none() {
        block_type = api.post("/block_types/", &json!({"name": slug, "slug": slug}))?;
        api.post(
            "/block_schemas/",
            &json!({
                "block_type_id": block_type["id"], "capabilities": [], "version": "recorder",
                "fields": {"title": slug, "type": "object",
                           "properties": {"value": {"title": "value", "type": "string"}}},
            }),
        )?;
    }
    let schemas = api.post(
        "/block_schemas/filter",
        &json!({"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}}),
    )?;
    let schema = schemas
        .get(0)
        .ok_or_else(|| format!("block type {slug:?} has no schema"))?;
    api.post(
        "/block_documents/",
        &json!({
            "name": name, "block_type_id": block_type["id"], "block_schema_id": schema["id"],
            "data": data, "is_anonymous": false,
        }),
    )?;
    Ok(())
}

/// The default template of a non-`process` pool type from the server's worker metadata (where
/// Prefect looks for types that no installed worker provides).
fn collection_base_job_template(api: &Api, pool_type: &str) -> Result<Value, String> {
    let metadata = api.get("/collections/views/aggregate-worker-metadata", &[])?;
    metadata
        .as_object()
        .into_iter()
        .flat_map(|collections| collections.values())
        .filter_map(Value::as_object)
        .flat_map(|workers| workers.values())
        .find(|worker| worker["type"].as_str() == Some(pool_type))
        .map(|worker| worker["default_base_job_configuration"].clone())
        .ok_or_else(|| format!("no default base job template for pool type {pool_type:?}"))
}

/// Copies the project into `parent/<its folder name>` without `expected.json` (the deployer
/// must not see the answer, and record.py's git commit leaves it out), and returns the copy.
pub fn stage_project(project: &Project, parent: &Path) -> Result<PathBuf, String> {
    let target = parent.join(&project.name);
    copy_tree(&project.dir, &target, true)?;
    Ok(target)
}

fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let name = entry.file_name();
        if top && name == "expected.json" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", src.display()))?;
        if kind.is_dir() {
            copy_tree(&src, &dst, false)?;
        } else {
            fs::copy(&src, &dst)
                .map_err(|e| format!("copy {} to {}: {e}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// `case.json`'s `git`: makes the project a repository with one commit at fixed dates and an
/// `origin` remote (record.py's `git_init`: same author, dates, message and files, so the same
/// commit sha).
pub fn git_init(dir: &Path, spec: &Value) -> Result<(), String> {
    let text = |key: &str, default: &str| spec[key].as_str().unwrap_or(default).to_owned();
    let branch = text("branch", "main");
    let message = text("message", "recorded commit");
    let remote = text("remote", "https://example.com/org/repo.git");
    let home = std::env::temp_dir();
    let commands: [&[&str]; 4] = [
        &["init", "-q", "-b", &branch],
        &["add", "-A", "--", ".", ":!expected.json"],
        &["-c", "commit.gpgsign=false", "commit", "-q", "-m", &message],
        &["remote", "add", "origin", &remote],
    ];
    for args in commands {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("GIT_AUTHOR_NAME", "Recorder")
            .env("GIT_AUTHOR_EMAIL", "recorder@example.com")
            .env("GIT_COMMITTER_NAME", "Recorder")
            .env("GIT_COMMITTER_EMAIL", "recorder@example.com")
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .map_err(|e| format!("git {}: {e}", args.join(" ")))?;
        if !out.status.success() {
            return Err(format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

/// Who runs the deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployer {
    /// `prefab ARGS` (the binary at this path).
    Prefab(PathBuf),
    /// `<venv>/bin/prefect --no-prompt ARGS` (Prefect 3.9.1 itself, the harness's self-check).
    Prefect {
        /// The Prefect 3.9.1 virtualenv.
        venv: PathBuf,
    },
}

impl Deployer {
    /// From [`DEPLOYER_VAR`]: unset or `prefab` → `prefab`, `prefect` → Prefect in `venv`.
    pub fn from_env(prefab: &Path, venv: &Path) -> Result<Deployer, String> {
        match std::env::var(DEPLOYER_VAR).as_deref() {
            Err(_) | Ok("" | "prefab") => Ok(Deployer::Prefab(prefab.to_path_buf())),
            Ok("prefect") => Ok(Deployer::Prefect {
                venv: venv.to_path_buf(),
            }),
            Ok(other) => Err(format!(
                "{DEPLOYER_VAR}={other:?}: expected \"prefab\" or \"prefect\""
            )),
        }
    }

    /// `prefab` or `prefect`.
    pub fn name(&self) -> &'static str {
        match self {
            Deployer::Prefab(_) => "prefab",
            Deployer::Prefect { .. } => "prefect",
        }
    }
}

/// Step 4–5's environment, and nothing else (record.py's `run_project`): `PATH` with the
/// Prefect venv first, a scratch `HOME`, `PREFECT_API_URL`, `TZ=UTC`, `GIT_CEILING_DIRECTORIES`
/// = the project's parent, C.UTF-8, no colours, no package index; minus `case.json`'s
/// `unset_env`, plus `inputs.env`. `PREFECT_HOME` is set for Prefect only (prefab reads no
/// other `PREFECT_*` variable; its `HOME` is scratch).
pub fn deploy_environment(
    project: &Project,
    project_dir: &Path,
    api_url: &str,
    venv: &Path,
    scratch: &Path,
    deployer: &Deployer,
) -> Vec<(String, String)> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let parent = project_dir.parent().unwrap_or(project_dir);
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            format!("{}/bin:/usr/local/bin:/usr/bin:/bin", venv.display()),
        ),
        ("HOME".into(), path(&scratch.join("home"))),
        ("PREFECT_API_URL".into(), api_url.to_owned()),
        ("DO_NOT_TRACK".into(), "1".into()),
        ("GIT_CEILING_DIRECTORIES".into(), path(parent)),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("TZ".into(), "UTC".into()),
        ("COLUMNS".into(), "160".into()),
        ("NO_COLOR".into(), "1".into()),
        ("TERM".into(), "dumb".into()),
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ("PYTHONHASHSEED".into(), "0".into()),
        // A step's `requires:` must never install anything from a package index.
        ("PIP_NO_INDEX".into(), "1".into()),
        ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
        ("UV_OFFLINE".into(), "1".into()),
    ];
    if matches!(deployer, Deployer::Prefect { .. }) {
        env.push(("PREFECT_HOME".into(), path(&scratch.join("prefect-home"))));
    }
    for name in project.case["unset_env"].as_array().into_iter().flatten() {
        env.retain(|(k, _)| Some(k.as_str()) != name.as_str());
    }
    for (k, v) in project.inputs()["env"].as_object().into_iter().flatten() {
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), v));
    }
    env
}

/// What a deploy run did.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The full command line, for reports.
    pub command: String,
    /// The exit code; `None` when it was killed (by a signal, or at [`RUN_TIMEOUT`]).
    pub exit_code: Option<i32>,
    /// Whether it ran past [`RUN_TIMEOUT`] and was killed.
    pub timed_out: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs the deployer with `args` in `project_dir` with exactly `env`, killing it at
/// [`RUN_TIMEOUT`].
pub fn run_deployer(
    deployer: &Deployer,
    args: &[String],
    project_dir: &Path,
    env: &[(String, String)],
) -> Result<RunOutput, String> {
    let (program, mut argv) = match deployer {
        Deployer::Prefab(bin) => (bin.clone(), Vec::new()),
        Deployer::Prefect { venv } => (venv.join("bin/prefect"), vec!["--no-prompt".to_owned()]),
    };
    argv.extend(args.iter().cloned());
    let command = format!("{} {}", program.display(), argv.join(" "));
    let mut child = Command::new(&program)
        .args(&argv)
        .current_dir(project_dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start {command}: {e}"))?;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{command}: {e}"))? {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| format!("{command}: {e}"))?;
        }
        thread::sleep(Duration::from_millis(50));
    };
    Ok(RunOutput {
        command,
        exit_code: if timed_out { None } else { status.code() },
        timed_out,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Compares the actual state with the project's expected one. When Prefect's run failed
/// (exit code 1) only what Prefect left is compared ([`left_by_prefect`]); the set-aside items
/// become notes.
pub fn compare_with_expected(project: &Project, actual: &Value) -> Differences {
    let expected = project.expected_state();
    if project.expected_exit_code() == Some(1) {
        let (left, notes) = left_by_prefect(expected, actual);
        let mut d = compare_states(expected, &left);
        d.notes.extend(notes);
        d
    } else {
        compare_states(expected, actual)
    }
}

/// The last `n` lines of `text`, indented, for a report.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("    … ({start} lines before)\n"));
    }
    for line in &lines[start..] {
        out.push_str("    ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if lines.is_empty() {
        out.push_str("    (empty)\n");
    }
    out
}
