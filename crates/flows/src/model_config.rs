//! Pydantic model configuration: `model_config = ConfigDict(...)` (or a plain dict),
//! `class Config:` (pydantic v1 style, still read by v2) and class keywords
//! (`class M(BaseModel, extra="forbid")`), merged as pydantic 2.14 merges them
//! (`ConfigWrapper.for_model`), and what the options change in the JSON schema.
//!
//! Options with a static meaning are reproduced. A value the reader cannot evaluate (a
//! lambda, a call into a third-party package) is not guessed: the option is left out and a
//! note says so (reported by the loader when the model is part of a flow's schema).

use std::rc::Rc;

use super::ast::{ClassDef, Expr, Stmt};
use super::eval::{Loader, truthy};
use super::value::{
    AliasGeneratorDef, AliasKey, Builtin, FieldInfo, ModelField, ModuleRef, Ty, Value,
};

/// The keys of pydantic 2.14's `ConfigDict`: class keywords with these names are
/// configuration, the others go to `__init_subclass__`.
const CONFIG_KEYS: &[&str] = &[
    "alias_generator",
    "allow_inf_nan",
    "arbitrary_types_allowed",
    "cache_strings",
    "coerce_numbers_to_str",
    "defer_build",
    "extra",
    "field_title_generator",
    "from_attributes",
    "frozen",
    "hide_input_in_errors",
    "ignored_types",
    "json_encoders",
    "json_schema_extra",
    "json_schema_mode_override",
    "json_schema_serialization_defaults_required",
    "loc_by_alias",
    "model_title_generator",
    "plugin_settings",
    "polymorphic_serialization",
    "populate_by_name",
    "protected_namespaces",
    "regex_engine",
    "revalidate_instances",
    "schema_generator",
    "ser_json_bytes",
    "ser_json_inf_nan",
    "ser_json_temporal",
    "ser_json_timedelta",
    "serialize_by_alias",
    "str_max_length",
    "str_min_length",
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
    "strict",
    "title",
    "url_preserve_empty_path",
    "use_attribute_docstrings",
    "use_enum_values",
    "val_json_bytes",
    "val_temporal_unit",
    "validate_assignment",
    "validate_by_alias",
    "validate_by_name",
    "validate_default",
    "validate_return",
    "validation_error_cause",
];

/// A model's merged configuration: the `model_config` dict pydantic ends up with.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelConfig {
    entries: Vec<(String, Value)>,
    /// The class body has both a (non-empty) `model_config` and `class Config` (pydantic
    /// refuses the class; not inherited).
    config_both: bool,
    /// Models (this one or its bases) whose `model_config` the reader could not evaluate.
    unknown_from: Vec<String>,
    /// The class or a base defines computed fields or custom serializers (they change a
    /// serialization-mode schema).
    serializers: bool,
}

