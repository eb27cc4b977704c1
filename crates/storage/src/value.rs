//! Values inside git credentials and remote-storage settings: plain JSON, `Secret` blocks and
//! other blocks, nested in maps and lists.
//!
//! Prefect writes a saved block into a pull step as the placeholder
//! `{{ prefect.blocks.<slug>.<document name> }}` (storage.md §8) and refuses unsaved ones; the
//! value itself is only used when pulling. A [`SecretBlock`]'s value is a [`Secret`], so it never
//! shows up in `Debug` output.

use indexmap::IndexMap;
use prefab_schemas::Secret;
use serde_json::{Map, Value};

use crate::StorageError;

/// Setting names whose values are credentials (fsspec, s3fs, gcsfs, adlfs spellings): redacted
/// in errors and `Debug`, and warned about when written into a pull step in plain text.
pub(crate) const SECRET_SETTING_NAMES: &[&str] = &[
    "key",
    "secret",
    "token",
    "password",
    "account_key",
    "sas_token",
    "client_secret",
    "connection_string",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "credential",
    "credentials",
    "private_key",
];

const UNSAVED_PLACEHOLDER: &str = "Could not generate block placeholder for unsaved block.";

/// A `Secret` block: its document name (`None` = not saved) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretBlock {
    /// The block document's name; `None` for a block that was never saved.
    pub name: Option<String>,
    /// The secret.
    pub value: Secret,
}

impl SecretBlock {
    /// A saved `Secret` block called `name`.
    pub fn saved(name: impl Into<String>, value: impl Into<Secret>) -> Self {
        SecretBlock {
            name: Some(name.into()),
            value: value.into(),
        }
    }

    /// `{{ prefect.blocks.secret.<name> }}`, or Prefect's error for an unsaved block.
    pub fn placeholder(&self) -> Result<String, StorageError> {
        block_placeholder("secret", self.name.as_deref())
    }
}

/// A block document other than a plain `Secret`: a credentials block
/// (`github-credentials`, `gitlab-credentials`, `bitbucket-credentials`) or a storage block
/// (`local-file-system`, `remote-file-system`).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockDocument {
    /// The block type's slug, e.g. `github-credentials`.
    pub slug: String,
    /// The block document's name; `None` for an unsaved block.
    pub name: Option<String>,
    /// The block's fields.
    pub fields: IndexMap<String, SettingValue>,
}

