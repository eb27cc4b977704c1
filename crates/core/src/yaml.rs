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
//! - **Merge keys** (`<<: *defaults`, `<<: [*a, *b]`): keys written in the mapping win over
//!   merged ones. Between merged mappings that share a key:
//!   - [`Schema::Core`]: the earlier mapping in a `<<` list wins, as the YAML 1.1 merge spec
//!     says and PyYAML up to 6.0.3 did; of two `<<` keys in one mapping (which the spec does
//!     not allow), the first (PyYAML up to 6.0.3: the second).
//!   - [`Schema::Yaml11`] does what PyYAML 6.0.4 does (`prefect deploy` with the PyYAML its
//!     install resolves to today; the change is [yaml/pyyaml#953], unintended and open). Its
//!     `flatten_mapping` gathers the merged mappings' pairs in document order (every `<<` in
//!     turn, a list in its order, each mapping's pairs as it holds them after its own merges)
//!     and keeps a pair only if no earlier one had the same key *identity*, then the written
//!     pairs; the dict keeps the last of each key. The identity is `id()` of the key's text
//!     object, which CPython shares for every text of at most one character below U+0100 (`k`,
//!     `é`, `''`) and not for other texts (`kk`, `中`), which are identical only when the same
//!     node comes twice (`<<: [*a, *a]`, or a merge of a mapping that merged it). So with
//!     `a: &a {k: 1, kk: 1}`, `b: &b {k: 2, kk: 2}`, both `{<<: [*a, *b]}` and `<<: *a` then
//!     `<<: *b` give `{k: 1, kk: 2}`: the first mapping wins one-character keys, the last wins
//!     longer ones. And `{<<: *a}` with `a: &a {k: 1, k: 2}` has `k: 1` while `a` itself has
//!     `k: 2`. Keys come in the order of PyYAML's dict: merged ones first. Checked on 2,500
//!     generated documents (`tests/yaml11_pyyaml.rs`).
//!
//! With [`Schema::Yaml11`] errors fall where PyYAML's do: what PyYAML fails to construct (`=`,
//! `2024-02-30`, `<<: 5`) fails wherever PyYAML constructs it — also as the value of a
//! key written again later — and not in a merged pair it leaves out; what it builds but JSON
//! cannot hold (`.nan`, `1:` as a key) is refused only where it ends up in the value. Dates and
//! datetimes become the text pydantic's JSON mode gives them, marked for
//! [`LoadedYaml::timestamp`].
//!
//! [yaml/pyyaml#953]: https://github.com/yaml/pyyaml/issues/953
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
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Number, Value};

use compose::{KeyIdentity, Node, Pair, Refusal, Scalar};

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
    /// A YAML 1.1 timestamp ([`Schema::Yaml11`]) naming a date or time that does not exist
    /// (`2024-02-30`, hour 24, a UTC offset of 24 hours), which PyYAML fails on.
    #[error("{location}: {reason}")]
    InvalidTimestamp {
        /// The timestamp.
        location: Location,
        /// Which part is wrong and what to write instead.
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
            | YamlError::InvalidTimestamp { location, .. }
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
    composed: Composed,
    non_string_keys: Vec<NonStringKey>,
}

/// A mapping key that YAML 1.1 reads as something other than text (`on:`, `1:`, `~:`), kept
/// under the text pydantic's JSON mode writes for it ([`LoadedYaml::non_string_keys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NonStringKey {
    /// The JSON pointer of the mapping that holds the key, where it was written.
    pub mapping: String,
    /// The key as it is in the value (`"true"`, `"1"`, `"None"`).
    pub key: String,
    /// What YAML 1.1 made of it (`a boolean`, `a number`, `null`, `a date`).
    pub kind: &'static str,
    /// The key as written.
    pub text: String,
    /// Where it is.
    pub location: Location,
}

/// What PyYAML builds for a YAML 1.1 timestamp ([`LoadedYaml::timestamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimestampKind {
    /// `2024-05-01`: a `datetime.date`.
    Date,
    /// `2024-05-01 10:20:30`, `2001-12-14t21:59:43.10-05:00`: a `datetime.datetime`.
    DateTime,
}

