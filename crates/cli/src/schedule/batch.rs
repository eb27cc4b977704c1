//! `prefab schedule dates --jsonl`: the batch contract of the conformance corpus.
//!
//! Each input line is a JSON object with `id` and `schedule` (and optional `start`, `end`, `n`,
//! which mean what they mean to Prefect's `get_dates`). Each output line is
//! `{"id", "dates": [...]}` or `{"id", "error": "..."}`; a schedule that Prefect would refuse,
//! or that fails while computing dates, is an `error` line, never a failed run.

use std::io::{BufRead, BufWriter, Write};

use prefab_schemas::schedules::{Schedule, ScheduledTime, parse_timestamp};
use serde_json::{Map, Value, json};

use super::DatesArgs;
use crate::Failure;

pub(crate) fn run(args: &DatesArgs) -> Result<(), Failure> {
    let reader: Box<dyn BufRead> = if args.jsonl == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.jsonl)
            .map_err(|e| Failure::Input(format!("--jsonl {}: cannot open: {e}", args.jsonl)))?;
        Box::new(std::io::BufReader::new(file))
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line
            .map_err(|e| Failure::Input(format!("--jsonl {}: line {number}: {e}", args.jsonl)))?;
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
        let answer = match answer(&case) {
            Ok(dates) => json!({"id": id, "dates": dates}),
            Err(error) => json!({"id": id, "error": error}),
        };
        serde_json::to_writer(&mut out, &answer).map_err(|e| Failure::Run(e.to_string()))?;
        out.write_all(b"\n")
            .map_err(|e| Failure::Run(format!("writing output: {e}")))?;
    }
    out.flush()
        .map_err(|e| Failure::Run(format!("writing output: {e}")))
}

fn answer(case: &Map<String, Value>) -> Result<Vec<String>, String> {
    let body = case.get("schedule").ok_or("the case has no \"schedule\"")?;
    let schedule = Schedule::from_json(body).map_err(|e| e.to_string())?;
    let time = |key: &str| -> Result<Option<jiff::Timestamp>, String> {
        match case.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_timestamp(s)
                .map(Some)
                .map_err(|e| format!("{key}: {e}")),
            Some(other) => Err(format!("{key}: expected an RFC 3339 string, got {other}")),
        }
    };
    let n = match case.get("n") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("n: expected a non-negative integer, got {v}"))?,
        ),
    };
    let dates = schedule
        .dates(n, time("start")?, time("end")?)
        .map_err(|e| e.to_string())?;
    Ok(dates.iter().map(ScheduledTime::to_string).collect())
}