impl BlockDocument {
    /// A block of type `slug` (for example `github-credentials`).
    pub fn new(slug: impl Into<String>, name: Option<String>) -> Self {
        BlockDocument {
            slug: slug.into(),
            name,
            fields: IndexMap::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<SettingValue>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// `{{ prefect.blocks.<slug>.<name> }}`, or Prefect's error for an unsaved block.
    pub fn placeholder(&self) -> Result<String, StorageError> {
        block_placeholder(&self.slug, self.name.as_deref())
    }

    /// The block type slug Prefect derives from a block class name: the known classes'
    /// declared names (`GitHubCredentials` → `github-credentials`), else the class name
    /// slugified (`MockCredentials` → `mockcredentials`).
    pub fn slug_for_type(type_name: &str) -> String {
        match type_name {
            "GitHubCredentials" => "github-credentials".into(),
            "GitLabCredentials" => "gitlab-credentials".into(),
            "BitBucketCredentials" => "bitbucket-credentials".into(),
            "Secret" => "secret".into(),
            "LocalFileSystem" => "local-file-system".into(),
            "RemoteFileSystem" => "remote-file-system".into(),
            "SMB" => "smb".into(),
            "GitHubRepository" => "github-repository".into(),
            "GitLabRepository" => "gitlab-repository".into(),
            other => slugify(other),
        }
    }
}

fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn block_placeholder(slug: &str, name: Option<&str>) -> Result<String, StorageError> {
    match name {
        Some(name) => Ok(format!("{{{{ prefect.blocks.{slug}.{name} }}}}")),
        None => Err(StorageError::BlockNotSaved {
            message: UNSAVED_PLACEHOLDER.to_owned(),
        }),
    }
}

/// One value of a settings or credentials tree.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SettingValue {
    /// Plain JSON (a string, number, bool or null; maps and lists use the variants below).
    Plain(Value),
    /// A `Secret` block.
    Secret(SecretBlock),
    /// Another block.
    Block(BlockDocument),
    /// A map.
    Map(IndexMap<String, SettingValue>),
    /// A list.
    List(Vec<SettingValue>),
}

impl From<&str> for SettingValue {
    fn from(s: &str) -> Self {
        SettingValue::Plain(Value::String(s.to_owned()))
    }
}

impl From<String> for SettingValue {
    fn from(s: String) -> Self {
        SettingValue::Plain(Value::String(s))
    }
}

impl From<SecretBlock> for SettingValue {
    fn from(s: SecretBlock) -> Self {
        SettingValue::Secret(s)
    }
}

impl From<bool> for SettingValue {
    fn from(b: bool) -> Self {
        SettingValue::Plain(Value::Bool(b))
    }
}

impl SettingValue {
    /// Reads the corpus / deployment-file form: plain JSON where
    /// `{"$secret": {"name", "value"}}` is a `Secret` block and
    /// `{"$block": {"type", "name", "fields"}}` another block.
    pub fn from_json(value: &Value) -> Result<SettingValue, StorageError> {
        Ok(match value {
            Value::Object(map) if map.len() == 1 && map.contains_key("$secret") => {
                let inner = &map["$secret"];
                SettingValue::Secret(SecretBlock {
                    name: optional_string(inner, "name", "$secret")?,
                    value: Secret::new(
                        inner
                            .get("value")
                            .map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .unwrap_or_default(),
                    ),
                })
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("$block") => {
                let inner = &map["$block"];
                let type_name = inner.get("type").and_then(Value::as_str).ok_or_else(|| {
                    StorageError::invalid(
                        "a `$block` marker needs a string `type` (e.g. \"GitHubCredentials\")",
                    )
                })?;
                let slug = inner
                    .get("slug")
                    .and_then(Value::as_str)
                    .map_or_else(|| BlockDocument::slug_for_type(type_name), str::to_owned);
                if slug == "secret" {
                    let value = inner.get("fields").and_then(|f| f.get("value"));
                    return Ok(SettingValue::Secret(SecretBlock {
                        name: optional_string(inner, "name", "$block")?,
                        value: Secret::new(value.and_then(Value::as_str).unwrap_or_default()),
                    }));
                }
                let mut block = BlockDocument::new(slug, optional_string(inner, "name", "$block")?);
                if let Some(Value::Object(fields)) = inner.get("fields") {
                    for (k, v) in fields {
                        block.fields.insert(k.clone(), SettingValue::from_json(v)?);
                    }
                }
                SettingValue::Block(block)
            }
            Value::Object(map) => SettingValue::Map(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), SettingValue::from_json(v)?)))
                    .collect::<Result<_, StorageError>>()?,
            ),
            Value::Array(items) => SettingValue::List(
                items
                    .iter()
                    .map(SettingValue::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            other => SettingValue::Plain(other.clone()),
        })
    }

