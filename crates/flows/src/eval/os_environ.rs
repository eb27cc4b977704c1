//! `os.environ`, `os.getenv` and the conversions applied to what they return, evaluated as
//! Python evaluates them when Prefect imports the module (in the deploying process's
//! environment, which prefab shares).
//!
//! The module's own changes (`os.environ["X"] = …`, `setdefault`, `pop`, `update`, `del`)
//! are followed. Code that may change `os.environ` without the reader seeing how —
//! `load_dotenv()`, a call into a third-party package or a module function the reader cannot
//! evaluate, made for its side effects — makes what is read afterwards unknown, with a note.

use super::{Loader, ModuleRef, Value};
use crate::ast::Expr;
use crate::environment::Lookup;
use crate::exception::Raised;
use crate::value::Builtin;

/// Third-party and standard modules whose functions, called for their side effects at
/// module level, leave `os.environ` alone (logging set-up and the like).
const LEAVE_ENVIRON_ALONE: &[&str] = &[
    "logging",
    "warnings",
    "sys",
    "json",
    "re",
    "time",
    "math",
    "loguru",
    "structlog",
    "urllib3",
    "nest_asyncio",
];

/// Functions that load a `.env` file into `os.environ`, by name, whatever package they come
/// from (`python-dotenv`, `environs`).
const ENVIRON_LOADERS: &[&str] = &["load_dotenv", "read_env", "load_env", "read_dotenv"];

/// What `os.environ.<attr>` is.
pub(super) fn environ_method(attr: &str) -> Value {
    let b = |b: Builtin| Value::Builtin(b);
    match attr {
        "get" => b(Builtin::EnvironGet),
        "setdefault" => b(Builtin::EnvironSetDefault),
        "pop" => b(Builtin::EnvironPop),
        "update" => b(Builtin::EnvironUpdate),
        "clear" | "popitem" | "__setitem__" | "__delitem__" => b(Builtin::EnvironChange),
        _ => Value::Unknown,
    }
}

/// The result of parsing a number the way `int()` / `float()` parse a string.
pub(super) enum Parsed<T> {
    Value(T),
    /// Python raises `ValueError`.
    Invalid,
    /// Python's answer is not known to the reader (non-ASCII digits, integers past 128 bits).
    NotKnown,
}

/// Python's whitespace around a number (`str.strip()`); `None` when it has characters the
/// reader does not place (non-ASCII).
fn ascii_trimmed(s: &str) -> Option<&str> {
    if !s.is_ascii() {
        return None;
    }
    // ASCII whitespace for Python: space, \t \n \v \f \r and \x1c..\x1f.
    Some(s.trim_matches(|c: char| {
        c == ' ' || ('\t'..='\r').contains(&c) || ('\x1c'..='\x1f').contains(&c)
    }))
}

/// Whether underscores sit only between digits (Python's rule for `int("1_000")`).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, c)| {
        *c != b'_'
            || (i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit())
    })
}

/// `int(s)` in base 10.
pub(super) fn parse_py_int(s: &str) -> Parsed<i128> {
    let Some(t) = ascii_trimmed(s) else {
        return Parsed::NotKnown;
    };
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty()
        || !digits.bytes().all(|c| c.is_ascii_digit() || c == b'_')
        || !underscores_ok(digits)
    {
        return Parsed::Invalid;
    }
    match t.replace('_', "").parse::<i128>() {
        Ok(i) => Parsed::Value(i),
        Err(_) => Parsed::NotKnown,
    }
}

/// `float(s)`.
pub(super) fn parse_py_float(s: &str) -> Parsed<f64> {
    let Some(t) = ascii_trimmed(s) else {
        return Parsed::NotKnown;
    };
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t).to_ascii_lowercase();
    let special = matches!(unsigned.as_str(), "inf" | "infinity" | "nan");
    let numeric = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-' | b'_'))
        && underscores_ok(&unsigned);
    if !special && !numeric {
        return Parsed::Invalid;
    }
    match t.replace('_', "").to_ascii_lowercase().parse::<f64>() {
        Ok(f) => Parsed::Value(f),
        Err(_) => Parsed::Invalid,
    }
}

