//! The composed document: PyYAML's node graph (an alias shares the node of its anchor), merge
//! keys resolved when their mapping ends, and the value made from it once the document ends.
//!
//! Composing before constructing is what PyYAML does, and it matters for YAML 1.1: which merged
//! pair wins depends on node identity (see [`KeyIdentity`]), and PyYAML only fails on a value it
//! constructs — a key's value that a later key replaces is still constructed (an impossible date
//! there fails), while a merged pair the merge leaves out is never looked at.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Location, Schema, TimestampKind, YamlError};

/// A node of the document.
#[derive(Debug, PartialEq)]
pub(super) enum Node {
    Scalar(Scalar),
    Seq(Vec<Arc<Node>>),
    Map(MapNode),
}

/// A scalar with its resolved value.
#[derive(Debug, PartialEq)]
pub(super) struct Scalar {
    /// The value, or why the document cannot have it.
    pub value: Result<Value, Refusal>,
    /// Whether PyYAML builds a `date` / `datetime` for it (the value is then its JSON text).
    pub timestamp: Option<TimestampKind>,
    /// The text when CPython shares its `str` object (see [`KeyIdentity`]).
    pub shared_text: Option<Box<str>>,
}

/// Why a scalar has no value. With [`Schema::Core`] every refusal is raised where the scalar is;
/// with [`Schema::Yaml11`] when the value is constructed, as PyYAML fails.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Refusal {
    /// PyYAML cannot construct it (`=`, an impossible date, an unknown tag): the document
    /// fails wherever the node is constructed, even as a value a later duplicate key replaces.
    Construct(YamlError),
    /// PyYAML constructs it but JSON has no form for it (`.nan`, integers beyond 64 bits):
    /// refused only where it ends up in the value.
    NoJsonForm(YamlError),
}

impl Refusal {
    pub(super) fn into_error(self) -> YamlError {
        match self {
            Refusal::Construct(e) | Refusal::NoJsonForm(e) => e,
        }
    }
}

/// How PyYAML 6.0.4's `flatten_mapping` tells merged pairs apart: by `id()` of the key node's
/// text (`id(pair[0].value)`). CPython shares one `str` object for every text of at most one
/// character below U+0100, so such keys are one identity wherever they are written; any other
/// key is its own node (the same only when an alias brings the same node twice).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum KeyIdentity {
    SharedText(Box<str>),
    Node(usize),
}

impl KeyIdentity {
    /// The identity of a key node: its shared text, else its serial number.
    pub(super) fn of(shared_text: Option<&str>, serial: usize) -> KeyIdentity {
        match shared_text {
            Some(t) => KeyIdentity::SharedText(t.into()),
            None => KeyIdentity::Node(serial),
        }
    }
}

/// The text of `text` if CPython shares its `str` object: empty, or one character below U+0100.
pub(super) fn shared_text(text: &str) -> Option<Box<str>> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Some("".into()),
        (Some(c), None) if u32::from(c) < 0x100 => Some(text.into()),
        _ => None,
    }
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pair {
    /// The key's text, or why the key cannot be one: raised when the pair is constructed, or
    /// (a key JSON cannot hold: `1`, `yes`, a date) when the mapping ends up in the value.
    pub key: Result<Arc<str>, Refusal>,
    pub identity: KeyIdentity,
    pub value: Arc<Node>,
}

/// A mapping, merges applied.
#[derive(Debug, PartialEq)]
pub(super) struct MapNode {
    /// The pairs the mapping is built from, later ones replacing earlier ones: with YAML 1.1 the
    /// merged pairs (as PyYAML keeps them) and then the written ones; with the core schema the
    /// written ones and then the merged pairs whose keys were missing.
    pairs: Vec<Pair>,
    /// The value's keys in order, each with the index of the pair that gives its value.
    entries: Vec<(Arc<str>, usize)>,
    /// Key → index in `entries`.
    index: HashMap<Arc<str>, usize>,
    /// What PyYAML raises when it flattens this mapping (a merge of something not a mapping).
    broken: Option<YamlError>,
}

