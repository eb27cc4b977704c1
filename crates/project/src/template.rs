//! Prefect's templating (`prefect.utilities.templating`, spec §4): `{{ name }}` placeholders,
//! filled from step outputs, the environment, block documents and variables.
//!
//! - A string that is exactly one placeholder takes the value's own type (a JSON variable
//!   stays a mapping); a placeholder inside a longer string becomes Python's `str()` of it.
//! - A placeholder whose value is missing is *not set*: by default the key or list item that
//!   holds it is removed (or, inside a longer string, the placeholder becomes `""`); with
//!   [`Fill::keep_missing`] it stays as written.
//! - `{{ $NAME }}` always reads the environment, as text.

use serde_json::{Map, Value};

use crate::python::python_str;

/// What kind of placeholder a name makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaceholderKind {
    /// `{{ step-id.key }}`: a step output (or, before steps run, an environment variable of
    /// that exact name, as Prefect looks it up).
    Standard,
    /// `{{ prefect.blocks.TYPE.NAME[.path] }}`.
    Block,
    /// `{{ prefect.variables.NAME }}`.
    Variable,
    /// `{{ $NAME }}`.
    Env,
}

/// The block placeholder prefix.
pub const BLOCK_PREFIX: &str = "prefect.blocks.";
/// The variable placeholder prefix.
pub const VARIABLE_PREFIX: &str = "prefect.variables.";

impl PlaceholderKind {
    /// The kind of `name` (the text between the braces).
    pub fn of(name: &str) -> PlaceholderKind {
        if name.starts_with(BLOCK_PREFIX) {
            PlaceholderKind::Block
        } else if name.starts_with(VARIABLE_PREFIX) {
            PlaceholderKind::Variable
        } else if name.starts_with('$') {
            PlaceholderKind::Env
        } else {
            PlaceholderKind::Standard
        }
    }
}

/// One placeholder found in a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placeholder {
    /// The whole match, braces included (`{{ a.b }}`).
    pub full: String,
    /// The name (`a.b`).
    pub name: String,
    /// Its kind.
    pub kind: PlaceholderKind,
    start: usize,
    end: usize,
}

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']' | '$')
}

/// The placeholders of `text` in order (Prefect's `{{\s*([\w\.\-\[\]$]+)\s*}}`, matched
/// left to right without overlaps).
pub fn placeholders(text: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("{{") {
        let start = from + found;
        match match_at(text, start) {
            Some((name_start, name_end, end)) => {
                let name = &text[name_start..name_end];
                out.push(Placeholder {
                    full: text[start..end].to_owned(),
                    name: name.to_owned(),
                    kind: PlaceholderKind::of(name),
                    start,
                    end,
                });
                from = end;
            }
            None => from = start + 1,
        }
    }
    out
}

/// A match of the pattern starting at `start` (which holds `{{`): name bounds and the end.
fn match_at(text: &str, start: usize) -> Option<(usize, usize, usize)> {
    let mut i = start + 2;
    let rest = |i: usize| text[i..].chars().next();
    while let Some(c) = rest(i).filter(|c| c.is_whitespace()) {
        i += c.len_utf8();
    }
    let name_start = i;
    while let Some(c) = rest(i).filter(|c| name_char(*c)) {
        i += c.len_utf8();
    }
    let name_end = i;
    if name_end == name_start {
        return None;
    }
    while let Some(c) = rest(i).filter(|c| c.is_whitespace()) {
        i += c.len_utf8();
    }
    text[i..]
        .starts_with("}}")
        .then_some((name_start, name_end, i + 2))
}

/// The distinct placeholders of `text` (Prefect keeps them in a set).
fn distinct(text: &str) -> Vec<Placeholder> {
    let mut out: Vec<Placeholder> = Vec::new();
    for p in placeholders(text) {
        if !out.iter().any(|q| q.full == p.full) {
            out.push(p);
        }
    }
    out
}

