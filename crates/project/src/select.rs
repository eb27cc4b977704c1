//! Which deployments a command line selects (spec §2; Prefect's `_pick_deploy_configs`,
//! `_parse_name_from_pattern`, `_filter_matching_deploy_config`).

use serde_json::{Map, Value};

use crate::error::ProjectError;

/// `--all`, or `--name` patterns (repeatable), as `prefect --no-prompt deploy` takes them.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--all`.
    pub all: bool,
    /// `--name` values: `dep`, `flow/dep`, with `*` wildcards.
    pub names: Vec<String>,
}

/// One selected deployment.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Its index in the file's `deployments` (`None` for the empty configuration Prefect
    /// falls back to when the file has no deployments).
    pub index: Option<usize>,
    /// The name the command line gives it (one deployment and one `--name`: the name
    /// overrides the file's, as in Prefect).
    pub name_override: Option<String>,
}

/// What [`select`] decided.
#[derive(Debug, Clone, Default)]
pub struct Picked {
    /// The deployments, each once, in file order.
    pub deployments: Vec<Selected>,
    /// Prefect's multi-deploy mode (unnamed deployments are skipped).
    pub multi: bool,
    /// Messages for the user (names that matched nothing, unnamed deployments skipped).
    pub notes: Vec<String>,
}

fn name_of(d: &Map<String, Value>) -> Option<&str> {
    d.get("name").and_then(Value::as_str)
}

fn function_of(d: &Map<String, Value>) -> &str {
    d.get("entrypoint")
        .and_then(Value::as_str)
        .map(|e| e.rsplit(':').next().unwrap_or(e))
        .unwrap_or("")
}

/// Prefect's `*`-only glob, matched against the whole text.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// `_parse_name_from_pattern`: the deployment names a `*` pattern matches (the flow part,
/// if any, against the entrypoint's function with `_` → `-`).
fn names_from_pattern(configs: &[Map<String, Value>], pattern: &str) -> Vec<String> {
    let (flow, dep) = match pattern.split_once('/') {
        Some((f, d)) => (Some(f), d),
        None => (None, pattern),
    };
    configs
        .iter()
        .filter(|d| {
            d.get("entrypoint")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.is_empty())
        })
        .filter_map(|d| {
            let function = function_of(d).replace('_', "-");
            let name = name_of(d)?;
            (flow.is_none_or(|f| glob_match(f, &function)) && glob_match(dep, name))
                .then(|| name.to_owned())
        })
        .collect()
}

/// `_filter_matching_deploy_config`: `flow/dep` compares `flow` (`-` → `_`) with the
/// entrypoint's function; `dep` alone matches every deployment of that name.
fn matching(configs: &[Map<String, Value>], name: &str) -> Vec<usize> {
    let (flow, dep) = match name.split_once('/') {
        Some((f, d)) => (Some(f.replace('-', "_")), d),
        None => (None, name),
    };
    configs
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            name_of(d) == Some(dep) && flow.as_deref().is_none_or(|f| function_of(d) == f)
        })
        .map(|(i, _)| i)
        .collect()
}

