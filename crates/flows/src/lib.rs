//! # prefab-flows
//!
//! What Prefect 3.9.1 makes of a flow entrypoint, read statically: given an entrypoint
//! (`flows/etl.py:etl_pipeline`, `pkg.module.func`), [`load_flow_from_entrypoint`] returns what
//! `RunnerDeployment.from_entrypoint` records about the flow — its name, description, version,
//! parameter schema and whether it is `async` — read from the Python source without a Python
//! interpreter. [`Flow::from_parameters`] describes a Rust flow whose parameters are a type
//! deriving [`schemars::JsonSchema`], in the same schema shape.
//!
//! This crate has no HTTP client, no git and no object store: a tool that only needs a flow's
//! parameter schema (a Terraform provider, a Kubernetes operator) depends on it alone.
//! `prefab-core` builds deployments on it and re-exports it as `prefab_core::flow`.
//!
//! The parameter schema is the one pydantic v2 generates for Prefect (`parameter_schema`):
//! builtins, `typing` constructs, `datetime`/`uuid`/`decimal`/`pathlib` types, enums and
//! pydantic models defined in the flow's module (or modules under the import root) with
//! their configuration (`model_config`, `class Config`, class keywords),
//! `Annotated[..., Field(...)]` constraints, JSON-encoded defaults, Google-style docstring
//! descriptions, `*args`/`**kwargs`. Module-level code is evaluated where Python's result is
//! certain from the source, including what it reads from the environment (`os.environ`,
//! `os.getenv`: the process's own by default, see [`LoadOptions`]) and constants imported from
//! the project's own modules; a module that raises when imported (a missing variable) is read
//! the way Prefect's fallback loader reads it. What only running Python could reveal degrades
//! the way Prefect's own static loader degrades (no type; a `null` default), and is reported
//! in [`LoadedFlow::notes`].
//!
//! ```
//! use prefab_flows::{load_flow_from_entrypoint, FlowLoadError};
//!
//! let dir = std::env::temp_dir().join(format!("prefab-flows-lib-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("flows")).unwrap();
//! std::fs::write(
//!     dir.join("flows/etl.py"),
//!     r#"
//! from typing import Optional
//! from prefect import flow
//!
//! @flow(name="ETL Pipeline")
//! async def etl(source: str, batch_size: int = 500, table: Optional[str] = None):
//!     """Extract and load.
//!
//!     Args:
//!         source: Where rows come from.
//!     """
//! "#,
//! )
//! .unwrap();
//!
//! let loaded = load_flow_from_entrypoint("flows/etl.py:etl", &dir).unwrap();
//! let flow = &loaded.flow;
//! assert_eq!(flow.name, "ETL Pipeline");
//! assert!(flow.is_async);
//! let schema = flow.parameter_schema.to_json();
//! assert_eq!(schema["required"], serde_json::json!(["source"]));
//! assert_eq!(schema["properties"]["source"]["description"], "Where rows come from.");
//! assert_eq!(
//!     schema["properties"]["table"]["anyOf"],
//!     serde_json::json!([{"type": "string"}, {"type": "null"}])
//! );
//!
//! // Errors name the problem and map to Prefect's exception classes.
//! let err = load_flow_from_entrypoint("flows/etl.py:missing", &dir).unwrap_err();
//! assert!(matches!(err, FlowLoadError::MissingFlow { .. }));
//! assert_eq!(err.python_class(), "MissingFlowError");
//! ```

mod ast;
mod depth;
mod docstring;
mod environment;
mod error;
mod eval;
mod exception;
mod model_config;
mod python;
mod rust_flow;
mod schema;
mod value;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

pub use docstring::{cleandoc, parameter_docstrings};
pub use environment::Environment;
pub use error::{FlowLoadError, SyntaxDetails};
pub use rust_flow::parameter_schema_for;

use eval::{FallbackOutcome, Loader, ReadProblem};
use exception::Raised;
use schema::ParamSpec;
use value::{FlowInfo, Ty, Value};

