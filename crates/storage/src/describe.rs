//! Storage definitions as data, and what they amount to.
//!
//! [`StorageDefinition`] is the JSON form used by `prefab storage describe --jsonl`, by
//! deployment files (`storage:`) and by the conformance corpus `storage.jsonl`:
//! `{"kind": "git" | "remote" | "local" | "block" | "source", …}` with `{"$secret": …}` and
//! `{"$block": …}` markers for blocks. [`Description`] is what Prefect would make of it.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::value::{BlockDocument, SettingValue, settings_from_json};
use crate::{
    BlockStorage, Classification, GitCredentials, GitProvider, GitRepository, LocalStorage,
    RemoteStorage, RunnerStorage, Storage, StorageError, create_storage_from_source_in,
};

/// A storage definition in its JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageDefinition(pub Value);

impl StorageDefinition {
    /// Builds the storage; relative local paths resolve against `cwd`, and git/remote/block
    /// storage is based in `base_path`. Construction warnings (Prefect's) are logged and kept on
    /// the storage.
    pub fn build(&self, cwd: &Path, base_path: &Path) -> Result<Storage, StorageError> {
        let input = self
            .0
            .as_object()
            .ok_or_else(|| StorageError::invalid("a storage definition must be a JSON object"))?;
        let kind = input.get("kind").and_then(Value::as_str).ok_or_else(|| {
            StorageError::invalid(
                "a storage definition needs `kind`: one of git, remote, local, block, source",
            )
        })?;
        let pull_interval = match input.get("pull_interval") {
            None => Some(crate::DEFAULT_PULL_INTERVAL),
            Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                StorageError::invalid(format!(
                    "`pull_interval` must be a whole number of seconds, got {v}"
                ))
            })?),
        };
        let mut storage = match kind {
            "git" => {
                let mut builder = GitRepository::builder(required_str(input, "url", kind)?)
                    .pull_interval(pull_interval)
                    .base_path(base_path);
                if let Some(b) = optional_str(input, "branch")? {
                    builder = builder.branch(b);
                }
                if let Some(s) = optional_str(input, "commit_sha")? {
                    builder = builder.commit_sha(s);
                }
                if let Some(n) = optional_str(input, "name")? {
                    builder = builder.name(n);
                }
                if let Some(p) = optional_str(input, "provider")? {
                    builder = builder.provider(p.parse::<GitProvider>()?);
                }
                if let Some(v) = input.get("include_submodules") {
                    builder = builder.include_submodules(v.as_bool().unwrap_or(false));
                }
                match input.get("directories") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(items)) => {
                        let dirs = items
                            .iter()
                            .map(|d| {
                                d.as_str().map(str::to_owned).ok_or_else(|| {
                                    StorageError::invalid("`directories` must be a list of strings")
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        builder = builder.directories(dirs);
                    }
                    Some(_) => {
                        return Err(StorageError::invalid(
                            "`directories` must be a list of strings",
                        ));
                    }
                }
                builder = builder.credentials(credentials_from_json(input.get("credentials"))?);
                Storage::Git(builder.build()?)
            }
            "remote" => {
                let settings = match input.get("settings") {
                    None | Some(Value::Null) => Default::default(),
                    Some(v) => settings_from_json(v)?,
                };
                Storage::Remote(
                    RemoteStorage::new(required_str(input, "url", kind)?)
                        .with_settings(settings)
                        .with_pull_interval(pull_interval),
                )
            }
            "local" => {
                let interval = if input.contains_key("pull_interval") {
                    pull_interval
                } else {
                    None
                };
                Storage::Local(
                    LocalStorage::new_in(required_str(input, "path", kind)?, cwd)
                        .with_pull_interval(interval),
                )
            }
            "block" => {
                let block = match input
                    .get("block")
                    .map(SettingValue::from_json)
                    .transpose()?
                {
                    Some(SettingValue::Block(b)) => b,
                    Some(SettingValue::Secret(_)) => {
                        return Err(StorageError::invalid(
                            "Provided block must have a `get_directory` method.",
                        ));
                    }
                    _ => {
                        return Err(StorageError::invalid(
                            "a block storage needs `block`: {\"$block\": {\"type\", \"name\", \"fields\"}}",
                        ));
                    }
                };
                Storage::Block(BlockStorage::new(block).with_pull_interval(pull_interval))
            }
            "source" => create_storage_from_source_in(
                required_str(input, "source", kind)?,
                pull_interval,
                cwd,
            )?,
            other => {
                return Err(StorageError::invalid(format!(
                    "unknown storage kind {other:?}: use git, remote, local, block or source"
                )));
            }
        };
        if !matches!(storage, Storage::Local(_)) {
            storage.set_base_path(base_path);
        }
        Ok(storage)
    }
}

