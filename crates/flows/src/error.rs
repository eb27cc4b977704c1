//! Why a flow could not be loaded.

/// A flow entrypoint that could not be loaded, named the way a person can act on it.
///
/// [`FlowLoadError::python_class`] and [`FlowLoadError::python_message`] give the exception
/// Prefect 3.9.1 raises for the same entrypoint (`MissingFlowError`, `FileNotFoundError`, …).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowLoadError {
    /// The entrypoint has neither `:` (file form) nor `.` (module form).
    #[error(
        "entrypoint {entrypoint:?} names no function: use `path/to/file.py:function` or `package.module.function`"
    )]
    MalformedEntrypoint {
        /// The entrypoint as given.
        entrypoint: String,
    },
    /// A file-form entrypoint whose path does not end in `.py`.
    #[error("the provided path does not point to a python file: {path:?}")]
    NotAPythonFile {
        /// The path part of the entrypoint.
        path: String,
    },
    /// The flow file does not exist.
    #[error("no such file: {path:?}")]
    FileNotFound {
        /// The path part of the entrypoint.
        path: String,
    },
    /// The flow file exists but cannot be read.
    #[error("cannot read {path:?}: {source}")]
    Io {
        /// The path part of the entrypoint.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A module-form entrypoint whose module cannot be found under the import root.
    #[error("no module named {module:?}{}", not_a_package.as_ref().map(|p| format!(" ({p:?} is not a package)")).unwrap_or_default())]
    ModuleNotFound {
        /// The first module of the dotted path that could not be found.
        module: String,
        /// The parent that is a plain module rather than a package, if that is the reason.
        not_a_package: Option<String>,
    },
    /// The flow's file is not valid Python.
    #[error(
        "invalid Python syntax in {:?} at line {}, column {}: {}",
        .0.path,
        .0.line,
        .0.column,
        .0.detail
    )]
    Syntax(Box<SyntaxDetails>),
    /// Nothing with the entrypoint's name is defined in the module.
    #[error("flow function {name:?} not found in {path:?}")]
    MissingFlow {
        /// The object path after the separator (`func` or `Class.method`).
        name: String,
        /// The file or module path before the separator.
        path: String,
    },
    /// The module fails when imported and Prefect's fallback loader finds no definition
    /// with this name in the source.
    #[error("{name:?} is not defined in {path:?} (and the module fails when imported)")]
    ObjectNotInSource {
        /// The first part of the object path.
        name: String,
        /// The file path.
        path: String,
    },
    /// The name exists but is not a flow (not decorated with `@flow`).
    #[error("{name:?} in {path:?} is not a flow ({what}): decorate it with `@flow`")]
    NotAFlow {
        /// The object path after the separator.
        name: String,
        /// The file or module path before the separator.
        path: String,
        /// What it is instead.
        what: String,
    },
    /// The module raises when Prefect imports it — creating a flow fails (an invalid flow
    /// name, a reserved parameter name) or module-level code raises (`os.environ["X"]` with
    /// `X` unset: `KeyError`; `int()` of a value that is not a number: `ValueError`) — and
    /// Prefect's fallback loader cannot load the flow either.
    #[error("{path:?} raises {class} when Python imports it: {message}")]
    InvalidFlow {
        /// The file or module path.
        path: String,
        /// Python's exception class for the underlying problem.
        class: &'static str,
        /// Python's message for the underlying problem (`str(exception)`).
        message: String,
        /// Python's `repr(exception)`, as a `ScriptError` shows it.
        repr: String,
        /// Whether Prefect loaded the entrypoint as a script (it then wraps the problem in a
        /// `ScriptError`).
        script: bool,
    },
    /// A parameter's type or default nests deeper than Prefect can load: Python's recursion
    /// limit stops pydantic (a type) or the default's serialisation.
    #[error(
        "{path:?}, line {line}: {what} nests deeper than {limit} levels; Prefect fails on Python's recursion limit there too: flatten it or use a less nested type"
    )]
    TooDeep {
        /// The file that defines the flow.
        path: String,
        /// The parameter's line.
        line: usize,
        /// What is too deep (`the annotation of parameter "x"`).
        what: String,
        /// The deepest nesting the reader accepts for it.
        limit: usize,
        /// Whether Prefect loaded the entrypoint as a script (it then wraps the
        /// `RecursionError` in a `ScriptError`).
        script: bool,
        /// Whether Prefect fails serialising the default (`ValueError: Maximum
        /// serialization depth exceeded`) rather than on the recursion limit.
        serialization: bool,
    },
}