    /// The value as Prefect writes it into a pull step: blocks as placeholders (an unsaved
    /// block is an error), everything else verbatim.
    pub fn to_pull_step_json(&self) -> Result<Value, StorageError> {
        Ok(match self {
            SettingValue::Plain(v) => v.clone(),
            SettingValue::Secret(s) => Value::String(s.placeholder()?),
            SettingValue::Block(b) => Value::String(b.placeholder()?),
            SettingValue::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_pull_step_json()?)))
                    .collect::<Result<Map<_, _>, StorageError>>()?,
            ),
            SettingValue::List(items) => Value::Array(
                items
                    .iter()
                    .map(SettingValue::to_pull_step_json)
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// The value with every secret revealed, as the pull itself needs it (Python resolves
    /// `Secret` blocks with `.get()` and other blocks to their fields).
    pub fn resolve(&self) -> Value {
        match self {
            SettingValue::Plain(v) => v.clone(),
            SettingValue::Secret(s) => Value::String(s.value.expose().to_owned()),
            SettingValue::Block(b) => Value::Object(
                b.fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.resolve()))
                    .collect(),
            ),
            SettingValue::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.resolve())).collect())
            }
            SettingValue::List(items) => {
                Value::Array(items.iter().map(SettingValue::resolve).collect())
            }
        }
    }

    /// The value as a secret string when it is a string or a `Secret` (numbers are rendered as
    /// text: a token is opaque, unlike Python's `Secret.get()` which JSON-decodes it).
    pub fn as_secret_text(&self) -> Option<Secret> {
        match self {
            SettingValue::Plain(Value::String(s)) => Some(Secret::new(s.clone())),
            SettingValue::Plain(Value::Number(n)) => Some(Secret::new(n.to_string())),
            SettingValue::Secret(s) => Some(s.value.clone()),
            _ => None,
        }
    }

    /// Python truthiness of the value (used by Prefect's credential checks).
    pub fn is_truthy(&self) -> bool {
        match self {
            SettingValue::Plain(Value::Null) => false,
            SettingValue::Plain(Value::Bool(b)) => *b,
            SettingValue::Plain(Value::String(s)) => !s.is_empty(),
            SettingValue::Plain(Value::Number(n)) => n.as_f64() != Some(0.0),
            SettingValue::Map(m) => !m.is_empty(),
            SettingValue::List(l) => !l.is_empty(),
            SettingValue::Secret(_) | SettingValue::Block(_) => true,
            SettingValue::Plain(_) => true,
        }
    }

    /// Whether the tree holds a secret in plain text under a key that usually names one
    /// (`key`, `secret`, `token`, `password`, `account_key`, …): Prefect writes those into the
    /// deployment verbatim (storage.md Q7), prefab warns.
    pub fn plain_secret_keys(map: &IndexMap<String, SettingValue>) -> Vec<String> {
        let mut found = Vec::new();
        fn walk(prefix: &str, map: &IndexMap<String, SettingValue>, found: &mut Vec<String>) {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    SettingValue::Plain(Value::String(s))
                        if !s.is_empty()
                            && SECRET_SETTING_NAMES.contains(&k.as_str())
                            && !s.starts_with("{{") =>
                    {
                        found.push(path)
                    }
                    SettingValue::Map(inner) => walk(&path, inner, found),
                    _ => {}
                }
            }
        }
        walk("", map, &mut found);
        found
    }
}

fn optional_string(value: &Value, key: &str, marker: &str) -> Result<Option<String>, StorageError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(StorageError::invalid(format!(
            "`{marker}.{key}` must be a string or null, got {other}"
        ))),
    }
}

/// Reads a JSON object into a settings map (see [`SettingValue::from_json`]).
pub fn settings_from_json(value: &Value) -> Result<IndexMap<String, SettingValue>, StorageError> {
    match SettingValue::from_json(value)? {
        SettingValue::Map(m) => Ok(m),
        _ => Err(StorageError::invalid("settings must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_become_placeholders() {
        let v = SettingValue::from_json(&json!({
            "key": {"$secret": {"name": "aws-key", "value": "AK"}},
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}
        }))
        .unwrap();
        assert_eq!(
            v.to_pull_step_json().unwrap(),
            json!({"key": "{{ prefect.blocks.secret.aws-key }}",
                   "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}})
        );
        assert!(!format!("{v:?}").contains("AK\""));
        assert_eq!(v.resolve()["key"], "AK");
    }

    #[test]
    fn unsaved_secret_is_refused() {
        let v = SettingValue::from_json(&json!({"$secret": {"name": null, "value": "x"}})).unwrap();
        let err = v.to_pull_step_json().unwrap_err();
        assert_eq!(err.to_string(), UNSAVED_PLACEHOLDER);
        assert_eq!(err.python_class(), "BlockNotSavedError");
    }

    #[test]
    fn slugs() {
        assert_eq!(
            BlockDocument::slug_for_type("MockCredentials"),
            "mockcredentials"
        );
        assert_eq!(
            BlockDocument::slug_for_type("GitLabCredentials"),
            "gitlab-credentials"
        );
    }
}
