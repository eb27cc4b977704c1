//! `prefab inspect ENTRYPOINT`: what Prefect 3.9.1 records about a flow (name, description,
//! version, parameter schema, async), read statically.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use prefab_flows::{LoadedFlow, VersionSource, load_flow_from_entrypoint};
use serde_json::{Map, Value, json};

use crate::Failure;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// A summary for people.
    Text,
    /// `{"flow_name", "description", "version", "parameter_openapi_schema", "is_async"}`.
    Json,
}

/// Arguments of `prefab inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The flow: `path/to/file.py:function`, `path/to/file.py:Class.method`,
    /// `package.module.function` or `package.module:function`.
    pub entrypoint: String,
    /// The directory file entrypoints are relative to and modules are imported from
    /// (Prefect's working directory; default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// Runs `prefab inspect`.
pub(crate) fn run(args: InspectArgs) -> Result<(), Failure> {
    let root = match args.root {
        Some(r) => r,
        None => std::env::current_dir()
            .map_err(|e| Failure::Input(format!("current directory: {e}")))?,
    };
    let loaded = load_flow_from_entrypoint(&args.entrypoint, &root).map_err(|e| {
        Failure::Input(format!(
            "cannot load flow {:?}: {e} (Prefect: {}: {})",
            args.entrypoint,
            e.python_class(),
            e.python_message()
        ))
    })?;
    for note in &loaded.notes {
        tracing::warn!("{}: {note}", args.entrypoint);
    }
    match args.output {
        Output::Json => println!("{}", to_json(&loaded)),
        Output::Text => print!("{}", to_text(&loaded)),
    }
    Ok(())
}

/// The JSON contract of `prefab inspect --output json`.
pub(crate) fn to_json(loaded: &LoadedFlow) -> Value {
    let flow = &loaded.flow;
    json!({
        "flow_name": flow.name,
        "description": flow.description,
        "version": flow.version,
        "parameter_openapi_schema": flow.parameter_schema.to_json(),
        "is_async": flow.is_async,
    })
}

fn to_text(loaded: &LoadedFlow) -> String {
    let flow = &loaded.flow;
    let mut out = String::new();
    out.push_str(&format!("Flow:        {}\n", flow.name));
    if let Some(ep) = &flow.entrypoint {
        out.push_str(&format!("Entrypoint:  {ep}\n"));
    }
    match &flow.description {
        Some(d) => {
            let mut lines = d.lines();
            out.push_str(&format!(
                "Description: {}\n",
                lines.next().unwrap_or_default()
            ));
            for l in lines {
                out.push_str(&format!("             {l}\n"));
            }
        }
        None => out.push_str("Description: (none)\n"),
    }
    let file = flow
        .source_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let version = match (&flow.version, loaded.version_source) {
        (Some(v), VersionSource::Explicit) => format!("{v} (from @flow)"),
        (Some(v), VersionSource::FileMd5) => format!("{v} (default: MD5 of {file})"),
        (None, _) => "(none: the module fails when Prefect imports it)".to_string(),
        (Some(v), _) => v.clone(),
    };
    out.push_str(&format!("Version:     {version}\n"));
    out.push_str(&format!(
        "Async:       {}\n",
        if flow.is_async { "yes" } else { "no" }
    ));
    let schema = &flow.parameter_schema;
    let required = schema.required.clone().unwrap_or_default();
    if schema.properties.is_empty() {
        out.push_str("Parameters:  (none)\n");
    } else {
        out.push_str("Parameters:\n");
        let rows: Vec<[String; 5]> = schema
            .properties
            .iter()
            .map(|(name, prop)| {
                let default = prop
                    .get("default")
                    .map(|d| serde_json::to_string(d).unwrap_or_default())
                    .unwrap_or_else(|| "-".into());
                [
                    name.clone(),
                    type_summary(prop),
                    default,
                    if required.contains(name) {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    prop.get("description")
                        .and_then(Value::as_str)
                        .map(|d| d.replace('\n', " "))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        let headers = ["NAME", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION"];
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let fmt_row = |cells: &[String]| {
            let mut line = String::from("  ");
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  "));
                }
            }
            line.trim_end().to_string() + "\n"
        };
        out.push_str(&fmt_row(&headers.map(String::from)));
        for row in &rows {
            out.push_str(&fmt_row(row));
        }
    }
    if let Some(defs) = &schema.definitions {
        let names: Vec<&str> = defs.keys().map(String::as_str).collect();
        out.push_str(&format!("Definitions: {}\n", names.join(", ")));
    }
    for note in &loaded.notes {
        out.push_str(&format!("Note:        {note}\n"));
    }
    out
}

/// A short type name for a property schema (`integer`, `array of string`, `Customer`, …).
fn type_summary(schema: &Value) -> String {
    let Some(m) = schema.as_object() else {
        return "any".into();
    };
    summarize(m)
}

fn summarize(m: &Map<String, Value>) -> String {
    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(Value::Array(any)) = m.get("anyOf") {
        return any
            .iter()
            .map(|s| s.as_object().map_or("any".into(), summarize))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    if let Some(c) = m.get("const") {
        return format!("literal {c}");
    }
    if let Some(Value::Array(values)) = m.get("enum") {
        let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        return format!("one of {}", shown.join(", "));
    }
    match m.get("type").and_then(Value::as_str) {
        Some("array") => {
            if let Some(Value::Array(prefix)) = m.get("prefixItems") {
                let items: Vec<String> = prefix
                    .iter()
                    .map(|s| s.as_object().map_or("any".into(), summarize))
                    .collect();
                return format!("tuple[{}]", items.join(", "));
            }
            match m.get("items").and_then(Value::as_object) {
                Some(items) if !items.is_empty() => format!("array of {}", summarize(items)),
                _ => "array".into(),
            }
        }
        Some("object") => match m.get("additionalProperties").and_then(Value::as_object) {
            Some(v) if !v.is_empty() => format!("object of {}", summarize(v)),
            _ => "object".into(),
        },
        Some(t) => match m.get("format").and_then(Value::as_str) {
            Some(f) => format!("{t} ({f})"),
            None => t.to_string(),
        },
        None => "any".into(),
    }
}