/// The classes a `with` item suppresses when it is `contextlib.suppress(...)`: `None` when
/// it is not one, `Some(None)` when its arguments are not plain class names.
pub(super) fn suppressed_classes<'e>(
    ns: &ModuleRef,
    context: &'e Expr,
) -> Option<Option<Vec<&'e str>>> {
    let Expr::Call { func, args, .. } = context else {
        return None;
    };
    if callee_name(func) != Some("suppress") {
        return None;
    }
    let root = root_name(func)?;
    let from_contextlib = ns
        .borrow()
        .origins
        .get(root)
        .is_some_and(|m| m == "contextlib");
    if !from_contextlib {
        return None;
    }
    let names: Option<Vec<&str>> = args
        .iter()
        .map(|a| match a {
            Expr::Name(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    Some(names)
}

/// A positional-or-keyword argument.
fn arg<'a>(
    args: &'a [Value],
    kwargs: &'a [(String, Value)],
    i: usize,
    name: &str,
) -> Option<&'a Value> {
    args.get(i)
        .or_else(|| kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v))
}

/// The last name of a callee (`load_dotenv` for `dotenv.load_dotenv`).
fn callee_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Name(n) | Expr::Attribute(_, n) => Some(n),
        _ => None,
    }
}

/// The name an expression starts from (`logging` for `logging.getLogger(__name__).info`).
pub(super) fn root_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Name(n) => Some(n),
        Expr::Attribute(base, _) | Expr::Subscript(base, _) => root_name(base),
        Expr::Call { func, .. } => root_name(func),
        _ => None,
    }
}

/// A callee as the source writes it, for notes (`dotenv.load_dotenv`).
fn callee_text(e: &Expr) -> String {
    match e {
        Expr::Name(n) => n.clone(),
        Expr::Attribute(base, attr) => format!("{}.{attr}", callee_text(base)),
        Expr::Call { func, .. } => format!("{}(…)", callee_text(func)),
        _ => "a call".into(),
    }
}

impl Loader {
    /// `os.environ[key]`.
    pub(super) fn environ_item(&mut self, key: &Value) -> Value {
        let Value::Str(k) = key else {
            return Value::Unknown;
        };
        match self.env.get(k) {
            Lookup::Set(v) => Value::Str(v),
            Lookup::Unset => self.raise(Raised::key_error(k)),
            Lookup::Unknown => self.environ_unknown(k),
        }
    }

    /// `key in os.environ`.
    pub(super) fn environ_contains(&mut self, key: &Value) -> Option<bool> {
        let Value::Str(k) = key else {
            return None;
        };
        match self.env.get(k) {
            Lookup::Set(_) => Some(true),
            Lookup::Unset => Some(false),
            Lookup::Unknown => {
                self.environ_unknown(k);
                None
            }
        }
    }

    /// `os.environ[key] = value`.
    pub(super) fn environ_assign(&mut self, key: &Value, value: &Value) {
        match key {
            Value::Str(k) => {
                let v = match value {
                    Value::Str(v) => Some(v.clone()),
                    _ => None,
                };
                self.environ_set(k, v);
            }
            k if k.is_unknown() || matches!(k, Value::Opaque) => {
                self.forget_environ("os.environ[…] = … with a name the reader cannot evaluate")
            }
            // Python raises `TypeError` (the name is not a string): not modelled.
            _ => {}
        }
    }

    /// `del os.environ[key]`.
    pub(super) fn environ_delete(&mut self, key: &Value) {
        match key {
            Value::Str(k) => match self.env.get(k) {
                Lookup::Unset => {
                    self.raise(Raised::key_error(k));
                }
                _ => self.environ_remove(k),
            },
            _ => self.forget_environ("del os.environ[…] with a name the reader cannot evaluate"),
        }
    }

