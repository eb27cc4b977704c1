//! A static "import": runs a module's top-level statements over the reader's value model.
//!
//! Nothing is executed. Imports of the modules Prefect flows commonly use (`typing`,
//! `datetime`, `uuid`, `decimal`, `pathlib`, `enum`, `pydantic`, `prefect`) are known by name;
//! imports of modules under the import root are read the same way; anything else is
//! [`Value::External`] (its names exist, their types are unknown). Classes deriving from
//! `Enum` or `BaseModel` become enum/model definitions; decorated functions become flows.
//!
//! Calls of module functions are evaluated where Python's result is certain from the source:
//! bodies of assignments, `if` on known values and `return`, with the arguments bound as
//! Python binds them; conditional and boolean expressions evaluate only the operands Python
//! would. Everything else stays unknown — never guessed. Recursion is bounded (module
//! functions calling each other, values and types nesting, imports): see [`super::depth`].
//!
//! The environment is read as Python reads it at import time (`os.environ`, `os.getenv`,
//! see `os_environ.rs`). Exceptions Python certainly raises (a missing variable, `int("x")`,
//! an invalid flow) stop the module there, as an import does; a file entrypoint whose module
//! raises is then read again the way Prefect's fallback loader reads it (`fallback.rs`).

mod fallback;
mod os_environ;
mod paths;

pub(crate) use fallback::FallbackOutcome;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::ast::{
    BinOp, ClassDef, CmpOp, ExceptHandler, Expr, FPart, FunctionDef, Keyword, Module, Stmt, UnaryOp,
};
use super::depth;
use super::environment::{EnvState, Environment};
use super::exception::{Raised, is_python_builtin};
use super::python;
use super::value::{
    AliasKey, Builtin, Date, EnumDef, FieldInfo, FlowInfo, FunctionInfo, ModelDef, ModelField,
    ModuleRef, PlainClassDef, Time, Ty, Value,
};

/// A module's names after its top-level statements ran.
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    pub names: HashMap<String, Value>,
    pub future_annotations: bool,
    pub file: PathBuf,
    /// Models defined here, with their field annotations (resolved again once the module is
    /// complete, like pydantic's forward references).
    pub models: Vec<(Rc<ModelDef>, Vec<ModelFieldSource>)>,
    /// The exception the module raises when imported (creating a flow with an invalid name,
    /// a missing environment variable, …): its statements stop there, and Prefect falls back
    /// to its safe loader for a script.
    pub first_error: Option<Raised>,
    /// The namespace Prefect's fallback loader builds (`safe_load_namespace`): a name it did
    /// not bind raises `NameError`.
    pub fallback: bool,
    /// A `from <third-party> import *` bound names the reader cannot list.
    pub star_unknown: bool,
    /// The module each third-party name was imported from (`load_dotenv` → `dotenv`).
    pub origins: HashMap<String, String>,
}

/// A model field as written, kept to resolve forward references later.
#[derive(Debug, Clone)]
pub(crate) struct ModelFieldSource {
    pub annotation: Expr,
}

/// The largest string `str * n` builds (16 MiB).
const MAX_STRING_BYTES: u128 = 16 * 1024 * 1024;

/// Whether a string of `len` bytes is one the reader builds.
fn fits(len: usize) -> bool {
    (len as u128) <= MAX_STRING_BYTES
}

/// Modules the reader knows by name (their members are built in).
fn is_known_module(name: &str) -> bool {
    let root = name.split('.').next().unwrap_or(name);
    matches!(
        root,
        "typing"
            | "typing_extensions"
            | "datetime"
            | "uuid"
            | "decimal"
            | "pathlib"
            | "enum"
            | "pydantic"
            | "prefect"
            | "collections"
            | "builtins"
            | "__future__"
            | "annotated_types"
            | "os"
            | "sys"
            | "dotenv"
    )
}

fn known_member(module: &str, attr: &str) -> Option<Value> {
    use Builtin as B;
    let b = |b: Builtin| Some(Value::Builtin(b));
    match module {
        "typing" | "typing_extensions" => match attr {
            "Any" => b(B::Any),
            "Optional" => b(B::Optional),
            "Union" => b(B::Union),
            "List" => b(B::List),
            "Dict" => b(B::Dict),
            "Set" => b(B::Set),
            "FrozenSet" => b(B::FrozenSet),
            "Tuple" => b(B::Tuple),
            "Literal" => b(B::Literal),
            "Annotated" => b(B::Annotated),
            "Callable" => b(B::Callable),
            "ClassVar" => b(B::ClassVar),
            "Sequence" | "MutableSequence" => b(B::Sequence),
            "Mapping" | "MutableMapping" => b(B::Mapping),
            "Iterable" => b(B::Iterable),
            "Type" => b(B::Type),
            "TYPE_CHECKING" => Some(Value::Bool(false)),
            _ => Some(Value::Opaque),
        },
        "collections.abc" => match attr {
            "Sequence" | "MutableSequence" => b(B::Sequence),
            "Mapping" | "MutableMapping" => b(B::Mapping),
            "Iterable" => b(B::Iterable),
            "Callable" => b(B::Callable),
            "Set" | "MutableSet" => b(B::Set),
            _ => Some(Value::Opaque),
        },
        "collections" => match attr {
            "abc" => Some(Value::Module("collections.abc".into())),
            _ => Some(Value::Opaque),
        },
        "datetime" => match attr {
            "date" => b(B::Date),
            "datetime" => b(B::DateTime),
            "time" => b(B::Time),
            "timedelta" => b(B::TimeDelta),
            "timezone" => b(B::Timezone),
            "UTC" => Some(Value::Timezone(0)),
            _ => Some(Value::Opaque),
        },
        "uuid" => match attr {
            "UUID" => b(B::Uuid),
            _ => Some(Value::Opaque),
        },
        "decimal" => match attr {
            "Decimal" => b(B::Decimal),
            _ => Some(Value::Opaque),
        },
        "pathlib" => match attr {
            "Path" | "PurePath" | "PosixPath" | "PurePosixPath" => b(B::Path),
            _ => Some(Value::Opaque),
        },
        "enum" => match attr {
            "Enum" => b(B::Enum),
            "StrEnum" => b(B::StrEnum),
            "IntEnum" => b(B::IntEnum),
            "auto" => b(B::AutoFn),
            _ => Some(Value::Opaque),
        },
        // The submodules re-export what the reader knows of the package.
        "pydantic" | "pydantic.config" | "pydantic.main" | "pydantic.fields"
        | "pydantic.aliases" | "pydantic.types" => match attr {
            "BaseModel" => b(B::BaseModel),
            "Field" => b(B::Field),
            "SecretStr" => b(B::SecretStr),
            "ConfigDict" => b(B::ConfigDict),
            "AliasChoices" => b(B::AliasChoices),
            "AliasPath" => b(B::AliasPath),
            "AliasGenerator" => b(B::AliasGenerator),
            "Extra" => Some(super::model_config::extra_enum()),
            "alias_generators" | "config" | "main" | "fields" | "aliases" | "types"
                if module == "pydantic" =>
            {
                Some(Value::Module(format!("pydantic.{attr}")))
            }
            _ => Some(Value::External),
        },
        "pydantic.alias_generators" => match attr {
            "to_camel" => b(B::ToCamel),
            "to_pascal" => b(B::ToPascal),
            "to_snake" => b(B::ToSnake),
            _ => Some(Value::External),
        },
        "prefect" | "prefect.flows" => match attr {
            "flow" => b(B::Flow),
            "task" => b(B::Task),
            "flows" => Some(Value::Module("prefect.flows".into())),
            "tasks" => Some(Value::Module("prefect.tasks".into())),
            _ => Some(Value::External),
        },
        "prefect.tasks" => match attr {
            "task" => b(B::Task),
            _ => Some(Value::External),
        },
        "builtins" => builtin_name(attr),
        "__future__" => Some(Value::Opaque),
        "os" => match attr {
            "environ" => b(B::Environ),
            "getenv" => b(B::GetEnv),
            "path" => Some(Value::Module("os.path".into())),
            _ => Some(Value::External),
        },
        "os.path" => match attr {
            "dirname" => b(B::OsPathDirname),
            "basename" => b(B::OsPathBasename),
            "abspath" => b(B::OsPathAbspath),
            "realpath" => b(B::OsPathRealpath),
            "normpath" => b(B::OsPathNormpath),
            "join" => b(B::OsPathJoin),
            _ => Some(Value::External),
        },
        "sys" => match attr {
            "path" => b(B::SysPath),
            _ => Some(Value::External),
        },
        "dotenv" => match attr {
            "load_dotenv" => b(B::LoadDotenv),
            _ => Some(Value::External),
        },
        _ if is_known_module(module) => Some(Value::External),
        _ => None,
    }
}

fn builtin_name(name: &str) -> Option<Value> {
    use Builtin as B;
    let b = |b: Builtin| Some(Value::Builtin(b));
    match name {
        "int" => b(B::Int),
        "float" => b(B::Float),
        "str" => b(B::Str),
        "bool" => b(B::Bool),
        "bytes" => b(B::Bytes),
        "list" => b(B::List),
        "dict" => b(B::Dict),
        "set" => b(B::Set),
        "frozenset" => b(B::FrozenSet),
        "tuple" => b(B::Tuple),
        "object" => b(B::Object),
        "type" => b(B::Type),
        "classmethod" => b(B::ClassMethod),
        "staticmethod" => b(B::StaticMethod),
        "print" | "len" | "range" | "min" | "max" | "sum" | "abs" | "round" | "sorted" | "repr"
        | "open" | "id" | "hash" | "isinstance" | "getattr" | "callable" | "iter" | "next"
        | "map" | "filter" | "zip" | "enumerate" | "reversed" | "any" | "all" | "property"
        | "super" | "vars" | "dir" => Some(Value::Opaque),
        _ => None,
    }
}

/// Reads modules under an import root and evaluates their top-level statements.
pub(crate) struct Loader {
    root: PathBuf,
    /// The file Prefect runs as a script (file entrypoints).
    script: Option<PathBuf>,
    /// Where absolute imports look, in order (Python's `sys.path` as Prefect sets it: the
    /// script's directory and the working directory; the fallback loader adds two more).
    sys_path: Vec<PathBuf>,
    cache: HashMap<PathBuf, ModuleRef>,
    loading: HashSet<PathBuf>,
    /// Namespaces kept alive that are not in the cache (the fallback loader's).
    kept: Vec<ModuleRef>,
    /// The local scopes of the module functions being called, innermost last.
    frames: Vec<Frame>,
    /// Module-function calls evaluated so far (bounded by [`depth::MAX_CALLS`]).
    calls: usize,
    /// `os.environ` as the modules read so far left it.
    env: EnvState,
    /// The exception being raised, until a statement boundary takes it (or an `except`
    /// clause catches it).
    raised: Option<Raised>,
    /// How many enclosing statements run without Python certainly running them (an `if` on
    /// an unknown test, a loop body): an exception there is not certain either.
    uncertain: usize,
    /// What the loader could not evaluate beyond single values (reported by the loader).
    notes: Vec<String>,
}

/// A called function's local scope.
struct Frame {
    /// Names the function binds (parameters and assignment targets): Python never looks
    /// these up in the module, even before they are bound.
    locals: HashSet<String>,
    bound: HashMap<String, Value>,
}

/// How a function body's statements ended.
enum Flow {
    Next,
    Return(Value),
    /// A statement the reader does not evaluate: the call's result is not known.
    Unknown,
    /// A statement raised ([`Loader::raised`] holds the exception).
    Raised,
}

/// A failure while reading the module that defines the flow (imported modules that fail are
/// treated as unknown, like a missing dependency).
#[derive(Debug)]
pub(crate) enum ReadProblem {
    Io(std::io::Error),
    Syntax(python::SyntaxProblem),
}

impl Loader {
    /// A loader whose import root (Prefect's working directory) is `root`, reading
    /// `os.environ` from `environment`.
    pub(crate) fn new(root: &Path, environment: Environment) -> Self {
        Loader {
            root: root.to_path_buf(),
            script: None,
            sys_path: vec![root.to_path_buf()],
            cache: HashMap::new(),
            loading: HashSet::new(),
            kept: Vec::new(),
            frames: Vec::new(),
            calls: 0,
            env: EnvState::new(environment),
            raised: None,
            uncertain: 0,
            notes: Vec::new(),
        }
    }

    /// Reads and evaluates `file` as the script of a file entrypoint: Prefect puts the
    /// script's directory and then the working directory in front of `sys.path`.
    pub(crate) fn load_script(&mut self, file: &Path) -> Result<ModuleRef, ReadProblem> {
        let full = self.root.join(file);
        if let Some(dir) = full.parent() {
            self.sys_path.insert(0, dir.to_path_buf());
        }
        self.script = Some(full);
        self.load_file(file)
    }

    /// Imports a module entrypoint's packages (`a`, `a.b` for `a.b.c`) as Python does before
    /// the module itself; the first exception one raises, if any.
    pub(crate) fn import_parents(&mut self, dotted: &str) -> Option<Raised> {
        let parts: Vec<&str> = dotted.split('.').collect();
        for i in 1..parts.len() {
            let name = parts[..i].join(".");
            if let Some(init) = resolve_module_in(&self.root, &name)
                && let Ok(ns) = self.load_file(&init)
                && let Some(err) = ns.borrow().first_error.clone()
            {
                return Some(err);
            }
        }
        None
    }

    /// What the loader noted beyond single values (an environment it stopped knowing).
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Forgets an exception raised while evaluating outside a module's statements (a
    /// parameter's annotation read again for the schema).
    pub(crate) fn clear_raised(&mut self) {
        self.raised = None;
    }

    /// Takes the exception raised while evaluating outside a module's statements (a
    /// parameter's default read again for the schema), if any.
    pub(crate) fn take_raised(&mut self) -> Option<Raised> {
        self.raised.take()
    }

    /// Reads and evaluates the module in `file` (a path relative to the root or absolute).
    pub(crate) fn load_file(&mut self, file: &Path) -> Result<ModuleRef, ReadProblem> {
        let full = self.full_path(file);
        if let Some(ns) = self.cache.get(&full) {
            return Ok(ns.clone());
        }
        let module = read_module(&full)?;
        Ok(self.exec_module(full, &module))
    }