/// A flow's parameter schema in Prefect's `ParameterSchema` shape.
///
/// Serialises the way `RunnerDeployment.apply()` sends it
/// (`model_dump(mode="json", exclude_unset=True)`): `title`, `type`, `properties` (in
/// parameter order), then `required` and `definitions` only when there are any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterSchema {
    /// Always `"Parameters"`.
    #[serde(default = "parameters_title")]
    pub title: String,
    /// Always `"object"`.
    #[serde(rename = "type", default = "object_type")]
    pub kind: String,
    /// One JSON schema per parameter, in signature order.
    #[serde(default)]
    pub properties: Map<String, Json>,
    /// Names of the parameters without defaults, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    /// Schemas of the models and enums the parameters refer to (`#/definitions/Name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions: Option<Map<String, Json>>,
}

fn parameters_title() -> String {
    "Parameters".into()
}

fn object_type() -> String {
    "object".into()
}

impl Default for ParameterSchema {
    fn default() -> Self {
        ParameterSchema {
            title: parameters_title(),
            kind: object_type(),
            properties: Map::new(),
            required: None,
            definitions: None,
        }
    }
}

impl ParameterSchema {
    /// The schema as JSON, in the dump form.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// Reads the dump form back.
    pub fn from_json(value: &Json) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value.clone())
    }
}

/// A flow as a deployment sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The flow's name (`@flow(name=…)`, else the function name with `_` → `-`).
    pub name: String,
    /// `@flow(description=…)`, else the function's cleaned docstring.
    pub description: Option<String>,
    /// `@flow(version=…)`, else the MD5 hex digest of the file that defines the function.
    pub version: Option<String>,
    /// The parameters' schema.
    pub parameter_schema: ParameterSchema,
    /// Whether the flow function is `async def`.
    pub is_async: bool,
    /// The entrypoint the flow was loaded from, if any.
    pub entrypoint: Option<String>,
    /// The file that defines the flow function, if any.
    pub source_file: Option<PathBuf>,
}

/// Where a loaded flow's version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionSource {
    /// `@flow(version=…)`.
    Explicit,
    /// Prefect's default: the MD5 of the source file.
    FileMd5,
    /// No version: the module fails when Prefect imports it, and the flow Prefect's fallback
    /// loader builds has no source file to hash.
    Unavailable,
}

/// The result of [`load_flow_from_entrypoint`]: the flow plus what the static reader could
/// not work out.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedFlow {
    /// The flow.
    pub flow: Flow,
    /// Where `flow.version` came from.
    pub version_source: VersionSource,
    /// Things only running Python would reveal, and how they were approximated (an
    /// annotation or default the reader could not evaluate, a decorator argument that is
    /// not a literal).
    pub notes: Vec<String>,
}

/// How [`load_flow_from_entrypoint_with`] reads a flow.
///
/// ```
/// use prefab_flows::{Environment, LoadOptions};
///
/// // The variables the flow's module reads, as if they were the process environment.
/// let options = LoadOptions::default()
///     .with_environment(Environment::from_vars([("RETENTION_DAYS", "7")]));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// What `os.environ` holds while the flow's modules are read (the process's own by
    /// default, as when Prefect imports them in the deploying process).
    pub environment: Environment,
}

impl LoadOptions {
    /// Reads `os.environ` from `environment` instead of the process environment.
    pub fn with_environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }
}

/// The two entrypoint grammars, split on the last separator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entrypoint {
    /// `path/to/file.py:func` or `path/to/file.py:Class.method`.
    File { path: String, object: String },
    /// `pkg.module.func` or `pkg.module:func`.
    Module { module: String, object: String },
}