/// `text` with every match replaced by `replace(placeholder)` (or left as it is on `None`).
pub fn substitute(text: &str, mut replace: impl FnMut(&Placeholder) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for p in placeholders(text) {
        out.push_str(&text[last..p.start]);
        match replace(&p) {
            Some(r) => out.push_str(&r),
            None => out.push_str(&p.full),
        }
        last = p.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Prefect's `get_from_dict`: `a.b[0].c` through mappings and lists (and, as in Python,
/// through the characters of a string); `None` when the path does not exist.
pub fn get_path(root: &Value, path: &str) -> Option<Value> {
    let keys = path.replace('[', ".").replace(']', "");
    let keys: Vec<&str> = keys.split('.').collect();
    get_keys(root, &keys)
}

fn get_keys(value: &Value, keys: &[&str]) -> Option<Value> {
    let Some((key, rest)) = keys.split_first() else {
        return Some(value.clone());
    };
    match value {
        Value::Object(map) => get_keys(map.get(*key)?, rest),
        Value::Array(items) => get_keys(items.get(index(items.len(), key)?)?, rest),
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let c = Value::String(chars[index(chars.len(), key)?].to_string());
            get_keys(&c, rest)
        }
        _ => None,
    }
}

/// A Python index (`int(key)`, negative from the end) into a sequence of `len`.
fn index(len: usize, key: &str) -> Option<usize> {
    let i: i64 = key.trim().parse().ok()?;
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

/// How [`Fill::apply`] treats what it cannot fill.
#[derive(Debug, Clone, Default)]
pub struct Fill<'a> {
    keep_missing: bool,
    warn_missing: bool,
    skip_prefixes: &'a [&'a str],
}

impl<'a> Fill<'a> {
    /// Remove what is not set (Prefect's default, `remove_notset=True`).
    pub fn new() -> Self {
        Fill::default()
    }

    /// Keep placeholders whose value is missing as written (`remove_notset=False`).
    pub fn keep_missing(mut self) -> Self {
        self.keep_missing = true;
        self
    }

    /// Collect a warning for each missing value (`warn_on_notset=True`).
    pub fn warn_missing(mut self) -> Self {
        self.warn_missing = true;
        self
    }