impl ModelConfig {
    /// The value of an option, if set.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
    }

    /// `dict.update`: later options replace earlier ones.
    fn update(&mut self, other: &ModelConfig) {
        for (k, v) in &other.entries {
            self.set(k, v.clone());
        }
        for m in &other.unknown_from {
            if !self.unknown_from.contains(m) {
                self.unknown_from.push(m.clone());
            }
        }
        self.serializers |= other.serializers;
    }

    /// `Model.model_config`, as a Python dict.
    pub(crate) fn to_value(&self) -> Value {
        Value::Dict(
            self.entries
                .iter()
                .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                .collect(),
        )
    }

    /// A dict value with string keys (other keys cannot be configuration).
    fn from_dict(items: &[(Value, Value)]) -> ModelConfig {
        let mut config = ModelConfig::default();
        for (k, v) in items {
            if let Value::Str(k) = k {
                config.set(k, v.clone());
            }
        }
        config
    }

    fn str_option(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(truthy).unwrap_or(false)
    }

    /// `title`.
    pub(crate) fn title(&self) -> Option<&str> {
        self.str_option("title")
    }

    /// `additionalProperties` from `extra` (`"ignore"` adds nothing).
    pub(crate) fn additional_properties(&self) -> Option<bool> {
        match self.str_option("extra") {
            Some("allow") => Some(true),
            Some("forbid") => Some(false),
            _ => None,
        }
    }

    /// `json_schema_extra` given as a dict (merged into the model's schema last).
    pub(crate) fn json_schema_extra(&self) -> Option<&[(Value, Value)]> {
        match self.get("json_schema_extra") {
            Some(Value::Dict(items)) => Some(items),
            _ => None,
        }
    }

    /// `str_min_length` (pydantic ignores 0) and `str_max_length`.
    pub(crate) fn str_lengths(&self) -> (Option<i128>, Option<i128>) {
        let int = |k: &str| match self.get(k) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        };
        (
            int("str_min_length").filter(|i| *i != 0),
            int("str_max_length"),
        )
    }

    /// `json_schema_mode_override="serialization"`.
    pub(crate) fn serialization_mode(&self) -> bool {
        self.str_option("json_schema_mode_override") == Some("serialization")
    }

    /// `json_schema_serialization_defaults_required`.
    pub(crate) fn serialization_defaults_required(&self) -> bool {
        self.flag("json_schema_serialization_defaults_required")
    }

    /// Whether `Model(name=…)` is accepted for a field with an alias.
    pub(crate) fn validate_by_name(&self) -> bool {
        self.flag("validate_by_name") || self.flag("populate_by_name")
    }

    /// Whether `Model(alias=…)` is accepted (`validate_by_alias`, default on).
    pub(crate) fn validate_by_alias(&self) -> bool {
        self.get("validate_by_alias")
            .and_then(truthy)
            .unwrap_or(true)
    }

    /// What the configuration changes in validating constructor arguments.
    pub(crate) fn validation(&self) -> Validation {
        let (str_min_length, str_max_length) = self.str_lengths();
        Validation {
            strip: self.flag("str_strip_whitespace"),
            lower: self.flag("str_to_lower"),
            upper: self.flag("str_to_upper"),
            numbers_to_str: self.flag("coerce_numbers_to_str"),
            strict: self.flag("strict"),
            allow_inf_nan: self.get("allow_inf_nan").and_then(truthy).unwrap_or(true),
            validate_default: self.flag("validate_default"),
            str_min_length,
            str_max_length,
        }
    }

    /// How the model's serializer writes values (`ser_json_bytes`, `ser_json_timedelta`,
    /// `ser_json_temporal`): a dump of an instance, or a default in serialization mode.
    pub(crate) fn dump_settings(&self) -> DumpSettings {
        let bytes = match self.str_option("ser_json_bytes") {
            Some("base64") => BytesMode::Base64,
            Some("hex") => BytesMode::Hex,
            _ => BytesMode::Utf8,
        };
        let temporal = match self.str_option("ser_json_temporal") {
            Some("seconds") => Temporal::Seconds,
            Some("milliseconds") => Temporal::Milliseconds,
            _ => Temporal::Iso,
        };
        // `ser_json_temporal`, when given, supersedes `ser_json_timedelta`.
        let timedelta = if self.get("ser_json_temporal").is_some() {
            temporal
        } else if self.str_option("ser_json_timedelta") == Some("float") {
            Temporal::Seconds
        } else {
            Temporal::Iso
        };
        DumpSettings {
            bytes,
            timedelta,
            temporal,
            custom_encoders: self.has_json_encoders(),
        }
    }

    /// How a field default is written into the model's schema: validation mode leaves the
    /// temporal formats out (pydantic's `encode_default`).
    pub(crate) fn default_settings(&self) -> DumpSettings {
        let mut d = self.dump_settings();
        if !self.serialization_mode() {
            d.timedelta = Temporal::Iso;
            d.temporal = Temporal::Iso;
        }
        d
    }

    /// `json_encoders` with at least one entry (or a value the reader cannot see into).
    fn has_json_encoders(&self) -> bool {
        match self.get("json_encoders") {
            None | Some(Value::None) => false,
            Some(Value::Dict(items)) => !items.is_empty(),
            Some(_) => true,
        }
    }

    /// The error pydantic raises when it creates the class: `model_config` together with
    /// `class Config`, or a field of a plain class without `arbitrary_types_allowed`.
    pub(crate) fn creation_error(&self, fields: &[ModelField]) -> Option<(&'static str, String)> {
        if self.config_both {
            return Some((
                "PydanticUserError",
                format!(
                    "\"Config\" and \"model_config\" cannot be used together\n\nFor further information visit {PYDANTIC_ERRORS}/config-both"
                ),
            ));
        }
        if self.flag("arbitrary_types_allowed") {
            return None;
        }
        let class = fields.iter().find_map(|f| arbitrary_class(&f.ty))?;
        Some((
            "PydanticSchemaGenerationError",
            format!(
                "Unable to generate pydantic-core schema for <class '{class}'>. Set `arbitrary_types_allowed=True` in the model_config to ignore this error or implement `__get_pydantic_core_schema__` on your type to fully support it.\n\nIf you got this error by calling handler(<some type>) within `__get_pydantic_core_schema__` then you likely need to call `handler.generate_schema(<some type>)` since we do not call `__get_pydantic_core_schema__` on `<some type>` otherwise to avoid infinite recursion.\n\nFor further information visit {PYDANTIC_ERRORS}/schema-for-unknown-type"
            ),
        ))
    }

    /// What the reader cannot reproduce of this configuration, one note each.
    pub(crate) fn notes(&self, model: &str) -> Vec<String> {
        let mut notes = Vec::new();
        for from in &self.unknown_from {
            notes.push(if from == model {
                format!(
                    "model {model:?}: model_config could not be evaluated statically; its options (extra, title, …) are not applied"
                )
            } else {
                format!(
                    "model {model:?}: the model_config it inherits from {from:?} could not be evaluated statically; its options are not applied"
                )
            });
        }
        let mut note = |key: &str, what: &str| {
            notes.push(format!("model {model:?}: model_config[{key:?}] {what}"));
        };
        for (key, value) in &self.entries {
            let unknown = value.is_unknown();
            match key.as_str() {
                "title"
                | "extra"
                | "json_schema_mode_override"
                | "ser_json_bytes"
                | "ser_json_timedelta"
                | "ser_json_temporal"
                    if !matches!(value, Value::Str(_) | Value::None) =>
                {
                    note(
                        key,
                        "could not be evaluated statically; the schema leaves it out",
                    );
                }
                "str_min_length" | "str_max_length"
                    if !matches!(value, Value::Int(_) | Value::None) =>
                {
                    note(
                        key,
                        "could not be evaluated statically; the schema leaves it out",
                    );
                }
                "use_attribute_docstrings"
                | "json_schema_serialization_defaults_required"
                | "validate_by_name"
                | "populate_by_name"
                | "validate_by_alias"
                    if truthy(value).is_none() =>
                {
                    note(
                        key,
                        "could not be evaluated statically; the schema leaves it out",
                    );
                }
                "json_schema_extra" => match value {
                    Value::Dict(_) | Value::None => {}
                    _ if unknown => note(
                        key,
                        "could not be evaluated statically; the schema leaves it out",
                    ),
                    _ => note(
                        key,
                        "is a callable, which only running Python can apply; the schema leaves it out",
                    ),
                },
                "model_title_generator" if !matches!(value, Value::None) => note(
                    key,
                    "is a callable, which only running Python can apply; the schema uses the class name",
                ),
                "json_encoders" if self.has_json_encoders() => note(
                    key,
                    "is not evaluated: the model's defaults are shown as null",
                ),
                _ => {}
            }
        }
        if self.serialization_mode() && self.serializers {
            notes.push(format!(
                "model {model:?}: json_schema_mode_override=\"serialization\": computed fields and custom serializers are not read; the schema describes the fields only"
            ));
        }
        notes
    }
}