/// The composed document, kept when it has timestamps (to find them after aliases and merges).
#[derive(Clone, PartialEq)]
struct Composed(Option<Arc<Node>>);

impl fmt::Debug for Composed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Composed(with timestamps)"
        } else {
            "Composed(no timestamps)"
        })
    }
}

impl LoadedYaml {
    /// Where the value at `pointer` (a JSON pointer: `""`, `/deployments/3/tags`) starts; a
    /// value that came from an alias or a merge key is placed at the alias or key.
    pub fn location(&self, pointer: &str) -> Option<Location> {
        self.locations.get(pointer).copied()
    }

    /// Whether the value at `pointer` (a JSON pointer, as for [`location`](Self::location)) is a
    /// YAML 1.1 timestamp, which PyYAML turns into a `date` or `datetime` ([`Schema::Yaml11`]
    /// only): its [`value`](Self::value) is then the text pydantic's JSON mode writes for it
    /// (`"2024-05-01"`, `"2001-12-14T21:59:43.100000-05:00"`), and a validator of a field
    /// Prefect types as `str` refuses it, as pydantic does. A value that came through an alias
    /// or a merge key is found at the pointer where it ends up.
    ///
    /// ```
    /// use prefab_core::yaml::{Schema, TimestampKind, load_with};
    ///
    /// let doc = load_with("v: &d 2024-05-01\nw: [*d, '2024-05-01']\n", Schema::Yaml11).unwrap();
    /// assert_eq!(doc.value["w"][0], "2024-05-01");
    /// assert_eq!(doc.timestamp("/w/0"), Some(TimestampKind::Date));
    /// assert_eq!(doc.timestamp("/w/1"), None); // quoted: a string
    /// ```
    pub fn timestamp(&self, pointer: &str) -> Option<TimestampKind> {
        compose::timestamp_at(self.composed.0.as_deref()?, pointer)
    }

    /// The mapping keys YAML 1.1 did not read as text ([`Schema::Yaml11`] only; the core schema
    /// refuses them). PyYAML makes them booleans, numbers, `None` or dates, and pydantic's JSON
    /// mode writes them as text (`on:` → `"true"`, `1:` → `"1"`, `~:` → `"None"`), which is
    /// what the value holds; a field that Prefect types `Dict[str, …]` refuses them, as pydantic
    /// does. Each names the mapping it was written in (before aliases and merge keys).
    ///
    /// ```
    /// use prefab_core::yaml::{Schema, load_with};
    ///
    /// let doc = load_with("extra:\n  on: 1\n  2: b\n", Schema::Yaml11).unwrap();
    /// assert_eq!(doc.value["extra"], serde_json::json!({"true": 1, "2": "b"}));
    /// let keys = doc.non_string_keys();
    /// assert_eq!((keys[0].mapping.as_str(), keys[0].key.as_str(), keys[0].kind), ("/extra", "true", "a boolean"));
    /// ```
    pub fn non_string_keys(&self) -> &[NonStringKey] {
        &self.non_string_keys
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
    /// YAML 1.1 as PyYAML 6.0.4's `safe_load` reads it — what `prefect deploy` reads
    /// `prefect.yaml` with: `yes`/`no`/`on`/`off` booleans, `0`-prefixed octal, `_` in numbers,
    /// sexagesimal `1:30`, floats only with a dot (`1e3` is a string, `1.5e+3` a float: the
    /// exponent needs its sign). Timestamps (`2001-12-14`, `2024-05-01 10:20:30`), which PyYAML
    /// turns into `date`s and `datetime`s, become the text pydantic's JSON mode writes for them
    /// (`"2001-12-14"`, `"2024-05-01T10:20:30"`) and are marked ([`LoadedYaml::timestamp`]);
    /// one that does not exist (`2024-02-30`) is [`YamlError::InvalidTimestamp`]. `=` (YAML
    /// 1.1's value type) and `<<` as values are refused, as PyYAML cannot construct them, and
    /// so are what PyYAML's scanner and composer refuse and YAML 1.2 allows: a tab inside an
    /// unquoted value, an anchor name defined twice or with characters other than letters,
    /// digits, `-` and `_`. Merge keys and errors as described in the [module docs](self).
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
        text,
        schema,
        ..Loader::default()
    }
    .run()
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

/// A node with what an alias to it costs.
#[derive(Clone)]
struct Anchored {
    node: Arc<Node>,
    /// The node's serial number (PyYAML's `id()`, for [`KeyIdentity`]).
    serial: usize,
    nodes: usize,
    height: usize,
}

/// A mapping key waiting for its value.
enum PendingKey {
    /// `<<`.
    Merge,
    Pair {
        /// The key's text, or why it cannot be a key.
        key: Result<Arc<str>, Refusal>,
        identity: KeyIdentity,
        /// The key as a JSON pointer segment (unescaped).
        segment: String,
    },
}

enum Frame {
    Seq {
        items: Vec<Arc<Node>>,
        pointer: String,
        anchor: usize,
        nodes: usize,
        height: usize,
    },
    Map {
        pairs: Vec<Pair>,
        /// The values of `<<` keys, with where each is, in document order.
        merges: Vec<(Arc<Node>, Location)>,
        pointer: String,
        anchor: usize,
        nodes: usize,
        height: usize,
        /// The key whose value comes next, with its location.
        key: Option<(PendingKey, Location)>,
        /// Where each key was first written (duplicate warnings).
        key_lines: HashMap<String, Location>,
    },
}

#[derive(Default)]
struct Loader<'t> {
    text: &'t str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    locations: HashMap<String, Location>,
    warnings: Vec<YamlWarning>,
    nodes: usize,
    root: Option<Anchored>,
    documents: usize,
    schema: Schema,
    serial: usize,
    saw_timestamp: bool,
    /// YAML 1.1: each anchor name with where it is defined (PyYAML refuses a second one).
    anchor_names: HashMap<String, Location>,
    /// A character index of the text and its byte offset (events come in text order).
    cursor: (usize, usize),
    /// YAML 1.1 keys that are not text, kept as pydantic writes them.
    non_string_keys: Vec<NonStringKey>,
}