impl MapNode {
    fn from_pairs(pairs: Vec<Pair>, broken: Option<YamlError>) -> MapNode {
        let mut map = MapNode {
            pairs: Vec::with_capacity(pairs.len()),
            entries: Vec::with_capacity(pairs.len()),
            index: HashMap::with_capacity(pairs.len()),
            broken,
        };
        for pair in pairs {
            map.push(pair, true);
        }
        map
    }

    /// Adds a pair; its value replaces an earlier one of the same key when `replace`.
    fn push(&mut self, pair: Pair, replace: bool) {
        let at = self.pairs.len();
        if let Ok(key) = &pair.key {
            match self.index.get(key) {
                Some(&e) if replace => self.entries[e].1 = at,
                Some(_) => return,
                None => {
                    self.index.insert(key.clone(), self.entries.len());
                    self.entries.push((key.clone(), at));
                }
            }
        }
        self.pairs.push(pair);
    }

    /// The node of the value at `key`.
    fn get(&self, key: &str) -> Option<&Arc<Node>> {
        let &e = self.index.get(key)?;
        Some(&self.pairs[self.entries[e].1].value)
    }
}

/// The mappings a merge key's value names, or what it is instead.
pub(super) fn merge_sources(value: &Node) -> Result<Vec<&MapNode>, &'static str> {
    match value {
        Node::Map(m) => Ok(vec![m]),
        Node::Seq(items) => items
            .iter()
            .map(|item| match &**item {
                Node::Map(m) => Ok(m),
                other => Err(kind_of(other)),
            })
            .collect(),
        other => Err(kind_of(other)),
    }
}

fn kind_of(node: &Node) -> &'static str {
    match node {
        Node::Scalar(Scalar { value: Ok(v), .. }) => super::kind_of(v),
        Node::Scalar(_) => "a scalar",
        Node::Seq(_) => "a list",
        Node::Map(_) => "a mapping",
    }
}

/// The error for a merge key whose value is not a mapping or a list of them.
pub(super) fn bad_merge(kind: &str, at: Location) -> YamlError {
    YamlError::Unrepresentable {
        location: at,
        reason: format!("a merge key `<<` takes a mapping or a list of mappings, not {kind}"),
    }
}

/// A mapping from its written pairs and its merge keys' values (each with where it is), in
/// document order.
pub(super) fn mapping(
    written: Vec<Pair>,
    merges: Vec<(Arc<Node>, Location)>,
    schema: Schema,
) -> MapNode {
    match schema {
        Schema::Core => {
            // Written keys win, then the merged mappings in order: the first to have a key.
            // (The loader refused a merge of anything else where it was.)
            let mut map = MapNode::from_pairs(written, None);
            for (value, _) in &merges {
                for source in merge_sources(value).unwrap_or_default() {
                    for (_, at) in &source.entries {
                        map.push(source.pairs[*at].clone(), false);
                    }
                }
            }
            map
        }
        Schema::Yaml11 => {
            // PyYAML 6.0.4's flatten_mapping: every merge key's mappings in document order, each
            // pair unless one of the same key identity came before; then the written pairs. The
            // dict keeps the last pair of each key.
            let mut merged = Vec::new();
            let mut seen = HashSet::new();
            let mut broken = None;
            'merges: for (value, at) in &merges {
                let sources = match merge_sources(value) {
                    Ok(sources) => sources,
                    Err(kind) => {
                        broken = Some(bad_merge(kind, *at));
                        break;
                    }
                };
                for source in sources {
                    if let Some(e) = &source.broken {
                        broken = Some(e.clone());
                        break 'merges;
                    }
                    for pair in &source.pairs {
                        if seen.insert(pair.identity.clone()) {
                            merged.push(pair.clone());
                        }
                    }
                }
            }
            merged.extend(written);
            MapNode::from_pairs(merged, broken)
        }
    }
}

