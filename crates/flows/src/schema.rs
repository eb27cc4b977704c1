//! Pydantic v2's JSON schema, as Prefect 3.9.1's `parameter_schema` produces it, for the
//! types and values the static reader models.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{Map, Value as Json};

use super::eval::{py_float_repr, timedelta_from_micros, values_equal};
use super::model_config::{BytesMode, DumpSettings, ModelConfig, Temporal, Validation};
use super::value::{Builtin, EnumDef, FieldInfo, ModelDef, Ty, Value};

/// What a default turned into.
enum Encoded {
    Done(Json),
    /// Pydantic cannot serialise it: the schema has no `default`.
    NotSerializable,
    /// The reader could not evaluate it: Prefect's static loader uses `None`.
    Unknown,
}

/// One parameter, ready for the schema.
#[derive(Debug, Clone)]
pub(crate) struct ParamSpec {
    pub name: String,
    pub position: usize,
    pub ty: Ty,
    /// `None`: required.
    pub default: Option<Value>,
    pub description: Option<String>,
    /// `json_schema_extra` of a `Field(...)` default, merged under `position`.
    pub extra: Vec<(String, Value)>,
}

/// Builds the pydantic schema of the `Parameters` model Prefect creates, in the dump form
/// `apply()` sends (`required`/`definitions` only when non-empty).
pub(crate) fn parameters_schema(params: &[ParamSpec], notes: &mut Vec<String>) -> Json {
    let mut g = Gen::default();
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in params {
        let (ty, annotated) = super::eval::split_annotated(p.ty.clone());
        let mut schema = match g.schema(&ty) {
            Ok(s) => s,
            // Prefect swaps types pydantic cannot describe for `Any`.
            Err(reason) => {
                notes.push(format!(
                    "parameter {:?}: pydantic cannot describe its type ({reason}); Prefect uses Any",
                    p.name
                ));
                Map::new()
            }
        };
        if let Some(info) = &annotated {
            apply_constraints(&mut schema, &ty, &info.constraints);
            if let Some(ex) = &info.examples
                && let Encoded::Done(j) = encode(ex)
            {
                schema.insert("examples".into(), j);
            }
        }
        schema.insert("title".into(), Json::String(p.name.clone()));
        if let Some(d) = &p.description {
            schema.insert("description".into(), Json::String(d.clone()));
        }
        match &p.default {
            None => required.push(Json::String(p.name.clone())),
            Some(d) => match encode_default(d) {
                Encoded::Done(j) => {
                    schema.insert("default".into(), j);
                }
                Encoded::Unknown => {
                    schema.insert("default".into(), Json::Null);
                }
                Encoded::NotSerializable => {}
            },
        }
        let mut extra: Vec<(String, Value)> = p.extra.clone();
        if !extra.iter().any(|(k, _)| k == "position") {
            extra.push(("position".into(), Value::Int(p.position as i128)));
        }
        for (k, v) in extra {
            if let Encoded::Done(j) = encode(&v) {
                schema.insert(k, j);
            }
        }
        props.insert(p.name.clone(), Json::Object(schema));
    }
    let mut model = Map::new();
    model.insert("properties".into(), Json::Object(props));
    if !required.is_empty() {
        model.insert("required".into(), Json::Array(required));
    }
    model.insert("title".into(), Json::String("Parameters".into()));
    model.insert("type".into(), Json::String("object".into()));
    notes.append(&mut g.notes);
    if !g.defs.is_empty() {
        let defs: Map<String, Json> = std::mem::take(&mut g.defs).into_iter().collect();
        model.insert("$defs".into(), Json::Object(defs));
    }
    let sorted = pydantic_sort(&Json::Object(model), None);
    // ParameterSchema(**schema).model_dump(exclude_unset=True): its own field order.
    let mut out = Map::new();
    out.insert("title".into(), Json::String("Parameters".into()));
    out.insert("type".into(), Json::String("object".into()));
    out.insert(
        "properties".into(),
        sorted
            .get("properties")
            .cloned()
            .unwrap_or(Json::Object(Map::new())),
    );
    if let Some(r) = sorted.get("required") {
        out.insert("required".into(), r.clone());
    }
    if let Some(d) = sorted.get("$defs") {
        out.insert("definitions".into(), d.clone());
    }
    Json::Object(out)
}

/// Pydantic's `GenerateJsonSchema.sort`: keys sorted recursively, except directly under
/// `properties` and `default`.
pub(crate) fn pydantic_sort(value: &Json, parent_key: Option<&str>) -> Json {
    super::depth::guarded(|| pydantic_sort_inner(value, parent_key))
}

fn pydantic_sort_inner(value: &Json, parent_key: Option<&str>) -> Json {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            if !matches!(parent_key, Some("properties" | "default")) {
                keys.sort();
            }
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), pydantic_sort(&map[k], Some(k)));
            }
            Json::Object(out)
        }
        Json::Array(items) => {
            Json::Array(items.iter().map(|i| pydantic_sort(i, parent_key)).collect())
        }
        other => other.clone(),
    }
}