    fn full_path(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            file.to_path_buf()
        } else {
            self.root.join(file)
        }
    }

    fn exec_module(&mut self, full: PathBuf, module: &Module) -> ModuleRef {
        let ns = Rc::new(RefCell::new(Namespace {
            file: full.clone(),
            ..Namespace::default()
        }));
        ns.borrow_mut()
            .names
            .insert("__name__".into(), Value::Str("module".into()));
        if let Some(file) = self.module_file(&full) {
            ns.borrow_mut().names.insert("__file__".into(), file);
        }
        self.cache.insert(full.clone(), ns.clone());
        self.loading.insert(full.clone());
        // An import runs the module in a frame of its own.
        let outer_raised = self.raised.take();
        let outer_uncertain = std::mem::take(&mut self.uncertain);
        let outer_frames = std::mem::take(&mut self.frames);
        self.exec_block(&ns, &module.body, true);
        if let Some(err) = self.raised.take() {
            ns.borrow_mut().first_error = Some(err);
        }
        self.frames = outer_frames;
        self.uncertain = outer_uncertain;
        self.raised = outer_raised;
        self.finalize_models(&ns);
        self.loading.remove(&full);
        ns
    }

    /// Resolves model fields again now that every module-level name exists.
    fn finalize_models(&mut self, ns: &ModuleRef) {
        let models = ns.borrow().models.clone();
        for (model, sources) in models {
            for (i, src) in sources.iter().enumerate() {
                let needs =
                    matches!(src.annotation, Expr::Str(_)) || ns.borrow().future_annotations;
                if !needs {
                    continue;
                }
                let value = self.eval_annotation(ns, &src.annotation);
                let (ty, info) = split_annotated(self.type_of(ns, &value));
                let mut fields = model.fields.borrow_mut();
                if let Some(f) = fields.get_mut(i) {
                    f.ty = ty;
                    if let Some(info) = info {
                        merge_field_info(&mut f.info, &info);
                    }
                }
            }
        }
    }

    /// Creating a flow object raises where `Flow.__init__` would.
    fn check_flow_creation(&mut self, value: &Value) {
        if let Value::Flow(info) = value
            && let Some(err) = flow_creation_error(info)
        {
            self.raise(err);
        }
    }

    /// Raises `err` here: certain unless an enclosing statement may not run at all.
    pub(crate) fn raise(&mut self, err: Raised) -> Value {
        if self.uncertain == 0 && self.raised.is_none() {
            self.raised = Some(err);
        }
        Value::Unknown
    }

    fn set(&self, ns: &ModuleRef, name: &str, value: Value) {
        ns.borrow_mut().names.insert(name.to_string(), value);
    }

    /// Runs statements until one raises.
    fn exec_block(&mut self, ns: &ModuleRef, stmts: &[Stmt], top: bool) {
        for stmt in stmts {
            self.exec_stmt(ns, stmt, top);
            if self.raised.is_some() {
                return;
            }
        }
    }

    /// Runs statements Python may not run (a branch whose test is unknown, a loop body):
    /// definitions inside still bind names, exceptions inside are not certain.
    fn exec_block_uncertain(&mut self, ns: &ModuleRef, stmts: &[Stmt], top: bool) {
        self.uncertain += 1;
        self.exec_block(ns, stmts, top);
        self.uncertain -= 1;
    }

    fn exec_stmt(&mut self, ns: &ModuleRef, stmt: &Stmt, top: bool) {
        match stmt {
            Stmt::Import(aliases) => {
                for a in aliases {
                    self.exec_import(ns, &a.name, a.asname.as_deref());
                    if self.raised.is_some() {
                        return;
                    }
                }
            }
            Stmt::ImportFrom {
                module,
                names,
                level,
            } => self.exec_import_from(ns, module.as_deref().unwrap_or_default(), names, *level),
            Stmt::FunctionDef(f) => {
                if let Some(value) = self.define_function(ns, f) {
                    self.set(ns, &f.name, value);
                }
            }
            Stmt::ClassDef(c) => {
                let v = self.class_def(ns, c);
                if self.raised.is_none() {
                    self.set(ns, &c.name, v);
                }
            }
            Stmt::Assign { targets, value } => {
                let v = self.eval(ns, value);
                self.check_flow_creation(&v);
                if self.raised.is_some() {
                    return;
                }
                if matches!(v, Value::External) {
                    self.inherit_origin(ns, targets, value);
                }
                for t in targets {
                    self.assign(ns, t, v.clone());
                }
            }
            Stmt::AnnAssign {
                target,
                value: Some(value),
                ..
            } => {
                let v = self.eval(ns, value);
                if self.raised.is_none() {
                    self.assign(ns, target, v);
                }
            }
            Stmt::AugAssign { target, op, value } => self.aug_assign(ns, target, *op, value),
            Stmt::Delete(targets) => {
                for t in targets {
                    self.delete(ns, t);
                    if self.raised.is_some() {
                        return;
                    }
                }
            }
            Stmt::Expr(e) => self.exec_expression_statement(ns, e),
            Stmt::If { branches } => {
                for (test, body) in branches {
                    match test {
                        None => {
                            self.exec_block(ns, body, top);
                            return;
                        }
                        Some(test) => {
                            if is_main_check(test) {
                                continue;
                            }
                            let t = self.eval(ns, test);
                            if self.raised.is_some() {
                                return;
                            }
                            match truthy(&t) {
                                Some(true) => {
                                    self.exec_block(ns, body, top);
                                    return;
                                }
                                Some(false) => continue,
                                None => {
                                    self.exec_block_uncertain(ns, body, top);
                                    return;
                                }
                            }
                        }
                    }
                }
            }
            Stmt::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => {
                self.exec_block(ns, body, top);
                match self.raised.take() {
                    None => self.exec_block(ns, orelse, top),
                    Some(err) => match self.catching_handler(ns, handlers, &err) {
                        Some(Some(h)) => {
                            if let Some(n) = &h.name {
                                self.set(ns, n, Value::Opaque);
                            }
                            self.exec_block(ns, &h.body, top);
                            // Python unbinds the exception's name when the clause ends.
                            if let Some(n) = &h.name {
                                ns.borrow_mut().names.remove(n);
                            }
                        }
                        Some(None) => self.raised = Some(err),
                        None => {
                            // Whether a clause catches it is not known: neither is what
                            // the clauses bind.
                            let mut names = HashSet::new();
                            for h in handlers {
                                assigned_names(&h.body, &mut names);
                            }
                            for n in names {
                                self.set(ns, &n, Value::Unknown);
                            }
                        }
                    },
                }
                // `finally` runs either way; an exception it raises replaces the pending one.
                let pending = self.raised.take();
                self.exec_block(ns, finalbody, top);
                if self.raised.is_none() {
                    self.raised = pending;
                }
            }
            Stmt::With { items, body } => self.exec_with(ns, items, body, top),
            Stmt::Block(blocks) => {
                // Loops: definitions inside still bind module names.
                for b in blocks {
                    self.exec_block_uncertain(ns, b, top);
                }
            }
            _ => {}
        }
    }

    /// `with`: the body runs; an exception in it propagates unless `contextlib.suppress`
    /// names its class (other context managers are taken not to swallow exceptions).
    fn exec_with(
        &mut self,
        ns: &ModuleRef,
        items: &[(Expr, Option<Expr>)],
        body: &[Stmt],
        top: bool,
    ) {
        for (context, target) in items {
            self.eval(ns, context);
            if self.raised.is_some() {
                return;
            }
            if let Some(t) = target {
                // What `__enter__` returns.
                self.assign(ns, t, Value::Unknown);
            }
        }
        self.exec_block(ns, body, top);
        let Some(err) = self.raised.take() else {
            return;
        };
        let mut unsure = false;
        for (context, _) in items {
            match os_environ::suppressed_classes(ns, context) {
                Some(Some(classes)) => {
                    for class in classes {
                        match err.caught_by(class) {
                            Some(true) => return,
                            Some(false) => {}
                            None => unsure = true,
                        }
                    }
                }
                Some(None) => unsure = true,
                None => {}
            }
        }
        // A `suppress` naming a class the reader cannot place may swallow it or not.
        if !unsure {
            self.raised = Some(err);
        }
    }

    /// Runs a `def` statement: decorators are evaluated first, then the defaults; the
    /// decorators apply bottom-up. `None` when it raises.
    fn define_function(&mut self, ns: &ModuleRef, f: &FunctionDef) -> Option<Value> {
        let decorators: Vec<Value> = f.decorators.iter().map(|d| self.eval(ns, d)).collect();
        if self.raised.is_some() {
            return None;
        }
        let mut value = Value::Function(self.function(ns, f));
        for d in decorators.iter().rev() {
            if self.raised.is_some() {
                return None;
            }
            value = self.apply_decorator(d, value);
            self.check_flow_creation(&value);
        }
        self.raised.is_none().then_some(value)
    }

    /// Applies a decorator; a module function used as one is called when the reader can
    /// evaluate it (a shim such as `def flow(*a, **k): return lambda f: f`).
    fn apply_decorator(&mut self, dec: &Value, target: Value) -> Value {
        if let Value::Function(func) = dec {
            let result = self.call_function(func, vec![target.clone()], Vec::new());
            if matches!(
                result,
                Value::Function(_) | Value::Flow(_) | Value::NotAFlow(_)
            ) {
                return result;
            }
        }
        apply_decorator(dec, target)
    }

    /// Which `except` clause catches `err`: `Some(None)` when none does, `None` when that is
    /// not known (a clause names a class the reader cannot place).
    fn catching_handler<'h>(
        &mut self,
        ns: &ModuleRef,
        handlers: &'h [ExceptHandler],
        err: &Raised,
    ) -> Option<Option<&'h ExceptHandler>> {
        for h in handlers {
            let Some(kind) = &h.kind else {
                return Some(Some(h));
            };
            let classes: Vec<&Expr> = match kind {
                Expr::Tuple(items) => items.iter().collect(),
                one => vec![one],
            };
            let mut caught = false;
            for class in classes {
                let Expr::Name(name) = class else {
                    return None;
                };
                // A builtin class, unless the module rebinds its name.
                if ns.borrow().names.contains_key(name) {
                    return None;
                }
                match err.caught_by(name) {
                    Some(c) => caught |= c,
                    None => return None,
                }
            }
            if caught {
                return Some(Some(h));
            }
        }
        Some(None)
    }

    /// A `def` as Python runs it: the defaults are evaluated now.
    fn function(&mut self, ns: &ModuleRef, f: &FunctionDef) -> Rc<FunctionInfo> {
        let p = &f.params;
        let mut defaults = Vec::new();
        for param in p.posonly.iter().chain(&p.args).chain(&p.kwonly) {
            if let Some(d) = &param.default {
                defaults.push((param.name.clone(), self.eval(ns, d)));
            }
        }
        Rc::new(FunctionInfo {
            def: f.clone(),
            defaults,
            file: ns.borrow().file.clone(),
            module: Rc::downgrade(ns),
        })
    }

    fn assign(&mut self, ns: &ModuleRef, target: &Expr, value: Value) {
        match target {
            Expr::Name(n) => self.set(ns, n, value),
            Expr::Tuple(items) | Expr::List(items) => {
                let values = match value {
                    Value::Tuple(v) | Value::List(v) if v.len() == items.len() => v,
                    _ => vec![Value::Unknown; items.len()],
                };
                for (t, v) in items.iter().zip(values) {
                    self.assign(ns, t, v);
                }
            }
            Expr::Starred(inner) => self.assign(ns, inner, Value::Unknown),
            Expr::Subscript(base, key) => {
                let base = self.eval(ns, base);
                if matches!(base, Value::Builtin(Builtin::Environ)) {
                    let key = self.eval(ns, key);
                    self.environ_assign(&key, &value);
                }
            }
            _ => {}
        }
    }

    /// `target op= value` on a module name or an `os.environ` item.
    fn aug_assign(&mut self, ns: &ModuleRef, target: &Expr, op: BinOp, value: &Expr) {
        match target {
            Expr::Name(n) => {
                let current = self.eval(ns, target);
                let v = self.eval(ns, value);
                if self.raised.is_some() {
                    return;
                }
                let result = self.binop(ns, current, op, v);
                self.set(ns, n, result);
            }
            Expr::Subscript(base, key) => {
                let base = self.eval(ns, base);
                if !matches!(base, Value::Builtin(Builtin::Environ)) {
                    return;
                }
                let key = self.eval(ns, key);
                let current = self.environ_item(&key);
                let v = self.eval(ns, value);
                if self.raised.is_some() {
                    return;
                }
                let result = self.binop(ns, current, op, v);
                self.environ_assign(&key, &result);
            }
            _ => {}
        }
    }

    /// `del name` / `del os.environ[key]`.
    fn delete(&mut self, ns: &ModuleRef, target: &Expr) {
        match target {
            Expr::Name(n) => {
                ns.borrow_mut().names.remove(n);
            }
            Expr::Tuple(items) | Expr::List(items) => {
                for t in items {
                    self.delete(ns, t);
                }
            }
            Expr::Subscript(base, key) => {
                let base = self.eval(ns, base);
                if matches!(base, Value::Builtin(Builtin::Environ)) {
                    let key = self.eval(ns, key);
                    self.environ_delete(&key);
                }
            }
            _ => {}
        }
    }

    /// `import a.b` / `import a.b as c`.
    fn exec_import(&mut self, ns: &ModuleRef, name: &str, asname: Option<&str>) {
        // Prefect's fallback loader binds the dotted name itself (`import a.b` binds `a.b`).
        let fallback = ns.borrow().fallback;
        let (bind, value) = match asname {
            Some(asname) => (asname.to_string(), self.import_module_value(ns, name)),
            None if fallback => (name.to_string(), self.import_module_value(ns, name)),
            None => {
                let first = name.split('.').next().unwrap_or(name).to_string();
                // Python imports `a`, then `a.b`; the name bound is `a`.
                let _ = self.import_module_value(ns, name);
                if self.raised.is_some() {
                    return;
                }
                let v = self.import_module_value(ns, &first);
                (first, v)
            }
        };
        if self.raised.is_some() {
            if fallback && self.raised.as_ref().is_some_and(Raised::is_import_error) {
                self.raised = None;
            }
            return;
        }
        if matches!(value, Value::External) {
            ns.borrow_mut()
                .origins
                .insert(bind.clone(), name.to_string());
        }
        self.set(ns, &bind, value);
    }

    /// `from module import names` (`level` leading dots).
    fn exec_import_from(
        &mut self,
        ns: &ModuleRef,
        module: &str,
        names: &[super::ast::Alias],
        level: u32,
    ) {
        let fallback = ns.borrow().fallback;
        if level == 0 && module == "__future__" {
            // The fallback loader compiles each statement on its own: no future import
            // applies to the others.
            if !fallback && names.iter().any(|a| a.name == "annotations") {
                ns.borrow_mut().future_annotations = true;
            }
            if !fallback {
                return;
            }
        }
        if level > 0
            && let Err(err) = self.check_relative_import(ns, module, level)
        {
            self.raise(err);
        }
        if self.raised.is_some() {
            if fallback && self.raised.as_ref().is_some_and(Raised::is_import_error) {
                self.raised = None;
            }
            return;
        }
        for a in names {
            let bind = a.asname.clone().unwrap_or_else(|| a.name.clone());
            if a.name == "*" {
                match self.local_module(ns, module, level) {
                    Some(other) => {
                        let items: Vec<(String, Value)> = other
                            .borrow()
                            .names
                            .iter()
                            .filter(|(k, _)| !k.starts_with('_'))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        for (k, v) in items {
                            self.set(ns, &k, v);
                        }
                    }
                    None if self.raised.is_none() && !is_known_module(module) => {
                        ns.borrow_mut().star_unknown = true;
                    }
                    None => {}
                }
            } else {
                let v = self.import_from(ns, module, level, &a.name);
                if self.raised.is_some() {
                    break;
                }
                match v {
                    // The fallback loader skips a name the module does not have.
                    None => {}
                    Some(v) => {
                        if matches!(v, Value::External) {
                            ns.borrow_mut()
                                .origins
                                .insert(bind.clone(), module.to_string());
                        }
                        self.set(ns, &bind, v);
                    }
                }
            }
        }
        if fallback && self.raised.as_ref().is_some_and(Raised::is_import_error) {
            self.raised = None;
        }
    }

    /// The exception a relative import raises before anything is looked up, if any: a
    /// script is a package of its own (Prefect gives it `submodule_search_locations`), so
    /// one level up is itself and two are beyond it; the fallback loader makes the script's
    /// directory a top-level package, where `from . import x` asks for an empty name.
    fn check_relative_import(
        &self,
        ns: &ModuleRef,
        module: &str,
        level: u32,
    ) -> Result<(), Raised> {
        let n = ns.borrow();
        let is_script = self.script.as_deref() == Some(n.file.as_path());
        if !is_script {
            return Ok(());
        }
        if level > 1 {
            let message = if n.fallback {
                "Attempted relative import beyond top-level package"
            } else {
                "attempted relative import beyond top-level package"
            };
            return Err(Raised::new("ImportError", message));
        }
        if n.fallback && module.is_empty() {
            return Err(Raised::new("ValueError", "Empty module name"));
        }
        Ok(())
    }

    /// The value bound by `import name` (a module object); the module runs now.
    fn import_module_value(&mut self, ns: &ModuleRef, name: &str) -> Value {
        if is_known_module(name) {
            return Value::Module(name.to_string());
        }
        if self.local_module(ns, name, 0).is_some() {
            return Value::Module(name.to_string());
        }
        if self.raised.is_some() {
            return Value::Unknown;
        }
        Value::External
    }

    /// Where a relative import looks (`level` ≥ 1), or `None` beyond the file system root.
    fn relative_bases(&self, ns: &ModuleRef, level: u32) -> Option<Vec<PathBuf>> {
        let n = ns.borrow();
        let dir = n.file.parent()?.to_path_buf();
        if self.script.as_deref() == Some(n.file.as_path()) && !n.fallback {
            // The script's `__path__`: its directory, then the working directory.
            return Some(vec![dir, self.root.clone()]);
        }
        let mut dir = dir;
        for _ in 1..level {
            dir = dir.parent()?.to_path_buf();
        }
        Some(vec![dir])
    }

    /// The file of a module on `sys.path` (`level` > 0: a relative import).
    fn find_module_file(&self, ns: &ModuleRef, name: &str, level: u32) -> Option<PathBuf> {
        let bases = if level > 0 {
            self.relative_bases(ns, level)?
        } else {
            self.sys_path.clone()
        };
        for base in bases {
            if name.is_empty() {
                let init = base.join("__init__.py");
                if init.is_file() {
                    return Some(init);
                }
                continue;
            }
            if let Some(found) = resolve_module_in(&base, name) {
                return Some(found);
            }
        }
        None
    }

    /// Imports a local module as Python does (its packages first); `None` when it is not
    /// local (a third-party or missing module) or when importing it raises (then
    /// [`Loader::raised`] is set).
    fn local_module(&mut self, ns: &ModuleRef, name: &str, level: u32) -> Option<ModuleRef> {
        if level == 0 && is_known_module(name) {
            return None;
        }
        if level == 0 {
            let parts: Vec<&str> = name.split('.').collect();
            for i in 1..parts.len() {
                if let Some(init) = self.find_module_file(ns, &parts[..i].join("."), 0) {
                    self.import_file(&init)?;
                }
            }
        } else if ns.borrow().fallback {
            // The fallback loader imports the script's directory as a package first.
            let init = ns.borrow().file.parent()?.join("__init__.py");
            if init.is_file() {
                self.import_file(&init)?;
            }
        }
        let file = self.find_module_file(ns, name, level)?;
        self.import_file(&file)
    }

    /// Runs a local module file (once); `None` when it raises (the exception is raised here)
    /// or cannot be read.
    fn import_file(&mut self, file: &Path) -> Option<ModuleRef> {
        if self.loading.contains(file) {
            // Partly initialised, as Python finds it in `sys.modules`.
            return self.cache.get(file).cloned();
        }
        if self.loading.len() >= depth::MAX_IMPORT_DEPTH {
            // Python gives up on its recursion limit first; the reader treats the module
            // like one that fails to import.
            return None;
        }
        let module = depth::guarded(|| self.load_file(file)).ok()?;
        let err = module.borrow().first_error.clone();
        match err {
            Some(err) => {
                self.raise(err);
                None
            }
            None => Some(module),
        }
    }

    /// `from module import name`: `None` when the fallback loader would skip the name.
    fn import_from(
        &mut self,
        ns: &ModuleRef,
        module: &str,
        level: u32,
        name: &str,
    ) -> Option<Value> {
        if level == 0
            && let Some(v) = known_member(module, name)
        {
            return Some(v);
        }
        let fallback = ns.borrow().fallback;
        let is_script = self.script.as_deref() == Some(ns.borrow().file.as_path());
        if level == 1 && module.is_empty() && is_script && !fallback {
            // `from . import x` in the script: the package is the script itself, then its
            // submodules.
            if let Some(v) = ns.borrow().names.get(name) {
                return Some(v.clone());
            }
            return Some(match self.local_module(ns, name, 1) {
                Some(_) => Value::Module(name.to_string()),
                None if self.raised.is_some() => Value::Unknown,
                None => Value::External,
            });
        }
        let Some(other) = self.local_module(ns, module, level) else {
            return Some(if self.raised.is_some() {
                Value::Unknown
            } else {
                Value::External
            });
        };
        if let Some(v) = other.borrow().names.get(name) {
            return Some(v.clone());
        }
        // A submodule: `from pkg import mod` imports it (the fallback loader only finds one
        // imported before).
        let sub = if module.is_empty() {
            name.to_string()
        } else {
            format!("{module}.{name}")
        };
        if level == 0
            && let Some(file) = self.find_module_file(ns, &sub, 0)
        {
            if fallback {
                return self.cache.contains_key(&file).then(|| Value::Module(sub));
            }
            self.local_module(ns, &sub, 0);
            return Some(Value::Module(sub));
        }
        if fallback { None } else { Some(Value::Unknown) }
    }

    fn module_attr(&mut self, ns: &ModuleRef, module: &str, attr: &str) -> Value {
        if let Some(v) = known_member(module, attr) {
            return v;
        }
        let sub = format!("{module}.{attr}");
        if let Some(other) = self.local_module(ns, module, 0)
            && let Some(v) = other.borrow().names.get(attr)
        {
            return v.clone();
        }
        if self.find_module_file(ns, &sub, 0).is_some() {
            return Value::Module(sub);
        }
        Value::Unknown
    }

    fn class_def(&mut self, ns: &ModuleRef, c: &ClassDef) -> Value {
        let bases: Vec<Value> = c.bases.iter().map(|b| self.eval(ns, b)).collect();
        let doc = docstring_of(&c.body).map(|d| super::docstring::cleandoc(&d));
        let is_model = bases.iter().any(|b| {
            matches!(
                b,
                Value::Builtin(Builtin::BaseModel) | Value::Type(Ty::Model(_))
            )
        });
        let enum_kind = bases.iter().find_map(|b| match b {
            Value::Builtin(k @ (Builtin::Enum | Builtin::StrEnum | Builtin::IntEnum)) => Some(*k),
            Value::Type(Ty::Enum(_)) => Some(Builtin::Enum),
            _ => None,
        });
        if is_model {
            return self.model_def(ns, c, &bases, doc);
        }
        if let Some(kind) = enum_kind {
            let mut members: Vec<(String, Value)> = Vec::new();
            for stmt in &c.body {
                if let Stmt::Assign { targets, value } = stmt
                    && let [Expr::Name(name)] = targets.as_slice()
                    && !name.starts_with('_')
                {
                    let mut v = self.eval(ns, value);
                    if matches!(v, Value::Auto) {
                        v = match kind {
                            Builtin::StrEnum => Value::Str(name.to_lowercase()),
                            _ => {
                                let last = members.iter().rev().find_map(|(_, v)| match v {
                                    Value::Int(i) => Some(*i),
                                    _ => None,
                                });
                                last.map_or(Some(1), |i| i.checked_add(1))
                                    .map_or(Value::Unknown, Value::Int)
                            }
                        };
                    }
                    // Aliases (a value seen before) stay listed: pydantic lists them too.
                    members.push((name.clone(), v));
                }
            }
            let def = Rc::new(EnumDef {
                name: c.name.clone(),
                doc,
                members,
            });
            return Value::Type(Ty::Enum(def));
        }
        // A plain class: keep attributes (methods can be flows: `file.py:Class.method`).
        let mut attrs = Vec::new();
        for stmt in &c.body {
            match stmt {
                Stmt::FunctionDef(f) => {
                    let Some(value) = self.define_function(ns, f) else {
                        return Value::Unknown;
                    };
                    attrs.push((f.name.clone(), value));
                }
                Stmt::Assign { targets, value } => {
                    if let [Expr::Name(name)] = targets.as_slice() {
                        let v = self.eval(ns, value);
                        attrs.push((name.clone(), v));
                    }
                }
                _ => {}
            }
        }
        let arbitrary = c.decorators.is_empty()
            && bases.iter().all(|b| match b {
                Value::Builtin(Builtin::Object) => true,
                Value::PlainClass(p) => p.arbitrary,
                _ => false,
            })
            && !attrs
                .iter()
                .any(|(n, _)| n == "__get_pydantic_core_schema__");
        Value::PlainClass(Rc::new(PlainClassDef {
            name: c.name.clone(),
            qualname: format!("{}.{}", self.module_name(ns), c.name),
            attrs,
            arbitrary,
        }))
    }

    fn model_def(
        &mut self,
        ns: &ModuleRef,
        c: &ClassDef,
        bases: &[Value],
        doc: Option<String>,
    ) -> Value {
        let parents: Vec<Rc<ModelDef>> = bases
            .iter()
            .filter_map(|b| match b {
                Value::Type(Ty::Model(parent)) => Some(parent.clone()),
                _ => None,
            })
            .collect();
        // Inherited fields in pydantic's order (annotations along the reversed MRO: the last
        // base's first); each field as the first base that has it defines it.
        let mut fields: Vec<ModelField> = Vec::new();
        let mut sources: Vec<ModelFieldSource> = Vec::new();
        for parent in parents.iter().rev() {
            for f in parent.fields.borrow().iter() {
                if !fields.iter().any(|g| g.name == f.name) {
                    fields.push(f.clone());
                    sources.push(ModelFieldSource {
                        annotation: Expr::Other,
                    });
                }
            }
        }
        for (slot, field) in fields.iter_mut().enumerate() {
            for parent in &parents {
                let found = parent
                    .fields
                    .borrow()
                    .iter()
                    .position(|g| g.name == field.name);
                if let Some(i) = found {
                    *field = parent.fields.borrow()[i].clone();
                    if let Some((_, srcs)) = ns
                        .borrow()
                        .models
                        .iter()
                        .find(|(m, _)| Rc::ptr_eq(m, parent))
                        && let Some(src) = srcs.get(i)
                    {
                        sources[slot] = src.clone();
                    }
                    break;
                }
            }
        }
        let mut notes = Vec::new();
        let config = self.model_config_of(ns, c, &parents);
        for stmt in &c.body {
            if let Stmt::AnnAssign {
                target: Expr::Name(name),
                annotation,
                value,
            } = stmt
            {
                // `model_config` is configuration, never a field.
                if name.starts_with('_') || name == "model_config" {
                    continue;
                }
                let ann = self.eval_annotation(ns, annotation);
                if is_classvar(&ann) {
                    continue;
                }
                let (ty, annotated_info) = split_annotated(self.type_of(ns, &ann));
                let mut info = annotated_info.unwrap_or_default();
                let mut default = info.default.take();
                let mut factory = info.default_factory.take();
                if let Some(value) = value {
                    match self.eval(ns, value) {
                        Value::Field(fi) => {
                            let fi = *fi;
                            merge_field_info(&mut info, &fi);
                            default = fi.default.clone();
                            factory = fi.default_factory.clone();
                            if default.is_some() {
                                factory = None;
                            }
                        }
                        v => {
                            default = Some(v);
                            factory = None;
                        }
                    }
                }
                let field = ModelField {
                    name: name.clone(),
                    ty,
                    default,
                    factory,
                    info,
                };
                let src = ModelFieldSource {
                    annotation: annotation.clone(),
                };
                if let Some(pos) = fields.iter().position(|f| &f.name == name) {
                    fields[pos] = field;
                    sources[pos] = src;
                } else {
                    fields.push(field);
                    sources.push(src);
                }
            }
        }
        if let Some(err) = config.creation_error(&fields) {
            // The class statement raises: the module fails to import, and the name stays
            // unbound (Prefect's fallback loader leaves the annotation unresolved).
            if ns.borrow().first_error.is_none() {
                ns.borrow_mut().first_error = Some(super::exception::Raised::new(err.0, err.1));
            }
            return Value::Unknown;
        }
        self.configure_fields(c, &config, &mut fields, &mut notes);
        notes.extend(config.notes(&c.name));
        let def = Rc::new(ModelDef {
            name: c.name.clone(),
            doc,
            fields: RefCell::new(fields),
            config,
            notes,
        });
        ns.borrow_mut().models.push((def.clone(), sources));
        Value::Type(Ty::Model(def))
    }

    /// The dotted name Python gives the module of `ns` (its path under the import root).
    fn module_name(&self, ns: &ModuleRef) -> String {
        let file = ns.borrow().file.clone();
        let rel = file.strip_prefix(&self.root).unwrap_or(&file);
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "__init__") {
            parts.pop();
        }
        parts.join(".")
    }

    /// Evaluates an annotation expression (string annotations are parsed and evaluated).
    pub(crate) fn eval_annotation(&mut self, ns: &ModuleRef, e: &Expr) -> Value {
        match e {
            Expr::Str(s) => match python::parse_expression(s) {
                Some(inner) => self.eval(ns, &inner),
                None => Value::Unknown,
            },
            other => self.eval(ns, other),
        }
    }

    /// Evaluates an expression.
    pub(crate) fn eval(&mut self, ns: &ModuleRef, e: &Expr) -> Value {
        // Python evaluates nothing more once something raised.
        if self.raised.is_some() {
            return Value::Unknown;
        }
        let v = depth::guarded(|| self.eval_inner(ns, e));
        // Values nest deeper only where containers are built (a name refers to a value
        // already checked).
        if !matches!(
            e,
            Expr::List(_) | Expr::Tuple(_) | Expr::Set(_) | Expr::Dict(_) | Expr::Call { .. }
        ) {
            return v;
        }
        match &v {
            Value::List(_)
            | Value::Tuple(_)
            | Value::Set(_)
            | Value::FrozenSet(_)
            | Value::Dict(_)
            | Value::Model(..)
                if v.depth(depth::MAX_VALUE_DEPTH) > depth::MAX_VALUE_DEPTH =>
            {
                Value::TooDeep
            }
            _ => v,
        }
    }

    fn eval_inner(&mut self, ns: &ModuleRef, e: &Expr) -> Value {
        match e {
            Expr::NoneLit => Value::None,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(Some(i)) => Value::Int(*i),
            Expr::Int(None) => Value::Unknown,
            Expr::Float(f) => Value::Float(*f),
            Expr::Str(s) => Value::Str(s.clone()),
            Expr::Bytes(b) => Value::Bytes(b.clone()),
            Expr::Ellipsis => Value::Opaque,
            Expr::Lambda => Value::Opaque,
            Expr::List(items) => self
                .eval_items(ns, items)
                .map_or(Value::Unknown, Value::List),
            Expr::Tuple(items) => self
                .eval_items(ns, items)
                .map_or(Value::Unknown, Value::Tuple),
            Expr::Set(items) => self
                .eval_items(ns, items)
                .map_or(Value::Unknown, |v| Value::Set(dedup(v))),
            Expr::Dict(items) => {
                let mut out: Vec<(Value, Value)> = Vec::new();
                for (k, v) in items {
                    let Some(k) = k else {
                        // `{**other}`.
                        match self.eval(ns, v) {
                            Value::Dict(more) => {
                                for (k, v) in more {
                                    dict_insert(&mut out, k, v);
                                }
                                continue;
                            }
                            _ => return Value::Unknown,
                        }
                    };
                    let k = self.eval(ns, k);
                    let v = self.eval(ns, v);
                    if k.is_unknown() {
                        return k;
                    }
                    dict_insert(&mut out, k, v);
                }
                Value::Dict(out)
            }
            Expr::Name(n) => {
                if let Some(frame) = self.frames.last()
                    && frame.locals.contains(n)
                {
                    // Unbound until assigned (`UnboundLocalError`): not known then.
                    return frame.bound.get(n).cloned().unwrap_or(Value::Unknown);
                }
                if let Some(v) = ns.borrow().names.get(n) {
                    return v.clone();
                }
                if let Some(v) = builtin_name(n) {
                    return v;
                }
                // In the fallback loader's namespace every binding is known.
                let strict = {
                    let n = ns.borrow();
                    n.fallback && !n.star_unknown
                };
                if strict && !is_python_builtin(n) {
                    return self.raise(Raised::name_error(n));
                }
                Value::Unknown
            }
            Expr::IfExp(test, body, orelse) => match truthy(&self.eval(ns, test)) {
                // Python evaluates only the branch taken.
                Some(true) => self.eval(ns, body),
                Some(false) => self.eval(ns, orelse),
                None => Value::Unknown,
            },
            Expr::BoolOp(is_and, values) => {
                let mut last = Value::Unknown;
                for (i, e) in values.iter().enumerate() {
                    last = self.eval(ns, e);
                    if i + 1 == values.len() {
                        break;
                    }
                    // `a or b` stops at the first truthy operand, `a and b` at the first falsy.
                    match truthy(&last) {
                        Some(t) if t != *is_and => return last,
                        Some(_) => {}
                        None => return Value::Unknown,
                    }
                }
                last
            }
            Expr::Attribute(base, attr) => {
                let base = self.eval(ns, base);
                self.attribute(ns, &base, attr)
            }
            Expr::Subscript(base, slice) => {
                let base = self.eval(ns, base);
                self.subscript(ns, &base, slice)
            }
            Expr::Call {
                func,
                args,
                keywords,
            } => {
                let f = self.eval(ns, func);
                let v = self.call(ns, &f, args, keywords);
                self.note_environ_loader(func, &f);
                v
            }
            Expr::UnaryOp(op, operand) => {
                let v = self.eval(ns, operand);
                match (op, v) {
                    (UnaryOp::Neg, Value::Int(i)) => {
                        i.checked_neg().map_or(Value::Unknown, Value::Int)
                    }
                    (UnaryOp::Neg, Value::Float(f)) => Value::Float(-f),
                    (UnaryOp::Pos, v @ (Value::Int(_) | Value::Float(_))) => v,
                    (UnaryOp::Neg, Value::TimeDelta(d, s, us)) => timedelta_from_micros(
                        -(d as i128 * 86_400_000_000 + s as i128 * 1_000_000 + us as i128),
                    ),
                    (UnaryOp::Not, v) => match truthy(&v) {
                        Some(b) => Value::Bool(!b),
                        None => Value::Unknown,
                    },
                    (UnaryOp::Invert, Value::Int(i)) => Value::Int(!i),
                    (_, v) if v.is_unknown() => v,
                    _ => Value::Unknown,
                }
            }
            Expr::BinOp(l, op, r) => {
                let l = self.eval(ns, l);
                let r = self.eval(ns, r);
                self.binop(ns, l, *op, r)
            }
            Expr::FString(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        FPart::Literal(s) => out.push_str(s),
                        FPart::Expr {
                            expr,
                            conversion,
                            has_spec,
                        } => {
                            if *has_spec || matches!(conversion, Some('r' | 'a')) {
                                return Value::Unknown;
                            }
                            let v = self.eval(ns, expr);
                            match py_str(&v) {
                                Some(s) if fits(out.len() + s.len()) => out.push_str(&s),
                                Some(_) => return Value::Unknown,
                                None => return Value::Unknown,
                            }
                        }
                    }
                }
                Value::Str(out)
            }
            Expr::Compare(first, rest) => {
                let mut left = self.eval(ns, first);
                for (op, right) in rest {
                    let right = self.eval(ns, right);
                    let result = match (op, &right) {
                        (CmpOp::In | CmpOp::NotIn, Value::Builtin(Builtin::Environ)) => self
                            .environ_contains(&left)
                            .map(|c| c == (*op == CmpOp::In)),
                        _ => compare(*op, &left, &right),
                    };
                    match result {
                        // A chain stops at the first false comparison.
                        Some(false) => return Value::Bool(false),
                        Some(true) => left = right,
                        None => return Value::Unknown,
                    }
                }
                Value::Bool(true)
            }
            _ => Value::Unknown,
        }
    }

    fn eval_items(&mut self, ns: &ModuleRef, items: &[Expr]) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        for item in items {
            if let Expr::Starred(inner) = item {
                match self.eval(ns, inner) {
                    Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
                        out.extend(v)
                    }
                    _ => return None,
                }
                continue;
            }
            out.push(self.eval(ns, item));
        }
        Some(out)
    }

    fn attribute(&mut self, ns: &ModuleRef, base: &Value, attr: &str) -> Value {
        match base {
            Value::Module(m) => {
                let m = m.clone();
                self.module_attr(ns, &m, attr)
            }
            Value::Type(Ty::Enum(def)) => match def.members.iter().position(|(n, _)| n == attr) {
                Some(i) => Value::EnumMember(def.clone(), i),
                None => Value::Unknown,
            },
            Value::Type(Ty::Model(def)) if attr == "model_config" => def.config.to_value(),
            Value::EnumMember(def, i) => match attr {
                "value" => def.members[*i].1.clone(),
                "name" => Value::Str(def.members[*i].0.clone()),
                _ => Value::Unknown,
            },
            Value::PlainClass(c) => c
                .attrs
                .iter()
                .rev()
                .find(|(n, _)| n == attr)
                .map_or(Value::Unknown, |(_, v)| v.clone()),
            Value::Builtin(Builtin::Timezone) if attr == "utc" => Value::Timezone(0),
            Value::Builtin(Builtin::Environ) => os_environ::environ_method(attr),
            Value::Builtin(Builtin::SysPath) => match attr {
                "append" => Value::Builtin(Builtin::SysPathAppend),
                "insert" => Value::Builtin(Builtin::SysPathInsert),
                "remove" => Value::Builtin(Builtin::SysPathRemove),
                "extend" => Value::Builtin(Builtin::SysPathExtend),
                _ => Value::Unknown,
            },
            Value::Path(p) => match paths::PATH_METHODS.iter().find(|m| **m == attr) {
                Some(m) => paths::path_attribute(p, m),
                None => Value::Unknown,
            },
            Value::Str(s) => match STR_METHODS.iter().find(|m| **m == attr) {
                Some(m) => Value::StrMethod(s.as_str().into(), m),
                None => Value::Unknown,
            },
            Value::Builtin(Builtin::Flow) if attr == "with_options" => Value::Unknown,
            Value::External => Value::External,
            _ => Value::Unknown,
        }
    }

    fn subscript(&mut self, ns: &ModuleRef, base: &Value, slice: &Expr) -> Value {
        let raw_args: Vec<Expr> = match slice {
            Expr::Tuple(items) => items.clone(),
            other => vec![other.clone()],
        };
        let b = match base {
            Value::Builtin(Builtin::Environ) => {
                let key = self.eval(ns, slice);
                return self.environ_item(&key);
            }
            Value::Builtin(b) => *b,
            Value::External => return Value::External,
            Value::List(_) | Value::Tuple(_) | Value::Str(_) | Value::Dict(_) => {
                return self.index(ns, base, slice);
            }
            _ => return Value::Unknown,
        };
        let tys = |this: &mut Self| -> Vec<Ty> {
            raw_args
                .iter()
                .map(|a| {
                    let v = this.eval_nested_annotation(ns, a);
                    this.type_of(ns, &v)
                })
                .collect()
        };
        let ty = match b {
            Builtin::List | Builtin::Sequence | Builtin::Iterable => {
                Ty::List(Box::new(tys(self).into_iter().next().unwrap_or(Ty::Any)))
            }
            Builtin::Set => Ty::Set(Box::new(tys(self).into_iter().next().unwrap_or(Ty::Any))),
            Builtin::FrozenSet => {
                Ty::FrozenSet(Box::new(tys(self).into_iter().next().unwrap_or(Ty::Any)))
            }
            Builtin::Dict | Builtin::Mapping => {
                let t = tys(self);
                let mut it = t.into_iter();
                let k = it.next().unwrap_or(Ty::Any);
                let v = it.next().unwrap_or(Ty::Any);
                Ty::Dict(Box::new(k), Box::new(v))
            }
            Builtin::Tuple => {
                if matches!(slice, Expr::Tuple(items) if items.is_empty()) {
                    Ty::Tuple(Vec::new())
                } else if raw_args.len() == 2 && matches!(raw_args[1], Expr::Ellipsis) {
                    let v = self.eval_nested_annotation(ns, &raw_args[0]);
                    Ty::TupleVar(Box::new(self.type_of(ns, &v)))
                } else {
                    Ty::Tuple(tys(self))
                }
            }
            Builtin::Optional => {
                let t = tys(self).into_iter().next().unwrap_or(Ty::Any);
                make_union(vec![t, Ty::NoneType])
            }
            Builtin::Union => make_union(tys(self)),
            Builtin::Literal => {
                let mut values = Vec::new();
                for a in &raw_args {
                    match self.eval(ns, a) {
                        Value::Type(Ty::Literal(inner)) => values.extend(inner),
                        v if v.is_unknown() => return Value::Unknown,
                        v => {
                            if !values
                                .iter()
                                .any(|x| values_equal(x, &v) && same_kind(x, &v))
                            {
                                values.push(v);
                            }
                        }
                    }
                }
                Ty::Literal(values)
            }
            Builtin::Annotated => {
                let Some(first) = raw_args.first() else {
                    return Value::Unknown;
                };
                let v = self.eval_nested_annotation(ns, first);
                let inner = self.type_of(ns, &v);
                let mut infos = Vec::new();
                for meta in &raw_args[1..] {
                    if let Value::Field(fi) = self.eval(ns, meta) {
                        infos.push(*fi);
                    }
                }
                match inner {
                    Ty::Annotated(t, mut prev) => {
                        prev.extend(infos);
                        Ty::Annotated(t, prev)
                    }
                    t => Ty::Annotated(Box::new(t), infos),
                }
            }
            Builtin::Callable => Ty::Invalid("Callable".into()),
            Builtin::Type => Ty::Invalid("type[...]".into()),
            Builtin::ClassVar => return Value::Builtin(Builtin::ClassVar),
            _ => return Value::Unknown,
        };
        if ty.depth(depth::MAX_VALUE_DEPTH) > depth::MAX_VALUE_DEPTH {
            return Value::TooDeep;
        }
        Value::Type(ty)
    }

    /// `sequence[i]`, `sequence[a:b:c]`, `mapping[key]` on known values.
    fn index(&mut self, ns: &ModuleRef, base: &Value, slice: &Expr) -> Value {
        let as_int = |v: Value| -> Option<Option<i128>> {
            match v {
                Value::None => Some(None),
                Value::Int(i) => Some(Some(i)),
                Value::Bool(b) => Some(Some(b as i128)),
                _ => None,
            }
        };
        if let Expr::Slice(lower, upper, step) = slice {
            let mut bound = |e: &Option<Box<Expr>>| match e {
                None => Some(None),
                Some(e) => as_int(self.eval(ns, e)),
            };
            let (Some(lower), Some(upper), Some(step)) = (bound(lower), bound(upper), bound(step))
            else {
                return Value::Unknown;
            };
            let step = step.unwrap_or(1);
            if step == 0 {
                return Value::Unknown;
            }
            let picked = |len: usize| -> Vec<usize> { slice_indices(len, lower, upper, step) };
            return match base {
                Value::List(v) => {
                    Value::List(picked(v.len()).into_iter().map(|i| v[i].clone()).collect())
                }
                Value::Tuple(v) => {
                    Value::Tuple(picked(v.len()).into_iter().map(|i| v[i].clone()).collect())
                }
                Value::Str(s) => {
                    let chars: Vec<char> = s.chars().collect();
                    Value::Str(picked(chars.len()).into_iter().map(|i| chars[i]).collect())
                }
                _ => Value::Unknown,
            };
        }
        let key = self.eval(ns, slice);
        if key.is_unknown() {
            return Value::Unknown;
        }
        let at = |len: usize| -> Option<usize> {
            let i = match &key {
                Value::Int(i) => *i,
                Value::Bool(b) => *b as i128,
                _ => return None,
            };
            let i = if i < 0 { i + len as i128 } else { i };
            (0..len as i128).contains(&i).then_some(i as usize)
        };
        match base {
            Value::List(v) | Value::Tuple(v) => {
                at(v.len()).map_or(Value::Unknown, |i| v[i].clone())
            }
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                at(chars.len()).map_or(Value::Unknown, |i| Value::Str(chars[i].to_string()))
            }
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| values_equal(k, &key) && hashable_kind(k) == hashable_kind(&key))
                .map_or(Value::Unknown, |(_, v)| v.clone()),
            _ => Value::Unknown,
        }
    }

    /// A type argument inside `list[...]` etc.: a string there is a forward reference that
    /// pydantic resolves in its own namespace, where it fails; only builtin names resolve.
    fn eval_nested_annotation(&mut self, ns: &ModuleRef, e: &Expr) -> Value {
        match e {
            Expr::Str(s) => match python::parse_expression(s) {
                Some(Expr::Name(n)) => builtin_name(&n).unwrap_or_else(|| {
                    Value::Type(Ty::Invalid(format!("unresolvable forward reference {n:?}")))
                }),
                _ => Value::Type(Ty::Invalid(format!("unresolvable forward reference {s:?}"))),
            },
            other => self.eval(ns, other),
        }
    }

    /// Converts a value used as an annotation into a type.
    pub(crate) fn type_of(&mut self, ns: &ModuleRef, v: &Value) -> Ty {
        depth::guarded(|| self.type_of_inner(ns, v))
    }

    fn type_of_inner(&mut self, ns: &ModuleRef, v: &Value) -> Ty {
        match v {
            Value::Type(t) => t.clone(),
            Value::TooDeep => Ty::TooDeep,
            Value::None => Ty::NoneType,
            Value::Builtin(b) => match b {
                Builtin::Int => Ty::Int,
                Builtin::Float => Ty::Float,
                Builtin::Str => Ty::Str,
                Builtin::Bool => Ty::Bool,
                Builtin::Bytes => Ty::Bytes,
                Builtin::List | Builtin::Sequence | Builtin::Iterable => {
                    Ty::List(Box::new(Ty::Any))
                }
                Builtin::Set => Ty::Set(Box::new(Ty::Any)),
                Builtin::FrozenSet => Ty::FrozenSet(Box::new(Ty::Any)),
                Builtin::Tuple => Ty::TupleVar(Box::new(Ty::Any)),
                Builtin::Dict | Builtin::Mapping => Ty::Dict(Box::new(Ty::Any), Box::new(Ty::Any)),
                Builtin::Object | Builtin::Any => Ty::Any,
                Builtin::Date => Ty::Date,
                Builtin::DateTime => Ty::DateTime,
                Builtin::Time => Ty::Time,
                Builtin::TimeDelta => Ty::TimeDelta,
                Builtin::Uuid => Ty::Uuid,
                Builtin::Decimal => Ty::Decimal,
                Builtin::Path => Ty::Path,
                Builtin::SecretStr => Ty::SecretStr,
                Builtin::Callable => Ty::Invalid("Callable".into()),
                Builtin::Timezone => Ty::Plain("timezone".into()),
                _ => Ty::Invalid(format!("{b:?}")),
            },
            Value::PlainClass(c) if c.arbitrary => Ty::Arbitrary(c.qualname.clone()),
            Value::PlainClass(c) => Ty::Plain(c.name.clone()),
            Value::External | Value::Unknown => Ty::Any,
            Value::Str(s) => {
                // A forward reference at the top of an annotation.
                match python::parse_expression(s) {
                    Some(e) => {
                        let v = self.eval(ns, &e);
                        if matches!(v, Value::Str(_)) {
                            Ty::Any
                        } else {
                            self.type_of(ns, &v)
                        }
                    }
                    None => Ty::Any,
                }
            }
            _ => Ty::Invalid("not a type".into()),
        }
    }

    fn binop(&mut self, _ns: &ModuleRef, l: Value, op: BinOp, r: Value) -> Value {
        use Value as V;
        if l.is_unknown() {
            return l;
        }
        if r.is_unknown() {
            return r;
        }
        match (op, &l, &r) {
            (BinOp::Add, V::Str(a), V::Str(b)) if fits(a.len() + b.len()) => {
                V::Str(format!("{a}{b}"))
            }
            (BinOp::Add, V::List(a), V::List(b)) => V::List(a.iter().chain(b).cloned().collect()),
            (BinOp::Div, V::Path(a), V::Str(b) | V::Path(b)) => {
                V::Path(join_path(&[a.clone(), b.clone()]))
            }
            (BinOp::Add, V::Tuple(a), V::Tuple(b)) => {
                V::Tuple(a.iter().chain(b).cloned().collect())
            }
            (BinOp::Mult, V::Str(a), V::Int(n)) | (BinOp::Mult, V::Int(n), V::Str(a)) => {
                // A string too large to be a name or a default is not built.
                let n = (*n).max(0) as u128;
                if (a.len() as u128).saturating_mul(n) > MAX_STRING_BYTES {
                    V::Unknown
                } else {
                    V::Str(a.repeat(n as usize))
                }
            }
            (BinOp::Add, V::TimeDelta(..), V::TimeDelta(..))
            | (BinOp::Sub, V::TimeDelta(..), V::TimeDelta(..)) => {
                let (a, b) = (td_micros(&l), td_micros(&r));
                let sum = if op == BinOp::Add {
                    a.checked_add(b)
                } else {
                    a.checked_sub(b)
                };
                sum.map_or(V::Unknown, timedelta_from_micros)
            }
            (BinOp::Mult, V::TimeDelta(..), V::Int(n))
            | (BinOp::Mult, V::Int(n), V::TimeDelta(..)) => {
                let td = if matches!(l, V::TimeDelta(..)) {
                    &l
                } else {
                    &r
                };
                td_micros(td)
                    .checked_mul(*n)
                    .map_or(V::Unknown, timedelta_from_micros)
            }
            (BinOp::BitOr, _, _) if is_typeish(&l) && is_typeish(&r) => {
                let a = self.type_of(_ns, &l);
                let b = self.type_of(_ns, &r);
                V::Type(make_union(vec![a, b]))
            }
            _ => match (num(&l), num(&r)) {
                (Some(a), Some(b)) => arith(op, a, b),
                _ => V::Unknown,
            },
        }
    }

    fn call(&mut self, ns: &ModuleRef, f: &Value, args: &[Expr], keywords: &[Keyword]) -> Value {
        let Some(args_v) = self.eval_items(ns, args) else {
            return Value::Unknown;
        };
        let mut kwargs: Vec<(String, Value)> = Vec::new();
        for k in keywords {
            match &k.arg {
                Some(name) => kwargs.push((name.clone(), self.eval(ns, &k.value))),
                None => match self.eval(ns, &k.value) {
                    Value::Dict(items) => {
                        for (k, v) in items {
                            let Value::Str(k) = k else {
                                return Value::Unknown;
                            };
                            kwargs.push((k, v));
                        }
                    }
                    _ => return Value::Unknown,
                },
            }
        }
        let kw = |name: &str| {
            kwargs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match f {
            Value::Builtin(b) => match b {
                Builtin::Flow => match args_v.first() {
                    Some(Value::Function(func)) => Value::Flow(Rc::new(FlowInfo {
                        func: func.clone(),
                        kwargs,
                    })),
                    Some(_) => Value::Unknown,
                    None => Value::FlowDecorator(kwargs),
                },
                Builtin::Task => match args_v.first() {
                    Some(_) => Value::NotAFlow("task"),
                    None => Value::Builtin(Builtin::Task),
                },
                Builtin::Field => Value::Field(Box::new(field_info(&args_v, &kwargs))),
                Builtin::ConfigDict => Value::Dict(
                    kwargs
                        .into_iter()
                        .map(|(k, v)| (Value::Str(k), v))
                        .collect(),
                ),
                Builtin::AutoFn => Value::Auto,
                Builtin::AliasChoices
                | Builtin::AliasPath
                | Builtin::AliasGenerator
                | Builtin::ToCamel
                | Builtin::ToPascal
                | Builtin::ToSnake => super::model_config::call_pydantic(*b, &args_v, &kwargs),
                Builtin::Int if args_v.len() > 1 || !kwargs.is_empty() => Value::Unknown,
                Builtin::Int => match args_v.first() {
                    None => Value::Int(0),
                    Some(Value::Int(i)) => Value::Int(*i),
                    Some(Value::Bool(b)) => Value::Int(*b as i128),
                    Some(Value::Float(f)) if f.is_finite() => Value::Int(f.trunc() as i128),
                    Some(Value::Str(s)) => match os_environ::parse_py_int(s) {
                        os_environ::Parsed::Value(i) => Value::Int(i),
                        os_environ::Parsed::Invalid => self.raise(Raised::new(
                            "ValueError",
                            format!(
                                "invalid literal for int() with base 10: {}",
                                super::error::py_repr(s)
                            ),
                        )),
                        os_environ::Parsed::NotKnown => Value::Unknown,
                    },
                    _ => Value::Unknown,
                },
                Builtin::Float if args_v.len() > 1 || !kwargs.is_empty() => Value::Unknown,
                Builtin::Float => match args_v.first() {
                    None => Value::Float(0.0),
                    Some(Value::Int(i)) => Value::Float(*i as f64),
                    Some(Value::Bool(b)) => Value::Float(*b as i128 as f64),
                    Some(Value::Float(f)) => Value::Float(*f),
                    Some(Value::Str(s)) => match os_environ::parse_py_float(s) {
                        os_environ::Parsed::Value(f) => Value::Float(f),
                        os_environ::Parsed::Invalid => self.raise(Raised::new(
                            "ValueError",
                            format!(
                                "could not convert string to float: {}",
                                super::error::py_repr(s)
                            ),
                        )),
                        os_environ::Parsed::NotKnown => Value::Unknown,
                    },
                    _ => Value::Unknown,
                },
                Builtin::GetEnv
                | Builtin::EnvironGet
                | Builtin::EnvironSetDefault
                | Builtin::EnvironPop
                | Builtin::EnvironUpdate
                | Builtin::EnvironChange
                | Builtin::LoadDotenv => self.call_environ(*b, &args_v, &kwargs),
                b if b.is_path_function() && kwargs.is_empty() => {
                    self.call_path_function(*b, &args_v)
                }
                Builtin::Str => match args_v.first() {
                    None => Value::Str(String::new()),
                    Some(v) => py_str(v).map_or(Value::Unknown, Value::Str),
                },
                Builtin::Bool => match args_v.first() {
                    None => Value::Bool(false),
                    Some(v) => truthy(v).map_or(Value::Unknown, Value::Bool),
                },
                Builtin::List | Builtin::Tuple | Builtin::Set | Builtin::FrozenSet => {
                    let items = match args_v.first() {
                        None => Vec::new(),
                        Some(
                            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v),
                        ) => v.clone(),
                        Some(Value::Str(s)) => {
                            s.chars().map(|c| Value::Str(c.to_string())).collect()
                        }
                        Some(Value::Dict(items)) => items.iter().map(|(k, _)| k.clone()).collect(),
                        _ => return Value::Unknown,
                    };
                    match b {
                        Builtin::List => Value::List(items),
                        Builtin::Tuple => Value::Tuple(items),
                        Builtin::Set => Value::Set(dedup(items)),
                        _ => Value::FrozenSet(dedup(items)),
                    }
                }
                Builtin::Dict => {
                    let mut out = match args_v.first() {
                        None => Vec::new(),
                        Some(Value::Dict(items)) => items.clone(),
                        _ => return Value::Unknown,
                    };
                    for (k, v) in kwargs {
                        dict_insert(&mut out, Value::Str(k), v);
                    }
                    Value::Dict(out)
                }
                Builtin::Object => Value::Opaque,
                Builtin::Date => {
                    let a = int_args(&args_v, &kwargs, &["year", "month", "day"]);
                    match a.as_slice() {
                        [Some(y), Some(m), Some(d)] => {
                            make_date(*y, *m, *d).map_or(Value::Unknown, Value::Date)
                        }
                        _ => Value::Unknown,
                    }
                }
                Builtin::DateTime => {
                    let a = int_args(
                        &args_v,
                        &kwargs,
                        &[
                            "year",
                            "month",
                            "day",
                            "hour",
                            "minute",
                            "second",
                            "microsecond",
                        ],
                    );
                    let (Some(y), Some(m), Some(d)) = (a[0], a[1], a[2]) else {
                        return Value::Unknown;
                    };
                    let Some(date) = make_date(y, m, d) else {
                        return Value::Unknown;
                    };
                    let tz = match args_v.get(7).cloned().or_else(|| kw("tzinfo")) {
                        None | Some(Value::None) => None,
                        Some(Value::Timezone(o)) => Some(o),
                        Some(_) => return Value::Unknown,
                    };
                    match make_time(&a[3..7], tz) {
                        Some(t) => Value::DateTime(date, t),
                        None => Value::Unknown,
                    }
                }
                Builtin::Time => {
                    let a = int_args(
                        &args_v,
                        &kwargs,
                        &["hour", "minute", "second", "microsecond"],
                    );
                    let tz = match args_v.get(4).cloned().or_else(|| kw("tzinfo")) {
                        None | Some(Value::None) => None,
                        Some(Value::Timezone(o)) => Some(o),
                        Some(_) => return Value::Unknown,
                    };
                    make_time(&a, tz).map_or(Value::Unknown, Value::Time)
                }
                Builtin::TimeDelta => timedelta_call(&args_v, &kwargs),
                Builtin::Timezone => match args_v.first().cloned().or_else(|| kw("offset")) {
                    Some(Value::TimeDelta(d, s, 0)) => Value::Timezone(d * 86400 + s),
                    _ => Value::Unknown,
                },
                Builtin::Uuid => match args_v.first().cloned().or_else(|| kw("hex")) {
                    Some(Value::Str(s)) => parse_uuid(&s).map_or(Value::Unknown, Value::Uuid),
                    _ => Value::Unknown,
                },
                Builtin::Decimal => match args_v.first() {
                    None => Value::Decimal("0".into()),
                    Some(Value::Str(s)) => Value::Decimal(s.trim().to_string()),
                    Some(Value::Int(i)) => Value::Decimal(i.to_string()),
                    _ => Value::Unknown,
                },
                Builtin::Path => {
                    let mut parts = Vec::new();
                    for a in &args_v {
                        match a {
                            Value::Str(s) | Value::Path(s) => parts.push(s.clone()),
                            _ => return Value::Unknown,
                        }
                    }
                    Value::Path(join_path(&parts))
                }
                Builtin::SecretStr => match args_v.first() {
                    Some(Value::Str(_)) => Value::Secret,
                    _ => Value::Unknown,
                },
                _ => Value::Unknown,
            },
            Value::FlowDecorator(kw) => match args_v.first() {
                Some(Value::Function(func)) => Value::Flow(Rc::new(FlowInfo {
                    func: func.clone(),
                    kwargs: kw.clone(),
                })),
                _ => Value::Unknown,
            },
            Value::Type(Ty::Model(def)) => super::schema::instantiate_model(def, &args_v, &kwargs),
            Value::Type(Ty::Enum(def)) => match args_v.first() {
                Some(v) => match def.members.iter().position(|(_, m)| values_equal(m, v)) {
                    Some(i) => Value::EnumMember(def.clone(), i),
                    None => Value::Unknown,
                },
                None => Value::Unknown,
            },
            Value::Function(func) => self.call_function(func, args_v, kwargs),
            Value::StrMethod(s, name) => str_method(s, name, &args_v, &kwargs),
            Value::PathMethod(p, name) if kwargs.is_empty() => {
                self.call_path_method(p, name, &args_v)
            }
            Value::PlainClass(_) | Value::Opaque => Value::Opaque,
            Value::External => Value::External,
            _ => Value::Unknown,
        }
    }

    /// Calls a module function the way Python would, when its body is simple enough to
    /// evaluate: assignments, `if` on known values, `return`. Anything else (loops, other
    /// statements, decorators, `async`, recursion deeper than
    /// [`MAX_CALL_DEPTH`](depth::MAX_CALL_DEPTH)) gives [`Value::Opaque`], as before.
    pub(crate) fn call_function(
        &mut self,
        func: &Rc<FunctionInfo>,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    ) -> Value {
        let def = &func.def;
        if def.is_async
            || !def.decorators.is_empty()
            || self.frames.len() >= depth::MAX_CALL_DEPTH
            || self.calls >= depth::MAX_CALLS
        {
            return Value::Opaque;
        }
        self.calls += 1;
        let Some(ns) = func.module.upgrade() else {
            return Value::Opaque;
        };
        let Some(bound) = bind_arguments(func, args, kwargs) else {
            // Python raises `TypeError` for the call.
            return Value::Opaque;
        };
        let mut locals: HashSet<String> = bound.keys().cloned().collect();
        assigned_names(&def.body, &mut locals);
        self.frames.push(Frame { locals, bound });
        let flow = depth::guarded(|| self.exec_function_block(&ns, &def.body));
        self.frames.pop();
        match flow {
            Flow::Raised => Value::Unknown,
            Flow::Next => Value::None,
            // What the reader cannot evaluate stays what a call always was to it: a value
            // that exists but is not known (a too-deep value stays too deep).
            Flow::Return(Value::Unknown | Value::External) | Flow::Unknown => Value::Opaque,
            Flow::Return(v) => v,
        }
    }

    fn exec_function_block(&mut self, ns: &ModuleRef, stmts: &[Stmt]) -> Flow {
        for stmt in stmts {
            let flow = self.exec_function_stmt(ns, stmt);
            if self.raised.is_some() {
                return Flow::Raised;
            }
            match flow {
                Flow::Next => {}
                other => return other,
            }
        }
        Flow::Next
    }

    fn exec_function_stmt(&mut self, ns: &ModuleRef, stmt: &Stmt) -> Flow {
        match stmt {
            // A docstring or another bare string, `pass`.
            Stmt::Expr(Expr::Str(_)) | Stmt::Pass => {}
            Stmt::Assign { targets, value } => {
                let v = self.eval(ns, value);
                for t in targets {
                    if !self.assign_local(t, v.clone()) {
                        return Flow::Unknown;
                    }
                }
            }
            Stmt::AnnAssign { target, value, .. } => {
                if let Some(value) = value {
                    let v = self.eval(ns, value);
                    if !self.assign_local(target, v) {
                        return Flow::Unknown;
                    }
                }
            }
            Stmt::If { branches } => {
                for (test, body) in branches {
                    let taken = match test {
                        None => true,
                        Some(test) => match truthy(&self.eval(ns, test)) {
                            Some(t) => t,
                            None => return Flow::Unknown,
                        },
                    };
                    if taken {
                        return self.exec_function_block(ns, body);
                    }
                }
            }
            Stmt::Return(value) => {
                return Flow::Return(match value {
                    Some(e) => self.eval(ns, e),
                    None => Value::None,
                });
            }
            _ => return Flow::Unknown,
        }
        Flow::Next
    }

    /// Binds a name in the current function's scope; `false` for targets the reader does not
    /// model (attributes, subscripts, starred).
    fn assign_local(&mut self, target: &Expr, value: Value) -> bool {
        match target {
            Expr::Name(n) => {
                if let Some(frame) = self.frames.last_mut() {
                    frame.bound.insert(n.clone(), value);
                }
                true
            }
            Expr::Tuple(items) | Expr::List(items) => {
                let values = match value {
                    Value::Tuple(v) | Value::List(v) if v.len() == items.len() => v,
                    _ => vec![Value::Unknown; items.len()],
                };
                items
                    .iter()
                    .zip(values)
                    .all(|(t, v)| self.assign_local(t, v))
            }
            _ => false,
        }
    }
}