/// The validation settings of a model that the reader applies to constructor arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validation {
    pub strip: bool,
    pub lower: bool,
    pub upper: bool,
    pub numbers_to_str: bool,
    pub strict: bool,
    pub allow_inf_nan: bool,
    pub validate_default: bool,
    pub str_min_length: Option<i128>,
    pub str_max_length: Option<i128>,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            strip: false,
            lower: false,
            upper: false,
            numbers_to_str: false,
            strict: false,
            allow_inf_nan: true,
            validate_default: false,
            str_min_length: None,
            str_max_length: None,
        }
    }
}

impl Validation {
    /// A string argument: stripped, then lower- (or else upper-) cased, then checked
    /// against the length limits (`Value::Unknown` when it fails them).
    pub(crate) fn string(&self, s: &str) -> Value {
        let mut out = if self.strip {
            s.trim().to_string()
        } else {
            s.to_string()
        };
        if self.lower {
            out = out.to_lowercase();
        } else if self.upper {
            out = out.to_uppercase();
        }
        let len = out.chars().count() as i128;
        if self.str_min_length.is_some_and(|m| len < m)
            || self.str_max_length.is_some_and(|m| len > m)
        {
            return Value::Unknown;
        }
        Value::Str(out)
    }
}

/// Where pydantic 2.14's error messages point.
const PYDANTIC_ERRORS: &str = "https://errors.pydantic.dev/2.14/u";

