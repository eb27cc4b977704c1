//! Where a module is and where imports look: `__file__`, `pathlib.Path` attributes and
//! methods, `os.path` and `sys.path`, evaluated as Python evaluates them (POSIX paths, the
//! working directory being the root the flow is loaded from).
//!
//! A script that puts a directory on `sys.path` before importing the project's modules
//! (`sys.path.append(str(Path(__file__).resolve().parents[1]))`) imports them from there,
//! as Python would.

use std::path::{Path, PathBuf};

use super::{Loader, Value, join_path};
use crate::value::Builtin;

/// `posixpath.normpath`.
pub(super) fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(comp);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let joined = format!("{}{}", "/".repeat(initial), comps.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// `posixpath.dirname`.
fn dirname(p: &str) -> String {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let head = &p[..i];
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

/// `posixpath.basename`.
fn basename(p: &str) -> String {
    p[p.rfind('/').map_or(0, |i| i + 1)..].to_string()
}

/// `posixpath.join`.
fn os_path_join(parts: &[String]) -> String {
    let mut path = String::new();
    for (i, b) in parts.iter().enumerate() {
        if i == 0 || b.starts_with('/') {
            path = b.clone();
        } else if path.is_empty() || path.ends_with('/') {
            path.push_str(b);
        } else {
            path.push('/');
            path.push_str(b);
        }
    }
    path
}

/// A `pathlib` path's anchor (`/` or nothing) and parts (its string is already normalised
/// the way `pathlib` normalises it).
fn anchor_and_parts(p: &str) -> (&'static str, Vec<&str>) {
    let anchor = if p.starts_with('/') { "/" } else { "" };
    let parts = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    (anchor, parts)
}

fn from_parts(anchor: &str, parts: &[&str]) -> String {
    let joined = format!("{anchor}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// `Path.parent`.
fn parent(p: &str) -> String {
    let (anchor, parts) = anchor_and_parts(p);
    match parts.split_last() {
        None => from_parts(anchor, &[]),
        Some((_, rest)) => from_parts(anchor, rest),
    }
}

/// `Path.name`, `Path.suffix`, `Path.stem`.
fn name_parts(p: &str) -> (String, String, String) {
    let (_, parts) = anchor_and_parts(p);
    let name = parts.last().copied().unwrap_or_default().to_string();
    match name.rfind('.') {
        Some(i) if i > 0 && i + 1 < name.len() => {
            let (stem, suffix) = name.split_at(i);
            (name.clone(), stem.to_string(), suffix.to_string())
        }
        _ => (name.clone(), name, String::new()),
    }
}

/// What `Path(p).<attr>` is.
pub(super) fn path_attribute(p: &str, attr: &'static str) -> Value {
    match attr {
        "parent" => Value::Path(parent(p)),
        "parents" => {
            let (anchor, parts) = anchor_and_parts(p);
            let ancestors = (0..parts.len())
                .rev()
                .map(|n| Value::Path(from_parts(anchor, &parts[..n])))
                .collect();
            Value::Tuple(ancestors)
        }
        "name" => Value::Str(name_parts(p).0),
        "stem" => Value::Str(name_parts(p).1),
        "suffix" => Value::Str(name_parts(p).2),
        _ => Value::PathMethod(p.into(), attr),
    }
}

/// The `Path` methods the reader evaluates.
pub(super) const PATH_METHODS: &[&str] = &[
    "parent", "parents", "name", "stem", "suffix", "resolve", "absolute", "joinpath", "as_posix",
    "exists", "is_file", "is_dir",
];

/// A string argument (`os.fspath` of a path).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) | Value::Path(s) => Some(s.clone()),
        _ => None,
    }
}

impl Loader {
    /// The working directory Python runs in: the root, as an absolute path.
    fn cwd(&self) -> String {
        let abs = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        normpath(&abs.to_string_lossy())
    }

    /// `os.path.abspath`.
    fn abspath(&self, p: &str) -> String {
        if p.starts_with('/') {
            normpath(p)
        } else {
            normpath(&os_path_join(&[self.cwd(), p.to_string()]))
        }
    }

    /// `os.path.realpath` (symbolic links resolved where the path exists).
    fn realpath(&self, p: &str) -> String {
        let abs = self.abspath(p);
        match std::fs::canonicalize(&abs) {
            Ok(real) => real.to_str().map_or(abs, str::to_string),
            Err(_) => abs,
        }
    }

    /// A module's `__file__`: its absolute path (POSIX systems only).
    pub(super) fn module_file(&self, full: &Path) -> Option<Value> {
        if !cfg!(unix) {
            return None;
        }
        full.to_str().map(|f| Value::Str(self.abspath(f)))
    }

    /// Calls a `Path` method.
    pub(super) fn call_path_method(&mut self, p: &str, name: &str, args: &[Value]) -> Value {
        if !cfg!(unix) {
            return Value::Unknown;
        }
        match (name, args) {
            ("resolve", []) => Value::Path(self.realpath(p)),
            ("absolute", []) if p.starts_with('/') => Value::Path(p.to_string()),
            ("absolute", []) => Value::Path(join_path(&[self.cwd(), p.to_string()])),
            ("as_posix", []) => Value::Str(p.to_string()),
            ("joinpath", parts) => {
                let mut all = vec![p.to_string()];
                for a in parts {
                    match text(a) {
                        Some(s) => all.push(s),
                        None => return Value::Unknown,
                    }
                }
                Value::Path(join_path(&all))
            }
            ("exists" | "is_file" | "is_dir", []) => {
                let path = PathBuf::from(self.abspath(p));
                Value::Bool(match name {
                    "exists" => path.exists(),
                    "is_file" => path.is_file(),
                    _ => path.is_dir(),
                })
            }
            _ => Value::Unknown,
        }
    }

    /// Calls an `os.path` function or a `sys.path` method.
    pub(super) fn call_path_function(&mut self, b: Builtin, args: &[Value]) -> Value {
        if !cfg!(unix) {
            return Value::Unknown;
        }
        let strings: Option<Vec<String>> = args.iter().map(text).collect();
        match (b, strings.as_deref()) {
            (Builtin::OsPathDirname, Some([p])) => Value::Str(dirname(p)),
            (Builtin::OsPathBasename, Some([p])) => Value::Str(basename(p)),
            (Builtin::OsPathAbspath, Some([p])) => Value::Str(self.abspath(p)),
            (Builtin::OsPathRealpath, Some([p])) => Value::Str(self.realpath(p)),
            (Builtin::OsPathNormpath, Some([p])) => Value::Str(normpath(p)),
            (Builtin::OsPathJoin, Some(parts)) if !parts.is_empty() => {
                Value::Str(os_path_join(parts))
            }
            (Builtin::SysPathAppend, _) => {
                // Python's import system skips entries that are not strings.
                if let [Value::Str(entry)] = args {
                    let entry = self.sys_path_entry(entry);
                    self.sys_path.push(entry);
                }
                Value::None
            }
            (Builtin::SysPathExtend, _) => {
                if let [Value::List(items) | Value::Tuple(items)] = args {
                    for item in items {
                        if let Value::Str(entry) = item {
                            let entry = self.sys_path_entry(entry);
                            self.sys_path.push(entry);
                        }
                    }
                }
                Value::None
            }
            (Builtin::SysPathInsert, _) => {
                if let [Value::Int(i), Value::Str(entry)] = args {
                    let len = self.sys_path.len() as i128;
                    let at = if *i < 0 {
                        (len + i).max(0)
                    } else {
                        (*i).min(len)
                    };
                    let entry = self.sys_path_entry(entry);
                    self.sys_path.insert(at as usize, entry);
                }
                Value::None
            }
            (Builtin::SysPathRemove, _) => {
                // An entry the reader does not list (the standard library's, site-packages)
                // is removed from Python's list without changing where local modules are.
                if let [Value::Str(entry)] = args {
                    let entry = self.sys_path_entry(entry);
                    if let Some(i) = self
                        .sys_path
                        .iter()
                        .position(|p| self.sys_path_entry(&p.to_string_lossy()) == entry)
                    {
                        self.sys_path.remove(i);
                    }
                }
                Value::None
            }
            _ => Value::Unknown,
        }
    }

    /// A `sys.path` entry as the import system uses it (relative to the working directory).
    fn sys_path_entry(&self, entry: &str) -> PathBuf {
        PathBuf::from(self.abspath(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_path_functions_are_posixpaths() {
        // Checked against CPython 3.11's posixpath.
        for (p, want) in [
            ("", "."),
            ("a/./b/../c", "a/c"),
            ("../a/..", ".."),
            ("/../a", "/a"),
            ("//a//b/", "//a/b"),
            ("///a", "/a"),
        ] {
            assert_eq!(normpath(p), want, "{p:?}");
        }
        assert_eq!(dirname("/a/b/c.py"), "/a/b");
        assert_eq!(dirname("c.py"), "");
        assert_eq!(dirname("//"), "//");
        assert_eq!(dirname("a//b"), "a");
        assert_eq!(basename("/a/b/"), "");
        assert_eq!(os_path_join(&["a".into(), "/b".into(), "c".into()]), "/b/c");
    }

    #[test]
    fn path_attributes_are_pathlibs() {
        assert_eq!(parent("flows/x.py"), "flows");
        assert_eq!(parent("x.py"), ".");
        assert_eq!(parent("/"), "/");
        assert_eq!(parent("/a"), "/");
        let Value::Tuple(ps) = path_attribute("/a/b/c", "parents") else {
            panic!()
        };
        let ps: Vec<String> = ps
            .into_iter()
            .map(|p| match p {
                Value::Path(s) => s,
                _ => panic!(),
            })
            .collect();
        assert_eq!(ps, ["/a/b", "/a", "/"]);
        assert_eq!(
            name_parts("dir/archive.tar.gz"),
            ("archive.tar.gz".into(), "archive.tar".into(), ".gz".into())
        );
        assert_eq!(
            name_parts(".bashrc"),
            (".bashrc".into(), ".bashrc".into(), String::new())
        );
    }
}