impl Loader<'_> {
    fn run(mut self) -> Result<LoadedYaml, YamlError> {
        for event in Parser::new_from_str(self.text) {
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
                    if self.schema == Schema::Yaml11
                        && matches!(style, ScalarStyle::Plain)
                        && text.contains('\t')
                    {
                        return Err(YamlError::Syntax {
                            location: at,
                            reason: "a tab inside an unquoted value: PyYAML (`prefect deploy`) \
                                     refuses it; quote the value or use spaces"
                                .into(),
                        });
                    }
                    self.check_anchor(anchor, &span, at)?;
                    if self.expecting_key() {
                        self.key(&text, style, tag.as_deref(), anchor, at)?;
                    } else {
                        let scalar = self.scalar(&text, style, tag.as_deref(), at, anchor != 0)?;
                        let node = self.anchored(Node::Scalar(scalar), 1, 0);
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
                        self.alias_key(&node, at)?;
                    } else {
                        self.push_value(node, at)?;
                    }
                }
                Event::SequenceStart(anchor, tag) => {
                    check_collection_tag(tag.as_deref(), "seq", at)?;
                    self.check_anchor(anchor, &span, at)?;
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
                    self.check_anchor(anchor, &span, at)?;
                    let pointer = self.open(at)?;
                    self.stack.push(Frame::Map {
                        pairs: Vec::new(),
                        merges: Vec::new(),
                        pointer,
                        anchor,
                        nodes: 1,
                        height: 1,
                        key: None,
                        key_lines: HashMap::new(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close(at)?,
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        let value = match &self.root {
            None => Value::Null,
            Some(root) => {
                if self.schema == Schema::Yaml11 {
                    compose::check_constructible(&root.node)?;
                }
                compose::construct(&root.node)?
            }
        };
        let composed = match self.root {
            Some(root) if self.saw_timestamp => Some(root.node),
            _ => None,
        };
        Ok(LoadedYaml {
            value,
            warnings: self.warnings,
            locations: self.locations,
            composed: Composed(composed),
            non_string_keys: self.non_string_keys,
        })
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// A node with the next serial number.
    fn anchored(&mut self, node: Node, nodes: usize, height: usize) -> Anchored {
        self.serial += 1;
        Anchored {
            node: Arc::new(node),
            serial: self.serial,
            nodes,
            height,
        }
    }

    /// YAML 1.1: PyYAML refuses an anchor name defined twice, and reads names of letters,
    /// digits, `-` and `_` only. (Saphyr, following YAML 1.2, lets a later anchor replace an
    /// earlier one and takes any name.) The event gives the anchor's number; its name is read
    /// from the text where the node's properties start.
    fn check_anchor(&mut self, anchor: usize, span: &Span, at: Location) -> Result<(), YamlError> {
        if anchor == 0 || self.schema != Schema::Yaml11 {
            return Ok(());
        }
        let rest = &self.text[self.byte_offset(span.start.index())..];
        // A tag may come first: `!!map &a`, possibly with a line break or comment between.
        let rest = match rest.strip_prefix('!') {
            Some(r) => r.trim_start_matches(|c: char| !c.is_whitespace()),
            None => rest,
        };
        let mut rest = rest.trim_start();
        while let Some(comment) = rest.strip_prefix('#') {
            rest = comment
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        }
        let Some(name) = rest.strip_prefix('&') else {
            return Ok(());
        };
        let name = &name[..name
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}'))
            .unwrap_or(name.len())];
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(YamlError::Syntax {
                location: at,
                reason: format!(
                    "the anchor name `&{name}`: PyYAML (`prefect deploy`) reads anchor names \
                     of letters, digits, `-` and `_` only; rename it"
                ),
            });
        }
        if let Some(first) = self.anchor_names.insert(name.to_owned(), at) {
            return Err(YamlError::Syntax {
                location: at,
                reason: format!(
                    "the anchor `&{name}` is defined a second time (first at line {}): PyYAML \
                     (`prefect deploy`) refuses that; rename one of them",
                    first.line
                ),
            });
        }
        Ok(())
    }

    /// The byte offset of character `index`, moving a cursor forward (or from the start).
    fn byte_offset(&mut self, index: usize) -> usize {
        let (mut chars, mut bytes) = if index >= self.cursor.0 {
            self.cursor
        } else {
            (0, 0)
        };
        for c in self.text[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    /// A scalar in value position; `keyable` when an alias may make it a key.
    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        at: Location,
        keyable: bool,
    ) -> Result<Scalar, YamlError> {
        let merge_tag = tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "merge");
        let resolved = if self.schema == Schema::Yaml11
            && ((matches!(style, ScalarStyle::Plain) && tag.is_none() && text == "<<") || merge_tag)
        {
            Err(Refusal::Construct(YamlError::Unrepresentable {
                location: at,
                reason: "a plain `<<` is YAML 1.1's merge key, which PyYAML cannot construct as \
                         a value; quote it ('<<')"
                    .into(),
            }))
        } else {
            resolve_scalar(text, style, tag, at, self.schema)
        };
        let (value, timestamp) = match resolved {
            Ok((v, t)) => (Ok(v), t),
            Err(refusal) if self.schema == Schema::Yaml11 => (Err(refusal), None),
            Err(refusal) => return Err(refusal.into_error()),
        };
        self.saw_timestamp |= timestamp.is_some();
        Ok(Scalar {
            value,
            timestamp,
            shared_text: keyable.then(|| compose::shared_text(text)).flatten(),
        })
    }

    fn key(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        anchor: usize,
        at: Location,
    ) -> Result<(), YamlError> {
        let plain = matches!(style, ScalarStyle::Plain) && tag.is_none();
        let core_tag = tag
            .filter(|t| t.is_yaml_core_schema())
            .map(|t| t.suffix.as_str());
        // `<<` is the merge key only plain and untagged (YAML 1.1's merge type), or tagged so.
        if (plain && text == "<<") || (self.schema == Schema::Yaml11 && core_tag == Some("merge")) {
            self.set_key(PendingKey::Merge, at);
            return Ok(());
        }
        // PyYAML's flatten_mapping turns a `=` key (YAML 1.1's value type) into a string.
        let value_type =
            self.schema == Schema::Yaml11 && ((plain && text == "=") || core_tag == Some("value"));
        let scalar = if value_type {
            Scalar {
                value: Ok(Value::String(text.to_owned())),
                timestamp: None,
                shared_text: compose::shared_text(text),
            }
        } else {
            self.scalar(text, style, tag, at, true)?
        };
        let key = match &scalar.value {
            Ok(Value::String(k)) if scalar.timestamp.is_none() => Ok(Arc::<str>::from(k.as_str())),
            Ok(resolved) if self.schema == Schema::Yaml11 && pydantic_key(resolved).is_some() => {
                let what = match scalar.timestamp {
                    Some(TimestampKind::Date) => "a date",
                    Some(TimestampKind::DateTime) => "a date and time",
                    None => kind_of(resolved),
                };
                let key = pydantic_key(resolved).unwrap_or_default();
                let mapping = match self.stack.last() {
                    Some(Frame::Map { pointer, .. }) => pointer.clone(),
                    _ => String::new(),
                };
                self.non_string_keys.push(NonStringKey {
                    mapping,
                    key: key.clone(),
                    kind: what,
                    text: text.to_owned(),
                    location: at,
                });
                Ok(Arc::<str>::from(key.as_str()))
            }
            Ok(resolved) => {
                let what = match scalar.timestamp {
                    Some(TimestampKind::Date) => "a date",
                    Some(TimestampKind::DateTime) => "a date and time",
                    None => kind_of(resolved),
                };
                Err(Refusal::NoJsonForm(YamlError::BadKey {
                    location: at,
                    reason: format!(
                        "the key `{text}` is {what} and JSON keys are strings: quote it \
                         (\"{text}\") if it is a name"
                    ),
                }))
            }
            Err(refusal) => Err(refusal.clone()),
        };
        let key = match key {
            Err(r) if self.schema == Schema::Core => return Err(r.into_error()),
            key => key,
        };
        let identity_text = scalar.shared_text.clone();
        let anchored = self.anchored(Node::Scalar(scalar), 1, 0);
        if anchor != 0 {
            self.anchors.insert(anchor, anchored.clone());
        }
        let segment = key.as_deref().unwrap_or(text).to_owned();
        let identity = KeyIdentity::of(identity_text.as_deref(), anchored.serial);
        self.set_key(
            PendingKey::Pair {
                key,
                identity,
                segment,
            },
            at,
        );
        Ok(())
    }

    /// An alias as a mapping key.
    fn alias_key(&mut self, anchored: &Anchored, at: Location) -> Result<(), YamlError> {
        // PyYAML: a collection is an unhashable key (it fails); a number, boolean or date is a
        // key JSON cannot hold.
        let (key, shared_text) = match &*anchored.node {
            Node::Scalar(Scalar {
                value: Ok(Value::String(k)),
                timestamp: None,
                shared_text,
            }) => (Ok(Arc::<str>::from(k.as_str())), shared_text.as_deref()),
            Node::Scalar(Scalar {
                value: Err(refusal),
                shared_text,
                ..
            }) => (Err(refusal.clone()), shared_text.as_deref()),
            Node::Scalar(s) => (
                Err(Refusal::NoJsonForm(bad_alias_key(at))),
                s.shared_text.as_deref(),
            ),
            _ => (Err(Refusal::Construct(bad_alias_key(at))), None),
        };
        let key = match key {
            Err(r) if self.schema == Schema::Core => return Err(r.into_error()),
            key => key,
        };
        let identity = KeyIdentity::of(shared_text, anchored.serial);
        let segment = key.as_deref().unwrap_or("*").to_owned();
        self.set_key(
            PendingKey::Pair {
                key,
                identity,
                segment,
            },
            at,
        );
        Ok(())
    }

    fn set_key(&mut self, k: PendingKey, at: Location) {
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
                key: Some((PendingKey::Pair { segment, .. }, _)),
                ..
            }) => format!("{pointer}/{}", escape_segment(segment)),
            Some(Frame::Map { pointer, .. }) => format!("{pointer}/<<"),
        }
    }

    fn close(&mut self, at: Location) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor, nodes, height) = match frame {
            Frame::Seq {
                items,
                anchor,
                nodes,
                height,
                ..
            } => (Node::Seq(items), anchor, nodes, height),
            Frame::Map {
                pairs,
                merges,
                anchor,
                nodes,
                height,
                ..
            } => {
                let map = compose::mapping(pairs, merges, self.schema);
                (Node::Map(map), anchor, nodes, height)
            }
        };
        let node = self.anchored(node, nodes, height);
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

    /// Adds a finished node to its parent (or makes it the document).
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
                items.push(node.node);
            }
            Frame::Map {
                pairs,
                merges,
                pointer,
                nodes,
                height,
                key,
                key_lines,
                ..
            } => {
                *nodes = nodes.saturating_add(node.nodes);
                *height = (*height).max(node.height + 1);
                let Some((pending, key_at)) = key.take() else {
                    return Ok(());
                };
                let PendingKey::Pair { key, identity, .. } = pending else {
                    // The core schema refuses a bad merge where it is; YAML 1.1 when the
                    // mapping is constructed, as PyYAML.
                    if self.schema == Schema::Core
                        && let Err(kind) = compose::merge_sources(&node.node)
                    {
                        return Err(compose::bad_merge(kind, at));
                    }
                    merges.push((node.node, at));
                    return Ok(());
                };
                if let Ok(k) = &key {
                    if let Some(first) = key_lines.get(&**k) {
                        let path = if pointer.is_empty() {
                            String::new()
                        } else {
                            format!(" in {}", pointer_to_path(pointer))
                        };
                        self.warnings.push(YamlWarning {
                            location: key_at,
                            message: format!(
                                "duplicate key `{k}`{path} (first at line {}): the later value \
                                 is used",
                                first.line
                            ),
                        });
                    } else {
                        key_lines.insert(k.to_string(), key_at);
                    }
                }
                pairs.push(Pair {
                    key,
                    identity,
                    value: node.node,
                });
            }
        }
        Ok(())
    }
}