fn credentials_from_json(value: Option<&Value>) -> Result<GitCredentials, StorageError> {
    Ok(match value {
        None | Some(Value::Null) => GitCredentials::None,
        Some(v) => match SettingValue::from_json(v)? {
            SettingValue::Map(fields) => GitCredentials::Fields(fields),
            SettingValue::Block(block) => GitCredentials::Block(block),
            // A `Secret` block as the whole credentials is a block like any other to Prefect:
            // its placeholder goes into the pull step (`{{ prefect.blocks.secret.NAME }}`),
            // and a local pull finds no token in its fields, as Prefect's does.
            SettingValue::Secret(secret) => GitCredentials::Block(
                BlockDocument::new("secret", secret.name.clone())
                    .field("value", SettingValue::Secret(secret)),
            ),
            SettingValue::Plain(_) | SettingValue::List(_) => {
                return Err(StorageError::invalid(
                    "git `credentials` must be a map (username, access_token, token, password), a \
                     `$block` or a `$secret`",
                ));
            }
        },
    })
}

fn required_str<'a>(
    input: &'a Map<String, Value>,
    key: &str,
    kind: &str,
) -> Result<&'a str, StorageError> {
    input
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| StorageError::invalid(format!("a `{kind}` storage needs a string `{key}`")))
}

fn optional_str<'a>(
    input: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, StorageError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(StorageError::invalid(format!(
            "`{key}` must be a string, got {other}"
        ))),
    }
}

/// What a storage amounts to: Prefect's classification, directory and pull step.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Description {
    /// `git`, `remote`, `local` or `block`.
    pub classification: Classification,
    /// Seconds between pulls of a runner; `null` = once.
    pub pull_interval: Option<u64>,
    /// The destination relative to the base path (`.` = the base path itself); absolute for
    /// local storage.
    pub destination: String,
    /// Git: the checkout directory's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Remote: `<netloc>/<path>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    /// Prefect's `repr()` (git, remote, local).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repr: Option<String>,
    /// The pull step, when one can be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_step: Option<Value>,
    /// Why no pull step can be written (Prefect's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The Python exception class Prefect raises for `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<&'static str>,
    /// Warnings (Prefect's at construction, then prefab's about dropped or plain secrets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Description {
    /// Describes `storage`, with destinations relative to `base_path`.
    pub fn of(storage: &Storage, base_path: &Path) -> Description {
        let destination = storage.destination();
        let destination = match storage {
            Storage::Local(_) => destination.to_string_lossy().into_owned(),
            _ => match destination.strip_prefix(base_path) {
                Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
                Ok(rel) => rel.to_string_lossy().into_owned(),
                Err(_) => destination.to_string_lossy().into_owned(),
            },
        };
        let (pull_step, error, error_class) = match storage.to_pull_step() {
            Ok(step) => (Some(step), None, None),
            Err(e) => (None, Some(e.to_string()), Some(e.python_class())),
        };
        let mut warnings = Vec::new();
        let (name, remote_path, repr) = match storage {
            Storage::Git(g) => {
                warnings.extend(g.warnings().iter().cloned());
                warnings.extend(g.dropped_credentials_warning());
                (Some(g.name().to_owned()), None, Some(g.repr()))
            }
            Storage::Remote(r) => {
                warnings.extend(r.plain_secret_warnings());
                (None, Some(r.remote_path()), Some(r.repr()))
            }
            Storage::Local(l) => (None, None, Some(l.repr())),
            Storage::Block(_) | Storage::Steps(_) => (None, None, None),
        };
        Description {
            classification: storage.classification(),
            pull_interval: storage.pull_interval_raw(),
            destination,
            name,
            remote_path,
            repr,
            pull_step,
            error,
            error_class,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn describe(definition: Value) -> Description {
        let base = Path::new("/base");
        let storage = StorageDefinition(definition).build(base, base).unwrap();
        Description::of(&storage, base)
    }

    #[test]
    fn a_secret_block_as_git_credentials_becomes_its_placeholder() {
        for marker in [
            json!({"$block": {"type": "Secret", "name": "gh-token", "fields": {"value": "s3cr3t"}}}),
            json!({"$secret": {"name": "gh-token", "value": "s3cr3t"}}),
        ] {
            let d = describe(json!({
                "kind": "git",
                "url": "https://github.com/org/repo.git",
                "credentials": marker,
            }));
            assert_eq!(
                d.pull_step,
                Some(json!({"prefect.deployments.steps.git_clone": {
                    "repository": "https://github.com/org/repo.git",
                    "branch": null,
                    "credentials": "{{ prefect.blocks.secret.gh-token }}",
                }})),
                "{d:?}"
            );
            assert!(!format!("{d:?}").contains("s3cr3t"));
        }
        // An unsaved Secret has no placeholder: Prefect's BlockNotSavedError.
        let d = describe(json!({
            "kind": "git",
            "url": "https://github.com/org/repo.git",
            "credentials": {"$secret": {"value": "s3cr3t"}},
        }));
        assert_eq!(d.error_class, Some("BlockNotSavedError"), "{d:?}");
    }
}
