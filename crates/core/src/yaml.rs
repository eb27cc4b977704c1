//! YAML for prefab's data files: a loader over [`saphyr_parser`]'s events into a
//! [`serde_json::Value`], with the position of every value and bounded work on hostile input.
//!
//! Why not `serde_yaml_ng` (used before): its libyaml scanner takes time quadratic in the flow
//! nesting depth (`{x: [[[…]]]}` 100k levels deep: about a minute before it fails), a duplicate
//! key silently keeps the last value, `.nan` and `.inf` became `null` on their way into JSON,
//! and a type error could not name the line of the value it was about.
//!
//! What this loader guarantees:
//! - **Linear time, bounded memory.** The scanner refuses more than 255 nested flow levels by
//!   itself; the loader refuses nesting deeper than [`MAX_DEPTH`] as soon as it is reached and
//!   alias expansion beyond [`MAX_NODES`] values ("billion laughs"). It never recurses, so no
//!   input can overflow the stack.
//! - **No value changed without a word.** Scalars resolve as `serde_yaml_ng` resolved them
//!   (YAML 1.2 core schema: `true`/`True`/`TRUE`, `null`/`~`/empty, `0x`/`0o`/`0b` integers,
//!   a leading zero keeps digits a string); what JSON cannot hold is refused with its position
//!   — `.nan`, `.inf`, floats that overflow (`1e400`), integers outside 64 bits — and so is a
//!   key that is not a string (`1:`), which JSON has no way to keep apart from `"1"`.
//! - **Duplicate keys** keep the last value, as every YAML loader does, and leave a
//!   [`YamlWarning`] naming both lines.
//! - **Merge keys** (`<<: *defaults`, `<<: [*a, *b]`) apply as in YAML 1.1 loaders (PyYAML):
//!   keys written in the mapping win, then earlier merged mappings over later ones.
//!
//! ```
//! let doc = prefab_core::yaml::load("a: 1\nb:\n  - x\n  - {c: 2}\n").unwrap();
//! assert_eq!(doc.value, serde_json::json!({"a": 1, "b": ["x", {"c": 2}]}));
//! let at = doc.location("/b/1/c").unwrap();
//! assert_eq!((at.line, at.column), (4, 9));
//!
//! let err = prefab_core::yaml::load("x: .nan\n").unwrap_err();
//! assert!(err.to_string().contains("line 1, column 4"), "{err}");
//! ```

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// The deepest nesting of mappings and sequences a document may have. JSON (`serde_json`) and
/// TOML readers stop near the same depth; no real deployment file comes close.
pub const MAX_DEPTH: usize = 128;

/// The most values a document may hold once its aliases are expanded: far above any real
/// file, and small enough that an alias bomb is refused in milliseconds.
pub const MAX_NODES: usize = 1_000_000;

/// A position in the text: both 1-based, the column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

