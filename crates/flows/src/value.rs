//! Python values and types as the static reader models them.

use std::cell::RefCell;
use std::rc::Rc;

use super::ast::FunctionDef;

/// A Python value the static reader could (or could not) work out.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Set(Vec<Value>),
    FrozenSet(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Date(Date),
    Time(Time),
    DateTime(Date, Time),
    /// Normalised like Python's: days, seconds in [0, 86400), microseconds in [0, 10^6).
    TimeDelta(i64, i64, i64),
    /// A fixed-offset time zone (seconds east of UTC); 0 prints as `Z`.
    Timezone(i64),
    Uuid(String),
    Decimal(String),
    Path(String),
    /// A `SecretStr` (serialised masked).
    Secret,
    EnumMember(Rc<EnumDef>, usize),
    /// A model instance: the model and one value per field, in field order.
    Model(Rc<ModelDef>, Vec<Value>),
    Field(Box<FieldInfo>),
    /// A type object or type expression (`int`, `list[int]`, `Optional[str]`, a model class).
    Type(Ty),
    /// Something built in that the reader knows by name (a module member, a special form).
    Builtin(Builtin),
    Module(String),
    /// A module-level function (not a flow).
    Function(Rc<FunctionInfo>),
    /// A flow object.
    Flow(Rc<FlowInfo>),
    /// `flow(name=…)`: a decorator waiting for its function.
    FlowDecorator(Vec<(String, Value)>),
    /// A task (or something else that is callable but not a flow).
    NotAFlow(&'static str),
    /// A plain class (not an Enum or a pydantic model), with its attributes.
    PlainClass(Rc<PlainClassDef>),
    /// `enum.auto()`.
    Auto,
    /// Exists at run time but is not JSON: a lambda, an `object()`, a function of a library.
    Opaque,
    /// Comes from a module the reader does not know (a third-party or missing import).
    External,
    /// The reader could not work it out.
    Unknown,
    /// A bound method of a string (`"a".upper`), by name.
    StrMethod(Box<str>, &'static str),
    /// `pydantic.AliasChoices(...)` / `AliasPath(...)`: the key pydantic's JSON schema gives
    /// the field.
    AliasKey(AliasKey),
    /// `pydantic.AliasGenerator(...)`.
    AliasGenerator(Rc<AliasGeneratorDef>),
    /// A bound method of a path (`Path("a").resolve`), by name.
    PathMethod(Box<str>, &'static str),
    /// A value nested deeper than the reader builds ([`super::depth::MAX_VALUE_DEPTH`]).
    TooDeep,
}

impl Value {
    /// Whether the reader could not evaluate this value.
    pub(crate) fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown | Value::External | Value::TooDeep)
    }

    /// How deeply containers nest in this value (a scalar is 0), counted up to `limit + 1`
    /// (a [`Value::TooDeep`] counts as deeper than any limit).
    pub(crate) fn depth(&self, limit: usize) -> usize {
        let children: Box<dyn Iterator<Item = &Value>> = match self {
            Value::TooDeep => return limit + 1,
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
                Box::new(v.iter())
            }
            Value::Model(_, v) => Box::new(v.iter()),
            Value::Dict(items) => Box::new(items.iter().flat_map(|(k, v)| [k, v])),
            Value::Field(fi) => Box::new(fi.default.iter()),
            _ => return 0,
        };
        if limit == 0 {
            return 1;
        }
        let mut deepest = 0;
        for c in children {
            deepest = deepest.max(c.depth(limit - 1));
            if deepest >= limit {
                break;
            }
        }
        deepest + 1
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

/// A wall-clock time with an optional fixed UTC offset in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
    pub offset: Option<i64>,
}

/// Names the reader knows without seeing their source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Builtin {
    // builtins / typing aliases usable as types
    Int,
    Float,
    Str,
    Bool,
    Bytes,
    List,
    Dict,
    Set,
    FrozenSet,
    Tuple,
    Object,
    Type,
    // typing special forms
    Any,
    Optional,
    Union,
    Literal,
    Annotated,
    Callable,
    ClassVar,
    Sequence,
    Mapping,
    Iterable,
    // datetime / uuid / decimal / pathlib
    Date,
    DateTime,
    Time,
    TimeDelta,
    Timezone,
    Uuid,
    Decimal,
    Path,
    // pydantic
    Field,
    BaseModel,
    SecretStr,
    ConfigDict,
    AliasChoices,
    AliasPath,
    AliasGenerator,
    /// `pydantic.alias_generators.to_camel` / `to_pascal` / `to_snake`.
    ToCamel,
    ToPascal,
    ToSnake,
    // enum
    Enum,
    StrEnum,
    IntEnum,
    AutoFn,
    // prefect
    Flow,
    Task,
    // functions with no schema meaning
    ClassMethod,
    StaticMethod,
    // the environment (`os`, `dotenv`)
    /// `os.environ`.
    Environ,
    /// `os.getenv`.
    GetEnv,
    /// `os.environ.get`.
    EnvironGet,
    /// `os.environ.setdefault`.
    EnvironSetDefault,
    /// `os.environ.pop`.
    EnvironPop,
    /// `os.environ.update`.
    EnvironUpdate,
    /// Another `os.environ` method that changes it (`clear`, `popitem`).
    EnvironChange,
    /// `dotenv.load_dotenv`: fills `os.environ` from a file the reader does not read.
    LoadDotenv,
    // `os.path` and `sys.path`
    OsPathDirname,
    OsPathBasename,
    OsPathAbspath,
    OsPathRealpath,
    OsPathNormpath,
    OsPathJoin,
    /// `sys.path` (its entries are where imports look).
    SysPath,
    SysPathAppend,
    SysPathInsert,
    SysPathRemove,
    SysPathExtend,
}