fn parse_entrypoint(entrypoint: &str) -> Result<(Entrypoint, String, String), FlowLoadError> {
    // `load_flow_from_entrypoint`'s own split, used in its messages.
    let (path, func) = if let Some((p, f)) = entrypoint.rsplit_once(':') {
        (p.to_string(), f.to_string())
    } else if let Some((p, f)) = entrypoint.rsplit_once('.') {
        (p.to_string(), f.to_string())
    } else {
        return Err(FlowLoadError::MalformedEntrypoint {
            entrypoint: entrypoint.to_string(),
        });
    };
    // `import_object`'s split: only `.py:` means a script.
    let ep = if entrypoint.contains(".py:") {
        let (p, o) = entrypoint.rsplit_once(':').unwrap_or((entrypoint, ""));
        Entrypoint::File {
            path: p.to_string(),
            object: o.to_string(),
        }
    } else if let Some((m, o)) = entrypoint.rsplit_once(':') {
        Entrypoint::Module {
            module: m.to_string(),
            object: o.to_string(),
        }
    } else {
        let (m, o) = entrypoint.rsplit_once('.').unwrap_or((entrypoint, ""));
        Entrypoint::Module {
            module: m.to_string(),
            object: o.to_string(),
        }
    };
    Ok((ep, path, func))
}

/// Loads the flow an entrypoint names, reading Python source statically (no Python process).
///
/// `root` is Prefect's working directory: file entrypoints are relative to it and module
/// entrypoints are imported from it (packages, modules and namespace packages).
///
/// Accepts `path/to/file.py:func`, `path/to/file.py:Class.method`, `pkg.module.func` and
/// `pkg.module:func`. The flow is the function decorated with `@flow`, `@flow(...)`,
/// `@prefect.flow(...)` or an alias of them (or assigned from `flow(func, ...)`).
///
/// ```
/// # let dir = tempfile_dir();
/// std::fs::write(dir.join("hello.py"), "from prefect import flow\n\n@flow(version='1')\ndef hello(name: str = 'world'):\n    \"\"\"Say hello.\"\"\"\n").unwrap();
/// let loaded = prefab_flows::load_flow_from_entrypoint("hello.py:hello", &dir).unwrap();
/// assert_eq!(loaded.flow.name, "hello");
/// assert_eq!(loaded.flow.description.as_deref(), Some("Say hello."));
/// assert_eq!(loaded.flow.version.as_deref(), Some("1"));
/// assert_eq!(
///     loaded.flow.parameter_schema.to_json()["properties"]["name"],
///     serde_json::json!({"default": "world", "position": 0, "title": "name", "type": "string"})
/// );
/// # fn tempfile_dir() -> std::path::PathBuf {
/// #     let d = std::env::temp_dir().join(format!("prefab-flows-doc-{}", std::process::id()));
/// #     std::fs::create_dir_all(&d).unwrap();
/// #     d
/// # }
/// ```
pub fn load_flow_from_entrypoint(
    entrypoint: &str,
    root: &Path,
) -> Result<LoadedFlow, FlowLoadError> {
    load_flow_from_entrypoint_with(entrypoint, root, &LoadOptions::default())
}