    /// Calls of `os.getenv`, `os.environ` methods and `load_dotenv`.
    pub(super) fn call_environ(
        &mut self,
        b: Builtin,
        args: &[Value],
        kwargs: &[(String, Value)],
    ) -> Value {
        match b {
            Builtin::GetEnv | Builtin::EnvironGet => {
                let Some(Value::Str(k)) = arg(args, kwargs, 0, "key") else {
                    return Value::Unknown;
                };
                let default = arg(args, kwargs, 1, "default")
                    .cloned()
                    .unwrap_or(Value::None);
                match self.env.get(k) {
                    Lookup::Set(v) => Value::Str(v),
                    Lookup::Unset => default,
                    Lookup::Unknown => self.environ_unknown(k),
                }
            }
            Builtin::EnvironSetDefault => {
                let Some(Value::Str(k)) = arg(args, kwargs, 0, "key") else {
                    self.forget_environ(
                        "os.environ.setdefault(…) with a name the reader cannot evaluate",
                    );
                    return Value::Unknown;
                };
                let k = k.clone();
                match self.env.get(&k) {
                    Lookup::Set(v) => Value::Str(v),
                    Lookup::Unset => match arg(args, kwargs, 1, "default") {
                        Some(Value::Str(d)) => {
                            let d = d.clone();
                            self.environ_set(&k, Some(d.clone()));
                            Value::Str(d)
                        }
                        // A value that is not a string: Python raises `TypeError`.
                        _ => {
                            self.environ_set(&k, None);
                            Value::Unknown
                        }
                    },
                    Lookup::Unknown => {
                        self.environ_set(&k, None);
                        self.environ_unknown(&k)
                    }
                }
            }
            Builtin::EnvironPop => {
                let Some(Value::Str(k)) = arg(args, kwargs, 0, "key") else {
                    self.forget_environ("os.environ.pop(…) with a name the reader cannot evaluate");
                    return Value::Unknown;
                };
                let k = k.clone();
                let default = arg(args, kwargs, 1, "default").cloned();
                let found = self.env.get(&k);
                self.environ_remove(&k);
                match (found, default) {
                    (Lookup::Set(v), _) => Value::Str(v),
                    (Lookup::Unset, Some(d)) => d,
                    (Lookup::Unset, None) => self.raise(Raised::key_error(&k)),
                    (Lookup::Unknown, _) => self.environ_unknown(&k),
                }
            }
            Builtin::EnvironUpdate => {
                let mut items: Vec<(Value, Value)> = match args {
                    [] => Vec::new(),
                    [Value::Dict(items)] => items.clone(),
                    _ => {
                        self.forget_environ(
                            "os.environ.update(…) with values the reader cannot evaluate",
                        );
                        return Value::Unknown;
                    }
                };
                items.extend(
                    kwargs
                        .iter()
                        .map(|(k, v)| (Value::Str(k.clone()), v.clone())),
                );
                for (k, v) in items {
                    self.environ_assign(&k, &v);
                }
                Value::None
            }
            Builtin::EnvironChange => {
                self.forget_environ("an os.environ method that changes it");
                Value::Unknown
            }
            Builtin::LoadDotenv => {
                self.forget_environ("load_dotenv(), which reads a .env file the reader does not");
                Value::Unknown
            }
            _ => Value::Unknown,
        }
    }

    /// Sets a variable; where Python may not run the statement, its value is not known.
    fn environ_set(&mut self, name: &str, value: Option<String>) {
        let value = if self.uncertain > 0 { None } else { value };
        self.env.set(name, value);
    }

    /// Removes a variable; where Python may not run the statement, its value is not known.
    fn environ_remove(&mut self, name: &str) {
        if self.uncertain > 0 {
            self.env.set(name, None);
        } else {
            self.env.remove(name);
        }
    }

    /// A variable whose value is not known: reported once.
    fn environ_unknown(&mut self, name: &str) -> Value {
        let note = match self.env.unknown_since() {
            Some(why) => format!(
                "os.environ is read after {why}, which may change it: values read from it afterwards are not evaluated"
            ),
            None => format!(
                "environment variable {name:?} has a value the reader cannot evaluate (not UTF-8, or set by code it does not evaluate)"
            ),
        };
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
        Value::Unknown
    }

    /// From here on, `os.environ` is not known.
    fn forget_environ(&mut self, why: &str) {
        // Code that may not run changes nothing for certain, but may change it.
        self.env.forget(why.to_string());
    }

    /// A call of a function that loads a `.env` file (by its name), anywhere.
    pub(super) fn note_environ_loader(&mut self, func: &Expr, f: &Value) {
        if matches!(f, Value::External | Value::Unknown)
            && let Some(name) = callee_name(func)
            && ENVIRON_LOADERS.contains(&name)
        {
            let why = format!("{}(), which loads a .env file", callee_text(func));
            self.forget_environ(&why);
        }
    }