impl Builtin {
    /// `os.environ`, its methods, `os.getenv` and `load_dotenv`.
    pub(crate) fn is_environ(self) -> bool {
        matches!(
            self,
            Builtin::Environ
                | Builtin::GetEnv
                | Builtin::EnvironGet
                | Builtin::EnvironSetDefault
                | Builtin::EnvironPop
                | Builtin::EnvironUpdate
                | Builtin::EnvironChange
                | Builtin::LoadDotenv
        )
    }

    /// `os.path` functions and `sys.path` with its methods.
    pub(crate) fn is_path_function(self) -> bool {
        matches!(
            self,
            Builtin::OsPathDirname
                | Builtin::OsPathBasename
                | Builtin::OsPathAbspath
                | Builtin::OsPathRealpath
                | Builtin::OsPathNormpath
                | Builtin::OsPathJoin
                | Builtin::SysPath
                | Builtin::SysPathAppend
                | Builtin::SysPathInsert
                | Builtin::SysPathRemove
                | Builtin::SysPathExtend
        )
    }
}

/// A type as pydantic would see it.
#[derive(Debug, Clone)]
pub(crate) enum Ty {
    Any,
    Int,
    Float,
    Str,
    Bool,
    Bytes,
    NoneType,
    List(Box<Ty>),
    Set(Box<Ty>),
    FrozenSet(Box<Ty>),
    /// `tuple[a, b]` (fixed; empty for `tuple[()]`).
    Tuple(Vec<Ty>),
    /// `tuple[a, ...]` / bare `tuple`.
    TupleVar(Box<Ty>),
    Dict(Box<Ty>, Box<Ty>),
    Union(Vec<Ty>),
    Literal(Vec<Value>),
    Enum(Rc<EnumDef>),
    Model(Rc<ModelDef>),
    /// A class pydantic checks with `isinstance`: its schema is empty.
    Plain(String),
    /// A plain Python class ([`PlainClassDef::arbitrary`]): checked with `isinstance` where
    /// `arbitrary_types_allowed` (Prefect's `Parameters` model), refused in a model without
    /// it.
    Arbitrary(String),
    Date,
    DateTime,
    Time,
    TimeDelta,
    Uuid,
    Decimal,
    Path,
    SecretStr,
    Annotated(Box<Ty>, Vec<FieldInfo>),
    /// A type pydantic cannot make a JSON schema for (e.g. a callable): the parameter
    /// falls back to `Any`.
    Invalid(String),
    /// A type nested deeper than the reader builds ([`super::depth::MAX_VALUE_DEPTH`]).
    TooDeep,
}

impl Ty {
    /// How deeply container types nest in this type (`list[int]` is 1), counted up to
    /// `limit + 1`.
    pub(crate) fn depth(&self, limit: usize) -> usize {
        let children: Vec<&Ty> = match self {
            Ty::List(t) | Ty::Set(t) | Ty::FrozenSet(t) | Ty::TupleVar(t) => vec![t],
            Ty::Tuple(items) => items.iter().collect(),
            Ty::Dict(k, v) => vec![k, v],
            // Members and metadata do not nest: a union is as deep as its deepest member.
            Ty::Union(items) => {
                return items.iter().map(|t| t.depth(limit)).max().unwrap_or(0);
            }
            Ty::Annotated(t, _) => return t.depth(limit),
            Ty::TooDeep => return limit + 1,
            _ => return 0,
        };
        if limit == 0 {
            return 1;
        }
        children
            .iter()
            .map(|t| t.depth(limit - 1))
            .max()
            .unwrap_or(0)
            + 1
    }
}