/// [`load_flow_from_entrypoint`] with options: the environment the flow's modules read.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("prefab-flows-env-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// use prefab_flows::{Environment, LoadOptions, load_flow_from_entrypoint_with};
///
/// std::fs::write(
///     dir.join("retention.py"),
///     "import os\nfrom prefect import flow\n\nDAYS = int(os.environ.get('RETENTION_DAYS', '30'))\n\n@flow\ndef purge(days: int = DAYS):\n    pass\n",
/// )
/// .unwrap();
/// let default_of = |env: Environment| {
///     let options = LoadOptions::default().with_environment(env);
///     let loaded = load_flow_from_entrypoint_with("retention.py:purge", &dir, &options).unwrap();
///     loaded.flow.parameter_schema.to_json()["properties"]["days"]["default"].clone()
/// };
/// assert_eq!(default_of(Environment::from_vars([("RETENTION_DAYS", "7")])), 7);
/// assert_eq!(default_of(Environment::from_vars(Vec::<(String, String)>::new())), 30);
/// ```
pub fn load_flow_from_entrypoint_with(
    entrypoint: &str,
    root: &Path,
    options: &LoadOptions,
) -> Result<LoadedFlow, FlowLoadError> {
    let (ep, err_path, err_name) = parse_entrypoint(entrypoint)?;
    let mut loader = Loader::new(root, options.environment.clone());
    let (ns, object, is_script, display_path) = match &ep {
        Entrypoint::File { path, object } => {
            if !path.ends_with(".py") {
                return Err(FlowLoadError::NotAPythonFile { path: path.clone() });
            }
            let full = root.join(path);
            if !full.exists() {
                return Err(FlowLoadError::FileNotFound { path: path.clone() });
            }
            let ns = loader.load_script(Path::new(path)).map_err(|e| match e {
                ReadProblem::Io(source) => FlowLoadError::Io {
                    path: path.clone(),
                    source,
                },
                ReadProblem::Syntax(s) => FlowLoadError::Syntax(Box::new(SyntaxDetails {
                    path: path.clone(),
                    line: s.line,
                    column: s.column,
                    detail: s.detail,
                    python_class: s.python_class,
                    python_message: s.python_message,
                    python_line: s.python_line,
                    python_filename: "<unknown>".into(),
                })),
            })?;
            (ns, object.clone(), true, path.clone())
        }
        Entrypoint::Module { module, object } => {
            let Some(file) = find_module(root, module)? else {
                if let Some(err) = loader.import_parents(module) {
                    return Err(module_raised(module, err, false));
                }
                // A namespace package imports but defines nothing.
                return Err(FlowLoadError::MissingFlow {
                    name: err_name,
                    path: err_path,
                });
            };
            let ns = loader.load_file(&file).map_err(|e| match e {
                ReadProblem::Io(source) => FlowLoadError::Io {
                    path: file.display().to_string(),
                    source,
                },
                ReadProblem::Syntax(s) => FlowLoadError::Syntax(Box::new(SyntaxDetails {
                    path: file.display().to_string(),
                    line: s.line,
                    column: s.column,
                    detail: s.detail,
                    python_class: s.python_class,
                    python_message: s.python_message,
                    python_line: s.python_line,
                    python_filename: file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                })),
            })?;
            (ns, object.clone(), false, module.clone())
        }
    };

    let import_error = ns.borrow().first_error.clone();
    if let Some(err) = &import_error {
        if !is_script {
            // `importlib.import_module` raises the module's exception as it is.
            return Err(module_raised(&display_path, err.clone(), false));
        }
        // Prefect's fallback loader reads the script again.
        let outcome = loader
            .load_script_fallback(Path::new(&display_path), &object)
            .map_err(|e| match e {
                ReadProblem::Io(source) => FlowLoadError::Io {
                    path: display_path.clone(),
                    source,
                },
                // The file parsed a moment ago.
                ReadProblem::Syntax(_) => module_raised(&display_path, err.clone(), true),
            })?;
        let (value, sanitized) = match outcome {
            FallbackOutcome::Found { value, sanitized } => (value, sanitized),
            FallbackOutcome::NotInSource => {
                let first = object.split('.').next().unwrap_or_default();
                return Err(FlowLoadError::ObjectNotInSource {
                    name: first.to_string(),
                    path: display_path,
                });
            }
            FallbackOutcome::GaveUp => return Err(module_raised(&display_path, err.clone(), true)),
            FallbackOutcome::Raised(other) => {
                return Err(module_raised(&display_path, other, false));
            }
        };
        let info = flow_or_error(value, &err_name, &display_path)?;
        return build_flow(
            &mut loader,
            &info,
            FlowContext {
                entrypoint,
                root,
                is_script,
                display_path: &display_path,
                import_error: import_error.as_ref(),
                sanitized,
            },
        );
    }

    // Walk `Class.method`.
    let mut parts = object.split('.');
    let first = parts.next().unwrap_or_default();
    let found = ns.borrow().names.get(first).cloned();
    let mut value = match found {
        Some(v) => v,
        None => {
            return Err(FlowLoadError::MissingFlow {
                name: err_name,
                path: err_path,
            });
        }
    };
    for part in parts {
        value = match &value {
            Value::PlainClass(c) => match c.attrs.iter().rev().find(|(n, _)| n == part) {
                Some((_, v)) => v.clone(),
                None => {
                    return Err(FlowLoadError::MissingFlow {
                        name: err_name,
                        path: err_path,
                    });
                }
            },
            _ => {
                return Err(FlowLoadError::MissingFlow {
                    name: err_name,
                    path: err_path,
                });
            }
        };
    }
    let info = flow_or_error(value, &err_name, &display_path)?;
    build_flow(
        &mut loader,
        &info,
        FlowContext {
            entrypoint,
            root,
            is_script,
            display_path: &display_path,
            import_error: None,
            sanitized: false,
        },
    )
}