/// The first plain class in a type (what pydantic needs `arbitrary_types_allowed` for).
fn arbitrary_class(ty: &Ty) -> Option<String> {
    super::depth::guarded(|| match ty {
        Ty::Arbitrary(name) => Some(name.clone()),
        Ty::List(t) | Ty::Set(t) | Ty::FrozenSet(t) | Ty::TupleVar(t) | Ty::Annotated(t, _) => {
            arbitrary_class(t)
        }
        Ty::Dict(k, v) => arbitrary_class(k).or_else(|| arbitrary_class(v)),
        Ty::Tuple(items) | Ty::Union(items) => items.iter().find_map(arbitrary_class),
        _ => None,
    })
}

/// How bytes are written (`ser_json_bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum BytesMode {
    #[default]
    Utf8,
    /// URL-safe base64 with padding.
    Base64,
    Hex,
}

/// How durations and dates are written (`ser_json_timedelta` / `ser_json_temporal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Temporal {
    #[default]
    Iso,
    /// A float number of seconds (since the epoch for dates and datetimes, since midnight
    /// for times).
    Seconds,
    Milliseconds,
}

/// The serializer settings that change how a value is written as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DumpSettings {
    pub bytes: BytesMode,
    pub timedelta: Temporal,
    /// Dates, datetimes and times.
    pub temporal: Temporal,
    /// `json_encoders` are set: values they may serialise are not known.
    pub custom_encoders: bool,
}

impl Loader {
    /// The configuration pydantic gives the model class `c`: its bases' configurations in
    /// order, then `model_config` (or, when that is missing or empty, `class Config:`), then
    /// the class keywords.
    pub(crate) fn model_config_of(
        &mut self,
        ns: &ModuleRef,
        c: &ClassDef,
        parents: &[Rc<super::value::ModelDef>],
    ) -> ModelConfig {
        let mut config = ModelConfig::default();
        for p in parents {
            config.update(&p.config);
        }
        let mut assigned: Option<&Expr> = None;
        let mut config_class: Option<&ClassDef> = None;
        for stmt in &c.body {
            match stmt {
                Stmt::Assign { targets, value } => {
                    if matches!(targets.as_slice(), [Expr::Name(n)] if n == "model_config") {
                        assigned = Some(value);
                    }
                }
                Stmt::AnnAssign {
                    target: Expr::Name(n),
                    value: Some(value),
                    ..
                } if n == "model_config" => assigned = Some(value),
                Stmt::ClassDef(inner) if inner.name == "Config" => config_class = Some(inner),
                _ => {}
            }
        }
        let from_namespace = assigned.map(|e| self.eval(ns, e));
        match &from_namespace {
            Some(Value::Dict(items)) if !items.is_empty() => {
                config.update(&ModelConfig::from_dict(items));
                config.config_both = config_class.is_some();
            }
            // An empty (falsy) `model_config` lets `class Config` through.
            None | Some(Value::Dict(_)) => {
                if let Some(cls) = config_class {
                    config.update(&self.config_class(ns, cls));
                }
            }
            Some(_) => config.unknown_from.push(c.name.clone()),
        }
        config.serializers |= defines_serializers(c);
        for kw in &c.keywords {
            if let Some(name) = &kw.arg
                && CONFIG_KEYS.contains(&name.as_str())
            {
                let v = self.eval(ns, &kw.value);
                config.set(name, v);
            }
        }
        config
    }

