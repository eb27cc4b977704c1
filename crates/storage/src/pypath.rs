//! Python `pathlib` and `repr` behaviour that leaks into Prefect's wire contract: directory
//! names are built with `Path(a) / b` (which drops empty and `.` components) and local paths with
//! `Path(p).resolve()`.

use std::path::{Component, Path, PathBuf};

/// `PurePosixPath(a) / b` rendered as a string: empty and `.` components dropped, `..` kept,
/// an absolute `b` replacing `a`; an empty result is `.`.
pub fn join(parts: &[&str]) -> String {
    let mut absolute = false;
    let mut components: Vec<&str> = Vec::new();
    for part in parts {
        if part.starts_with('/') {
            absolute = true;
            components.clear();
        }
        components.extend(part.split('/').filter(|c| !c.is_empty() && *c != "."));
    }
    let body = components.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

/// `Path(path).resolve()` (non-strict) against `cwd`: absolute, `.`/`..` resolved, and symlinks
/// of the existing part resolved, as `os.path.realpath` does.
pub fn resolve(path: &str, cwd: &Path) -> PathBuf {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if let Ok(target) = std::fs::canonicalize(&out) {
                    out = target;
                }
            }
        }
    }
    out
}

/// Python's `repr()` of a `str` (quote choice and escapes).
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
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
            // C0 and C1 controls and DEL, as Python escapes them.
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of an optional `str` (`None` when absent).
pub fn repr_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_owned(), repr_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_matches_pathlib() {
        assert_eq!(join(&["bucket", "path/to/"]), "bucket/path/to");
        assert_eq!(join(&["", "srv/flows"]), "srv/flows");
        assert_eq!(join(&["", ""]), ".");
        assert_eq!(join(&["abfss://c@x/p"]), "abfss:/c@x/p");
        assert_eq!(join(&["/base", "./a"]), "/base/a");
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(repr_str("flows"), "'flows'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_opt(None), "None");
    }
}