/// The flow an entrypoint names, or Prefect's error for something else.
fn flow_or_error(value: Value, name: &str, path: &str) -> Result<Rc<FlowInfo>, FlowLoadError> {
    match value {
        Value::Flow(info) => Ok(info),
        other => {
            let what = match other {
                Value::NotAFlow(w) => w.to_string(),
                Value::Function(_) => "a plain function".to_string(),
                Value::PlainClass(_) | Value::Type(_) => "a class".to_string(),
                Value::Unknown | Value::External => {
                    "something the static reader cannot identify".to_string()
                }
                _ => "a value".to_string(),
            };
            Err(FlowLoadError::NotAFlow {
                name: name.to_string(),
                path: path.to_string(),
                what,
            })
        }
    }
}

/// The error for a module that raises when imported (`script`: Prefect wraps it in a
/// `ScriptError`).
fn module_raised(path: &str, err: Raised, script: bool) -> FlowLoadError {
    FlowLoadError::InvalidFlow {
        path: path.to_string(),
        class: err.class,
        message: err.message,
        repr: err.repr,
        script,
    }
}

/// Where a flow was found, for [`build_flow`].
struct FlowContext<'a> {
    entrypoint: &'a str,
    root: &'a Path,
    is_script: bool,
    display_path: &'a str,
    /// The exception importing the script raised (Prefect's fallback loader found the flow).
    import_error: Option<&'a Raised>,
    /// The fallback loader ran the flow's `def` again without what raised: keyword-only
    /// parameters without a default default to `None`.
    sanitized: bool,
}

/// Finds a module-form entrypoint's file (`None`: a namespace package), with Python's error
/// for a missing module.
fn find_module(root: &Path, dotted: &str) -> Result<Option<PathBuf>, FlowLoadError> {
    let parts: Vec<&str> = dotted.split('.').collect();
    let mut dir = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let name = parts[..=i].join(".");
        let last = i + 1 == parts.len();
        let invalid = part.is_empty() || part.contains('/') || part.contains('\\');
        let pkg = dir.join(part);
        let init = pkg.join("__init__.py");
        let file = dir.join(format!("{part}.py"));
        if !invalid && init.is_file() {
            if last {
                return Ok(Some(init));
            }
            dir = pkg;
        } else if !invalid && file.is_file() {
            if last {
                return Ok(Some(file));
            }
            return Err(FlowLoadError::ModuleNotFound {
                module: parts[..=i + 1].join("."),
                not_a_package: Some(name),
            });
        } else if !invalid && pkg.is_dir() {
            if last {
                return Ok(None);
            }
            dir = pkg;
        } else {
            return Err(FlowLoadError::ModuleNotFound {
                module: name,
                not_a_package: None,
            });
        }
    }
    Err(FlowLoadError::ModuleNotFound {
        module: dotted.to_string(),
        not_a_package: None,
    })
}