    /// `class Config:` — its attributes, as `prepare_config` reads them. Renamed v1 keys
    /// (`schema_extra`, `max_anystr_length`, …) only warn in pydantic 2: they stay inert
    /// here too, as unknown keys.
    fn config_class(&mut self, ns: &ModuleRef, cls: &ClassDef) -> ModelConfig {
        let mut config = ModelConfig::default();
        for stmt in &cls.body {
            match stmt {
                Stmt::Assign { targets, value } => {
                    if let [Expr::Name(n)] = targets.as_slice() {
                        let v = self.eval(ns, value);
                        config.set(n, v);
                    }
                }
                Stmt::AnnAssign {
                    target: Expr::Name(n),
                    value: Some(value),
                    ..
                } => {
                    let v = self.eval(ns, value);
                    config.set(n, v);
                }
                // A method (`def json_schema_extra(schema): …`): a callable.
                Stmt::FunctionDef(f) => config.set(&f.name, Value::Opaque),
                _ => {}
            }
        }
        config
    }

    /// What the configuration does to the fields when the class is created: descriptions
    /// from attribute docstrings (for the fields of this class body), titles from
    /// `field_title_generator`, aliases from `alias_generator` (for every field, inherited
    /// ones included, as pydantic's `update_field_from_config`).
    pub(crate) fn configure_fields(
        &mut self,
        c: &ClassDef,
        config: &ModelConfig,
        fields: &mut [ModelField],
        notes: &mut Vec<String>,
    ) {
        if config.flag("use_attribute_docstrings") {
            let docs = attribute_docstrings(&c.body);
            for f in fields.iter_mut() {
                if f.info.description.is_none()
                    && let Some((_, d)) = docs.iter().find(|(n, _)| *n == f.name)
                {
                    f.info.description = Some(d.clone());
                }
            }
        }
        if let Some(generator) = config.get("field_title_generator").cloned()
            && !matches!(generator, Value::None)
        {
            let mut failed = false;
            for f in fields.iter_mut() {
                if f.info.title.is_some() {
                    continue;
                }
                match self
                    .apply_generator(&generator, vec![Value::Str(f.name.clone()), Value::Opaque])
                {
                    Some(Value::Str(t)) => f.info.title = Some(t),
                    _ => failed = true,
                }
            }
            if failed {
                notes.push(format!(
                    "model {:?}: model_config[\"field_title_generator\"] could not be evaluated statically; titles come from the field names",
                    c.name
                ));
            }
        }
        if let Some(generator) = config.get("alias_generator").cloned()
            && !matches!(generator, Value::None)
        {
            let mut failed = false;
            for f in fields.iter_mut() {
                if !self.apply_alias_generator(&generator, &f.name, &mut f.info) {
                    failed = true;
                }
            }
            if failed {
                notes.push(format!(
                    "model {:?}: model_config[\"alias_generator\"] could not be evaluated statically; the schema uses the field names",
                    c.name
                ));
            }
        }
    }

