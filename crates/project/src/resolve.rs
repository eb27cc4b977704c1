//! `{{ prefect.blocks.… }}` and `{{ prefect.variables.… }}` (Prefect's
//! `resolve_block_document_references` and `resolve_variables`, spec §4): the names a value
//! uses are read from the API (once per run, [`ServerValues`]), then filled in.

use std::collections::HashMap;

use futures::future::join_all;
use serde_json::Value;

use crate::error::ProjectError;
use crate::python::python_str;
use crate::server::ServerValues;
use crate::template::{BLOCK_PREFIX, PlaceholderKind, VARIABLE_PREFIX, get_path, placeholders};

fn strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// `TYPE`, `NAME` and the optional key path of a block placeholder's name.
fn block_parts(name: &str) -> Result<(String, String, Option<String>), ProjectError> {
    let rest = name.replace(BLOCK_PREFIX, "");
    let mut parts = rest.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(slug), Some(doc), path) => {
            Ok((slug.to_owned(), doc.to_owned(), path.map(str::to_owned)))
        }
        _ => Err(ProjectError::Deployment(format!(
            "Invalid block placeholder format: '{name}'. Expected format: \
             prefect.blocks.<block-type-slug>.<block-document-name>"
        ))),
    }
}

/// `value` with its block placeholders filled. A block that does not exist is an error
/// naming it, as in Prefect.
pub async fn resolve_blocks(value: &Value, server: &ServerValues) -> Result<Value, ProjectError> {
    let mut texts = Vec::new();
    strings(value, &mut texts);
    let mut wanted: Vec<(String, String)> = Vec::new();
    for t in &texts {
        for p in placeholders(t) {
            if p.kind == PlaceholderKind::Block {
                let (slug, doc, _) = block_parts(&p.name)?;
                if !wanted.contains(&(slug.clone(), doc.clone())) {
                    wanted.push((slug, doc));
                }
            }
        }
    }
    if wanted.is_empty() {
        return Ok(value.clone());
    }
    let read = join_all(wanted.iter().map(|(s, d)| server.block(s, d))).await;
    let mut blocks = HashMap::new();
    for ((slug, doc), result) in wanted.into_iter().zip(read) {
        let data = result.map_err(ProjectError::Server)?.ok_or_else(|| {
            ProjectError::Deployment(format!(
                "Block not found: '{doc}' of type '{slug}'. The file references \
                 {{{{ prefect.blocks.{slug}.{doc} }}}}: create the block (prefect block create \
                 {slug}), or fix the reference"
            ))
        })?;
        blocks.insert((slug, doc), data);
    }
    fill_blocks(value, &blocks)
}

fn block_value(
    name: &str,
    template: &str,
    blocks: &HashMap<(String, String), Value>,
) -> Result<Value, ProjectError> {
    let (slug, doc, path) = block_parts(name)?;
    let mut data = blocks.get(&(slug, doc)).cloned().unwrap_or(Value::Null);
    // A document whose data is only `value` (a Secret, a String block) resolves to it,
    // unless the path asks for `value` itself.
    if let Value::Object(map) = &data {
        let asks_value = path
            .as_deref()
            .is_some_and(|p| p == "value" || p.starts_with("value.") || p.starts_with("value["));
        if map.len() == 1 && map.contains_key("value") && !asks_value {
            data = map["value"].clone();
        }
    }
    match path {
        None => Ok(data),
        Some(p) => get_path(&data, &p).ok_or_else(|| {
            ProjectError::Deployment(format!(
                "Invalid template: {template:?}. Could not resolve the keypath in the block \
                 document data."
            ))
        }),
    }
}

fn fill_blocks(
    value: &Value,
    blocks: &HashMap<(String, String), Value>,
) -> Result<Value, ProjectError> {
    Ok(match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_blocks(v, blocks)?)))
                .collect::<Result<_, ProjectError>>()?,
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_blocks(v, blocks))
                .collect::<Result<_, _>>()?,
        ),
        Value::String(s) => {
            let found = placeholders(s);
            if !found.iter().any(|p| p.kind == PlaceholderKind::Block) {
                return Ok(value.clone());
            }
            if found.len() == 1 && found[0].full == *s {
                return block_value(&found[0].name, s, blocks);
            }
            let mut result = s.clone();
            for p in found.iter().filter(|p| p.kind == PlaceholderKind::Block) {
                let v = block_value(&p.name, s, blocks)?;
                if v.is_object() || v.is_array() {
                    return Err(ProjectError::Deployment(format!(
                        "Invalid template: {s:?}. Block placeholder {:?} resolved to a {}, which \
                         cannot be used for inline string substitution. Resolve a scalar \
                         attribute instead (e.g., '.value' or '.url').",
                        p.full,
                        if v.is_object() { "dict" } else { "list" }
                    )));
                }
                result = result.replace(&p.full, &python_str(&v));
            }
            Value::String(result)
        }
        other => other.clone(),
    })
}

/// `value` with its variable placeholders filled: a whole-value placeholder takes the
/// variable's JSON value, an inline one its Python `str()`; a missing variable is `""`, with a
/// warning.
pub async fn resolve_variables(
    value: &Value,
    server: &ServerValues,
    warnings: &mut Vec<String>,
) -> Result<Value, ProjectError> {
    let mut texts = Vec::new();
    strings(value, &mut texts);
    let mut wanted: Vec<String> = Vec::new();
    for t in &texts {
        for p in placeholders(t) {
            if p.kind == PlaceholderKind::Variable {
                let name = p.name.replace(VARIABLE_PREFIX, "");
                if !wanted.contains(&name) {
                    wanted.push(name);
                }
            }
        }
    }
    if wanted.is_empty() {
        return Ok(value.clone());
    }
    let read = join_all(wanted.iter().map(|n| server.variable(n))).await;
    let mut variables = HashMap::new();
    for (name, result) in wanted.into_iter().zip(read) {
        match result.map_err(ProjectError::Server)? {
            Some(v) => {
                variables.insert(name, v);
            }
            None => warnings.push(format!(
                "the variable {name:?} does not exist: {{{{ prefect.variables.{name} }}}} \
                 becomes \"\" (as in Prefect); create it (prefect variable set {name} VALUE) \
                 or fix the name"
            )),
        }
    }
    Ok(fill_variables(value, &variables))
}

fn fill_variables(value: &Value, variables: &HashMap<String, Value>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_variables(v, variables)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_variables(v, variables)).collect())
        }
        Value::String(s) => {
            let mut found = placeholders(s);
            found.dedup_by(|a, b| a.full == b.full);
            if !found.iter().any(|p| p.kind == PlaceholderKind::Variable) {
                return value.clone();
            }
            let lookup = |name: &str| variables.get(&name.replace(VARIABLE_PREFIX, ""));
            if found.len() == 1 && found[0].full == *s {
                return lookup(&found[0].name)
                    .cloned()
                    .unwrap_or_else(|| Value::String(String::new()));
            }
            let mut result = s.clone();
            for p in found.iter().filter(|p| p.kind == PlaceholderKind::Variable) {
                let text = lookup(&p.name).map(python_str).unwrap_or_default();
                result = result.replace(&p.full, &text);
            }
            Value::String(result)
        }
        other => other.clone(),
    }
}