fn bad_alias_key(at: Location) -> YamlError {
    YamlError::BadKey {
        location: at,
        reason: "an alias used as a key must name a string".into(),
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

/// The text pydantic's JSON mode writes for a dictionary key PyYAML built from a scalar:
/// `true`/`false`, the number as Python prints it, `None`, a date's ISO text.
fn pydantic_key(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("None".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64()?;
            if !f.is_finite() {
                return None;
            }
            let s = format!("{f:?}");
            Some(if s.contains(['.', 'e']) {
                s
            } else {
                format!("{s}.0")
            })
        }
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
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

/// A scalar's value under `schema`, and whether PyYAML makes a `date` / `datetime` of it.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Location,
    schema: Schema,
) -> Result<(Value, Option<TimestampKind>), Refusal> {
    // Tags mean the same in both schemas: `!` is text, and only the core schema's are known.
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix.is_empty() {
            return Ok((Value::String(text.to_owned()), None));
        }
        if !tag.is_yaml_core_schema() {
            return Err(Refusal::Construct(YamlError::Unrepresentable {
                location: at,
                reason: format!(
                    "the tag `{tag}` is not supported (a data file holds plain values); remove it"
                ),
            }));
        }
    }
    match schema {
        Schema::Yaml11 => yaml11::resolve(text, style, tag.map(|t| t.suffix.as_str()), at),
        Schema::Core => core_scalar(text, style, tag, at)
            .map(|v| (v, None))
            .map_err(Refusal::Construct),
    }
}

/// A scalar's value: YAML 1.2's core schema as `serde_yaml_ng` resolved it, with what JSON
/// cannot hold refused.
fn core_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Location,
) -> Result<Value, YamlError> {
    let unrepresentable = |reason: String| YamlError::Unrepresentable {
        location: at,
        reason,
    };
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

mod compose;
mod timestamp;
mod yaml11;

#[cfg(test)]
mod tests;
