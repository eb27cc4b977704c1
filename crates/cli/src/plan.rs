//! `prefab plan`: what `prefab deploy` would do, without writing — per deployment `create`,
//! `update` (with the field-level diff) or `unchanged`; with `--prune`, the deployments of the
//! same flows that `deploy --prune` would delete. Same inputs as `deploy`.

use prefab_core::deployment::{
    BulkOptions, PlanAction, plan_all, plan_work_pools, prune_candidates,
};
use serde_json::{Value, json};

use crate::Failure;
use crate::deploy::report::{NextRuns, Output, next_runs, print_next_runs, table};
use crate::deploy::{DeployArgs, cell, load_inputs, pools_json, print_pools, progress};

/// One row of the plan, in input order.
struct Row {
    index: usize,
    deployment: String,
    name: Option<String>,
    flow: Option<String>,
    action: &'static str,
    id: Option<uuid::Uuid>,
    changes: Vec<(String, Value, Value)>,
    error: Option<String>,
    next: Option<NextRuns>,
}

/// Runs `prefab plan` (the arguments are `deploy`'s).
pub(crate) fn run(args: DeployArgs) -> Result<(), Failure> {
    let (inputs, session) = load_inputs(&args, false)?;
    let items: Vec<_> = inputs
        .built
        .iter()
        .map(|b| (b.deployment.clone(), b.options.clone()))
        .collect();
    let bar = progress(items.len(), args.output, "planning");
    let bulk = BulkOptions::default().concurrency_mode(args.concurrency);
    let (pools, results, prune) = session.runtime.block_on(async {
        let pools = plan_work_pools(&session.client, &inputs.work_pools).await;
        let results = plan_all(&session.client, &items, &bulk).await;
        bar.finish_and_clear();
        let prune = if args.prune {
            let built: Vec<_> = items.iter().map(|(d, _)| d.clone()).collect();
            Some(prune_candidates(&session.client, &built).await)
        } else {
            None
        };
        (pools, results, prune)
    });
    let pools = pools.map_err(|e| Failure::Run(e.to_string()))?;
    let mut rows = Vec::new();
    for (b, result) in inputs.built.iter().zip(results) {
        let d = &b.deployment;
        let mut row = Row {
            index: b.index,
            deployment: d.full_name(),
            name: Some(d.name.clone()),
            flow: d.flow_name.clone(),
            action: "error",
            id: None,
            changes: Vec::new(),
            error: None,
            next: Some(next_runs(d, &b.options)),
        };
        match result {
            Ok(p) => {
                row.id = p.id;
                row.action = match p.action {
                    PlanAction::Create => "create",
                    PlanAction::Unchanged => "unchanged",
                    PlanAction::Update { changes } => {
                        row.changes = changes
                            .into_iter()
                            .map(|c| (c.field, c.server, c.local))
                            .collect();
                        "update"
                    }
                    _ => "unknown",
                };
            }
            Err(e) => {
                // A local check `apply` would fail on is bad input, like an invalid file.
                if e.source.is_none() {
                    row.action = "invalid";
                }
                row.error = Some(e.to_string());
                row.next = None;
            }
        }
        rows.push(row);
    }
    for i in &inputs.invalid {
        rows.push(Row {
            index: i.index,
            deployment: i.label.clone(),
            name: i.name.clone(),
            flow: None,
            // A definition whose code could not be pulled is not invalid: it could not be
            // planned.
            action: if i.blames_input { "invalid" } else { "error" },
            id: None,
            changes: Vec::new(),
            error: Some(i.error.clone()),
            next: None,
        });
    }
    rows.sort_by_key(|r| r.index);
    let count = |a: &str| rows.iter().filter(|r| r.action == a).count();
    let (prune_list, prune_error) = match prune {
        None => (None, None),
        Some(Ok(list)) => (Some(list), None),
        Some(Err(e)) => (
            None,
            Some(format!("listing the flows' deployments for --prune: {e}")),
        ),
    };
    match args.output {
        Output::Json => {
            let doc = json!({
                "command": "plan",
                "server": session.local_url,
                "deployments": rows.iter().map(|r| json!({
                    "name": r.name,
                    "flow": r.flow,
                    "action": r.action,
                    "id": r.id,
                    "changes": r.changes.iter().map(|(f, s, l)| json!({"field": f, "server": s, "local": l})).collect::<Vec<_>>(),
                    "error": r.error,
                    "next_runs": r.next.as_ref().map(NextRuns::to_json).unwrap_or(json!([])),
                })).collect::<Vec<_>>(),
                "prune": prune_list.as_ref().map(|list| list.iter().map(|c| json!({
                    "flow": c.flow_name, "name": c.name, "id": c.id, "action": "delete",
                })).collect::<Vec<_>>()),
                "work_pools": pools_json(&pools),
                "summary": {
                    "create": count("create"),
                    "update": count("update"),
                    "unchanged": count("unchanged"),
                    "delete": prune_list.as_ref().map_or(0, Vec::len),
                    "invalid": count("invalid"),
                    "error": count("error"),
                },
            });
            println!("{doc:#}");
        }
        Output::Text => {
            print_pools(&pools);
            let mut lines: Vec<Vec<String>> = Vec::new();
            for r in &rows {
                let detail = match (r.action, &r.error) {
                    (_, Some(e)) => e.clone(),
                    ("update", _) => format!("{} field(s) differ", r.changes.len()),
                    (_, None) => r.id.map(|i| i.to_string()).unwrap_or_default(),
                };
                lines.push(vec![r.deployment.clone(), r.action.to_owned(), detail]);
                for (field, server, local) in &r.changes {
                    for (path, s, l) in diff_paths(field, server, local) {
                        lines.push(vec![
                            String::new(),
                            String::new(),
                            format!("{path}: {} → {}", cell(&s), cell(&l)),
                        ]);
                    }
                }
            }
            for c in prune_list.iter().flatten() {
                lines.push(vec![
                    c.full_name(),
                    "delete".into(),
                    format!("{} (--prune: not in the definitions)", c.id),
                ]);
            }
            print!("{}", table(&["DEPLOYMENT", "ACTION", "DETAIL"], &lines));
            print_next_runs(
                rows.iter()
                    .map(|r| (r.deployment.as_str(), r.next.as_ref())),
            );
            println!(
                "{} to create, {} to update, {} unchanged{}{}{}",
                count("create"),
                count("update"),
                count("unchanged"),
                prune_list
                    .as_ref()
                    .map(|l| format!(", {} to delete", l.len()))
                    .unwrap_or_default(),
                match count("invalid") {
                    0 => String::new(),
                    n => format!(", {n} invalid"),
                },
                match count("error") {
                    0 => String::new(),
                    n => format!(", {n} could not be planned"),
                },
            );
        }
    }
    let invalid = count("invalid");
    if invalid > 0 {
        return Err(Failure::Input(format!(
            "{invalid} of {} definitions are invalid (listed above)",
            rows.len()
        )));
    }
    let errors = count("error");
    if errors > 0 {
        return Err(Failure::Run(format!(
            "{errors} of {} deployments could not be planned (listed above)",
            rows.len()
        )));
    }
    if let Some(e) = prune_error {
        return Err(Failure::Run(e));
    }
    Ok(())
}

