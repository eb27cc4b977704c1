//! Exceptions the reader knows Python raises while importing a module: a missing
//! environment variable (`KeyError`), `int("abc")` (`ValueError`), a failing relative import,
//! an invalid flow, a name the fallback loader left unbound (`NameError`).

use super::error::py_repr;

/// An exception Python certainly raises at this point of the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raised {
    /// Python's class name (`KeyError`).
    pub class: &'static str,
    /// `str(exception)`.
    pub message: String,
    /// `repr(exception)` (how `ScriptError` shows it).
    pub repr: String,
}

impl Raised {
    /// An exception whose one argument is its message (`ValueError("…")`).
    pub(crate) fn new(class: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        let repr = format!("{class}({})", py_repr(&message));
        Raised {
            class,
            message,
            repr,
        }
    }

    /// `KeyError(key)`: its `str()` is the key's `repr()`.
    pub(crate) fn key_error(key: &str) -> Self {
        Raised {
            class: "KeyError",
            message: py_repr(key),
            repr: format!("KeyError({})", py_repr(key)),
        }
    }

    /// `NameError: name 'x' is not defined`.
    pub(crate) fn name_error(name: &str) -> Self {
        Raised::new("NameError", format!("name '{name}' is not defined"))
    }

    /// Whether `except ImportError` catches it (what Prefect's fallback loader skips).
    pub(crate) fn is_import_error(&self) -> bool {
        matches!(self.class, "ImportError" | "ModuleNotFoundError")
    }

    /// Whether `except <builtin class name>` catches it; `None` when `handler` is not a
    /// builtin exception class the reader knows the hierarchy of.
    pub(crate) fn caught_by(&self, handler: &str) -> Option<bool> {
        if !is_builtin_exception(handler) {
            return None;
        }
        let ancestors: &[&str] = match self.class {
            "KeyError" => &["KeyError", "LookupError"],
            "ValueError" => &["ValueError"],
            "ImportError" => &["ImportError"],
            "ModuleNotFoundError" => &["ModuleNotFoundError", "ImportError"],
            "NameError" => &["NameError"],
            // Prefect's own: `PrefectException` (not a builtin) and a builtin base.
            "InvalidNameError" => &["ValueError"],
            "ReservedArgumentError" => &["TypeError"],
            _ => &[],
        };
        Some(matches!(handler, "Exception" | "BaseException") || ancestors.contains(&handler))
    }
}

/// Builtin exception classes (`except` clauses name them).
fn is_builtin_exception(name: &str) -> bool {
    PYTHON_BUILTINS.contains(&name)
        && (name.ends_with("Error") || name.ends_with("Exception") || name.ends_with("Warning"))
}

/// Whether `name` is one of Python 3.11's builtins (`dir(builtins)`): a global lookup of any
/// other name that is not bound raises `NameError`.
pub(crate) fn is_python_builtin(name: &str) -> bool {
    PYTHON_BUILTINS.contains(&name)
}

const PYTHON_BUILTINS: &[&str] = &[
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "BaseExceptionGroup",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "BytesWarning",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeprecationWarning",
    "EOFError",
    "Ellipsis",
    "EncodingWarning",
    "EnvironmentError",
    "Exception",
    "ExceptionGroup",
    "False",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "FutureWarning",
    "GeneratorExit",
    "IOError",
    "ImportError",
    "ImportWarning",
    "IndentationError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "None",
    "NotADirectoryError",
    "NotImplemented",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PendingDeprecationWarning",
    "PermissionError",
    "ProcessLookupError",
    "RecursionError",
    "ReferenceError",
    "ResourceWarning",
    "RuntimeError",
    "RuntimeWarning",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SyntaxWarning",
    "SystemError",
    "SystemExit",
    "TabError",
    "TimeoutError",
    "True",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "UnicodeWarning",
    "UserWarning",
    "ValueError",
    "Warning",
    "ZeroDivisionError",
    "__build_class__",
    "__debug__",
    "__doc__",
    "__import__",
    "__loader__",
    "__name__",
    "__package__",
    "__spec__",
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_are_pythons() {
        let k = Raised::key_error("RETENTION_DAYS");
        assert_eq!(k.message, "'RETENTION_DAYS'");
        assert_eq!(k.repr, "KeyError('RETENTION_DAYS')");
        let v = Raised::new(
            "ValueError",
            "invalid literal for int() with base 10: 'abc'",
        );
        assert_eq!(
            v.repr,
            "ValueError(\"invalid literal for int() with base 10: 'abc'\")"
        );
    }

    #[test]
    fn handlers_catch_by_class_hierarchy() {
        let k = Raised::key_error("X");
        assert_eq!(k.caught_by("LookupError"), Some(true));
        assert_eq!(k.caught_by("Exception"), Some(true));
        assert_eq!(k.caught_by("ValueError"), Some(false));
        assert_eq!(k.caught_by("HTTPError"), None);
        let m = Raised::new("ModuleNotFoundError", "No module named 'x'");
        assert_eq!(m.caught_by("ImportError"), Some(true));
        let f = Raised::new("InvalidNameError", "…");
        assert_eq!(f.caught_by("ValueError"), Some(true));
        assert_eq!(f.caught_by("KeyError"), Some(false));
        assert_eq!(f.caught_by("Exception"), Some(true));
    }
}