fn build_flow(
    loader: &mut Loader,
    info: &Rc<FlowInfo>,
    ctx: FlowContext<'_>,
) -> Result<LoadedFlow, FlowLoadError> {
    let FlowContext {
        entrypoint,
        root,
        is_script,
        display_path,
        import_error,
        sanitized,
    } = ctx;
    let func = &info.func;
    let def = &func.def;
    let mut notes = Vec::new();
    loader.clear_raised();
    let kw = |name: &str| {
        info.kwargs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let string_kw = |name: &str, notes: &mut Vec<String>| -> Option<String> {
        match kw(name) {
            None | Some(Value::None) => None,
            Some(Value::Str(s)) => Some(s),
            Some(v) => match eval::py_str(&v) {
                Some(s) if !v.is_unknown() => Some(s),
                _ => {
                    notes.push(format!(
                        "@flow({name}=...) is not a value the static reader can evaluate; using Prefect's default"
                    ));
                    None
                }
            },
        }
    };

    let (name, name_known) = eval::flow_name(info);
    if !name_known {
        notes.push("@flow(name=...) is not a value the static reader can evaluate; using the function name".into());
    }
    let module = func.module.upgrade();
    if let Some(err) = eval::flow_creation_error(info) {
        // Creating this flow raises (the loader binds no such flow; kept as a safeguard):
        // Prefect re-raises the module's first error.
        let err = import_error.cloned().unwrap_or(err);
        return Err(module_raised(display_path, err, is_script));
    }
    if let Some(err) = import_error {
        notes.push(format!(
            "the module raises {} when imported; Prefect falls back to its safe loader, which gives the flow no version",
            err.repr
        ));
    }

    let docstring = eval::docstring_of(&def.body);
    let description = match string_kw("description", &mut notes) {
        Some(d) if !d.is_empty() => Some(d),
        _ => docstring.as_deref().map(cleandoc),
    };
    let source_file = func.file.clone();
    let (version, version_source) = match string_kw("version", &mut notes) {
        Some(v) if !v.is_empty() => (Some(v), VersionSource::Explicit),
        _ if import_error.is_some() => (None, VersionSource::Unavailable),
        _ => {
            let bytes = std::fs::read(&source_file).map_err(|source| FlowLoadError::Io {
                path: source_file.display().to_string(),
                source,
            })?;
            (Some(md5_hex(&bytes)), VersionSource::FileMd5)
        }
    };

    let docstrings = parameter_docstrings(docstring.as_deref().map(cleandoc).as_deref());
    let mut specs = Vec::new();
    let mut position = 0usize;
    let kinds = [
        (&def.params.posonly, ParamKind::Normal),
        (&def.params.args, ParamKind::Normal),
    ];
    let mut ordered: Vec<(&ast::Param, ParamKind)> = Vec::new();
    for (list, kind) in kinds {
        for p in list {
            ordered.push((p, kind));
        }
    }
    if let Some(v) = &def.params.vararg {
        ordered.push((v, ParamKind::VarArgs));
    }
    for p in &def.params.kwonly {
        ordered.push((p, ParamKind::Normal));
    }
    if let Some(k) = &def.params.kwarg {
        ordered.push((k, ParamKind::VarKwargs));
    }
    // `inspect.signature(fn, eval_str=True)`: one undefined name among the string
    // annotations makes Prefect keep all of them as strings.
    let eval_str_ok = match &module {
        Some(ns) => {
            let future = ns.borrow().future_annotations;
            ordered.iter().all(|(p, _)| match &p.annotation {
                Some(ann) if future || matches!(ann, ast::Expr::Str(_)) => {
                    let v = if future {
                        loader.eval(ns, ann)
                    } else {
                        loader.eval_annotation(ns, ann)
                    };
                    loader.clear_raised();
                    !matches!(v, Value::Unknown)
                }
                _ => true,
            })
        }
        None => true,
    };
    for (p, kind) in ordered {
        let pos = position;
        position += 1;
        if p.name == "self" || p.name == "cls" {
            continue;
        }
        let mut ty = match (&p.annotation, &module) {
            (None, _) => Ty::Any,
            (Some(ann), Some(ns)) => {
                let future = ns.borrow().future_annotations;
                let is_string = future || matches!(ann, ast::Expr::Str(_));
                if is_string && !eval_str_ok {
                    // The annotation stays a string and pydantic resolves it without the
                    // module's names: only builtins resolve.
                    notes.push(format!(
                        "parameter {:?}: string annotations stay unevaluated because one of the signature's annotations names something undefined",
                        p.name
                    ));
                    builtin_only_type(loader, ann)
                } else if future && matches!(ann, ast::Expr::Str(_)) {
                    // Quoted twice: the evaluated annotation is a string again.
                    builtin_only_type(loader, ann)
                } else {
                    let v = loader.eval_annotation(ns, ann);
                    // An annotation that raises: the fallback loader's sanitised `def` has
                    // none.
                    loader.clear_raised();
                    if v.is_unknown() {
                        notes.push(format!(
                            "parameter {:?}: the annotation could not be resolved statically; no type in the schema",
                            p.name
                        ));
                    }
                    let ty = loader.type_of(ns, &v);
                    loader.clear_raised();
                    ty
                }
            }
            (Some(_), None) => Ty::Any,
        };
        if ty.depth(depth::MAX_TYPE_DEPTH) > depth::MAX_TYPE_DEPTH {
            return Err(too_deep(
                func,
                root,
                is_script,
                p,
                format!("the annotation of parameter {:?}", p.name),
                depth::MAX_TYPE_DEPTH,
                false,
            ));
        }
        let mut default = match (&p.default, &module) {
            // The fallback loader's sanitised `def` gives these `None`.
            (None, _) if sanitized && def.params.kwonly.iter().any(|k| k.name == p.name) => {
                notes.push(format!(
                    "parameter {:?}: keyword-only without a default; Prefect's fallback loader gives it None",
                    p.name
                ));
                Some(Value::None)
            }
            (None, _) => None,
            (Some(d), Some(ns)) => {
                let v = loader.eval(ns, d);
                let raised = loader.take_raised();
                if let Some(err) = raised.filter(|_| import_error.is_some()) {
                    // Prefect's fallback loader built the flow: its sanitised `def` has
                    // `None` where the default raises.
                    notes.push(format!(
                        "parameter {:?}: the default raises {} when evaluated; Prefect's fallback loader uses None",
                        p.name, err.repr
                    ));
                    Some(Value::None)
                } else {
                    if v.is_unknown() {
                        notes.push(format!(
                            "parameter {:?}: the default could not be evaluated statically; shown as null",
                            p.name
                        ));
                    }
                    Some(v)
                }
            }
            (Some(_), None) => Some(Value::Unknown),
        };
        let mut description = docstrings.get(&p.name).cloned();
        let mut extra = Vec::new();
        if let Some(Value::Field(fi)) = &default {
            let fi = fi.clone();
            if let Some(d) = &fi.description {
                description = Some(d.clone());
            }
            if let Some(Value::Dict(items)) = &fi.json_schema_extra {
                for (k, v) in items {
                    if let Value::Str(k) = k {
                        extra.push((k.clone(), v.clone()));
                    }
                }
            }
            default = fi.default.clone();
        }
        if let Some(d) = &default {
            let levels = d.depth(depth::MAX_VALUE_DEPTH);
            if levels > depth::MAX_VALUE_DEPTH {
                return Err(too_deep(
                    func,
                    root,
                    is_script,
                    p,
                    format!("the default of parameter {:?}", p.name),
                    depth::MAX_VALUE_DEPTH,
                    false,
                ));
            }
            if levels > depth::MAX_DEFAULT_DEPTH && levels <= depth::MAX_DEFAULT_DEPTH + 2 {
                // Measured: pydantic refuses to serialise these two depths outright.
                return Err(too_deep(
                    func,
                    root,
                    is_script,
                    p,
                    format!("the default of parameter {:?}", p.name),
                    depth::MAX_DEFAULT_DEPTH,
                    true,
                ));
            }
            if levels > depth::MAX_DEFAULT_DEPTH {
                notes.push(format!(
                    "parameter {:?}: the default nests deeper than {} levels, more than pydantic serialises; the schema has no default, as in Prefect",
                    p.name,
                    depth::MAX_DEFAULT_DEPTH
                ));
                default = Some(Value::Opaque);
            }
        }
        match kind {
            ParamKind::VarArgs => {
                ty = Ty::List(Box::new(ty));
                default = Some(Value::List(Vec::new()));
            }
            ParamKind::VarKwargs => {
                ty = Ty::Dict(Box::new(Ty::Str), Box::new(ty));
                default = Some(Value::Dict(Vec::new()));
            }
            ParamKind::Normal => {}
        }
        specs.push(ParamSpec {
            name: p.name.clone(),
            position: pos,
            ty,
            default,
            description,
            extra,
        });
    }
    notes.extend(loader.take_notes());
    let schema_json = schema::parameters_schema(&specs, &mut notes);
    let parameter_schema = ParameterSchema::from_json(&schema_json).unwrap_or_default();
    let source_file = source_file
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or(source_file);
    Ok(LoadedFlow {
        flow: Flow {
            name,
            description,
            version,
            parameter_schema,
            is_async: def.is_async,
            entrypoint: Some(entrypoint.to_string()),
            source_file: Some(source_file),
        },
        version_source,
        notes,
    })
}

/// The error for a parameter whose type or default nests too deeply.
fn too_deep(
    func: &value::FunctionInfo,
    root: &Path,
    is_script: bool,
    param: &ast::Param,
    what: String,
    limit: usize,
    serialization: bool,
) -> FlowLoadError {
    let path = func
        .file
        .strip_prefix(root)
        .unwrap_or(&func.file)
        .display()
        .to_string();
    FlowLoadError::TooDeep {
        path,
        line: param.line,
        what,
        limit,
        script: is_script,
        serialization,
    }
}

/// A string annotation as pydantic resolves it outside the module: builtins only.
fn builtin_only_type(loader: &mut Loader, ann: &ast::Expr) -> Ty {
    let expr = match ann {
        ast::Expr::Str(s) => match python::parse_expression(s) {
            Some(e) => e,
            None => return Ty::Any,
        },
        other => other.clone(),
    };
    let empty = std::rc::Rc::new(std::cell::RefCell::new(eval::Namespace::default()));
    let v = loader.eval(&empty, &expr);
    loader.clear_raised();
    match v {
        Value::Unknown | Value::External | Value::Str(_) => Ty::Any,
        v => match loader.type_of(&empty, &v) {
            Ty::Invalid(_) => Ty::Any,
            t => t,
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum ParamKind {
    Normal,
    VarArgs,
    VarKwargs,
}

/// The lower-case hex MD5 digest of some bytes (Prefect's default flow version is the MD5 of
/// the flow file).
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoints_split_on_the_last_separator() {
        let (ep, path, func) = parse_entrypoint("C:/a/b.py:Cls.meth").unwrap();
        assert_eq!(
            ep,
            Entrypoint::File {
                path: "C:/a/b.py".into(),
                object: "Cls.meth".into()
            }
        );
        assert_eq!((path.as_str(), func.as_str()), ("C:/a/b.py", "Cls.meth"));
        let (ep, path, func) = parse_entrypoint("pkg.mod.func").unwrap();
        assert_eq!(
            ep,
            Entrypoint::Module {
                module: "pkg.mod".into(),
                object: "func".into()
            }
        );
        assert_eq!((path.as_str(), func.as_str()), ("pkg.mod", "func"));
        assert!(matches!(
            parse_entrypoint("nothing"),
            Err(FlowLoadError::MalformedEntrypoint { .. })
        ));
    }

    #[test]
    fn md5_matches_known_digest() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