/// The differing leaves of `server` and `local` under `path` (`triggers[0].trigger.expect`),
/// descending into objects and same-length lists; numbers compare by value.
fn diff_paths(path: &str, server: &Value, local: &Value) -> Vec<(String, Value, Value)> {
    match (server, local) {
        (Value::Object(s), Value::Object(l)) => {
            let mut keys: Vec<&String> = s.keys().collect();
            keys.extend(l.keys().filter(|k| !s.contains_key(*k)));
            keys.into_iter()
                .flat_map(|k| {
                    diff_paths(
                        &format!("{path}.{k}"),
                        s.get(k).unwrap_or(&Value::Null),
                        l.get(k).unwrap_or(&Value::Null),
                    )
                })
                .collect()
        }
        (Value::Array(s), Value::Array(l)) if s.len() == l.len() => s
            .iter()
            .zip(l)
            .enumerate()
            .flat_map(|(i, (s, l))| diff_paths(&format!("{path}[{i}]"), s, l))
            .collect(),
        (Value::Number(s), Value::Number(l)) if s.as_f64() == l.as_f64() => Vec::new(),
        _ if server == local => Vec::new(),
        _ => vec![(path.to_owned(), server.clone(), local.clone())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_name_the_leaf() {
        let d = diff_paths(
            "triggers",
            &json!([{"expect": ["a"], "within": 0.0}]),
            &json!([{"expect": ["b"], "within": 0}]),
        );
        assert_eq!(
            d,
            vec![("triggers[0].expect[0]".into(), json!("a"), json!("b"))]
        );
    }
}