    /// pydantic's `_apply_alias_generator_to_field_info`; `false` when the generator could
    /// not be evaluated (the field is left as it is).
    fn apply_alias_generator(
        &mut self,
        generator: &Value,
        name: &str,
        info: &mut FieldInfo,
    ) -> bool {
        let low_priority = info.alias_priority.is_none_or(|p| p <= 1);
        if !(low_priority
            || info.alias.is_none()
            || info.validation_alias.is_none()
            || info.serialization_alias.is_none())
        {
            return true;
        }
        let arg = || vec![Value::Str(name.to_string())];
        let as_str = |v: Option<Value>| match v {
            Some(Value::Str(s)) => Ok(Some(s)),
            _ => Err(()),
        };
        let generated = match generator {
            Value::AliasGenerator(g) => {
                let def: &AliasGeneratorDef = g;
                let mut run = |f: &Option<Value>| match f {
                    None | Some(Value::None) => Ok::<Option<Value>, ()>(None),
                    Some(f) => Ok(Some(self.apply_generator(f, arg()).ok_or(())?)),
                };
                let (Ok(alias), Ok(validation), Ok(serialization)) = (
                    run(&def.alias),
                    run(&def.validation_alias),
                    run(&def.serialization_alias),
                ) else {
                    return false;
                };
                let alias = match alias {
                    None => None,
                    v => match as_str(v) {
                        Ok(s) => s,
                        Err(()) => return false,
                    },
                };
                let validation = match validation {
                    None => None,
                    Some(Value::Str(s)) => Some(AliasKey::plain(s)),
                    Some(Value::AliasKey(k)) => Some(k),
                    Some(_) => return false,
                };
                let serialization = match serialization {
                    None => None,
                    v => match as_str(v) {
                        Ok(s) => s,
                        Err(()) => return false,
                    },
                };
                (alias, validation, serialization)
            }
            other => match as_str(self.apply_generator(other, arg())) {
                Ok(alias) => (alias, None, None),
                Err(()) => return false,
            },
        };
        let (alias, validation, serialization) = generated;
        if low_priority {
            info.alias_priority = Some(1);
        }
        if info.alias_priority == Some(1) {
            info.serialization_alias = serialization.clone().or_else(|| alias.clone());
            info.validation_alias = validation
                .clone()
                .or_else(|| alias.clone().map(AliasKey::plain));
            info.alias = alias.clone();
        }
        if info.alias.is_none() {
            info.alias = alias.clone();
        }
        if info.serialization_alias.is_none() {
            info.serialization_alias = serialization.or_else(|| alias.clone());
        }
        if info.validation_alias.is_none() {
            info.validation_alias = validation.or_else(|| alias.map(AliasKey::plain));
        }
        true
    }

    /// Calls a generator the reader can evaluate: pydantic's own alias generators and
    /// module functions simple enough for [`Loader::call_function`].
    fn apply_generator(&mut self, generator: &Value, args: Vec<Value>) -> Option<Value> {
        match generator {
            Value::Builtin(b @ (Builtin::ToCamel | Builtin::ToPascal | Builtin::ToSnake)) => {
                match args.first() {
                    Some(Value::Str(s)) => Some(Value::Str(alias_generator(*b, s))),
                    _ => None,
                }
            }
            Value::Function(f) => {
                let v = self.call_function(f, args, Vec::new());
                (!v.is_unknown() && !matches!(v, Value::Opaque)).then_some(v)
            }
            _ => None,
        }
    }
}

impl AliasKey {
    /// A plain string alias.
    pub(crate) fn plain(s: String) -> AliasKey {
        AliasKey {
            schema_key: Some(s.clone()),
            names: vec![s],
            nested: false,
        }
    }
}