/// An `Enum` subclass defined in a flow file.
#[derive(Debug)]
pub(crate) struct EnumDef {
    pub name: String,
    pub doc: Option<String>,
    pub members: Vec<(String, Value)>,
}

/// A pydantic `BaseModel` subclass defined in a flow file.
#[derive(Debug)]
pub(crate) struct ModelDef {
    pub name: String,
    pub doc: Option<String>,
    pub fields: RefCell<Vec<ModelField>>,
    /// Its configuration, merged as pydantic merges it (bases, then `model_config` or
    /// `class Config`, then class keywords).
    pub config: super::model_config::ModelConfig,
    /// What the reader could not apply of the configuration (reported by the loader when
    /// the model is part of a schema).
    pub notes: Vec<String>,
}

/// One model field.
#[derive(Debug, Clone)]
pub(crate) struct ModelField {
    pub name: String,
    pub ty: Ty,
    /// The explicit default, if any (`Field(default_factory=…)` sets `factory` instead).
    pub default: Option<Value>,
    pub factory: Option<Value>,
    pub info: FieldInfo,
}

/// What `pydantic.Field(...)` said.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldInfo {
    pub default: Option<Value>,
    pub default_factory: Option<Value>,
    /// `alias=`: also the validation and serialization alias unless those are given.
    pub alias: Option<String>,
    pub validation_alias: Option<AliasKey>,
    pub serialization_alias: Option<String>,
    /// pydantic's `alias_priority`: 2 when an alias was given, 1 when an alias generator
    /// made it (a subclass's generator then replaces it).
    pub alias_priority: Option<i128>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub examples: Option<Value>,
    pub json_schema_extra: Option<Value>,
    /// Numeric and length constraints, in pydantic's names (`ge`, `min_length`, …).
    pub constraints: Vec<(String, Value)>,
}

impl FieldInfo {
    /// The property name of the field in a validation-mode JSON schema (pydantic's
    /// `_get_alias_name`).
    pub(crate) fn validation_key(&self, name: &str) -> String {
        self.validation_alias
            .as_ref()
            .and_then(|a| a.schema_key.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// The property name in a serialization-mode JSON schema and in a `by_alias` dump.
    pub(crate) fn serialization_key(&self, name: &str) -> String {
        self.serialization_alias
            .clone()
            .unwrap_or_else(|| name.to_string())
    }
}

/// A validation alias (`alias=`, `validation_alias=`, `AliasChoices`, `AliasPath`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AliasKey {
    /// The property name pydantic's JSON schema uses: a string alias, the first choice that
    /// is a string or a one-step path. `None`: the field's own name.
    pub schema_key: Option<String>,
    /// The top-level names validation accepts.
    pub names: Vec<String>,
    /// Some choice is a path of several steps (it reads inside an argument's value).
    pub nested: bool,
}

/// `pydantic.AliasGenerator(alias=…, validation_alias=…, serialization_alias=…)`: each a
/// callable or absent.
#[derive(Debug)]
pub(crate) struct AliasGeneratorDef {
    pub alias: Option<Value>,
    pub validation_alias: Option<Value>,
    pub serialization_alias: Option<Value>,
}

/// A plain class with the attributes the reader could see.
#[derive(Debug)]
pub(crate) struct PlainClassDef {
    pub name: String,
    /// `module.Name`, as pydantic's messages name the class.
    pub qualname: String,
    pub attrs: Vec<(String, Value)>,
    /// pydantic has no schema for it: no decorator (a dataclass is supported), no base but
    /// `object` or such classes, no `__get_pydantic_core_schema__`. A model field of this
    /// type needs `arbitrary_types_allowed`.
    pub arbitrary: bool,
}

/// A module-level function.
#[derive(Debug)]
pub(crate) struct FunctionInfo {
    pub def: FunctionDef,
    /// The parameters' defaults, evaluated when the `def` ran (as Python does).
    pub defaults: Vec<(String, Value)>,
    /// The file that defines it.
    pub file: std::path::PathBuf,
    /// The namespace it was defined in (kept alive by the loader).
    pub module: std::rc::Weak<RefCell<super::eval::Namespace>>,
}

/// A flow: the function plus the decorator's keyword arguments.
#[derive(Debug)]
pub(crate) struct FlowInfo {
    pub func: Rc<FunctionInfo>,
    pub kwargs: Vec<(String, Value)>,
}

/// A shared handle to a module namespace.
pub(crate) type ModuleRef = Rc<RefCell<super::eval::Namespace>>;