/// Binds a call's arguments to a function's parameters as Python does; `None` where Python
/// raises `TypeError` (missing, duplicate or unexpected arguments).
fn bind_arguments(
    func: &FunctionInfo,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Option<HashMap<String, Value>> {
    let p = &func.def.params;
    let positional: Vec<&super::ast::Param> = p.posonly.iter().chain(&p.args).collect();
    let mut bound: HashMap<String, Value> = HashMap::new();
    let mut args = args.into_iter();
    for param in &positional {
        match args.next() {
            Some(v) => {
                bound.insert(param.name.clone(), v);
            }
            None => break,
        }
    }
    let extra: Vec<Value> = args.collect();
    match &p.vararg {
        Some(v) => {
            bound.insert(v.name.clone(), Value::Tuple(extra));
        }
        None if !extra.is_empty() => return None,
        None => {}
    }
    let mut extra_kw: Vec<(Value, Value)> = Vec::new();
    for (name, v) in kwargs {
        let named = p.args.iter().chain(&p.kwonly).any(|x| x.name == name);
        if named {
            if bound.insert(name, v).is_some() {
                return None;
            }
        } else if p.kwarg.is_some() {
            extra_kw.push((Value::Str(name), v));
        } else {
            return None;
        }
    }
    if let Some(k) = &p.kwarg {
        bound.insert(k.name.clone(), Value::Dict(extra_kw));
    }
    for param in positional.iter().copied().chain(&p.kwonly) {
        if bound.contains_key(&param.name) {
            continue;
        }
        let default = func.defaults.iter().find(|(n, _)| *n == param.name)?;
        bound.insert(param.name.clone(), default.1.clone());
    }
    Some(bound)
}

/// The names a function body assigns (its local variables), at any block depth.
fn assigned_names(stmts: &[Stmt], out: &mut HashSet<String>) {
    fn targets(e: &Expr, out: &mut HashSet<String>) {
        match e {
            Expr::Name(n) => {
                out.insert(n.clone());
            }
            Expr::Tuple(items) | Expr::List(items) => {
                for i in items {
                    targets(i, out);
                }
            }
            Expr::Starred(inner) => targets(inner, out),
            _ => {}
        }
    }
    for stmt in stmts {
        match stmt {
            Stmt::Assign { targets: ts, .. } => ts.iter().for_each(|t| targets(t, out)),
            Stmt::AnnAssign { target, .. } | Stmt::AugAssign { target, .. } => targets(target, out),
            Stmt::FunctionDef(f) => {
                out.insert(f.name.clone());
            }
            Stmt::ClassDef(c) => {
                out.insert(c.name.clone());
            }
            Stmt::If { branches } => {
                for (_, body) in branches {
                    assigned_names(body, out);
                }
            }
            Stmt::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => {
                assigned_names(body, out);
                for h in handlers {
                    if let Some(n) = &h.name {
                        out.insert(n.clone());
                    }
                    assigned_names(&h.body, out);
                }
                assigned_names(orelse, out);
                assigned_names(finalbody, out);
            }
            Stmt::Block(blocks) => blocks.iter().for_each(|b| assigned_names(b, out)),
            _ => {}
        }
    }
}

/// Python's comparison of two known values; `None` where the reader does not know the
/// answer (or Python would raise).
fn compare(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    if a.is_unknown() || b.is_unknown() {
        return None;
    }
    let order = || -> Option<Ordering> {
        match (a, b) {
            (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
            _ => match (num(a)?, num(b)?) {
                (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
                (x, y) => {
                    let f = |n: Num| match n {
                        Num::I(i) => i as f64,
                        Num::F(f) => f,
                    };
                    f(x).partial_cmp(&f(y))
                }
            },
        }
    };
    let contains = || -> Option<bool> {
        match b {
            Value::Str(hay) => match a {
                Value::Str(needle) => Some(hay.contains(needle.as_str())),
                _ => None,
            },
            Value::List(items)
            | Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => {
                if items.iter().any(Value::is_unknown) {
                    return None;
                }
                Some(items.iter().any(|x| values_equal(x, a)))
            }
            Value::Dict(items) => Some(items.iter().any(|(k, _)| values_equal(k, a))),
            _ => None,
        }
    };
    // `is` only where identity is certain: `None`, `True`, `False`.
    let identity = || -> Option<bool> {
        match (a, b) {
            (Value::None, Value::None) => Some(true),
            (Value::Bool(x), Value::Bool(y)) => Some(x == y),
            (Value::None | Value::Bool(_), _) | (_, Value::None | Value::Bool(_)) => Some(false),
            _ => None,
        }
    };
    let comparable = |v: &Value| {
        matches!(
            v,
            Value::None
                | Value::Bool(_)
                | Value::Int(_)
                | Value::Float(_)
                | Value::Str(_)
                | Value::Bytes(_)
                | Value::List(_)
                | Value::Tuple(_)
        )
    };
    match op {
        CmpOp::Eq | CmpOp::NotEq => {
            if !comparable(a) || !comparable(b) {
                return None;
            }
            let eq = values_equal(a, b);
            Some(if op == CmpOp::Eq { eq } else { !eq })
        }
        CmpOp::Lt => order().map(|o| o == Ordering::Less),
        CmpOp::LtE => order().map(|o| o != Ordering::Greater),
        CmpOp::Gt => order().map(|o| o == Ordering::Greater),
        CmpOp::GtE => order().map(|o| o != Ordering::Less),
        CmpOp::In => contains(),
        CmpOp::NotIn => contains().map(|c| !c),
        CmpOp::Is => identity(),
        CmpOp::IsNot => identity().map(|i| !i),
    }
}

/// The indices `sequence[lower:upper:step]` picks, as Python's `slice.indices` does.
fn slice_indices(len: usize, lower: Option<i128>, upper: Option<i128>, step: i128) -> Vec<usize> {
    let len = len as i128;
    let clamp = |v: i128, lo: i128, hi: i128| v.max(lo).min(hi);
    let norm = |v: i128| if v < 0 { v + len } else { v };
    let mut out = Vec::new();
    if step > 0 {
        let start = lower.map_or(0, |v| clamp(norm(v), 0, len));
        let stop = upper.map_or(len, |v| clamp(norm(v), 0, len));
        let mut i = start;
        while i < stop {
            out.push(i as usize);
            i += step;
        }
    } else {
        let start = lower.map_or(len - 1, |v| clamp(norm(v), -1, len - 1));
        let stop = upper.map_or(-1, |v| clamp(norm(v), -1, len - 1));
        let mut i = start;
        while i > stop {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

/// Which keys can be the same dict key: equal numbers are (`d[1]` finds the key `True` or
/// `1.0`), a number and a string never are.
fn hashable_kind(v: &Value) -> u8 {
    match v {
        Value::Int(_) | Value::Bool(_) | Value::Float(_) => 0,
        Value::Str(_) => 1,
        _ => 2,
    }
}

/// The `str` methods the reader evaluates.
const STR_METHODS: &[&str] = &[
    "split",
    "rsplit",
    "upper",
    "lower",
    "strip",
    "lstrip",
    "rstrip",
    "replace",
    "format",
    "join",
    "startswith",
    "endswith",
];

/// Calls a `str` method the reader evaluates; [`Value::Unknown`] otherwise.
fn str_method(s: &str, name: &str, args: &[Value], kwargs: &[(String, Value)]) -> Value {
    let strs: Option<Vec<&str>> = args
        .iter()
        .map(|a| match a {
            Value::Str(x) => Some(x.as_str()),
            _ => None,
        })
        .collect();
    if !matches!(name, "format" | "split" | "rsplit") && !kwargs.is_empty() {
        return Value::Unknown;
    }
    let strip_chars = |chars: Option<&str>| -> Box<dyn Fn(char) -> bool> {
        match chars {
            Some(cs) => {
                let cs: Vec<char> = cs.chars().collect();
                Box::new(move |c| cs.contains(&c))
            }
            None => Box::new(char::is_whitespace),
        }
    };
    match (name, strs.as_deref()) {
        // ASCII only: Python's full case mappings differ from Rust's in places.
        ("upper", Some([])) if s.is_ascii() => Value::Str(s.to_ascii_uppercase()),
        ("lower", Some([])) if s.is_ascii() => Value::Str(s.to_ascii_lowercase()),
        // Python's whitespace also has the separators U+001C..U+001F, Rust's does not.
        ("strip" | "lstrip" | "rstrip", Some([]))
            if s.contains(|c| ('\u{1c}'..='\u{1f}').contains(&c)) =>
        {
            Value::Unknown
        }
        ("strip", Some(a)) if a.len() <= 1 => {
            Value::Str(s.trim_matches(strip_chars(a.first().copied())).to_string())
        }
        ("lstrip", Some(a)) if a.len() <= 1 => Value::Str(
            s.trim_start_matches(strip_chars(a.first().copied()))
                .to_string(),
        ),
        ("rstrip", Some(a)) if a.len() <= 1 => Value::Str(
            s.trim_end_matches(strip_chars(a.first().copied()))
                .to_string(),
        ),
        ("replace", Some([old, new]))
            if !old.is_empty()
                && fits(s.len() + s.matches(old).count().saturating_mul(new.len())) =>
        {
            Value::Str(s.replace(old, new))
        }
        ("split" | "rsplit", _) => str_split(s, name == "rsplit", args, kwargs),
        ("startswith", Some([p])) => Value::Bool(s.starts_with(p)),
        ("endswith", Some([p])) => Value::Bool(s.ends_with(p)),
        ("join", _) => match args {
            [Value::List(items) | Value::Tuple(items)] => {
                let parts: Option<Vec<&str>> = items
                    .iter()
                    .map(|v| match v {
                        Value::Str(x) => Some(x.as_str()),
                        _ => None,
                    })
                    .collect();
                match parts {
                    Some(p)
                        if fits(
                            p.iter().map(|x| x.len()).sum::<usize>()
                                + s.len().saturating_mul(p.len()),
                        ) =>
                    {
                        Value::Str(p.join(s))
                    }
                    _ => Value::Unknown,
                }
            }
            _ => Value::Unknown,
        },
        ("format", _) => str_format(s, args, kwargs).map_or(Value::Unknown, Value::Str),
        _ => Value::Unknown,
    }
}

/// `str.split(sep=None, maxsplit=-1)` and `str.rsplit`, as Python splits.
fn str_split(s: &str, from_right: bool, args: &[Value], kwargs: &[(String, Value)]) -> Value {
    let arg = |i: usize, name: &str| {
        args.get(i)
            .or_else(|| kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v))
    };
    if args.len() > 2 || kwargs.iter().any(|(k, _)| k != "sep" && k != "maxsplit") {
        return Value::Unknown;
    }
    let max = match arg(1, "maxsplit") {
        None => None,
        Some(Value::Int(n)) if *n < 0 => None,
        Some(Value::Int(n)) => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
        Some(_) => return Value::Unknown,
    };
    let parts: Vec<String> = match arg(0, "sep") {
        None | Some(Value::None) => {
            // Python's whitespace also has U+001C..U+001F, Rust's does not.
            if s.contains(|c| ('\u{1c}'..='\u{1f}').contains(&c)) {
                return Value::Unknown;
            }
            split_whitespace(s, from_right, max)
        }
        Some(Value::Str(sep)) if !sep.is_empty() => {
            let limit = max.map_or(usize::MAX, |m| m.saturating_add(1));
            let mut parts: Vec<String> = if from_right {
                s.rsplitn(limit, sep.as_str()).map(str::to_string).collect()
            } else {
                s.splitn(limit, sep.as_str()).map(str::to_string).collect()
            };
            if from_right {
                parts.reverse();
            }
            parts
        }
        // An empty separator raises `ValueError`; others are not strings.
        Some(_) => return Value::Unknown,
    };
    Value::List(parts.into_iter().map(Value::Str).collect())
}

/// `str.split()` without a separator: runs of whitespace, none at the ends (the remainder
/// after `max` splits keeps its inner whitespace).
fn split_whitespace(s: &str, from_right: bool, max: Option<usize>) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest: &str = if from_right {
        s.trim_end()
    } else {
        s.trim_start()
    };
    loop {
        if rest.is_empty() {
            break;
        }
        if max.is_some_and(|m| parts.len() >= m) {
            let last = if from_right {
                rest.trim_end()
            } else {
                rest.trim_start()
            };
            parts.push(last.to_string());
            break;
        }
        if from_right {
            match rest.rfind(char::is_whitespace) {
                Some(i) => {
                    let ws_len = rest[i..].chars().next().map_or(1, char::len_utf8);
                    parts.push(rest[i + ws_len..].to_string());
                    rest = rest[..i].trim_end();
                }
                None => {
                    parts.push(rest.to_string());
                    break;
                }
            }
        } else {
            match rest.find(char::is_whitespace) {
                Some(i) => {
                    parts.push(rest[..i].to_string());
                    rest = rest[i..].trim_start();
                }
                None => {
                    parts.push(rest.to_string());
                    break;
                }
            }
        }
    }
    if from_right {
        parts.reverse();
    }
    parts
}

/// `str.format` with plain fields (`{}`, `{0}`, `{name}`); `None` for conversions, format
/// specs, attribute or index lookups, and values without a known `str()`.
fn str_format(template: &str, args: &[Value], kwargs: &[(String, Value)]) -> Option<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut auto = 0usize;
    let mut numbered = false;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        '{' | '!' | ':' | '.' | '[' => return None,
                        c => field.push(c),
                    }
                }
                let v = if field.is_empty() {
                    if numbered {
                        return None;
                    }
                    auto += 1;
                    args.get(auto - 1)?
                } else if let Ok(i) = field.parse::<usize>() {
                    if auto > 0 {
                        return None;
                    }
                    numbered = true;
                    args.get(i)?
                } else {
                    &kwargs.iter().find(|(k, _)| *k == field)?.1
                };
                if v.is_unknown() {
                    return None;
                }
                let piece = py_str(v)?;
                if !fits(out.len() + piece.len()) {
                    return None;
                }
                out.push_str(&piece);
            }
            '}' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The flow's name as Prefect computes it: `name=` when it is a non-empty string, else the
/// function name with `_` → `-`. `None` in the second slot when `name=` could not be
/// evaluated.
pub(crate) fn flow_name(info: &FlowInfo) -> (String, bool) {
    let fallback = info.func.def.name.replace('_', "-");
    match info
        .kwargs
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v)
    {
        None | Some(Value::None) => (fallback, true),
        Some(Value::Str(s)) if s.is_empty() => (fallback, true),
        Some(Value::Str(s)) => (s.clone(), true),
        Some(v) => match py_str(v) {
            Some(s) if !v.is_unknown() && !s.is_empty() => (s, true),
            _ => (fallback, false),
        },
    }
}