/// The deployments `selection` picks from `configs`, as `prefect --no-prompt deploy` picks
/// them. A pattern that selects a deployment twice deploys it once (Prefect deploys it again).
pub fn select(
    configs: &[Map<String, Value>],
    selection: &Selection,
) -> Result<Picked, ProjectError> {
    if selection.all && !selection.names.is_empty() {
        return Err(ProjectError::Selection(
            "Cannot use both `--all` and `--name` at the same time. Use only one.".into(),
        ));
    }
    let mut names = Vec::new();
    for n in &selection.names {
        if n.contains('*') {
            names.extend(names_from_pattern(configs, n));
        } else {
            names.push(n.clone());
        }
    }
    let mut out = Picked::default();
    let single = |index: Option<usize>, names: &[String]| Selected {
        index,
        name_override: match names {
            [one] => Some(one.rsplit('/').next().unwrap_or(one).to_owned()),
            _ => None,
        },
    };
    if configs.is_empty() {
        // Prefect deploys an empty configuration and fails for want of an entrypoint.
        out.deployments.push(single(None, &names));
        return Ok(out);
    }
    if configs.len() == 1 && names.len() <= 1 {
        out.deployments.push(single(Some(0), &names));
        return Ok(out);
    }
    if names.is_empty() && !selection.all {
        return Err(ProjectError::Selection(
            "the file has several deployments and no name was given: pass --all, or --name \
             NAME (repeatable; `flow/name` and `*` patterns work) for the ones to deploy"
                .into(),
        ));
    }
    let indices: Vec<usize> = if names.is_empty() {
        (0..configs.len()).collect()
    } else {
        let mut picked = Vec::new();
        let mut missing = Vec::new();
        for n in &names {
            let found = matching(configs, n);
            if found.is_empty() {
                missing.push(n.rsplit('/').next().unwrap_or(n).to_owned());
            }
            picked.extend(found);
        }
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            out.notes.push(format!(
                "The following deployment(s) could not be found and will not be deployed: {}",
                missing.join(", ")
            ));
        }
        picked.sort_unstable();
        picked.dedup();
        picked
    };
    if indices.len() == 1 {
        // Prefect's single-deploy path: the one `--name` (if one) names it.
        out.deployments.push(single(Some(indices[0]), &names));
        return Ok(out);
    }
    out.multi = true;
    for i in indices {
        if configs[i].get("name").is_none_or(Value::is_null) {
            out.notes.push(format!(
                "deployments[{i}] has no name: skipped (as Prefect skips it)"
            ));
            continue;
        }
        out.deployments.push(Selected {
            index: Some(i),
            name_override: None,
        });
    }
    if out.deployments.is_empty() && !names.is_empty() {
        return Err(ProjectError::Selection(format!(
            "no deployment in the file matches {}",
            selection.names.join(", ")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn configs() -> Vec<Map<String, Value>> {
        [
            json!({"name": "prod", "entrypoint": "flows.py:hello_world"}),
            json!({"name": "dev", "entrypoint": "flows.py:hello_world"}),
            json!({"name": "prod", "entrypoint": "other.py:report_daily"}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect()
    }

    fn picked(s: &Picked) -> Vec<Option<usize>> {
        s.deployments.iter().map(|d| d.index).collect()
    }

    #[test]
    fn names_select_as_prefect_does() {
        let c = configs();
        let by = |names: &[&str]| {
            select(
                &c,
                &Selection {
                    all: false,
                    names: names.iter().map(|s| s.to_string()).collect(),
                },
            )
            .unwrap()
        };
        assert_eq!(picked(&by(&["prod"])), [Some(0), Some(2)]);
        assert_eq!(picked(&by(&["hello-world/prod"])), [Some(0)]);
        // A single match takes the name given (the flow part dropped).
        assert_eq!(
            by(&["hello-world/prod"]).deployments[0]
                .name_override
                .as_deref(),
            Some("prod")
        );
        assert_eq!(picked(&by(&["report-*/prod"])), [Some(0), Some(2)]);
        assert_eq!(picked(&by(&["*/dev", "prod"])), [Some(0), Some(1), Some(2)]);
        assert!(by(&["nope", "dev"]).notes[0].contains("nope"));
        assert!(select(&c, &Selection::default()).is_err());
        assert!(
            select(
                &c,
                &Selection {
                    all: true,
                    names: vec!["x".into()]
                }
            )
            .is_err()
        );
    }

    #[test]
    fn one_deployment_takes_the_name_given() {
        let c = vec![configs().remove(0)];
        let s = select(
            &c,
            &Selection {
                all: false,
                names: vec!["other".into()],
            },
        )
        .unwrap();
        assert_eq!(s.deployments[0].name_override.as_deref(), Some("other"));
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("report-*", "report-daily"));
        assert!(!glob_match("report-*", "xreport-daily"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a-b-c"));
        assert!(!glob_match("a*b*c", "a-c"));
    }
}