    /// Leave placeholders whose name starts with one of `prefixes` alone (`ctx.`).
    pub fn skip_prefixes(mut self, prefixes: &'a [&'a str]) -> Self {
        self.skip_prefixes = prefixes;
        self
    }

    /// Prefect's `apply_values(template, values, …)`: standard placeholders from `values`
    /// (a mapping), `{{ $NAME }}` from `env`. `None` is Prefect's `NotSet` (the template was
    /// one placeholder with no value). Warnings go to `warnings`.
    pub fn apply(
        &self,
        template: &Value,
        values: &Value,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Option<Value> {
        match template {
            Value::String(s) => self.apply_str(s, values, env, warnings),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    match self.apply(v, values, env, warnings) {
                        Some(filled) => {
                            out.insert(k.clone(), filled);
                        }
                        None if self.keep_missing => {
                            out.insert(k.clone(), v.clone());
                        }
                        None => {}
                    }
                }
                Some(Value::Object(out))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for v in items {
                    match self.apply(v, values, env, warnings) {
                        Some(filled) => out.push(filled),
                        None if self.keep_missing => out.push(v.clone()),
                        None => {}
                    }
                }
                Some(Value::Array(out))
            }
            other => Some(other.clone()),
        }
    }

    fn apply_str(
        &self,
        s: &str,
        values: &Value,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Option<Value> {
        let mut found = distinct(s);
        if found.is_empty() {
            return Some(Value::String(s.to_owned()));
        }
        found.retain(|p| !self.skip_prefixes.iter().any(|x| p.name.starts_with(x)));
        if found.is_empty() {
            return Some(Value::String(s.to_owned()));
        }
        if found.len() == 1 && found[0].full == s && found[0].kind == PlaceholderKind::Standard {
            let value = get_path(values, &found[0].name);
            if value.is_none() && self.warn_missing {
                warnings.push(format!(
                    "no value for the placeholder {:?}: check its spelling and that the step \
                     that produces it ran",
                    found[0].name
                ));
            }
            return value;
        }
        let mut replacements: Vec<(String, String)> = Vec::new();
        for p in &found {
            let value = match p.kind {
                PlaceholderKind::Standard => get_path(values, &p.name).map(|v| python_str(&v)),
                PlaceholderKind::Env => env(p.name.trim_start_matches('$')),
                PlaceholderKind::Block | PlaceholderKind::Variable => continue,
            };
            match value {
                Some(v) => replacements.push((p.full.clone(), v)),
                None => {
                    if self.warn_missing {
                        warnings.push(format!(
                            "no value for the placeholder {:?}: check its spelling and that \
                             its value is provided",
                            p.full
                        ));
                    }
                    if !self.keep_missing {
                        replacements.push((p.full.clone(), String::new()));
                    }
                }
            }
        }
        Some(Value::String(substitute(s, |p| {
            replacements
                .iter()
                .find(|(full, _)| *full == p.full)
                .map(|(_, r)| r.clone())
        })))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOME_DIR").then(|| "/home/x".to_owned())
    }

    #[test]
    fn finds_placeholders_as_prefects_pattern_does() {
        let found = placeholders("a {{x}} {{ y.z[0] }} {{ }} {{{ w }}} {{$E}}");
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["x", "y.z[0]", "w", "$E"]);
        assert_eq!(found[3].kind, PlaceholderKind::Env);
        assert_eq!(
            PlaceholderKind::of("prefect.blocks.secret.a"),
            PlaceholderKind::Block
        );
    }

    #[test]
    fn a_whole_placeholder_keeps_its_type_and_an_inline_one_is_text() {
        let values = json!({"build": {"n": 3, "tags": ["a"], "flag": true}});
        let fill = Fill::new();
        let mut w = Vec::new();
        assert_eq!(
            fill.apply(&json!("{{ build.n }}"), &values, &env, &mut w),
            Some(json!(3))
        );
        assert_eq!(
            fill.apply(
                &json!("v{{ build.n }}-{{build.flag}}"),
                &values,
                &env,
                &mut w
            ),
            Some(json!("v3-True"))
        );
        assert_eq!(
            fill.apply(&json!("{{ build.tags }}"), &values, &env, &mut w),
            Some(json!(["a"]))
        );
        // Missing: the key goes; inline it becomes "".
        assert_eq!(
            fill.apply(
                &json!({"a": "{{ nope }}", "b": "x{{ nope }}"}),
                &values,
                &env,
                &mut w
            ),
            Some(json!({"b": "x"}))
        );
        // Kept as written when asked.
        assert_eq!(
            Fill::new().keep_missing().apply(
                &json!({"a": "{{ nope }}", "b": "{{ $NOPE }}/{{ $HOME_DIR }}"}),
                &values,
                &env,
                &mut w
            ),
            Some(json!({"a": "{{ nope }}", "b": "{{ $NOPE }}//home/x"}))
        );
        // Block and variable placeholders are left for their own resolvers.
        assert_eq!(
            fill.apply(
                &json!("{{ prefect.variables.v }} {{ build.n }}"),
                &values,
                &env,
                &mut w
            ),
            Some(json!("{{ prefect.variables.v }} 3"))
        );
        // ctx.* is skipped.
        assert_eq!(
            Fill::new().skip_prefixes(&["ctx."]).apply(
                &json!("{{ ctx.flow_run.id }}"),
                &values,
                &env,
                &mut w
            ),
            Some(json!("{{ ctx.flow_run.id }}"))
        );
    }

    #[test]
    fn paths_go_through_mappings_lists_and_strings() {
        let v = json!({"a": {"b": [10, {"c": "xyz"}]}});
        assert_eq!(get_path(&v, "a.b[1].c"), Some(json!("xyz")));
        assert_eq!(get_path(&v, "a.b.-1.c[0]"), Some(json!("x")));
        assert!(get_path(&v, "a.z").is_none());
    }
}
