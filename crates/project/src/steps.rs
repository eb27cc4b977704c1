//! Build and push steps (spec §3; Prefect's `deployments/steps/core.py`): each step is
//! templated with the outputs so far, then blocks, variables and the environment, and run;
//! a mapping it returns joins the outputs (also under its `id`).
//!
//! `run_shell_script`, `pip_install_requirements` and `set_working_directory` run natively;
//! any other step runs through a Python interpreter ([`StepRunner::new`]'s `python`) that
//! imports the function and calls it. A step list run once in a run is not run again: the
//! same top-level build, templated identically, serves every deployment (Prefect runs it once
//! per deployment).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt as _;
use tokio::process::Command;
use tokio::sync::OnceCell;

use crate::error::ProjectError;
use crate::resolve::{resolve_blocks, resolve_variables};
use crate::server::ServerValues;
use crate::template::Fill;

const STEP_RUNNER: &str = include_str!("step_runner.py");

/// Prefect's built-in steps prefab runs itself.
pub const RUN_SHELL_SCRIPT: &str = "prefect.deployments.steps.run_shell_script";
/// See [`RUN_SHELL_SCRIPT`].
pub const PIP_INSTALL_REQUIREMENTS: &str = "prefect.deployments.steps.pip_install_requirements";
/// See [`RUN_SHELL_SCRIPT`].
pub const SET_WORKING_DIRECTORY: &str = "prefect.deployments.steps.set_working_directory";

type Outcome = Result<StepsDone, String>;

/// What a step list produced.
#[derive(Debug, Clone)]
pub struct StepsDone {
    /// The outputs: the upstream ones, each step's mapping merged in (and under its `id`).
    pub outputs: Map<String, Value>,
    /// The working directory after the steps.
    pub cwd: PathBuf,
}

/// Runs step lists, each distinct one once per run.
#[derive(Debug)]
pub struct StepRunner {
    python: PathBuf,
    env: HashMap<String, String>,
    done: Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>,
}

impl StepRunner {
    /// Steps run with the process environment `env`; steps prefab does not implement run
    /// through `python`.
    pub fn new(python: impl Into<PathBuf>, env: HashMap<String, String>) -> Self {
        StepRunner {
            python: python.into(),
            env,
            done: Mutex::default(),
        }
    }

    /// Prefect's `run_steps(steps, upstream)` started in directory `cwd`: the outputs after
    /// every step, and the directory the steps left the run in (`set_working_directory`
    /// changes it for the rest of the run, as Prefect's `os.chdir` does). `section` names the
    /// list in messages (`build`, `deployments[2].push`).
    pub async fn run_steps(
        &self,
        section: &str,
        steps: &[Value],
        upstream: &Map<String, Value>,
        cwd: &Path,
        server: &ServerValues,
    ) -> Result<StepsDone, ProjectError> {
        if steps.is_empty() {
            return Ok(StepsDone {
                outputs: upstream.clone(),
                cwd: cwd.to_path_buf(),
            });
        }
        let key = json!([steps, upstream, cwd]).to_string();
        let cell = {
            let mut done = self
                .done
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            done.entry(key).or_default().clone()
        };
        cell.get_or_init(|| self.run_list(section, steps, upstream, cwd, server))
            .await
            .clone()
            .map_err(ProjectError::Step)
    }