/// Where a syntax error is and how Python reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxDetails {
    /// The file, as the entrypoint names it (module entrypoints: the resolved file).
    pub path: String,
    /// 1-based line where the parser stopped.
    pub line: usize,
    /// 1-based column where the parser stopped.
    pub column: usize,
    /// The parser's description.
    pub detail: String,
    /// CPython's exception class (`SyntaxError`, `IndentationError`).
    pub python_class: &'static str,
    /// CPython's short message (`expected ':'`).
    pub python_message: String,
    /// The line CPython reports (an unclosed bracket: where it opens).
    pub python_line: usize,
    /// The file name Python shows (`<unknown>` for file entrypoints, the module's base
    /// name for module entrypoints).
    pub python_filename: String,
}

impl FlowLoadError {
    /// The Python exception class Prefect 3.9.1 raises for the same entrypoint.
    pub fn python_class(&self) -> &'static str {
        match self {
            FlowLoadError::MalformedEntrypoint { .. }
            | FlowLoadError::NotAPythonFile { .. }
            | FlowLoadError::ObjectNotInSource { .. } => "ValueError",
            FlowLoadError::FileNotFound { .. } => "FileNotFoundError",
            FlowLoadError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => "PermissionError",
                std::io::ErrorKind::IsADirectory => "IsADirectoryError",
                _ => "OSError",
            },
            FlowLoadError::ModuleNotFound { .. } => "ModuleNotFoundError",
            FlowLoadError::Syntax(d) => d.python_class,
            FlowLoadError::MissingFlow { .. } | FlowLoadError::NotAFlow { .. } => {
                "MissingFlowError"
            }
            FlowLoadError::InvalidFlow { script: true, .. } => "ScriptError",
            FlowLoadError::InvalidFlow { class, .. } => class,
            FlowLoadError::TooDeep {
                serialization: true,
                ..
            } => "ValueError",
            FlowLoadError::TooDeep { script: true, .. } => "ScriptError",
            FlowLoadError::TooDeep { .. } => "RecursionError",
        }
    }

    /// Prefect 3.9.1's `str(exception)` for the same entrypoint.
    pub fn python_message(&self) -> String {
        match self {
            FlowLoadError::MalformedEntrypoint { .. } => {
                "not enough values to unpack (expected 2, got 1)".into()
            }
            FlowLoadError::NotAPythonFile { path } => {
                format!(
                    "The provided path does not point to a python file: {}",
                    py_repr(path)
                )
            }
            FlowLoadError::FileNotFound { path } => {
                format!("[Errno 2] No such file or directory: {}", py_repr(path))
            }
            FlowLoadError::Io { path, source } => match source.raw_os_error() {
                Some(code) => format!("[Errno {code}] {}: {}", os_strerror(source), py_repr(path)),
                None => format!("{source}: {}", py_repr(path)),
            },
            FlowLoadError::ModuleNotFound {
                module,
                not_a_package,
            } => match not_a_package {
                Some(parent) => format!(
                    "No module named {}; {} is not a package",
                    py_repr(module),
                    py_repr(parent)
                ),
                None => format!("No module named {}", py_repr(module)),
            },
            // Python's `ast.parse` raises a bare `RecursionError` for a tree too deep.
            FlowLoadError::Syntax(d) if d.python_class == "RecursionError" => {
                d.python_message.clone()
            }
            FlowLoadError::Syntax(d) => format!(
                "{} ({}, line {})",
                d.python_message, d.python_filename, d.python_line
            ),
            FlowLoadError::MissingFlow { name, path } => {
                format!(
                    "Flow function with name {} not found in {}. ",
                    py_repr(name),
                    py_repr(path)
                )
            }
            FlowLoadError::ObjectNotInSource { name, path } => {
                format!(
                    "Could not find object {} in {}",
                    py_repr(name),
                    py_repr(path)
                )
            }
            FlowLoadError::NotAFlow { name, .. } => format!(
                "Function with name {} is not a flow. Make sure that it is decorated with '@flow'.",
                py_repr(name)
            ),
            FlowLoadError::InvalidFlow {
                path,
                message,
                repr,
                script,
                ..
            } => {
                if *script {
                    format!(
                        "Script at {} encountered an exception: {repr}",
                        py_repr(path)
                    )
                } else {
                    message.clone()
                }
            }
            FlowLoadError::TooDeep {
                serialization: true,
                ..
            } => "Maximum serialization depth exceeded".into(),
            FlowLoadError::TooDeep { path, script, .. } => {
                if *script {
                    format!(
                        "Script at {} encountered an exception: RecursionError('maximum recursion depth exceeded')",
                        py_repr(path)
                    )
                } else {
                    "maximum recursion depth exceeded".into()
                }
            }
        }
    }
}

fn os_strerror(e: &std::io::Error) -> String {
    // `std::io::Error`'s Display is "<strerror> (os error N)".
    let s = e.to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Python's `repr()` of a string.
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}
