//! `prefab storage describe`: Prefect's classification, destination and pull step of a source,
//! one at a time or in bulk (`--jsonl`, the batch contract of the conformance corpus).

use std::io::{BufRead, BufWriter, Write};

use prefab_storage::describe::{Description, StorageDefinition};
use serde_json::{Map, Value, json};

use super::{CliCredentials, DescribeArgs, Output, build_storage};
use crate::Failure;

pub(crate) fn run(args: &DescribeArgs) -> Result<(), Failure> {
    if let Some(path) = &args.jsonl {
        return run_jsonl(path);
    }
    let source = args
        .source
        .as_deref()
        .expect("clap requires SOURCE or --jsonl");
    let base = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let storage = build_storage(source, &args.source_args, &CliCredentials::default(), &base)?;
    // Warnings reach stderr through the log (tracing) as the storage is built and described.
    let description = Description::of(&storage, &base);
    match args.output {
        Output::Json => {
            let mut out =
                serde_json::to_value(&description).map_err(|e| Failure::Run(e.to_string()))?;
            if let Some(map) = out.as_object_mut() {
                map.remove("warnings");
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| Failure::Run(e.to_string()))?
            );
        }
        Output::Text => {
            println!("classification  {}", description.classification.as_str());
            println!(
                "destination     ./{}",
                description.destination.trim_start_matches("./")
            );
            if let Some(name) = &description.name {
                println!("name            {name}");
            }
            println!(
                "pull interval   {}",
                description
                    .pull_interval
                    .map_or("once".to_owned(), |s| format!("{s} s"))
            );
            match &description.pull_step {
                Some(step) => println!(
                    "pull step\n{}",
                    serde_json::to_string_pretty(step).map_err(|e| Failure::Run(e.to_string()))?
                ),
                None => println!(
                    "pull step       none: {}",
                    description.error.as_deref().unwrap_or("")
                ),
            }
        }
    }
    if let Some(error) = description.error {
        return Err(Failure::Input(error));
    }
    Ok(())
}

fn run_jsonl(path: &str) -> Result<(), Failure> {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| Failure::Input(format!("--jsonl {path}: cannot open: {e}")))?;
        Box::new(std::io::BufReader::new(file))
    };
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line =
            line.map_err(|e| Failure::Input(format!("--jsonl {path}: line {number}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let case: Map<String, Value> = match serde_json::from_str(&line) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(Failure::Input(format!("line {number}: not a JSON object"))),
            Err(e) => return Err(Failure::Input(format!("line {number}: not JSON: {e}"))),
        };
        let Some(id) = case.get("id").cloned() else {
            return Err(Failure::Input(format!(
                "line {number}: the object has no \"id\""
            )));
        };
        let Some(input) = case.get("input").cloned() else {
            return Err(Failure::Input(format!(
                "line {number}: the object has no \"input\""
            )));
        };
        let answer = match StorageDefinition(input).build(&cwd, &cwd) {
            Err(e) => json!({"id": id, "error": e.to_string(), "error_class": e.python_class()}),
            Ok(storage) => {
                let d = Description::of(&storage, &cwd);
                let mut answer = json!({
                    "id": id,
                    "classification": d.classification,
                    "pull_interval": d.pull_interval,
                    "destination": d.destination,
                });
                let map = answer.as_object_mut().expect("an object");
                if let Some(name) = d.name {
                    map.insert("name".into(), json!(name));
                }
                if let Some(remote_path) = d.remote_path {
                    map.insert("remote_path".into(), json!(remote_path));
                }
                match d.pull_step {
                    Some(step) => {
                        map.insert("pull_step".into(), step);
                    }
                    None => {
                        map.insert("error".into(), json!(d.error));
                        map.insert("error_class".into(), json!(d.error_class));
                    }
                }
                if !d.warnings.is_empty() {
                    map.insert("warnings".into(), json!(d.warnings));
                }
                answer
            }
        };
        serde_json::to_writer(&mut out, &answer).map_err(|e| Failure::Run(e.to_string()))?;
        out.write_all(b"\n")
            .map_err(|e| Failure::Run(format!("writing output: {e}")))?;
    }
    out.flush()
        .map_err(|e| Failure::Run(format!("writing output: {e}")))
}