/// `AliasChoices(...)`, `AliasPath(...)`, `AliasGenerator(...)` and the functions of
/// `pydantic.alias_generators`, called with evaluated arguments.
pub(crate) fn call_pydantic(b: Builtin, args: &[Value], kwargs: &[(String, Value)]) -> Value {
    match b {
        // On its own, even a one-step path leaves the schema with the field's name (pydantic
        // flattens it to `["step"]`, which `_get_alias_name` skips); as a choice of
        // `AliasChoices` a one-step path names the property.
        Builtin::AliasPath => match args {
            [Value::Str(s)] => Value::AliasKey(AliasKey {
                schema_key: None,
                names: vec![s.clone()],
                nested: false,
            }),
            [Value::Str(_), rest @ ..]
                if rest
                    .iter()
                    .all(|v| matches!(v, Value::Str(_) | Value::Int(_))) =>
            {
                Value::AliasKey(AliasKey {
                    schema_key: None,
                    names: Vec::new(),
                    nested: true,
                })
            }
            _ => Value::Unknown,
        },
        Builtin::AliasChoices => {
            let mut key = AliasKey {
                schema_key: None,
                names: Vec::new(),
                nested: false,
            };
            for choice in args {
                let (candidate, choice) = match choice {
                    Value::Str(s) => (Some(s.clone()), AliasKey::plain(s.clone())),
                    Value::AliasKey(k) if k.nested => (None, k.clone()),
                    Value::AliasKey(k) => (k.names.first().cloned(), k.clone()),
                    _ => return Value::Unknown,
                };
                if key.schema_key.is_none() {
                    key.schema_key = candidate;
                }
                key.names.extend(choice.names);
                key.nested |= choice.nested;
            }
            if args.is_empty() {
                return Value::Unknown;
            }
            Value::AliasKey(key)
        }
        Builtin::AliasGenerator => {
            let arg = |i: usize, name: &str| {
                args.get(i).cloned().or_else(|| {
                    kwargs
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                })
            };
            Value::AliasGenerator(Rc::new(AliasGeneratorDef {
                alias: arg(0, "alias"),
                validation_alias: arg(1, "validation_alias"),
                serialization_alias: arg(2, "serialization_alias"),
            }))
        }
        Builtin::ToCamel | Builtin::ToPascal | Builtin::ToSnake => match args {
            [Value::Str(s)] => Value::Str(alias_generator(b, s)),
            _ => Value::Unknown,
        },
        _ => Value::Unknown,
    }
}

/// `pydantic.alias_generators.to_camel` / `to_pascal` / `to_snake`, exactly (their
/// regular expressions are ASCII classes).
fn alias_generator(b: Builtin, s: &str) -> String {
    match b {
        Builtin::ToPascal => to_pascal(s),
        Builtin::ToCamel => to_camel(s),
        _ => to_snake(s),
    }
}

/// `re.sub('([0-9A-Za-z])_(?=[0-9A-Z])', r'\1', snake.title())`.
fn to_pascal(snake: &str) -> String {
    let camel: Vec<char> = super::schema::py_title(snake).chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < camel.len() {
        let c = camel[i];
        if c.is_ascii_alphanumeric()
            && camel.get(i + 1) == Some(&'_')
            && camel
                .get(i + 2)
                .is_some_and(|n| n.is_ascii_digit() || n.is_ascii_uppercase())
        {
            out.push(c);
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn to_camel(snake: &str) -> String {
    let chars: Vec<char> = snake.chars().collect();
    // `^[a-z]+[A-Za-z0-9]*$` without a digit followed by a lowercase letter: already camel.
    let lower_run = chars.iter().take_while(|c| c.is_ascii_lowercase()).count();
    let rest_ok = chars[lower_run..].iter().all(|c| c.is_ascii_alphanumeric());
    let digit_lower = chars
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && w[1].is_ascii_lowercase());
    if lower_run > 0 && rest_ok && !digit_lower {
        return snake.to_string();
    }
    let pascal = to_pascal(snake);
    // `re.sub('(^_*[A-Z])', lambda m: m.group(1).lower(), camel)`.
    let underscores = pascal.chars().take_while(|c| *c == '_').count();
    let mut out: String = pascal.chars().take(underscores).collect();
    let mut rest = pascal.chars().skip(underscores);
    match rest.next() {
        Some(c) if c.is_ascii_uppercase() => out.push(c.to_ascii_lowercase()),
        Some(c) => out.push(c),
        None => {}
    }
    out.extend(rest);
    out
}

fn to_snake(camel: &str) -> String {
    let chars: Vec<char> = camel.chars().collect();
    // `([A-Z]+)([A-Z][a-z])` → `\1_\2`: an underscore before the last capital of a run of
    // capitals that is followed by a lowercase letter.
    let mut step1: Vec<char> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_uppercase() {
            let run = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_uppercase())
                .count();
            let after = chars.get(i + run);
            if run >= 2 && after.is_some_and(|c| c.is_ascii_lowercase()) {
                step1.extend(&chars[i..i + run - 1]);
                step1.push('_');
                step1.push(chars[i + run - 1]);
                step1.push(chars[i + run]);
                i += run + 1;
                continue;
            }
            step1.extend(&chars[i..i + run]);
            i += run;
            continue;
        }
        step1.push(chars[i]);
        i += 1;
    }
    let insert = |s: Vec<char>, a: fn(&char) -> bool, b: fn(&char) -> bool| -> Vec<char> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            out.push(s[i]);
            if a(&s[i]) && s.get(i + 1).is_some_and(b) {
                out.push('_');
                out.push(s[i + 1]);
                i += 2;
                continue;
            }
            i += 1;
        }
        out
    };
    let s = insert(step1, char::is_ascii_lowercase, char::is_ascii_uppercase);
    let s = insert(s, char::is_ascii_digit, char::is_ascii_uppercase);
    let s = insert(s, char::is_ascii_lowercase, char::is_ascii_digit);
    s.into_iter()
        .collect::<String>()
        .replace('-', "_")
        .to_lowercase()
}