    async fn run_list(
        &self,
        section: &str,
        steps: &[Value],
        upstream: &Map<String, Value>,
        start: &Path,
        server: &ServerValues,
    ) -> Outcome {
        let mut outputs = upstream.clone();
        let mut cwd = start.to_path_buf();
        let env_values: Value = Value::Object(
            self.env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        let env = |name: &str| self.env.get(name).cloned();
        for (i, step) in steps.iter().enumerate() {
            let at = format!("{section}[{i}]");
            let Some(map) = step.as_object() else {
                return Err(format!("{at}: a step is a mapping, not {step}"));
            };
            let Some((fqn, inputs)) = map.iter().next_back() else {
                continue;
            };
            if map.len() > 1 {
                let extra: Vec<&str> = map.keys().skip(1).map(String::as_str).collect();
                return Err(format!(
                    "{at}: Step has unexpected additional keys: {} (a step is one mapping \
                     `module.function: {{arguments}}`)",
                    extra.join(", ")
                ));
            }
            let Value::Object(inputs) = inputs else {
                return Err(format!(
                    "{at} ({fqn}): the step's arguments are a mapping, not {} — write \
                     `{fqn}: {{}}` for none",
                    crate::model::kind(inputs)
                ));
            };
            let mut inputs = inputs.clone();
            let id = inputs.remove("id");
            let requires = inputs.remove("requires");
            let mut ignored = Vec::new();
            let templated = Fill::new()
                .apply(
                    &Value::Object(inputs),
                    &Value::Object(outputs.clone()),
                    &env,
                    &mut ignored,
                )
                .unwrap_or(Value::Null);
            let templated = resolve_blocks(&templated, server)
                .await
                .map_err(|e| format!("{at} ({fqn}): {e}"))?;
            let templated = resolve_variables(&templated, server, &mut ignored)
                .await
                .map_err(|e| format!("{at} ({fqn}): {e}"))?;
            let templated = Fill::new()
                .apply(&templated, &env_values, &env, &mut ignored)
                .unwrap_or(Value::Null);
            let Value::Object(kwargs) = templated else {
                return Err(format!("{at} ({fqn}): arguments are not a mapping"));
            };
            tracing::info!(target: "prefab_project::steps", step = %fqn, at = %at, "running step");
            let result = match fqn.as_str() {
                RUN_SHELL_SCRIPT => self.run_shell_script(&cwd, &kwargs).await,
                PIP_INSTALL_REQUIREMENTS => self.pip_install(&cwd, &kwargs).await,
                SET_WORKING_DIRECTORY => set_working_directory(&mut cwd, &kwargs),
                _ => self.run_python(&cwd, fqn, &kwargs, requires.as_ref()).await,
            }
            .map_err(|e| format!("{at} ({fqn}) failed: {e}"))?;
            if let Some(Value::Object(result)) = result {
                if let Some(id) = id.as_ref().filter(|v| truthy(v)) {
                    outputs.insert(crate::python::python_str(id), Value::Object(result.clone()));
                }
                outputs.extend(result);
            }
        }
        Ok(StepsDone { outputs, cwd })
    }

    async fn run_shell_script(&self, cwd: &Path, kwargs: &Map<String, Value>) -> StepResult {
        check_kwargs(
            "run_shell_script",
            kwargs,
            &[
                "script",
                "directory",
                "env",
                "stream_output",
                "expand_env_vars",
                "shell",
            ],
        )?;
        let script = match kwargs.get("script") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("`script` is text, not {other}")),
            None => return Err("run_shell_script() missing 1 required argument: 'script'".into()),
        };
        let directory = dir_arg(cwd, kwargs.get("directory"))?;
        let mut env = self.env.clone();
        if let Some(extra) = kwargs.get("env").filter(|v| !v.is_null()) {
            let Value::Object(extra) = extra else {
                return Err(format!("`env` is a mapping of text, not {extra}"));
            };
            for (k, v) in extra {
                let Value::String(v) = v else {
                    return Err(format!("`env.{k}` must be text (quote it), not {v}"));
                };
                env.insert(k.clone(), v.clone());
            }
        }
        let expand = kwargs.get("expand_env_vars").is_some_and(truthy);
        let stream = kwargs.get("stream_output").is_none_or(truthy);
        let shell = kwargs.get("shell").is_some_and(truthy);
        let (mut stdout, mut stderr) = (String::new(), String::new());
        for line in script.lines() {
            let command = if expand {
                safe_substitute(line, &env)
            } else {
                line.to_owned()
            };
            let mut cmd = if shell {
                let command = command.trim();
                if command.is_empty() {
                    continue;
                }
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(command);
                c
            } else {
                let words = shlex_split(&command).ok_or_else(|| {
                    format!("cannot split {command:?} into words (an unclosed quote?)")
                })?;
                let Some((program, args)) = words.split_first() else {
                    continue;
                };
                let mut c = Command::new(program);
                c.args(args);
                c
            };
            cmd.env_clear().envs(&env).current_dir(&directory);
            let (code, out, err) = capture(cmd, stream)
                .await
                .map_err(|e| format!("running {command:?}: {e}"))?;
            stdout.push_str(&out);
            stderr.push_str(&err);
            if code != Some(0) {
                return Err(format!(
                    "`run_shell_script` failed with error code {}: {}",
                    code.map_or("(killed by a signal)".to_owned(), |c| c.to_string()),
                    stderr.trim()
                ));
            }
        }
        Ok(Some(
            json!({"stdout": stdout.trim(), "stderr": stderr.trim()}),
        ))
    }

    async fn pip_install(&self, cwd: &Path, kwargs: &Map<String, Value>) -> StepResult {
        check_kwargs(
            "pip_install_requirements",
            kwargs,
            &["directory", "requirements_file", "stream_output"],
        )?;
        let directory = dir_arg(cwd, kwargs.get("directory"))?;
        let file = match kwargs.get("requirements_file") {
            None => "requirements.txt".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("`requirements_file` is text, not {other}")),
        };
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "pip", "install", "-r", &file])
            .current_dir(&directory)
            .env_clear()
            .envs(&self.env);
        let stream = kwargs.get("stream_output").is_none_or(truthy);
        let (code, out, err) = capture(cmd, stream).await.map_err(|e| {
            format!(
                "running {} -m pip: {e} (pass --python with an interpreter that has pip)",
                self.python.display()
            )
        })?;
        if code != Some(0) {
            return Err(format!(
                "pip_install_requirements failed with error code {}: {}",
                code.unwrap_or(-1),
                err.trim()
            ));
        }
        Ok(Some(json!({"stdout": out.trim(), "stderr": err.trim()})))
    }

    async fn run_python(
        &self,
        cwd: &Path,
        fqn: &str,
        kwargs: &Map<String, Value>,
        requires: Option<&Value>,
    ) -> StepResult {
        let result_file = tempfile::NamedTempFile::new()
            .map_err(|e| format!("creating a temporary file: {e}"))?;
        let request = json!({
            "function": fqn,
            "kwargs": kwargs,
            "requires": requires,
            "result_path": result_file.path(),
        });
        let mut child = Command::new(&self.python)
            .arg("-c")
            .arg(STEP_RUNNER)
            .current_dir(cwd)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start the Python interpreter {:?} ({e}): install Python 3, or pass \
                     --python PATH with an interpreter that can import {}",
                    self.python.display().to_string(),
                    module_of(fqn)
                )
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt as _;
            stdin
                .write_all(request.to_string().as_bytes())
                .await
                .map_err(|e| format!("sending the step to Python: {e}"))?;
        }
        let status = child
            .wait()
            .await
            .map_err(|e| format!("waiting for Python: {e}"))?;
        let written = std::fs::read_to_string(result_file.path()).unwrap_or_default();
        let answer: Value = serde_json::from_str(&written).unwrap_or(Value::Null);
        if let Some(message) = answer.get("import_error").and_then(Value::as_str) {
            let module = answer
                .get("module")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| module_of(fqn));
            return Err(format!(
                "cannot import the step function with {} ({message}): install the package that \
                 provides `{module}` there (pip install {}), add `requires: {}` to the step, or \
                 pass --python PATH with an interpreter that has it",
                self.python.display(),
                package_of(&module),
                package_of(&module)
            ));
        }
        if !status.success() {
            return Err(format!(
                "the step function raised an error (its traceback is above; Python exited with {status})"
            ));
        }
        Ok(answer.get("result").cloned().filter(Value::is_object))
    }
}