impl Location {
    fn of(span: &Span) -> Location {
        Location {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Something the loader accepted but the user should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlWarning {
    /// Where.
    pub location: Location,
    /// What, in a sentence.
    pub message: String,
}

impl fmt::Display for YamlWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why a document could not be loaded. Every variant says where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// Not YAML.
    #[error("{location}: {reason}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's words.
        reason: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`] (aliases included).
    #[error(
        "{location}: mappings and lists nested more than {limit} levels deep (prefab's limit \
         for data files; no real file needs more)"
    )]
    TooDeep {
        /// The collection that went past the limit.
        location: Location,
        /// [`MAX_DEPTH`].
        limit: usize,
    },
    /// Aliases expanding past [`MAX_NODES`] values.
    #[error(
        "{location}: aliases expand the document past {limit} values (an alias bomb?); \
         write the values out or use fewer nested aliases"
    )]
    TooLarge {
        /// The alias that went past the limit.
        location: Location,
        /// [`MAX_NODES`].
        limit: usize,
    },
    /// A value JSON cannot hold, or a tag prefab does not know.
    #[error("{location}: {reason}")]
    Unrepresentable {
        /// The value.
        location: Location,
        /// What and what to write instead.
        reason: String,
    },
    /// A mapping key that is not a string.
    #[error("{location}: {reason}")]
    BadKey {
        /// The key.
        location: Location,
        /// What and what to write instead.
        reason: String,
    },
}

impl YamlError {
    /// Where the problem is.
    pub fn location(&self) -> Location {
        match self {
            YamlError::Syntax { location, .. }
            | YamlError::TooDeep { location, .. }
            | YamlError::TooLarge { location, .. }
            | YamlError::Unrepresentable { location, .. }
            | YamlError::BadKey { location, .. } => *location,
        }
    }
}

/// A loaded document.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedYaml {
    /// The value (`null` for an empty document).
    pub value: Value,
    /// Duplicate keys and the like, in text order.
    pub warnings: Vec<YamlWarning>,
    locations: HashMap<String, Location>,
}

impl LoadedYaml {
    /// Where the value at `pointer` (a JSON pointer: `""`, `/deployments/3/tags`) starts; a
    /// value that came from an alias or a merge key is placed at the alias or key.
    pub fn location(&self, pointer: &str) -> Option<Location> {
        self.locations.get(pointer).copied()
    }

    /// The location of `pointer`, or of its nearest ancestor that has one.
    pub fn nearest_location(&self, pointer: &str) -> Option<Location> {
        let mut p = pointer;
        loop {
            if let Some(l) = self.locations.get(p) {
                return Some(*l);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

/// How plain scalars resolve to values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schema {
    /// YAML 1.2's core schema, as `serde_yaml_ng` resolved it (prefab's deployment files).
    #[default]
    Core,
    /// YAML 1.1 as PyYAML's `safe_load` resolves it — what `prefect deploy` reads
    /// `prefect.yaml` with: `yes`/`no`/`on`/`off` booleans, `0`-prefixed octal, `_` in numbers,
    /// sexagesimal `1:30`, floats only with a dot (`1e3` is a string, `1.5e+3` a float: the
    /// exponent needs its sign). Timestamps (`2001-12-14`), which PyYAML turns into dates, stay
    /// their text; `=` (YAML 1.1's value type) is refused, as PyYAML cannot construct it.
    Yaml11,
}

/// Loads one YAML document (an empty text is `null`; a second document is an error) with the
/// [`Schema::Core`] resolution.
pub fn load(text: &str) -> Result<LoadedYaml, YamlError> {
    load_with(text, Schema::Core)
}

/// [`load`] with the given scalar resolution.
pub fn load_with(text: &str, schema: Schema) -> Result<LoadedYaml, YamlError> {
    Loader {
        schema,
        ..Loader::default()
    }
    .run(text)
}

/// Checks JSON text for integer literals outside 64 bits, which `serde_json` would silently read
/// as the nearest float (`1180591620717411303424` → `1.1805916207174113e21`): the same rule as
/// for YAML, refused where the literal is. Linear, and it reads nothing but the text (the JSON
/// parser still decides whether the text is JSON).
pub fn check_json_integers(text: &str) -> Result<(), YamlError> {
    let bytes = text.as_bytes();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let literal = &text[start..i];
                let integer = !literal.contains(['.', 'e', 'E']);
                if integer && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
                    let column = text[line_start..start].chars().count() + 1;
                    return Err(YamlError::Unrepresentable {
                        location: Location { line, column },
                        reason: format!(
                            "the integer `{literal}` does not fit in 64 bits, the most prefab \
                             keeps exactly; quote it to keep it as text"
                        ),
                    });
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// A JSON pointer segment (RFC 6901 escaping).
fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A value with what an alias to it costs.
#[derive(Clone)]
struct Anchored {
    value: Value,
    nodes: usize,
    height: usize,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
        nodes: usize,
        height: usize,
    },
    Map {
        map: Map<String, Value>,
        pointer: String,
        anchor: usize,
        nodes: usize,
        height: usize,
        /// The key whose value comes next, with its location.
        key: Option<(String, Location)>,
        /// Where each key was first written (duplicate warnings).
        key_lines: HashMap<String, Location>,
        /// Mappings merged in with `<<`, in order of precedence.
        merged: Vec<Map<String, Value>>,
    },
}

#[derive(Default)]
struct Loader {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    locations: HashMap<String, Location>,
    warnings: Vec<YamlWarning>,
    nodes: usize,
    root: Option<Anchored>,
    documents: usize,
    schema: Schema,
}

impl Loader {
    fn run(mut self, text: &str) -> Result<LoadedYaml, YamlError> {
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| {
                let location = Location {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                };
                // The scanner's own flow-level limit (255) can come before the loader's.
                if e.info() == "recursion limit exceeded" {
                    YamlError::TooDeep {
                        location,
                        limit: MAX_DEPTH,
                    }
                } else {
                    YamlError::Syntax {
                        location,
                        reason: e.info().to_owned(),
                    }
                }
            })?;
            let at = Location::of(&span);
            match event {
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(YamlError::Syntax {
                            location: at,
                            reason: "a second YAML document (`---`): a data file holds one".into(),
                        });
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    if self.expecting_key() {
                        self.key(&text, style, tag.as_deref(), at)?;
                        if anchor != 0 {
                            self.anchors.insert(
                                anchor,
                                Anchored {
                                    value: Value::String(text.into_owned()),
                                    nodes: 1,
                                    height: 0,
                                },
                            );
                        }
                    } else {
                        if self.schema == Schema::Yaml11
                            && matches!(style, ScalarStyle::Plain)
                            && tag.is_none()
                            && text == "<<"
                        {
                            return Err(YamlError::Unrepresentable {
                                location: at,
                                reason: "a plain `<<` is YAML 1.1's merge key, which PyYAML \
                                         cannot construct as a value; quote it ('<<')"
                                    .into(),
                            });
                        }
                        let value = resolve_scalar(&text, style, tag.as_deref(), at, self.schema)?;
                        let node = Anchored {
                            value,
                            nodes: 1,
                            height: 0,
                        };
                        if anchor != 0 {
                            self.anchors.insert(anchor, node.clone());
                        }
                        self.push_value(node, at)?;
                    }
                }
                Event::Alias(id) => {
                    let Some(node) = self.anchors.get(&id).cloned() else {
                        return Err(YamlError::Syntax {
                            location: at,
                            reason: "an alias to an unknown anchor".into(),
                        });
                    };
                    if self.expecting_key() {
                        let Value::String(k) = &node.value else {
                            return Err(YamlError::BadKey {
                                location: at,
                                reason: "an alias used as a key must name a string".into(),
                            });
                        };
                        self.set_key(k.clone(), at);
                    } else {
                        self.push_value(node, at)?;
                    }
                }
                Event::SequenceStart(anchor, tag) => {
                    check_collection_tag(tag.as_deref(), "seq", at)?;
                    let pointer = self.open(at)?;
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        pointer,
                        anchor,
                        nodes: 1,
                        height: 1,
                    });
                }
                Event::MappingStart(anchor, tag) => {
                    check_collection_tag(tag.as_deref(), "map", at)?;
                    let pointer = self.open(at)?;
                    self.stack.push(Frame::Map {
                        map: Map::new(),
                        pointer,
                        anchor,
                        nodes: 1,
                        height: 1,
                        key: None,
                        key_lines: HashMap::new(),
                        merged: Vec::new(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close(at)?,
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        Ok(LoadedYaml {
            value: self.root.map(|r| r.value).unwrap_or(Value::Null),
            warnings: self.warnings,
            locations: self.locations,
        })
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn key(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        at: Location,
    ) -> Result<(), YamlError> {
        let resolved = resolve_scalar(text, style, tag, at, self.schema)?;
        let Value::String(key) = resolved else {
            return Err(YamlError::BadKey {
                location: at,
                reason: format!(
                    "the key `{text}` is {} and JSON keys are strings: quote it (\"{text}\") \
                     if it is a name",
                    kind_of(&resolved)
                ),
            });
        };
        // `<<` is the merge key only plain and untagged (YAML 1.1's merge type).
        let key = if key == "<<" && matches!(style, ScalarStyle::Plain) && tag.is_none() {
            MERGE_KEY.to_owned()
        } else {
            key
        };
        self.set_key(key, at);
        Ok(())
    }

    fn set_key(&mut self, k: String, at: Location) {
        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
            *key = Some((k, at));
        }
    }

    /// The pointer of the value that starts now (and the depth check for a collection).
    fn open(&mut self, at: Location) -> Result<String, YamlError> {
        if self.expecting_key() {
            return Err(YamlError::BadKey {
                location: at,
                reason: "a list or mapping used as a key: JSON keys are strings".into(),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::TooDeep {
                location: at,
                limit: MAX_DEPTH,
            });
        }
        let pointer = self.child_pointer();
        self.locations.insert(pointer.clone(), at);
        Ok(pointer)
    }

    fn child_pointer(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { items, pointer, .. }) => format!("{pointer}/{}", items.len()),
            Some(Frame::Map {
                pointer,
                key: Some((k, _)),
                ..
            }) if k != MERGE_KEY => format!("{pointer}/{}", escape_segment(k)),
            Some(Frame::Map { pointer, .. }) => format!("{pointer}/<<"),
        }
    }

    fn close(&mut self, at: Location) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (value, anchor, nodes, height) = match frame {
            Frame::Seq {
                items,
                anchor,
                nodes,
                height,
                ..
            } => (Value::Array(items), anchor, nodes, height),
            Frame::Map {
                mut map,
                anchor,
                nodes,
                height,
                merged,
                ..
            } => {
                for source in merged {
                    for (k, v) in source {
                        map.entry(k).or_insert(v);
                    }
                }
                (Value::Object(map), anchor, nodes, height)
            }
        };
        let node = Anchored {
            value,
            nodes,
            height,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.attach(node, at)
    }

    /// A scalar or alias value in the current collection.
    fn push_value(&mut self, node: Anchored, at: Location) -> Result<(), YamlError> {
        if node.height > 0 && self.stack.len() + node.height > MAX_DEPTH {
            return Err(YamlError::TooDeep {
                location: at,
                limit: MAX_DEPTH,
            });
        }
        let pointer = self.child_pointer();
        self.locations.insert(pointer, at);
        self.attach(node, at)
    }

    /// Adds a finished value to its parent (or makes it the document).
    fn attach(&mut self, node: Anchored, at: Location) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(node.nodes);
        if self.nodes > MAX_NODES {
            return Err(YamlError::TooLarge {
                location: at,
                limit: MAX_NODES,
            });
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match parent {
            Frame::Seq {
                items,
                nodes,
                height,
                ..
            } => {
                *nodes = nodes.saturating_add(node.nodes);
                *height = (*height).max(node.height + 1);
                items.push(node.value);
            }
            Frame::Map {
                map,
                pointer,
                nodes,
                height,
                key,
                key_lines,
                merged,
                ..
            } => {
                *nodes = nodes.saturating_add(node.nodes);
                *height = (*height).max(node.height + 1);
                let Some((k, key_at)) = key.take() else {
                    return Ok(());
                };
                if k == MERGE_KEY {
                    match node.value {
                        Value::Array(list) => {
                            for item in list {
                                merged.push(merge_source(item, at)?);
                            }
                        }
                        other => merged.push(merge_source(other, at)?),
                    }
                    return Ok(());
                }
                if let Some(first) = key_lines.get(&k) {
                    let path = if pointer.is_empty() {
                        String::new()
                    } else {
                        format!(" in {}", pointer_to_path(pointer))
                    };
                    self.warnings.push(YamlWarning {
                        location: key_at,
                        message: format!(
                            "duplicate key `{k}`{path} (first at line {}): the later value is \
                             used",
                            first.line
                        ),
                    });
                } else {
                    key_lines.insert(k.clone(), key_at);
                }
                map.insert(k, node.value);
            }
        }
        Ok(())
    }
}

/// The key under which `<<` waits for its value (not a string a document can spell: keys are
/// strings, and this one holds a NUL).
const MERGE_KEY: &str = "\0<<";

fn merge_source(value: Value, at: Location) -> Result<Map<String, Value>, YamlError> {
    match value {
        Value::Object(m) => Ok(m),
        other => Err(YamlError::Unrepresentable {
            location: at,
            reason: format!(
                "a merge key `<<` takes a mapping or a list of mappings, not {}",
                kind_of(&other)
            ),
        }),
    }
}

/// `/deployments/3/tags` → `deployments[3].tags` (for messages).
pub fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// `prefix` and a path below it: `join_path("deployments[3]", "tags[0]")` is
/// `deployments[3].tags[0]`; `.` (serde_path_to_error's root) and `""` add nothing.
pub fn join_path(prefix: &str, sub: &str) -> String {
    let sub = if sub == "." { "" } else { sub };
    if prefix.is_empty() || sub.is_empty() || sub.starts_with('[') {
        format!("{prefix}{sub}")
    } else {
        format!("{prefix}.{sub}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, at: Location) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t.is_yaml_core_schema() && t.suffix == expected => Ok(()),
        Some(t) if t.handle == "!" && t.suffix.is_empty() => Ok(()),
        Some(t) => Err(YamlError::Unrepresentable {
            location: at,
            reason: format!("the tag `{t}` is not supported here (only !!{expected}); remove it"),
        }),
    }
}

/// A scalar's value: YAML 1.2's core schema as `serde_yaml_ng` resolved it, with what JSON
/// cannot hold refused.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Location,
    schema: Schema,
) -> Result<Value, YamlError> {
    let unrepresentable = |reason: String| YamlError::Unrepresentable {
        location: at,
        reason,
    };
    // Tags mean the same in both schemas: `!` is text, and only the core schema's are known.
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix.is_empty() {
            return Ok(Value::String(text.to_owned()));
        }
        if !tag.is_yaml_core_schema() {
            return Err(unrepresentable(format!(
                "the tag `{tag}` is not supported (a data file holds plain values); remove it"
            )));
        }
    }
    if schema == Schema::Yaml11 {
        return yaml11::resolve(text, style, tag.map(|t| t.suffix.as_str()), at);
    }
    if let Some(tag) = tag {
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_owned())),
            "null" if text.is_empty() || is_null(text) => Ok(Value::Null),
            "bool" => match parse_bool(text) {
                Some(b) => Ok(Value::Bool(b)),
                None => Err(unrepresentable(format!("`{text}` is not a !!bool"))),
            },
            "int" => match resolve_number(text, at)? {
                Some(v @ Value::Number(_)) if !is_float_text(text) => Ok(v),
                _ => Err(unrepresentable(format!("`{text}` is not a !!int"))),
            },
            "float" => match resolve_number(text, at)? {
                Some(Value::Number(n)) => Ok(Value::Number(
                    Number::from_f64(n.as_f64().unwrap_or_default()).unwrap_or(n),
                )),
                _ => Err(unrepresentable(format!("`{text}` is not a !!float"))),
            },
            other => Err(unrepresentable(format!(
                "`{text}` is tagged !!{other}, which a data file cannot hold"
            ))),
        };
    }
    if !matches!(style, ScalarStyle::Plain) {
        return Ok(Value::String(text.to_owned()));
    }
    if text.is_empty() || is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    Ok(resolve_number(text, at)?.unwrap_or_else(|| Value::String(text.to_owned())))
}

fn is_null(s: &str) -> bool {
    matches!(s, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn is_float_text(s: &str) -> bool {
    !s.starts_with("0x")
        && !s.starts_with("-0x")
        && !s.starts_with("+0x")
        && s.contains(['.', 'e', 'E'])
}

/// Leading zero(s) followed by digits is a string in YAML 1.2 (`0123`).
fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// An integer or float the core schema reads in `s`, `None` for a string, an error for a
/// number JSON cannot hold.
fn resolve_number(s: &str, at: Location) -> Result<Option<Value>, YamlError> {
    let unrepresentable = |reason: String| YamlError::Unrepresentable {
        location: at,
        reason,
    };
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.starts_with(['+', '-']) {
        return Ok(None);
    }
    // Integers: 0x / 0o / 0b prefixes, or decimal digits without a leading zero.
    let radix_digits = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(p, r)| body.strip_prefix(p).map(|d| (d, r)));
    let int_text = match radix_digits {
        Some((digits, radix))
            if !digits.is_empty()
                && !digits.starts_with(['+', '-'])
                && digits.chars().all(|c| c.is_digit(radix)) =>
        {
            Some((digits, radix))
        }
        Some(_) => None,
        None if !body.is_empty()
            && body.bytes().all(|b| b.is_ascii_digit())
            && !digits_but_not_number(s) =>
        {
            Some((body, 10))
        }
        None => None,
    };
    if let Some((digits, radix)) = int_text {
        let magnitude = u128::from_str_radix(digits, radix).ok();
        let value = magnitude.and_then(|m| {
            if negative {
                i64::try_from(m)
                    .ok()
                    .map(|m| Value::from(-m))
                    .or_else(|| (m == 1u128 << 63).then(|| Value::from(i64::MIN)))
            } else {
                u64::try_from(m).ok().map(Value::from)
            }
        });
        return match value {
            Some(v) => Ok(Some(v)),
            None => Err(unrepresentable(format!(
                "the integer `{s}` does not fit in 64 bits, the most a JSON number keeps \
                 exactly; quote it to keep it as text"
            ))),
        };
    }
    match body {
        ".inf" | ".Inf" | ".INF" => return Err(no_json_form(s, "infinity", at)),
        ".nan" | ".NaN" | ".NAN" if !s.starts_with(['+', '-']) => {
            return Err(no_json_form(s, "not a number", at));
        }
        _ => {}
    }
    if digits_but_not_number(s) || !looks_like_float(body) {
        return Ok(None);
    }
    match body.parse::<f64>() {
        Ok(f) if f.is_finite() => {
            let f = if negative { -f } else { f };
            Ok(Number::from_f64(f).map(Value::Number))
        }
        Ok(_) => Err(unrepresentable(format!(
            "the number `{s}` is too large for a 64-bit float (it would become infinity); \
             quote it to keep it as text"
        ))),
        Err(_) => Ok(None),
    }
}

/// `.nan` / `.inf` (in either schema): refused, since Prefect would store `null` for them.
fn no_json_form(text: &str, what: &str, at: Location) -> YamlError {
    YamlError::Unrepresentable {
        location: at,
        reason: format!(
            "`{text}` ({what}) has no JSON form: Prefect 3.9.1 would send and store `null` \
             without a word; write the value you mean, `null`, or quote it"
        ),
    }
}

/// `[0-9]* ( . [0-9]* )? ( [eE] [-+]? [0-9]+ )?` with at least one digit before the exponent
/// — what Rust's `f64` parser reads, without its `inf`/`nan` words.
fn looks_like_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

mod yaml11;

#[cfg(test)]
mod tests;