#[derive(Default)]
struct Gen {
    defs: BTreeMap<String, Json>,
    /// The configuration of the model whose fields are being described (pydantic's config
    /// stack; the `Parameters` model Prefect builds sets nothing that matters here).
    settings: TypeSettings,
    /// What the models described could not reproduce of their configuration.
    notes: Vec<String>,
}

/// What a model's configuration changes in the schemas of its fields' types.
#[derive(Debug, Clone, Copy, Default)]
struct TypeSettings {
    str_min_length: Option<i128>,
    str_max_length: Option<i128>,
    bytes: BytesMode,
    /// `json_schema_mode_override="serialization"`.
    serialization: bool,
    timedelta: Temporal,
    temporal: Temporal,
}

impl TypeSettings {
    fn of(config: &ModelConfig) -> TypeSettings {
        let (str_min_length, str_max_length) = config.str_lengths();
        let dump = config.dump_settings();
        TypeSettings {
            str_min_length,
            str_max_length,
            bytes: dump.bytes,
            serialization: config.serialization_mode(),
            timedelta: dump.timedelta,
            temporal: dump.temporal,
        }
    }

    /// `str_schema`: the configured lengths where the type has none of its own.
    fn string(&self, mut schema: Map<String, Json>) -> Map<String, Json> {
        if let Some(n) = self.str_min_length {
            schema.insert("minLength".into(), Json::from(n as i64));
        }
        if let Some(n) = self.str_max_length {
            schema.insert("maxLength".into(), Json::from(n as i64));
        }
        schema
    }

    /// Dates, times and durations: a number in serialization mode when the model writes
    /// them as seconds or milliseconds.
    fn temporal(&self, format: &str, mode: Temporal) -> Map<String, Json> {
        if self.serialization && mode != Temporal::Iso {
            obj(&[("type", s("number"))])
        } else {
            obj(&[("format", s(format)), ("type", s("string"))])
        }
    }
}

fn obj(pairs: &[(&str, Json)]) -> Map<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn s(x: &str) -> Json {
    Json::String(x.to_string())
}

impl Gen {
    fn schema(&mut self, ty: &Ty) -> Result<Map<String, Json>, String> {
        super::depth::guarded(|| self.schema_inner(ty))
    }

    fn schema_inner(&mut self, ty: &Ty) -> Result<Map<String, Json>, String> {
        Ok(match ty {
            Ty::Any | Ty::Plain(_) | Ty::Arbitrary(_) => Map::new(),
            Ty::Int => obj(&[("type", s("integer"))]),
            Ty::Float => obj(&[("type", s("number"))]),
            Ty::Str => self.settings.string(obj(&[("type", s("string"))])),
            Ty::Bool => obj(&[("type", s("boolean"))]),
            Ty::Bytes => {
                let format = match self.settings.bytes {
                    BytesMode::Base64 => "base64url",
                    _ => "binary",
                };
                obj(&[("format", s(format)), ("type", s("string"))])
            }
            Ty::NoneType => obj(&[("type", s("null"))]),
            Ty::List(t) => obj(&[
                ("items", Json::Object(self.schema(t)?)),
                ("type", s("array")),
            ]),
            Ty::Set(t) | Ty::FrozenSet(t) => obj(&[
                ("items", Json::Object(self.schema(t)?)),
                ("type", s("array")),
                ("uniqueItems", Json::Bool(true)),
            ]),
            Ty::TupleVar(t) => obj(&[
                ("items", Json::Object(self.schema(t)?)),
                ("type", s("array")),
            ]),
            Ty::Tuple(items) => {
                let n = Json::from(items.len());
                if items.is_empty() {
                    obj(&[
                        ("maxItems", n.clone()),
                        ("minItems", n),
                        ("type", s("array")),
                    ])
                } else {
                    let mut prefix = Vec::new();
                    for t in items {
                        prefix.push(Json::Object(self.schema(t)?));
                    }
                    obj(&[
                        ("maxItems", n.clone()),
                        ("minItems", n),
                        ("prefixItems", Json::Array(prefix)),
                        ("type", s("array")),
                    ])
                }
            }
            Ty::Dict(k, v) => self.dict_schema(k, v)?,
            Ty::Union(members) => {
                let has_none = members.iter().any(|m| matches!(m, Ty::NoneType));
                let mut any_of = Vec::new();
                for m in members.iter().filter(|m| !matches!(m, Ty::NoneType)) {
                    let ms = self.schema(m)?;
                    match ms.get("anyOf") {
                        Some(Json::Array(inner)) if ms.len() == 1 => {
                            any_of.extend(inner.iter().cloned())
                        }
                        _ => any_of.push(Json::Object(ms)),
                    }
                }
                if has_none {
                    any_of.push(Json::Object(obj(&[("type", s("null"))])));
                }
                if any_of.len() == 1 {
                    match any_of.pop() {
                        Some(Json::Object(m)) => m,
                        _ => Map::new(),
                    }
                } else {
                    obj(&[("anyOf", Json::Array(any_of))])
                }
            }
            Ty::Literal(values) => literal_schema(values),
            Ty::Enum(def) => {
                if !self.defs.contains_key(&def.name) {
                    let schema = enum_schema(def);
                    self.defs.insert(def.name.clone(), Json::Object(schema));
                }
                obj(&[("$ref", Json::String(format!("#/definitions/{}", def.name)))])
            }
            Ty::Model(def) => {
                if !self.defs.contains_key(&def.name) {
                    // Placeholder first: models may refer to themselves.
                    self.defs.insert(def.name.clone(), Json::Null);
                    let schema = self.model_schema(def)?;
                    self.defs.insert(def.name.clone(), Json::Object(schema));
                }
                obj(&[("$ref", Json::String(format!("#/definitions/{}", def.name)))])
            }
            Ty::Date => self.settings.temporal("date", self.settings.temporal),
            Ty::DateTime => self.settings.temporal("date-time", self.settings.temporal),
            Ty::Time => self.settings.temporal("time", self.settings.temporal),
            Ty::TimeDelta => self.settings.temporal("duration", self.settings.timedelta),
            Ty::Uuid => obj(&[("format", s("uuid")), ("type", s("string"))]),
            Ty::Decimal if self.settings.serialization => obj(&[("type", s("string"))]),
            Ty::Decimal => obj(&[(
                "anyOf",
                Json::Array(vec![
                    Json::Object(obj(&[("type", s("number"))])),
                    Json::Object(obj(&[("type", s("string"))])),
                ]),
            )]),
            Ty::Path => self
                .settings
                .string(obj(&[("format", s("path")), ("type", s("string"))])),
            Ty::SecretStr => self.settings.string(obj(&[
                ("format", s("password")),
                ("type", s("string")),
                ("writeOnly", Json::Bool(true)),
            ])),
            Ty::Annotated(inner, infos) => {
                let mut base = self.schema(inner)?;
                let mut merged = FieldInfo::default();
                for i in infos {
                    super::eval::merge_field_info(&mut merged, i);
                }
                apply_constraints(&mut base, inner, &merged.constraints);
                base
            }
            Ty::Invalid(reason) => return Err(reason.clone()),
            Ty::TooDeep => return Err("nested too deeply".into()),
        })
    }

