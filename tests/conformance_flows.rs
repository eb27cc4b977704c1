//! Corpus 1 (`tests/fixtures/conformance/flows.jsonl`): every entrypoint loads to what
//! Prefect 3.9.1's `RunnerDeployment.from_entrypoint` recorded, by the README's rules:
//! JSON equality ignoring key order except inside `properties` (parameter order) and in
//! `required` (a list); errors map to Prefect's exception class with the same message.
//! The static-loader keys (`parameter_schema_static`, `flow_arguments_static`) are not
//! compared: prefab implements the import-based loader only.
//!
//! Each case is read with exactly the environment variables its `env` field lists (none
//! when it has none), as the recorder ran Prefect, whatever this process's environment.

use std::path::{Path, PathBuf};

use prefab_flows::{Environment, LoadOptions, load_flow_from_entrypoint_with, md5_hex};
use serde_json::Value;

/// Cases whose expected output only executing Python reveals. Each entry must really
/// differ (the test fails when a listed case starts to match, so the list stays honest).
const PYTHON_ONLY: &[(&str, &str)] = &[
    (
        "degrade-lambda-aliases",
        "alias_generator is a lambda: the field keeps its name (noted)",
    ),
    (
        "degrade-callable-extra",
        "json_schema_extra is a function: its changes are left out (noted)",
    ),
    (
        "degrade-title-generator",
        "model_title_generator is a function of the class: the class name is the title (noted)",
    ),
    (
        "degrade-encoders",
        "json_encoders functions are not run: the model's defaults are null (noted)",
    ),
    (
        "degrade-computed-config",
        "model_config comes from a function with a loop: not applied (noted)",
    ),
];

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
}

fn cases(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is JSON"))
        .collect()
}