/// The exception `Flow.__init__` raises for this flow, if any: class and message.
pub(crate) fn flow_creation_error(info: &FlowInfo) -> Option<Raised> {
    let (name, _) = flow_name(info);
    if name.contains(['/', '%', '&', '>', '<']) {
        return Some(Raised::new(
            "InvalidNameError",
            format!(
                "Name {} contains an invalid character. Must not contain any of: ['/', '%', '&', '>', '<'].",
                super::error::py_repr(&name)
            ),
        ));
    }
    let p = &info.func.def.params;
    let names: Vec<&str> = p
        .posonly
        .iter()
        .chain(&p.args)
        .chain(&p.vararg)
        .chain(&p.kwonly)
        .chain(&p.kwarg)
        .map(|p| p.name.as_str())
        .collect();
    for reserved in ["return_state", "wait_for"] {
        if names.contains(&reserved) {
            return Some(Raised::new(
                "ReservedArgumentError",
                format!("'{reserved}' is a reserved argument name and cannot be used."),
            ));
        }
    }
    let validate = !matches!(
        info.kwargs
            .iter()
            .find(|(k, _)| k == "validate_parameters")
            .map(|(_, v)| v),
        Some(Value::Bool(false))
    );
    if validate && names.contains(&"model_config") {
        return Some(Raised::new(
            "ValueError",
            "Flow function is not compatible with `validate_parameters`. Disable validation or change the argument names.",
        ));
    }
    None
}