    /// pydantic's `_common_dict_schema`: the values' schema under `additionalProperties`
    /// (or `patternProperties` for keys with a pattern), the keys' own constraints under
    /// `propertyNames`.
    fn dict_schema(&mut self, k: &Ty, v: &Ty) -> Result<Map<String, Json>, String> {
        let mut keys = self.schema(k)?;
        let keys_ref = keys.contains_key("$ref");
        let keys_pattern = if keys_ref {
            None
        } else {
            keys.remove("title");
            keys.remove("pattern")
        };
        let mut values = self.schema(v)?;
        values.remove("title");
        let mut out = obj(&[("type", s("object"))]);
        match keys_pattern {
            Some(Json::String(p)) => {
                let mut pp = Map::new();
                pp.insert(p, Json::Object(values));
                out.insert("patternProperties".into(), Json::Object(pp));
            }
            _ if values.is_empty() => {
                out.insert("additionalProperties".into(), Json::Bool(true));
            }
            _ => {
                out.insert("additionalProperties".into(), Json::Object(values));
            }
        }
        if (keys.get("type") == Some(&s("string")) && keys.len() > 1) || keys_ref {
            keys.remove("type");
            out.insert("propertyNames".into(), Json::Object(keys));
        }
        Ok(out)
    }

    fn model_schema(&mut self, def: &Rc<ModelDef>) -> Result<Map<String, Json>, String> {
        self.notes.extend(def.notes.iter().cloned());
        let outer = std::mem::replace(&mut self.settings, TypeSettings::of(&def.config));
        let schema = self.model_fields_schema(def);
        self.settings = outer;
        let mut out = schema;
        // pydantic's `_update_class_schema`: title, description, additionalProperties, then
        // `json_schema_extra` over all of them.
        let title = def.config.title().unwrap_or(&def.name);
        out.insert("title".into(), s(title));
        if let Some(doc) = &def.doc {
            out.insert("description".into(), s(doc));
        }
        if let Some(add) = def.config.additional_properties() {
            out.insert("additionalProperties".into(), Json::Bool(add));
        }
        if let Some(items) = def.config.json_schema_extra() {
            for (k, v) in items {
                if let (Value::Str(k), Encoded::Done(j)) = (k, encode(v)) {
                    out.insert(k.clone(), j);
                }
            }
        }
        Ok(out)
    }