    /// An expression statement: evaluated (it may raise, or change `os.environ`); a call
    /// made for its side effects into code the reader does not evaluate makes `os.environ`
    /// unknown from here on.
    pub(super) fn exec_expression_statement(&mut self, ns: &ModuleRef, e: &Expr) {
        let Expr::Call {
            func,
            args,
            keywords,
        } = e
        else {
            if !matches!(
                e,
                Expr::Str(_) | Expr::Int(_) | Expr::Float(_) | Expr::Ellipsis | Expr::NoneLit
            ) {
                self.eval(ns, e);
            }
            return;
        };
        let f = self.eval(ns, func);
        let result = self.call(ns, &f, args, keywords);
        self.note_environ_loader(func, &f);
        if self.raised.is_some() {
            return;
        }
        let unseen = match &f {
            Value::External | Value::Unknown => !self.leaves_environ_alone(ns, func),
            Value::Function(_) | Value::PlainClass(_) => matches!(result, Value::Opaque),
            _ => false,
        };
        if unseen {
            let why = format!(
                "{}(), which runs code the reader does not evaluate",
                callee_text(func)
            );
            self.forget_environ(&why);
        }
    }

    /// `logger = logging.getLogger(…)`: the names bound come from where the value does.
    pub(super) fn inherit_origin(&self, ns: &ModuleRef, targets: &[Expr], value: &Expr) {
        let Some(root) = root_name(value) else {
            return;
        };
        let origin = {
            let n = ns.borrow();
            match n.names.get(root) {
                Some(Value::Module(m)) if super::is_known_module(m) => Some(m.clone()),
                _ => n.origins.get(root).cloned(),
            }
        };
        if let Some(origin) = origin {
            for t in targets {
                if let Expr::Name(name) = t {
                    ns.borrow_mut().origins.insert(name.clone(), origin.clone());
                }
            }
        }
    }

    /// Whether a callee comes from a module known to leave `os.environ` alone.
    fn leaves_environ_alone(&self, ns: &ModuleRef, func: &Expr) -> bool {
        let Some(root) = root_name(func) else {
            return false;
        };
        let n = ns.borrow();
        if let Some(Value::Module(m)) = n.names.get(root)
            && super::is_known_module(m)
        {
            return true;
        }
        n.origins.get(root).is_some_and(|m| {
            let top = m.split('.').next().unwrap_or(m);
            LEAVE_ENVIRON_ALONE.contains(&top) || super::is_known_module(top)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Option<Option<i128>> {
        match parse_py_int(s) {
            Parsed::Value(v) => Some(Some(v)),
            Parsed::Invalid => Some(None),
            Parsed::NotKnown => None,
        }
    }

    fn float(s: &str) -> Option<Option<f64>> {
        match parse_py_float(s) {
            Parsed::Value(v) => Some(Some(v)),
            Parsed::Invalid => Some(None),
            Parsed::NotKnown => None,
        }
    }

    #[test]
    fn int_parses_as_python() {
        // Checked against CPython 3.11.
        assert_eq!(int(" 5 "), Some(Some(5)));
        assert_eq!(int("1_000"), Some(Some(1000)));
        assert_eq!(int("+5"), Some(Some(5)));
        assert_eq!(int("-007"), Some(Some(-7)));
        for bad in ["abc", "", "1__0", "5.0", "0x10", "_1", "1_", "+", " - 1"] {
            assert_eq!(int(bad), Some(None), "{bad:?}");
        }
        assert_eq!(int("٣"), None);
        assert_eq!(int("1".repeat(60).as_str()), None);
    }

    #[test]
    fn float_parses_as_python() {
        assert_eq!(float("1_000.5"), Some(Some(1000.5)));
        assert_eq!(float(" inf "), Some(Some(f64::INFINITY)));
        assert_eq!(float("-Infinity"), Some(Some(f64::NEG_INFINITY)));
        assert_eq!(float(".5"), Some(Some(0.5)));
        assert_eq!(float("+.5"), Some(Some(0.5)));
        assert_eq!(float("1."), Some(Some(1.0)));
        assert_eq!(float("1e5"), Some(Some(100000.0)));
        for bad in ["abc", "1__0.5", "_1.0", "e5", "", "1e", "0x1"] {
            assert_eq!(float(bad), Some(None), "{bad:?}");
        }
        assert!(matches!(float("nan"), Some(Some(f)) if f.is_nan()));
    }
}