/// Reads and parses a module file.
fn read_module(full: &Path) -> Result<Module, ReadProblem> {
    let bytes = std::fs::read(full).map_err(ReadProblem::Io)?;
    // Python reads source with universal newlines: `\r\n` and `\r` end lines as `\n` does, in
    // string literals and docstrings too (the version is still the raw file's MD5).
    let source = String::from_utf8_lossy(&bytes)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    python::parse_module(&source).map_err(ReadProblem::Syntax)
}

/// Finds `a.b.c` under `base`: packages (`a/__init__.py`), modules (`a.py`) and namespace
/// packages (a directory without `__init__.py`).
pub(crate) fn resolve_module_in(base: &Path, dotted: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = dotted.split('.').collect();
    let mut dir = base.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let pkg = dir.join(part);
        let init = pkg.join("__init__.py");
        let file = dir.join(format!("{part}.py"));
        if init.is_file() {
            if last {
                return Some(init);
            }
            dir = pkg;
        } else if file.is_file() {
            if last {
                return Some(file);
            }
            return None;
        } else if pkg.is_dir() {
            if last {
                return None;
            }
            dir = pkg;
        } else {
            return None;
        }
    }
    None
}

fn is_main_check(test: &Expr) -> bool {
    matches!(test, Expr::Compare(l, r)
        if matches!(l.as_ref(), Expr::Name(n) if n == "__name__")
            && matches!(r.as_slice(), [(CmpOp::Eq, Expr::Str(s))] if s == "__main__"))
}