    fn model_fields_schema(&mut self, def: &Rc<ModelDef>) -> Map<String, Json> {
        let serialization = def.config.serialization_mode();
        let all_required = serialization && def.config.serialization_defaults_required();
        let defaults = def.config.default_settings();
        let fields = def.fields.borrow().clone();
        let mut props = Map::new();
        let mut required = Vec::new();
        for f in &fields {
            let (ty, annotated) = super::eval::split_annotated(f.ty.clone());
            let mut info = annotated.unwrap_or_default();
            super::eval::merge_field_info(&mut info, &f.info);
            let mut schema = self.schema(&ty).unwrap_or_default();
            apply_constraints(&mut schema, &ty, &info.constraints);
            let key = if serialization {
                info.serialization_key(&f.name)
            } else {
                info.validation_key(&f.name)
            };
            if let Some(t) = &info.title {
                schema.insert("title".into(), s(t));
            } else if field_title_should_be_set(&ty) {
                schema.insert("title".into(), s(&title_from_name(&key)));
            }
            if let Some(d) = &info.description {
                schema.insert("description".into(), s(d));
            }
            if let Some(ex) = &info.examples
                && let Encoded::Done(j) = encode(ex)
            {
                schema.insert("examples".into(), j);
            }
            match (&f.default, &f.factory) {
                (Some(d), _) => match encode_default_with(d, &defaults) {
                    Encoded::Done(j) => {
                        schema.insert("default".into(), j);
                    }
                    Encoded::Unknown => {
                        schema.insert("default".into(), Json::Null);
                    }
                    Encoded::NotSerializable => {}
                },
                (None, Some(_)) => {}
                (None, None) => required.push(Json::String(key.clone())),
            }
            if all_required && !required.contains(&Json::String(key.clone())) {
                required.push(Json::String(key.clone()));
            }
            if let Some(Value::Dict(items)) = &info.json_schema_extra {
                for (k, v) in items {
                    if let (Value::Str(k), Encoded::Done(j)) = (k, encode(v)) {
                        schema.insert(k.clone(), j);
                    }
                }
            }
            props.insert(key, Json::Object(schema));
        }
        let mut out = Map::new();
        out.insert("properties".into(), Json::Object(props));
        if !required.is_empty() {
            out.insert("required".into(), Json::Array(required));
        }
        out.insert("type".into(), s("object"));
        out
    }
}

fn enum_schema(def: &EnumDef) -> Map<String, Json> {
    let mut out = Map::new();
    if let Some(doc) = &def.doc {
        out.insert("description".into(), s(doc));
    }
    out.insert("title".into(), s(&def.name));
    let values: Vec<Json> = def
        .members
        .iter()
        .map(|(_, v)| match encode(v) {
            Encoded::Done(j) => j,
            _ => Json::Null,
        })
        .collect();
    if let Some(t) = json_types_name(&values) {
        out.insert("type".into(), s(t));
    }
    out.insert("enum".into(), Json::Array(values));
    out
}

/// The `type` pydantic adds when all values have one JSON type.
fn json_types_name(values: &[Json]) -> Option<&'static str> {
    let kind = |v: &Json| -> &'static str {
        match v {
            Json::String(_) => "string",
            Json::Number(n) if n.is_f64() => "number",
            Json::Number(_) => "integer",
            Json::Bool(_) => "boolean",
            Json::Array(_) => "array",
            Json::Null => "null",
            Json::Object(_) => "object",
        }
    };
    let first = kind(values.first()?);
    if values.iter().all(|v| kind(v) == first) && first != "object" {
        Some(first)
    } else {
        None
    }
}

fn literal_schema(values: &[Value]) -> Map<String, Json> {
    let expected: Vec<Json> = values
        .iter()
        .map(|v| match encode(v) {
            Encoded::Done(j) => j,
            _ => Json::Null,
        })
        .collect();
    let mut out = Map::new();
    if expected.len() == 1 {
        out.insert("const".into(), expected[0].clone());
    } else {
        out.insert("enum".into(), Json::Array(expected.clone()));
    }
    if let Some(t) = json_types_name(&expected) {
        out.insert("type".into(), s(t));
    }
    out
}

/// Whether pydantic gives a model field a title made from its name.
fn field_title_should_be_set(ty: &Ty) -> bool {
    match ty {
        Ty::Model(_) | Ty::Enum(_) => false,
        Ty::Annotated(inner, _) => field_title_should_be_set(inner),
        Ty::Union(members) => {
            let non_null: Vec<&Ty> = members
                .iter()
                .filter(|m| !matches!(m, Ty::NoneType))
                .collect();
            if non_null.len() == 1 && non_null.len() < members.len() {
                field_title_should_be_set(non_null[0])
            } else {
                true
            }
        }
        _ => true,
    }
}

/// Pydantic's `name.title().replace('_', ' ').strip()`.
pub(crate) fn title_from_name(name: &str) -> String {
    py_title(name).replace('_', " ").trim().to_string()
}

/// Python's `str.title()`: a cased character after an uncased one is upper-cased, the
/// others lower-cased.
pub(crate) fn py_title(name: &str) -> String {
    let mut out = String::new();
    let mut prev_cased = false;
    for c in name.chars() {
        let cased = c.is_lowercase() || c.is_uppercase();
        if cased {
            if prev_cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
        } else {
            out.push(c);
        }
        prev_cased = cased;
    }
    out
}