/// Key order of every `properties` object, recursively (the one place order matters).
fn property_orders(v: &Value, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{path}/{k}");
                if k == "properties"
                    && let Value::Object(props) = child
                {
                    out.push((p.clone(), props.keys().cloned().collect()));
                }
                property_orders(child, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                property_orders(item, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Compares one case; returns the differences.
pub fn check_case(case: &Value, root: &Path) -> Vec<String> {
    let ep = case["entrypoint"].as_str().expect("entrypoint");
    let mut diffs = Vec::new();
    let vars: Vec<(String, String)> = case
        .get("env")
        .and_then(Value::as_object)
        .map(|env| {
            env.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().expect("env values are strings").into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let options = LoadOptions::default().with_environment(Environment::from_vars(vars));
    let result = load_flow_from_entrypoint_with(ep, root, &options);
    if let Some(class) = case.get("error").and_then(Value::as_str) {
        match result {
            Ok(_) => diffs.push(format!("expected {class}, loaded a flow")),
            Err(e) => {
                if e.python_class() != class {
                    diffs.push(format!("error class {} != {class} ({e})", e.python_class()));
                }
                let msg = case["error_message"].as_str().unwrap_or_default();
                if e.python_message() != msg {
                    diffs.push(format!("error message {:?} != {msg:?}", e.python_message()));
                }
            }
        }
        return diffs;
    }
    let exp = &case["expected"];
    let loaded = match result {
        Ok(l) => l,
        Err(e) => return vec![format!("load failed: {e} ({})", e.python_class())],
    };
    let flow = &loaded.flow;
    if exp["flow_name"] != Value::String(flow.name.clone()) {
        diffs.push(format!("flow_name {:?} != {}", flow.name, exp["flow_name"]));
    }
    let desc = flow.description.clone().map_or(Value::Null, Value::String);
    if exp["description"] != desc {
        diffs.push(format!("description {desc} != {}", exp["description"]));
    }
    let version = flow.version.clone();
    match (&exp["version"], exp.get("version_default")) {
        (Value::String(v), _) => {
            if version.as_deref() != Some(v) {
                diffs.push(format!("version {version:?} != {v:?}"));
            }
        }
        (Value::Null, Some(d)) => {
            let want = d["value"].as_str().unwrap_or_default();
            if version.as_deref() != Some(want) {
                diffs.push(format!("version {version:?} != default {want:?}"));
            }
            let file = root.join(d["file"].as_str().unwrap_or_default());
            let md5 = md5_hex(&std::fs::read(&file).expect("version_default file"));
            if md5 != want {
                diffs.push(format!("corpus md5 of {} is stale", file.display()));
            }
        }
        (Value::Null, None) => {
            // Prefect had no version (the module fails when imported): null and the file's
            // MD5 are both accepted.
            if let Some(v) = &version {
                let file = root.join(flow.source_file.as_ref().expect("source file"));
                let md5 = md5_hex(&std::fs::read(&file).expect("flow file"));
                if *v != md5 {
                    diffs.push(format!("version {v:?} is neither null nor the file's MD5"));
                }
            }
        }
        (other, _) => diffs.push(format!("unexpected corpus version {other}")),
    }
    if exp["is_async"] != Value::Bool(flow.is_async) {
        diffs.push(format!("is_async {} != {}", flow.is_async, exp["is_async"]));
    }
    let got = flow.parameter_schema.to_json();
    let want = &exp["parameter_openapi_schema"];
    if &got != want {
        diffs.push(format!(
            "parameter_openapi_schema differs:\n  got  {}\n  want {}",
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(want).unwrap()
        ));
    } else {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        property_orders(&got, "", &mut a);
        property_orders(want, "", &mut b);
        if a != b {
            diffs.push(format!("properties order differs: {a:?} != {b:?}"));
        }
    }
    diffs
}

fn run_corpus(file: &Path, root: &Path) {
    let mut failures = Vec::new();
    let all = cases(file);
    assert!(!all.is_empty(), "empty corpus {}", file.display());
    for case in &all {
        let id = case["id"].as_str().unwrap_or("?");
        let diffs = check_case(case, root);
        let listed = PYTHON_ONLY.iter().find(|(i, _)| *i == id);
        match (diffs.is_empty(), listed) {
            (true, None) => {}
            (false, Some(_)) => {}
            (true, Some((_, why))) => {
                failures.push(format!("{id}: listed as Python-only ({why}) but matches"))
            }
            (false, None) => failures.push(format!(
                "{id} ({}):\n  {}",
                case["entrypoint"],
                diffs.join("\n  ")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn flows_corpus_matches_prefect() {
    let root = corpus_root();
    run_corpus(&root.join("flows.jsonl"), &root);
}

/// A larger sample made by `xtask/python/gen_flow_cases.py` (random flow files over the
/// types, defaults, decorators and docstrings the corpus uses, with Prefect 3.9.1's answers).
#[test]
fn differential_sample_matches_prefect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flows-differential");
    run_corpus(&root.join("flows.jsonl"), &root);
}

/// Hand-written edge cases (`tests/fixtures/flows-edge/cases.txt`, recorded with
/// `gen_flow_cases.py --record`): methods, assigned flows, module and package entrypoints,
/// `from __future__ import annotations`, string annotations, imports from sibling modules,
/// flows that fail when created, docstring corner cases, syntax errors.
#[test]
fn edge_cases_match_prefect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flows-edge");
    run_corpus(&root.join("flows.jsonl"), &root);
}

/// Pydantic model configuration (issue 14, `tests/fixtures/flows-pydantic/cases.txt`,
/// recorded with `gen_flow_cases.py --record`): `extra`, `title`, `json_schema_extra`,
/// aliases and alias generators, string limits, bytes and temporal serializer settings,
/// attribute docstrings, serialization mode, given as `ConfigDict`, a plain dict, class
/// keywords or `class Config`, inherited and merged from several bases; options that leave
/// the schema alone; and what only Python can evaluate (listed in `PYTHON_ONLY`).
#[test]
fn pydantic_config_cases_match_prefect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flows-pydantic");
    run_corpus(&root.join("flows.jsonl"), &root);
}

/// Defaults read from the environment and constants imported from the project's own
/// modules (`tests/fixtures/flows-env/cases.txt`, recorded with `gen_flow_cases.py --record`
/// with each case's variables set and unset): `os.environ`/`os.getenv` and what is applied to
/// them, the module's own changes to `os.environ`, `try`/`except`, a missing variable
/// (`KeyError`, and Prefect's fallback loader after it), settings packages, relative and
/// sibling imports, an import cycle, a `flow` chosen by an environment variable.
#[test]
fn environment_cases_match_prefect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flows-env");
    run_corpus(&root.join("flows.jsonl"), &root);
}