fn is_classvar(v: &Value) -> bool {
    matches!(v, Value::Builtin(Builtin::ClassVar))
}

/// Applies a decorator to a function (or what earlier decorators made of it).
fn apply_decorator(dec: &Value, target: Value) -> Value {
    match (dec, &target) {
        (Value::Builtin(Builtin::ClassMethod | Builtin::StaticMethod), _) => target,
        (Value::Builtin(Builtin::Flow), Value::Function(f)) => Value::Flow(Rc::new(FlowInfo {
            func: f.clone(),
            kwargs: Vec::new(),
        })),
        (Value::FlowDecorator(kw), Value::Function(f)) => Value::Flow(Rc::new(FlowInfo {
            func: f.clone(),
            kwargs: kw.clone(),
        })),
        (Value::Builtin(Builtin::Task), _) => Value::NotAFlow("task"),
        (Value::NotAFlow(_), _) => dec.clone(),
        // Another decorator: assumed to return the function it wraps (`functools.wraps`
        // style), which is what Prefect then sees.
        _ => target,
    }
}

/// The docstring of a body: its first statement when that is a string literal.
pub(crate) fn docstring_of(body: &[Stmt]) -> Option<String> {
    match body.first() {
        Some(Stmt::Expr(Expr::Str(s))) => Some(s.clone()),
        _ => None,
    }
}