/// Applies `Field` constraints (`ge`, `min_length`, …) where pydantic puts them.
fn apply_constraints(schema: &mut Map<String, Json>, ty: &Ty, constraints: &[(String, Value)]) {
    if constraints.is_empty() {
        return;
    }
    // `Optional[X]` with constraints: they apply to X.
    if let Ty::Union(members) = ty {
        let non_null: Vec<&Ty> = members
            .iter()
            .filter(|m| !matches!(m, Ty::NoneType))
            .collect();
        if non_null.len() == 1
            && let Some(Json::Array(any_of)) = schema.get_mut("anyOf")
            && let Some(Json::Object(first)) = any_of.first_mut()
        {
            apply_constraints(first, non_null[0], constraints);
        }
        return;
    }
    let kind = match ty {
        Ty::Int | Ty::Float | Ty::Decimal => "number",
        Ty::Str | Ty::Bytes | Ty::SecretStr => "string",
        Ty::List(_) | Ty::Set(_) | Ty::FrozenSet(_) | Ty::Tuple(_) | Ty::TupleVar(_) => "array",
        Ty::Dict(..) => "object",
        Ty::Annotated(inner, _) => return apply_constraints(schema, inner, constraints),
        _ => return,
    };
    for (name, value) in constraints {
        let key = match (kind, name.as_str()) {
            ("number", "ge") => "minimum",
            ("number", "gt") => "exclusiveMinimum",
            ("number", "le") => "maximum",
            ("number", "lt") => "exclusiveMaximum",
            ("number", "multiple_of") => "multipleOf",
            ("string", "min_length") => "minLength",
            ("string", "max_length") => "maxLength",
            ("string", "pattern") => "pattern",
            ("array", "min_length") => "minItems",
            ("array", "max_length") => "maxItems",
            ("object", "min_length") => "minProperties",
            ("object", "max_length") => "maxProperties",
            _ => continue,
        };
        if let Encoded::Done(j) = encode(value) {
            schema.insert(key.into(), j);
        }
    }
}

/// A default as pydantic's `encode_default` writes it (top-level sets are sorted).
fn encode_default(v: &Value) -> Encoded {
    encode_default_with(v, &DumpSettings::default())
}

/// A default written with a model's settings (`ser_json_bytes`, …).
fn encode_default_with(v: &Value, settings: &DumpSettings) -> Encoded {
    if settings.custom_encoders && !matches!(v, Value::None) {
        return Encoded::Unknown;
    }
    match v {
        Value::Set(items) | Value::FrozenSet(items) => {
            let mut sorted = items.clone();
            sort_values(&mut sorted);
            encode_with(&Value::List(sorted), settings)
        }
        Value::Field(fi) => match &fi.default {
            Some(d) => encode_default_with(d, settings),
            None => Encoded::NotSerializable,
        },
        other => encode_with(other, settings),
    }
}