/// Whether a class body decorates a method with `computed_field`, `field_serializer` or
/// `model_serializer` (by name: they come from pydantic, which the reader does not run).
fn defines_serializers(c: &ClassDef) -> bool {
    fn named(e: &Expr) -> bool {
        match e {
            Expr::Name(n) | Expr::Attribute(_, n) => {
                matches!(
                    n.as_str(),
                    "computed_field" | "field_serializer" | "model_serializer"
                )
            }
            Expr::Call { func, .. } => named(func),
            _ => false,
        }
    }
    c.body.iter().any(|s| match s {
        Stmt::FunctionDef(f) => f.decorators.iter().any(named),
        _ => false,
    })
}

/// pydantic's `extract_docstrings_from_cls`: a string statement right after an annotated
/// assignment documents that name (`inspect.cleandoc`'d).
fn attribute_docstrings(body: &[Stmt]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in body.windows(2) {
        if let [
            Stmt::AnnAssign {
                target: Expr::Name(name),
                ..
            },
            Stmt::Expr(Expr::Str(doc)),
        ] = pair
        {
            let doc = super::docstring::cleandoc(doc);
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = doc,
                None => out.push((name.clone(), doc)),
            }
        }
    }
    out
}

/// The `pydantic.Extra` enum of pydantic 1 (deprecated, still importable): its members
/// are the strings `extra` accepts.
pub(crate) fn extra_enum() -> Value {
    Value::PlainClass(Rc::new(super::value::PlainClassDef {
        name: "Extra".into(),
        qualname: "pydantic.Extra".into(),
        attrs: ["allow", "ignore", "forbid"]
            .iter()
            .map(|s| (s.to_string(), Value::Str(s.to_string())))
            .collect(),
        arbitrary: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by pydantic 2.14.4's own functions.
    #[test]
    fn alias_generators_match_pydantic() {
        for (input, camel, pascal, snake) in [
            ("first_name", "firstName", "FirstName", "first_name"),
            ("x_y_z", "xYZ", "XYZ", "x_y_z"),
            ("HTTPServer", "httpserver", "Httpserver", "http_server"),
            ("firstName", "firstName", "Firstname", "first_name"),
            ("_private_x", "_privateX", "_PrivateX", "_private_x"),
            ("a1b", "a1B", "A1B", "a_1b"),
            ("version2_id", "version2Id", "Version2Id", "version_2_id"),
            (
                "kebab-case-x",
                "kebab-Case-X",
                "Kebab-Case-X",
                "kebab_case_x",
            ),
            ("ABCdEFg", "abcdefg", "Abcdefg", "ab_cd_e_fg"),
            ("a__b", "a__B", "A__B", "a__b"),
            ("", "", "", ""),
            ("user_ID", "userId", "UserId", "user_id"),
            (
                "getHTTPResponse2XX",
                "getHTTPResponse2XX",
                "Gethttpresponse2Xx",
                "get_http_response_2_xx",
            ),
            ("__dunder__", "__dunder__", "__Dunder__", "__dunder__"),
            ("ñame_x", "ÑameX", "ÑameX", "ñame_x"),
        ] {
            assert_eq!(to_camel(input), camel, "to_camel({input:?})");
            assert_eq!(to_pascal(input), pascal, "to_pascal({input:?})");
            assert_eq!(to_snake(input), snake, "to_snake({input:?})");
        }
    }
}