/// Splits `Annotated[T, Field(...)]` into `T` and the merged field information.
pub(crate) fn split_annotated(ty: Ty) -> (Ty, Option<FieldInfo>) {
    match ty {
        Ty::Annotated(inner, infos) => {
            let mut merged = FieldInfo::default();
            for i in &infos {
                merge_field_info(&mut merged, i);
            }
            (*inner, Some(merged))
        }
        t => (t, None),
    }
}

/// Later information wins where it says something.
pub(crate) fn merge_field_info(into: &mut FieldInfo, from: &FieldInfo) {
    if from.default.is_some() {
        into.default = from.default.clone();
        into.default_factory = None;
    }
    if from.default_factory.is_some() {
        into.default_factory = from.default_factory.clone();
        into.default = None;
    }
    if from.alias.is_some() {
        into.alias = from.alias.clone();
    }
    if from.validation_alias.is_some() {
        into.validation_alias = from.validation_alias.clone();
    }
    if from.serialization_alias.is_some() {
        into.serialization_alias = from.serialization_alias.clone();
    }
    if from.alias_priority.is_some() {
        into.alias_priority = from.alias_priority;
    }
    if from.title.is_some() {
        into.title = from.title.clone();
    }
    if from.description.is_some() {
        into.description = from.description.clone();
    }
    if from.examples.is_some() {
        into.examples = from.examples.clone();
    }
    if from.json_schema_extra.is_some() {
        into.json_schema_extra = from.json_schema_extra.clone();
    }
    for (k, v) in &from.constraints {
        if let Some(slot) = into.constraints.iter_mut().find(|(n, _)| n == k) {
            slot.1 = v.clone();
        } else {
            into.constraints.push((k.clone(), v.clone()));
        }
    }
}