/// The timestamp kind of the scalar at `pointer` (a JSON pointer) below `root`.
pub(super) fn timestamp_at(root: &Node, pointer: &str) -> Option<TimestampKind> {
    let mut node = root;
    if !pointer.is_empty() {
        for segment in pointer.strip_prefix('/')?.split('/') {
            node = match node {
                Node::Map(m) => m.get(&segment.replace("~1", "/").replace("~0", "~"))?,
                Node::Seq(items) => {
                    if segment.len() > 1 && segment.starts_with('0') {
                        return None;
                    }
                    items.get(segment.parse::<usize>().ok()?)?
                }
                Node::Scalar(_) => return None,
            };
        }
    }
    match node {
        Node::Scalar(s) => s.timestamp,
        _ => None,
    }
}

/// PyYAML's construction errors (YAML 1.1): everything it constructs — every pair of every
/// mapping reached, replaced or not — in document order, each node once.
pub(super) fn check_constructible(root: &Node) -> Result<(), YamlError> {
    let mut seen: HashSet<*const Node> = HashSet::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if !seen.insert(node) {
            continue;
        }
        match node {
            Node::Scalar(Scalar {
                value: Err(Refusal::Construct(e)),
                ..
            }) => return Err(e.clone()),
            Node::Scalar(_) => {}
            Node::Seq(items) => stack.extend(items.iter().rev().map(|n| &**n)),
            Node::Map(m) => {
                if let Some(e) = &m.broken {
                    return Err(e.clone());
                }
                for pair in &m.pairs {
                    if let Err(Refusal::Construct(e)) = &pair.key {
                        return Err(e.clone());
                    }
                }
                stack.extend(m.pairs.iter().rev().map(|p| &*p.value));
            }
        }
    }
    Ok(())
}

/// A collection being built.
enum Building<'a> {
    Seq(&'a [Arc<Node>], Vec<Value>),
    Map(&'a MapNode, Map<String, Value>),
}

impl Building<'_> {
    fn done(&self) -> usize {
        match self {
            Building::Seq(_, out) => out.len(),
            Building::Map(_, out) => out.len(),
        }
    }
}

/// The value of `root`: each mapping's winning pairs, in order. Refusals met on the way are
/// errors. Bounded by the loader's value count, and without recursion.
pub(super) fn construct(root: &Node) -> Result<Value, YamlError> {
    let mut stack: Vec<Building<'_>> = Vec::new();
    let mut next = root;
    loop {
        // A scalar is a value at once; a collection is built child by child.
        let mut value = match next {
            Node::Scalar(s) => Some(s.value.clone().map_err(Refusal::into_error)?),
            Node::Seq(items) => {
                stack.push(Building::Seq(items, Vec::with_capacity(items.len())));
                None
            }
            Node::Map(m) => {
                if let Some(e) = &m.broken {
                    return Err(e.clone());
                }
                // Every key lands in the value, whichever pair gives it its value.
                if let Some(Err(r)) = m.pairs.iter().map(|p| &p.key).find(|k| k.is_err()) {
                    return Err(r.clone().into_error());
                }
                stack.push(Building::Map(m, Map::new()));
                None
            }
        };
        // Put each finished value into its parent, until a collection has a child to start.
        loop {
            if let Some(v) = value.take() {
                match stack.last_mut() {
                    None => return Ok(v),
                    Some(Building::Seq(_, out)) => out.push(v),
                    Some(Building::Map(m, out)) => {
                        let key = &m.entries[out.len()].0;
                        out.insert(key.to_string(), v);
                    }
                }
            }
            let top = stack.last().expect("a collection is being built");
            if let Some(node) = child(top, top.done()) {
                next = node;
                break;
            }
            value = stack.pop().map(finish);
        }
    }
}

/// The `i`th child node of a collection being built, if it has one.
fn child<'a>(building: &Building<'a>, i: usize) -> Option<&'a Node> {
    match building {
        Building::Seq(items, _) => items.get(i).map(|n| &**n),
        Building::Map(m, _) => m.entries.get(i).map(|(_, p)| &*m.pairs[*p].value),
    }
}

fn finish(building: Building<'_>) -> Value {
    match building {
        Building::Seq(_, out) => Value::Array(out),
        Building::Map(_, out) => Value::Object(out),
    }
}