fn sort_values(items: &mut [Value]) {
    let all_num = items
        .iter()
        .all(|v| matches!(v, Value::Int(_) | Value::Float(_)));
    let all_str = items.iter().all(|v| matches!(v, Value::Str(_)));
    if all_num {
        items.sort_by(|a, b| {
            let f = |v: &Value| match v {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                _ => 0.0,
            };
            f(a).partial_cmp(&f(b)).unwrap_or(std::cmp::Ordering::Equal)
        });
    } else if all_str {
        items.sort_by(|a, b| match (a, b) {
            (Value::Str(x), Value::Str(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
    }
}

/// Pydantic's JSON-mode serialisation of a value.
fn encode(v: &Value) -> Encoded {
    encode_with(v, &DumpSettings::default())
}

/// The same, with the serializer settings of the model whose value it is.
fn encode_with(v: &Value, settings: &DumpSettings) -> Encoded {
    super::depth::guarded(|| encode_inner(v, settings))
}

fn encode_inner(v: &Value, settings: &DumpSettings) -> Encoded {
    use Encoded::*;
    let encode = |v: &Value| encode_with(v, settings);
    let seq = |items: &[Value]| -> Encoded {
        let mut out = Vec::new();
        for i in items {
            match encode(i) {
                Done(j) => out.push(j),
                other => return other,
            }
        }
        Done(serde_json::Value::Array(out))
    };
    match v {
        Value::None => Done(Json::Null),
        Value::Bool(b) => Done(Json::Bool(*b)),
        Value::Int(i) => {
            if let Ok(x) = i64::try_from(*i) {
                Done(Json::from(x))
            } else if let Ok(x) = u64::try_from(*i) {
                Done(Json::from(x))
            } else {
                NotSerializable
            }
        }
        Value::Float(f) => Done(serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)),
        Value::Str(x) => Done(s(x)),
        Value::Bytes(b) => match settings.bytes {
            BytesMode::Utf8 => match String::from_utf8(b.clone()) {
                Ok(x) => Done(s(&x)),
                Err(_) => NotSerializable,
            },
            BytesMode::Base64 => Done(s(&base64_url(b))),
            BytesMode::Hex => Done(s(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())),
        },
        Value::List(items) | Value::Tuple(items) => seq(items),
        Value::Set(items) | Value::FrozenSet(items) => {
            let mut sorted = items.clone();
            sort_values(&mut sorted);
            seq(&sorted)
        }
        Value::Dict(items) => {
            let mut out = Map::new();
            for (k, val) in items {
                let key = match dict_key(k) {
                    Some(k) => k,
                    None if k.is_unknown() => return Unknown,
                    None => return NotSerializable,
                };
                match encode(val) {
                    Done(j) => {
                        out.insert(key, j);
                    }
                    other => return other,
                }
            }
            Done(Json::Object(out))
        }
        Value::Date(d) => match epoch_seconds(Some(d), None, settings.temporal) {
            Some(n) => Done(n),
            None => Done(s(&format_date(d))),
        },
        Value::Time(t) => match epoch_seconds(None, Some(t), settings.temporal) {
            Some(n) => Done(n),
            None => Done(s(&format_time(t))),
        },
        Value::DateTime(d, t) => match epoch_seconds(Some(d), Some(t), settings.temporal) {
            Some(n) => Done(n),
            None => Done(s(&format!("{}T{}", format_date(d), format_time(t)))),
        },
        Value::TimeDelta(d, sec, us) => match settings.timedelta {
            Temporal::Iso => Done(s(&format_duration(*d, *sec, *us))),
            unit => {
                let secs = *d as f64 * 86_400.0 + *sec as f64 + *us as f64 / 1_000_000.0;
                Done(float_json(scale(secs, unit)))
            }
        },
        Value::Uuid(u) => Done(s(u)),
        Value::Decimal(d) => Done(s(d)),
        Value::Path(p) => Done(s(p)),
        Value::Secret => Done(s("**********")),
        Value::EnumMember(def, i) => encode(&def.members[*i].1),
        Value::Model(def, values) => {
            // The model's own serializer, with its own settings; keys by alias.
            let own = def.config.dump_settings();
            if own.custom_encoders {
                return Unknown;
            }
            let fields = def.fields.borrow();
            let mut out = Map::new();
            for (f, val) in fields.iter().zip(values) {
                let key = f.info.serialization_key(&f.name);
                // A float field's serializer writes an (unvalidated) integer default as a
                // float.
                let val = match (super::eval::split_annotated(f.ty.clone()).0, val) {
                    (Ty::Float, Value::Int(i)) => &Value::Float(*i as f64),
                    _ => val,
                };
                match encode_with(val, &own) {
                    Done(j) => {
                        out.insert(key, j);
                    }
                    other => return other,
                }
            }
            Done(Json::Object(out))
        }
        Value::External | Value::Unknown => Unknown,
        _ => NotSerializable,
    }
}

/// URL-safe base64 with padding (pydantic's `ser_json_bytes="base64"`).
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn scale(seconds: f64, unit: Temporal) -> f64 {
    match unit {
        Temporal::Milliseconds => seconds * 1000.0,
        _ => seconds,
    }
}

fn float_json(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
}

/// A date, time or datetime as a number (`ser_json_temporal="seconds"` /
/// `"milliseconds"`): seconds since the Unix epoch (a naive datetime counts as UTC), since
/// midnight for a time. `None` in ISO mode.
fn epoch_seconds(
    date: Option<&super::value::Date>,
    time: Option<&super::value::Time>,
    unit: Temporal,
) -> Option<Json> {
    if unit == Temporal::Iso {
        return None;
    }
    let mut secs = 0.0;
    if let Some(d) = date {
        secs += days_from_civil(d.year, d.month, d.day) as f64 * 86_400.0;
    }
    if let Some(t) = time {
        secs +=
            f64::from(t.hour * 3600 + t.minute * 60 + t.second) + f64::from(t.micro) / 1_000_000.0;
        if date.is_some() {
            secs -= t.offset.unwrap_or(0) as f64;
        }
    }
    Some(float_json(scale(secs, unit)))
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn dict_key(k: &Value) -> Option<String> {
    match k {
        Value::Str(x) => Some(x.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(py_float_repr(*f)),
        Value::Bool(true) => Some("true".into()),
        Value::Bool(false) => Some("false".into()),
        Value::None => Some("None".into()),
        Value::EnumMember(def, i) => dict_key(&def.members[*i].1),
        Value::Uuid(u) => Some(u.clone()),
        Value::Date(d) => Some(format_date(d)),
        _ => None,
    }
}

fn format_date(d: &super::value::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn format_time(t: &super::value::Time) -> String {
    let mut out = format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second);
    if t.micro != 0 {
        out.push_str(&format!(".{:06}", t.micro));
    }
    match t.offset {
        None => {}
        Some(0) => out.push('Z'),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            let a = o.abs();
            out.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60));
        }
    }
    out
}

/// Pydantic's ISO 8601 duration: `[-]P[nY][nD][T[nH][nM][n[.f]S]]`, `PT0S` for zero.
fn format_duration(days: i64, secs: i64, micros: i64) -> String {
    let total: i128 = days as i128 * 86_400_000_000 + secs as i128 * 1_000_000 + micros as i128;
    let neg = total < 0;
    let t = total.abs();
    let day_us = 86_400_000_000i128;
    let d = t / day_us;
    let rest = t % day_us;
    let (years, d) = (d / 365, d % 365);
    let sec_total = rest / 1_000_000;
    let us = rest % 1_000_000;
    let (h, m, sec) = (sec_total / 3600, (sec_total % 3600) / 60, sec_total % 60);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push('P');
    if years > 0 {
        out.push_str(&format!("{years}Y"));
    }
    if d > 0 {
        out.push_str(&format!("{d}D"));
    }
    if h > 0 || m > 0 || sec > 0 || us > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if sec > 0 || us > 0 {
            if us > 0 {
                let frac = format!("{us:06}");
                out.push_str(&format!("{sec}.{}S", frac.trim_end_matches('0')));
            } else {
                out.push_str(&format!("{sec}S"));
            }
        }
    } else if years == 0 && d == 0 {
        out.push_str("T0S");
    }
    out
}

/// `Model(**kwargs)`: values validated (lax coercions pydantic applies), defaults filled.
pub(crate) fn instantiate_model(
    def: &Rc<ModelDef>,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Value {
    if !args.is_empty() {
        return Value::Unknown;
    }
    let fields = def.fields.borrow().clone();
    let by_alias = def.config.validate_by_alias();
    let by_name = def.config.validate_by_name();
    // The argument names each field accepts (pydantic's validation by alias and by name).
    let accepted = |f: &super::value::ModelField, k: &str| match &f.info.validation_alias {
        None => k == f.name,
        Some(a) => (by_alias && a.names.iter().any(|n| n == k)) || (by_name && k == f.name),
    };
    for (k, _) in kwargs {
        if !fields.iter().any(|f| accepted(f, k)) {
            let nested = fields
                .iter()
                .any(|f| f.info.validation_alias.as_ref().is_some_and(|a| a.nested));
            // An extra argument: ignored by default, refused with `extra="forbid"`, kept
            // (and dumped) with `extra="allow"`; a path alias may read it.
            if nested || def.config.additional_properties().is_some() {
                return Value::Unknown;
            }
        }
    }
    let rules = def.config.validation();
    let mut values = Vec::new();
    for f in &fields {
        let given = kwargs
            .iter()
            .find(|(k, _)| accepted(f, k))
            .map(|(_, v)| v.clone());
        let v = match given {
            Some(v) => coerce(&v, &f.ty, &rules),
            None => {
                let d = match (&f.default, &f.factory) {
                    (Some(d), _) => d.clone(),
                    (None, Some(factory)) => call_factory(factory),
                    (None, None) => return Value::Unknown,
                };
                if rules.validate_default {
                    coerce(&d, &f.ty, &rules)
                } else {
                    d
                }
            }
        };
        // A value validation refuses (or the reader cannot evaluate): the instance is not
        // known.
        if v.is_unknown() {
            return Value::Unknown;
        }
        values.push(v);
    }
    Value::Model(def.clone(), values)
}

fn call_factory(f: &Value) -> Value {
    match f {
        Value::Builtin(Builtin::List) => Value::List(Vec::new()),
        Value::Builtin(Builtin::Dict) => Value::Dict(Vec::new()),
        Value::Builtin(Builtin::Set) => Value::Set(Vec::new()),
        Value::Builtin(Builtin::Tuple) => Value::Tuple(Vec::new()),
        Value::Builtin(Builtin::Str) => Value::Str(String::new()),
        Value::Builtin(Builtin::Int) => Value::Int(0),
        Value::Builtin(Builtin::Float) => Value::Float(0.0),
        Value::Type(Ty::Model(m)) => instantiate_model(m, &[], &[]),
        _ => Value::Unknown,
    }
}

/// The conversions pydantic's validation applies to constructor arguments, under the
/// model's configuration (`Value::Unknown` where validation would fail: the module raises
/// when imported).
pub(crate) fn coerce(v: &Value, ty: &Ty, rules: &Validation) -> Value {
    super::depth::guarded(|| coerce_inner(v, ty, rules))
}

fn coerce_inner(v: &Value, ty: &Ty, rules: &Validation) -> Value {
    let coerce = |v: &Value, ty: &Ty| coerce(v, ty, rules);
    match (ty, v) {
        (Ty::Annotated(inner, _), _) => coerce(v, inner),
        (Ty::Str, Value::Str(s)) => rules.string(s),
        (Ty::Str, Value::Int(_) | Value::Float(_)) if rules.numbers_to_str => match v {
            Value::Int(i) => rules.string(&i.to_string()),
            Value::Float(f) => rules.string(&py_float_repr(*f)),
            _ => Value::Unknown,
        },
        // pydantic refuses numbers for `str` unless `coerce_numbers_to_str`.
        (Ty::Str, Value::Int(_) | Value::Float(_) | Value::Bool(_)) => Value::Unknown,
        (Ty::Float, Value::Float(f)) if !f.is_finite() && !rules.allow_inf_nan => Value::Unknown,
        (Ty::Float, Value::Int(i)) => Value::Float(*i as f64),
        (Ty::Model(def), Value::Dict(items)) => {
            let mut kwargs = Vec::new();
            for (k, val) in items {
                let Value::Str(k) = k else {
                    return Value::Unknown;
                };
                kwargs.push((k.clone(), val.clone()));
            }
            instantiate_model(def, &[], &kwargs)
        }
        // Strict mode takes only members and durations as they are.
        (Ty::Enum(_), v) if rules.strict && !matches!(v, Value::EnumMember(..)) => Value::Unknown,
        (Ty::TimeDelta, Value::Int(_) | Value::Float(_)) if rules.strict => Value::Unknown,
        (Ty::Enum(def), v) if !matches!(v, Value::EnumMember(..)) => {
            match def.members.iter().position(|(_, m)| values_equal(m, v)) {
                Some(i) => Value::EnumMember(def.clone(), i),
                None => v.clone(),
            }
        }
        (Ty::List(t), Value::List(items) | Value::Tuple(items) | Value::Set(items)) => {
            Value::List(items.iter().map(|i| coerce(i, t)).collect())
        }
        (Ty::Set(t), Value::List(items) | Value::Tuple(items) | Value::Set(items)) => {
            Value::Set(items.iter().map(|i| coerce(i, t)).collect())
        }
        (Ty::FrozenSet(t), Value::List(items) | Value::Tuple(items) | Value::Set(items)) => {
            Value::FrozenSet(items.iter().map(|i| coerce(i, t)).collect())
        }
        (Ty::TupleVar(t), Value::List(items) | Value::Tuple(items)) => {
            Value::Tuple(items.iter().map(|i| coerce(i, t)).collect())
        }
        (Ty::Tuple(ts), Value::List(items) | Value::Tuple(items)) if ts.len() == items.len() => {
            Value::Tuple(items.iter().zip(ts).map(|(i, t)| coerce(i, t)).collect())
        }
        (Ty::Dict(_, vt), Value::Dict(items)) => Value::Dict(
            items
                .iter()
                .map(|(k, val)| (k.clone(), coerce(val, vt)))
                .collect(),
        ),
        (Ty::TimeDelta, Value::Int(_) | Value::Float(_)) => {
            let secs = match v {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                _ => 0.0,
            };
            timedelta_from_micros((secs * 1_000_000.0).round() as i128)
        }
        (Ty::Union(members), v) => {
            if members.iter().any(|m| exact_match(v, m)) {
                let m = members
                    .iter()
                    .find(|m| exact_match(v, m))
                    .unwrap_or(&Ty::Any);
                coerce(v, m)
            } else if let Some(m) = members.iter().find(|m| matches!(m, Ty::Float)) {
                coerce(v, m)
            } else if let Some(m) = members
                .iter()
                .find(|m| matches!((m, v), (Ty::Model(_), Value::Dict(_))))
            {
                coerce(v, m)
            } else {
                v.clone()
            }
        }
        _ => v.clone(),
    }
}

fn exact_match(v: &Value, ty: &Ty) -> bool {
    matches!(
        (ty, v),
        (Ty::Int, Value::Int(_))
            | (Ty::Float, Value::Float(_))
            | (Ty::Str, Value::Str(_))
            | (Ty::Bool, Value::Bool(_))
            | (Ty::NoneType, Value::None)
            | (Ty::List(_), Value::List(_))
            | (Ty::Dict(..), Value::Dict(_))
            | (Ty::Any, _)
    ) || matches!((ty, v), (Ty::Model(a), Value::Model(b, _)) if Rc::ptr_eq(a, b))
        || matches!((ty, v), (Ty::Enum(a), Value::EnumMember(b, _)) if Rc::ptr_eq(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_pydantic() {
        let td = |us: i128| match timedelta_from_micros(us) {
            Value::TimeDelta(d, s, u) => format_duration(d, s, u),
            _ => unreachable!(),
        };
        let sec = 1_000_000i128;
        assert_eq!(td(0), "PT0S");
        assert_eq!(td(86_400 * sec), "P1D");
        assert_eq!(td(400 * 86_400 * sec), "P1Y35D");
        assert_eq!(td(-86_400 * sec), "-P1D");
        assert_eq!(td(3661 * sec), "PT1H1M1S");
        assert_eq!(td(1), "PT0.000001S");
        assert_eq!(td(-86_400 * sec + 5 * sec), "-PT23H59M55S");
        assert_eq!(td(sec / 2), "PT0.5S");
        assert_eq!(td(86_400 * sec + sec + 5), "P1DT1.000005S");
        assert_eq!(td(-300 * sec), "-PT5M");
        assert_eq!(td(10_000 * 86_400 * sec), "P27Y145D");
    }

    #[test]
    fn titles_match_python() {
        assert_eq!(title_from_name("attach_csv"), "Attach Csv");
        assert_eq!(title_from_name("ids2x"), "Ids2X");
        assert_eq!(title_from_name("_private_"), "Private");
        assert_eq!(title_from_name("HTTPServer"), "Httpserver");
    }

    #[test]
    fn sort_keeps_properties_and_default_order() {
        let v: Json = serde_json::from_str(
            r#"{"type":"object","properties":{"b":{"type":"x","default":{"z":1,"a":{"y":1,"b":2}}},"a":{}}}"#,
        )
        .unwrap();
        let sorted = pydantic_sort(&v, None);
        assert_eq!(
            serde_json::to_string(&sorted).unwrap(),
            r#"{"properties":{"b":{"default":{"z":1,"a":{"b":2,"y":1}},"type":"x"},"a":{}},"type":"object"}"#
        );
    }
}