fn field_info(args: &[Value], kwargs: &[(String, Value)]) -> FieldInfo {
    let mut fi = FieldInfo::default();
    if let Some(d) = args.first()
        && !matches!(d, Value::Opaque)
    {
        fi.default = Some(d.clone());
    }
    for (k, v) in kwargs {
        match k.as_str() {
            "default" => fi.default = Some(v.clone()),
            "default_factory" => fi.default_factory = Some(v.clone()),
            "alias" => {
                if let Value::Str(s) = v {
                    fi.alias = Some(s.clone());
                }
            }
            "validation_alias" => match v {
                Value::Str(s) => fi.validation_alias = Some(AliasKey::plain(s.clone())),
                Value::AliasKey(k) => fi.validation_alias = Some(k.clone()),
                _ => {}
            },
            "serialization_alias" => {
                if let Value::Str(s) = v {
                    fi.serialization_alias = Some(s.clone());
                }
            }
            "alias_priority" => {
                if let Value::Int(i) = v {
                    fi.alias_priority = Some(*i);
                }
            }
            "title" => {
                if let Value::Str(s) = v {
                    fi.title = Some(s.clone());
                }
            }
            "description" => {
                if let Value::Str(s) = v {
                    fi.description = Some(s.clone());
                }
            }
            "examples" => fi.examples = Some(v.clone()),
            "json_schema_extra" => fi.json_schema_extra = Some(v.clone()),
            "ge" | "gt" | "le" | "lt" | "multiple_of" | "min_length" | "max_length" | "pattern"
                if !matches!(v, Value::None) =>
            {
                fi.constraints.push((k.clone(), v.clone()));
            }
            _ => {}
        }
    }
    // pydantic's `Field()`: `alias` is also the validation and serialization alias unless
    // those are given, and any alias makes the priority 2 unless one is given.
    if let Some(a) = &fi.alias {
        if fi.serialization_alias.is_none() {
            fi.serialization_alias = Some(a.clone());
        }
        if fi.validation_alias.is_none() {
            fi.validation_alias = Some(AliasKey::plain(a.clone()));
        }
    }
    let alias_set =
        fi.alias.is_some() || fi.validation_alias.is_some() || fi.serialization_alias.is_some();
    fi.alias_priority = if alias_set {
        Some(fi.alias_priority.filter(|p| *p != 0).unwrap_or(2))
    } else {
        None
    };
    fi
}

fn int_args(args: &[Value], kwargs: &[(String, Value)], names: &[&str]) -> Vec<Option<i64>> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let v = args
                .get(i)
                .cloned()
                .or_else(|| kwargs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()));
            match v {
                Some(Value::Int(x)) => i64::try_from(x).ok(),
                None if i >= 3 || names.len() == 4 => Some(0),
                _ => None,
            }
        })
        .collect()
}

fn make_date(y: i64, m: i64, d: i64) -> Option<Date> {
    if !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || d < 1
        || d > days_in_month(y, m as u32) as i64
    {
        return None;
    }
    Some(Date {
        year: y,
        month: m as u32,
        day: d as u32,
    })
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn make_time(a: &[Option<i64>], offset: Option<i64>) -> Option<Time> {
    let get = |i: usize| a.get(i).copied().flatten().unwrap_or(0);
    let (h, mi, s, us) = (get(0), get(1), get(2), get(3));
    if !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..60).contains(&s)
        || !(0..1_000_000).contains(&us)
    {
        return None;
    }
    Some(Time {
        hour: h as u32,
        minute: mi as u32,
        second: s as u32,
        micro: us as u32,
        offset,
    })
}

fn timedelta_call(args: &[Value], kwargs: &[(String, Value)]) -> Value {
    // Python's signature: timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks)
    const UNITS: [(&str, f64); 7] = [
        ("days", 86_400_000_000.0),
        ("seconds", 1_000_000.0),
        ("microseconds", 1.0),
        ("milliseconds", 1_000.0),
        ("minutes", 60_000_000.0),
        ("hours", 3_600_000_000.0),
        ("weeks", 604_800_000_000.0),
    ];
    let mut total_int: i128 = 0;
    let mut total_float: f64 = 0.0;
    let mut any_float = false;
    for (i, (name, scale)) in UNITS.iter().enumerate() {
        let v = args.get(i).cloned().or_else(|| {
            kwargs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        });
        match v {
            None => {}
            Some(Value::Int(n)) => {
                match n
                    .checked_mul(*scale as i128)
                    .and_then(|x| x.checked_add(total_int))
                {
                    Some(t) => total_int = t,
                    None => return Value::Unknown,
                }
            }
            Some(Value::Float(f)) => {
                any_float = true;
                total_float += f * scale;
            }
            Some(_) => return Value::Unknown,
        }
    }
    let micros = if any_float {
        match total_int.checked_add(total_float.round_ties_even() as i128) {
            Some(m) => m,
            None => return Value::Unknown,
        }
    } else {
        total_int
    };
    timedelta_from_micros(micros)
}

fn td_micros(v: &Value) -> i128 {
    match v {
        Value::TimeDelta(d, s, us) => {
            *d as i128 * 86_400_000_000 + *s as i128 * 1_000_000 + *us as i128
        }
        _ => 0,
    }
}

pub(crate) fn timedelta_from_micros(micros: i128) -> Value {
    let day = 86_400_000_000i128;
    let days = micros.div_euclid(day);
    let rest = micros.rem_euclid(day);
    // Python's `timedelta` raises `OverflowError` beyond ±999999999 days.
    if days.abs() > 999_999_999 {
        return Value::Unknown;
    }
    Value::TimeDelta(
        days as i64,
        (rest / 1_000_000) as i64,
        (rest % 1_000_000) as i64,
    )
}

fn parse_uuid(s: &str) -> Option<String> {
    let hex: String = s
        .trim()
        .trim_start_matches("urn:")
        .trim_start_matches("uuid:")
        .chars()
        .filter(|c| *c != '-' && *c != '{' && *c != '}')
        .collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn join_path(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p.clone();
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(p);
        } else if !p.is_empty() {
            out.push('/');
            out.push_str(p);
        }
    }
    // pathlib normalises `a//b`, `a/./b` and trailing slashes.
    let absolute = out.starts_with('/');
    let segs: Vec<&str> = out
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let joined = segs.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn dict_insert(out: &mut Vec<(Value, Value)>, k: Value, v: Value) {
    if let Some(slot) = out.iter_mut().find(|(x, _)| values_equal(x, &k)) {
        slot.1 = v;
    } else {
        out.push((k, v));
    }
}

fn dedup(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !out.iter().any(|x| values_equal(x, &v)) {
            out.push(v);
        }
    }
    out
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Python `==` for the values the reader models (`1 == 1.0 == True`).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    use Value as V;
    match (a, b) {
        (V::None, V::None) => true,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Bytes(x), V::Bytes(y)) => x == y,
        (V::List(x), V::List(y)) | (V::Tuple(x), V::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (V::EnumMember(d1, i1), V::EnumMember(d2, i2)) => Rc::ptr_eq(d1, d2) && i1 == i2,
        (V::Date(x), V::Date(y)) => x == y,
        (V::Uuid(x), V::Uuid(y)) => x == y,
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => num_eq(x, y),
            _ => false,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    I(i128),
    F(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::I(*i)),
        Value::Bool(b) => Some(Num::I(*b as i128)),
        Value::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

fn num_eq(a: Num, b: Num) -> bool {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x == y,
        (Num::I(x), Num::F(y)) | (Num::F(y), Num::I(x)) => x as f64 == y,
        (Num::F(x), Num::F(y)) => x == y,
    }
}

fn arith(op: BinOp, a: Num, b: Num) -> Value {
    use Num::*;
    match (a, b) {
        (I(x), I(y)) => match op {
            // Python's integers do not overflow; past `i128` the reader does not know them.
            BinOp::Add => x.checked_add(y).map_or(Value::Unknown, Value::Int),
            BinOp::Sub => x.checked_sub(y).map_or(Value::Unknown, Value::Int),
            BinOp::Mult => x.checked_mul(y).map_or(Value::Unknown, Value::Int),
            BinOp::Div if y != 0 => Value::Float(x as f64 / y as f64),
            BinOp::FloorDiv if y != 0 => match (x.checked_div_euclid(y), x.checked_rem_euclid(y)) {
                (Some(q), Some(r)) => Value::Int(q - i128::from(y < 0 && r != 0)),
                _ => Value::Unknown,
            },
            BinOp::Mod if y != 0 => x
                .checked_rem(y)
                .and_then(|r| r.checked_add(y))
                .and_then(|r| r.checked_rem(y))
                .map_or(Value::Unknown, Value::Int),
            BinOp::Pow if (0..=64).contains(&y) => {
                x.checked_pow(y as u32).map_or(Value::Unknown, Value::Int)
            }
            _ => Value::Unknown,
        },
        _ => {
            let x = match a {
                I(i) => i as f64,
                F(f) => f,
            };
            let y = match b {
                I(i) => i as f64,
                F(f) => f,
            };
            match op {
                BinOp::Add => Value::Float(x + y),
                BinOp::Sub => Value::Float(x - y),
                BinOp::Mult => Value::Float(x * y),
                BinOp::Div if y != 0.0 => Value::Float(x / y),
                BinOp::Pow => Value::Float(x.powf(y)),
                _ => Value::Unknown,
            }
        }
    }
}

fn is_typeish(v: &Value) -> bool {
    matches!(v, Value::Type(_) | Value::None | Value::PlainClass(_))
        || matches!(v, Value::Builtin(b) if !matches!(b, Builtin::Flow | Builtin::Task | Builtin::Field | Builtin::AutoFn | Builtin::ConfigDict) && !b.is_environ() && !b.is_path_function())
}

/// `typing.Union[...]` semantics: flattened, duplicates removed, one member is itself.
pub(crate) fn make_union(members: Vec<Ty>) -> Ty {
    let mut flat: Vec<Ty> = Vec::new();
    for m in members {
        let parts = match m {
            Ty::Union(inner) => inner,
            other => vec![other],
        };
        for p in parts {
            if !flat.iter().any(|x| ty_key(x) == ty_key(&p)) {
                flat.push(p);
            }
        }
    }
    if flat.len() == 1 {
        flat.pop().unwrap_or(Ty::Any)
    } else {
        Ty::Union(flat)
    }
}

/// A structural identity for types (for union de-duplication).
pub(crate) fn ty_key(t: &Ty) -> String {
    match t {
        Ty::List(i) => format!("list[{}]", ty_key(i)),
        Ty::Set(i) => format!("set[{}]", ty_key(i)),
        Ty::FrozenSet(i) => format!("frozenset[{}]", ty_key(i)),
        Ty::Tuple(items) => format!(
            "tuple[{}]",
            items.iter().map(ty_key).collect::<Vec<_>>().join(",")
        ),
        Ty::TupleVar(i) => format!("tuple[{},...]", ty_key(i)),
        Ty::Dict(k, v) => format!("dict[{},{}]", ty_key(k), ty_key(v)),
        Ty::Union(items) => format!(
            "union[{}]",
            items.iter().map(ty_key).collect::<Vec<_>>().join(",")
        ),
        Ty::Enum(d) => format!("enum:{}:{:p}", d.name, Rc::as_ptr(d)),
        Ty::Model(d) => format!("model:{}:{:p}", d.name, Rc::as_ptr(d)),
        Ty::Plain(n) | Ty::Arbitrary(n) => format!("class:{n}"),
        Ty::Literal(v) => format!("literal{v:?}"),
        Ty::Annotated(i, infos) => format!("annotated[{},{infos:?}]", ty_key(i)),
        other => format!("{other:?}"),
    }
}

/// Python truthiness, where the reader knows it.
pub(crate) fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::None => Some(false),
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Float(f) => Some(*f != 0.0),
        Value::Str(s) => Some(!s.is_empty()),
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
            Some(!v.is_empty())
        }
        Value::Dict(v) => Some(!v.is_empty()),
        // `Opaque` is also what the reader makes of a call it cannot evaluate (`len(x)`, a
        // module function with a loop): its truth is not known.
        Value::Unknown | Value::External | Value::TooDeep | Value::Opaque => None,
        // Empty or not depending on the environment: not evaluated.
        Value::Builtin(Builtin::Environ) => None,
        _ => Some(true),
    }
}

/// Python `str()` for simple values.
pub(crate) fn py_str(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::None => Some("None".into()),
        Value::Float(f) => Some(py_float_repr(*f)),
        Value::Decimal(d) => Some(d.clone()),
        Value::Path(p) => Some(p.clone()),
        Value::Uuid(u) => Some(u.clone()),
        Value::EnumMember(def, i) => Some(format!("{}.{}", def.name, def.members[*i].0)),
        _ => None,
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form outside [1e-4, 1e16).
pub(crate) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let exp = f.abs().log10().floor() as i32;
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", e.abs())
    }
}