type StepResult = Result<Option<Value>, String>;

fn module_of(fqn: &str) -> String {
    fqn.split(['.', ':']).next().unwrap_or(fqn).to_owned()
}

/// The PyPI package of a module, for messages (`prefect_docker` → `prefect-docker`).
fn package_of(module: &str) -> String {
    module.split('.').next().unwrap_or(module).replace('_', "-")
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn check_kwargs(function: &str, kwargs: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match kwargs.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{function}() got an unexpected keyword argument '{k}' (it takes {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

fn dir_arg(cwd: &Path, v: Option<&Value>) -> Result<PathBuf, String> {
    match v {
        None | Some(Value::Null) => Ok(cwd.to_path_buf()),
        Some(Value::String(d)) => Ok(cwd.join(d)),
        Some(other) => Err(format!("`directory` is a path, not {other}")),
    }
}

fn set_working_directory(cwd: &mut PathBuf, kwargs: &Map<String, Value>) -> StepResult {
    check_kwargs("set_working_directory", kwargs, &["directory"])?;
    let Some(Value::String(d)) = kwargs.get("directory") else {
        return Err("set_working_directory() needs `directory` (a path)".into());
    };
    let target = cwd.join(d);
    let resolved = std::fs::canonicalize(&target)
        .map_err(|e| format!("cannot change to {}: {e}", target.display()))?;
    if !resolved.is_dir() {
        return Err(format!("{} is not a directory", resolved.display()));
    }
    *cwd = resolved.clone();
    Ok(Some(json!({"directory": resolved.to_string_lossy()})))
}

/// Runs `cmd` to the end: exit code, stdout and stderr (decoded with replacement). With
/// `stream`, the output is also copied to this process's stderr as it comes, as Prefect
/// streams it (to stderr, so `--output json` stays one document on stdout).
async fn capture(mut cmd: Command, stream: bool) -> std::io::Result<(Option<i32>, String, String)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    let (o, e) = tokio::try_join!(drain(out, stream), drain(err, stream))?;
    let status = child.wait().await?;
    Ok((status.code(), o, e))
}

/// Reads `pipe` to its end, copying it to this process's stderr as it comes.
async fn drain(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    stream: bool,
) -> std::io::Result<String> {
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        if stream {
            use std::io::Write as _;
            let _ = std::io::stderr().write_all(&buf[..n]);
        }
    }
    Ok(String::from_utf8_lossy(&all).into_owned())
}

/// Python's `string.Template(text).safe_substitute(env)`: `$NAME`, `${NAME}` and `$$`.
fn safe_substitute(text: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let end = chars[i + 2..].iter().position(|c| *c == '}');
                let name: Option<String> = end.map(|e| chars[i + 2..i + 2 + e].iter().collect());
                match name {
                    Some(n)
                        if n.chars().next().is_some_and(ident_start) && n.chars().all(ident) =>
                    {
                        match env.get(&n) {
                            Some(v) => out.push_str(v),
                            None => out.push_str(&format!("${{{n}}}")),
                        }
                        i += 3 + n.chars().count();
                    }
                    _ => {
                        out.push('$');
                        i += 1;
                    }
                }
            }
            Some(c) if ident_start(*c) => {
                let n: String = chars[i + 1..].iter().take_while(|c| ident(**c)).collect();
                match env.get(&n) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('$');
                        out.push_str(&n);
                    }
                }
                i += 1 + n.chars().count();
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

/// Python's `shlex.split` (POSIX mode, with comments off): words, quotes removed; `None` for
/// an unclosed quote.
fn shlex_split(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n) if matches!(n, '\\' | '"' | '$' | '`' | '\n') => {
                                word.push(n);
                                chars.next();
                            }
                            _ => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(n) => word.push(n),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_split_as_shlex_does() {
        assert_eq!(
            shlex_split(r#"echo "a b" 'c d' e\ f"#).unwrap(),
            ["echo", "a b", "c d", "e f"]
        );
        assert_eq!(shlex_split("  ").unwrap(), Vec::<String>::new());
        assert!(shlex_split("echo 'open").is_none());
        assert_eq!(shlex_split(r#"a"b"c ''"#).unwrap(), ["abc", ""]);
    }

    #[test]
    fn env_expansion_is_safe_substitute() {
        let env: HashMap<String, String> = [("USER".to_owned(), "ada".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(
            safe_substitute("$USER ${USER} $$ $NOPE ${NOPE} $1 ${", &env),
            "ada ada $ $NOPE ${NOPE} $1 ${"
        );
    }
}
