//! The environment a flow module reads when Prefect imports it (`os.environ`, `os.getenv`).
//!
//! Python evaluates `RETENTION = int(os.environ.get("RETENTION_DAYS", "30"))` when the module
//! is imported, in the deploying process's environment; prefab runs in that environment too,
//! so it reads the same variables. [`Environment`] is where they come from (the process by
//! default; a fixed set in tests), and [`EnvState`] what the module's own code made of them
//! (`os.environ["X"] = …`, `setdefault`, `load_dotenv()`).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;

/// Where `os.environ` comes from when a flow module is read.
///
/// [`Environment::process`] (the default) reads the current process's variables when the
/// module reads them, as Python would; [`Environment::from_vars`] gives exactly the variables
/// listed (tests, or a deployment prepared for another machine).
///
/// Its `Debug` output names the variables, never their values (they may hold secrets).
///
/// ```
/// use prefab_flows::Environment;
///
/// let env = Environment::from_vars([("RETENTION_DAYS", "7")]);
/// assert_eq!(format!("{env:?}"), r#"Environment { vars: ["RETENTION_DAYS"] }"#);
/// ```
#[derive(Clone, Default)]
pub struct Environment {
    /// `None`: the process environment.
    vars: Option<BTreeMap<OsString, OsString>>,
}

impl Environment {
    /// The current process's environment, read when a module reads it.
    pub fn process() -> Self {
        Environment { vars: None }
    }

    /// Exactly these variables (a name listed twice keeps its last value).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Environment {
            vars: Some(
                vars.into_iter()
                    .map(|(k, v)| (normalize_key(k.into()), v.into()))
                    .collect(),
            ),
        }
    }

    /// The value of `name`, if it is set.
    fn get(&self, name: &str) -> Option<OsString> {
        match &self.vars {
            None => std::env::var_os(name),
            Some(vars) => vars.get(&normalize_key(name.into())).cloned(),
        }
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.vars {
            None => f.write_str("Environment(process)"),
            Some(vars) => f
                .debug_struct("Environment")
                .field(
                    "vars",
                    &vars.keys().map(|k| k.to_string_lossy()).collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// Python's `os.environ` upper-cases names on Windows (lookups there ignore case).
fn normalize_key(key: OsString) -> OsString {
    if cfg!(windows) {
        match key.to_str() {
            Some(s) => s.to_uppercase().into(),
            None => key,
        }
    } else {
        key
    }
}

/// What a read of one variable gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Set(String),
    Unset,
    /// Not known: the value is not valid UTF-8 (Python would hold it with surrogate escapes),
    /// or code the reader does not evaluate may have changed `os.environ`.
    Unknown,
}

/// `os.environ` while modules are read: the environment plus what their code changed.
#[derive(Debug, Default)]
pub(crate) struct EnvState {
    base: Environment,
    /// Variables set (`Some`) or removed (`None`) by the modules' own code; a set value the
    /// reader could not evaluate is `Some(None)`.
    changes: HashMap<String, Option<Option<String>>>,
    /// Why `os.environ` is no longer known (a call that may have changed it), once it is not.
    unknown_since: Option<String>,
}

impl EnvState {
    pub(crate) fn new(base: Environment) -> Self {
        EnvState {
            base,
            changes: HashMap::new(),
            unknown_since: None,
        }
    }

    /// Reads `name` as `os.environ` would now.
    pub(crate) fn get(&self, name: &str) -> Lookup {
        let key = normalize_key(name.into()).to_string_lossy().into_owned();
        if let Some(change) = self.changes.get(&key) {
            return match change {
                Some(Some(v)) => Lookup::Set(v.clone()),
                Some(None) => Lookup::Unknown,
                None => Lookup::Unset,
            };
        }
        if self.unknown_since.is_some() {
            return Lookup::Unknown;
        }
        // No environment holds such a name (`std::env::var_os` would panic on them); Windows
        // keeps per-drive directories in names starting with `=`.
        if name.is_empty() || name.contains('\0') || name.contains('=') {
            return if cfg!(windows) && name.starts_with('=') {
                Lookup::Unknown
            } else {
                Lookup::Unset
            };
        }
        match self.base.get(name) {
            None => Lookup::Unset,
            Some(v) => v.into_string().map_or(Lookup::Unknown, Lookup::Set),
        }
    }

    /// `os.environ[name] = value` (`None`: a value the reader could not evaluate).
    pub(crate) fn set(&mut self, name: &str, value: Option<String>) {
        let key = normalize_key(name.into()).to_string_lossy().into_owned();
        self.changes.insert(key, Some(value));
    }

    /// `del os.environ[name]`.
    pub(crate) fn remove(&mut self, name: &str) {
        let key = normalize_key(name.into()).to_string_lossy().into_owned();
        self.changes.insert(key, None);
    }

    /// From now on `os.environ` is not known (variables set later by the module are).
    pub(crate) fn forget(&mut self, why: String) {
        self.changes.clear();
        if self.unknown_since.is_none() {
            self.unknown_since = Some(why);
        }
    }

    /// Why `os.environ` stopped being known, if it did.
    pub(crate) fn unknown_since(&self) -> Option<&str> {
        self.unknown_since.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_shadow_the_environment_and_forgetting_hides_it() {
        let mut env = EnvState::new(Environment::from_vars([("A", "1"), ("B", "2")]));
        assert_eq!(env.get("A"), Lookup::Set("1".into()));
        assert_eq!(env.get("C"), Lookup::Unset);
        env.set("C", Some("3".into()));
        env.remove("A");
        env.set("D", None);
        assert_eq!(env.get("A"), Lookup::Unset);
        assert_eq!(env.get("C"), Lookup::Set("3".into()));
        assert_eq!(env.get("D"), Lookup::Unknown);
        env.forget("load_dotenv()".into());
        assert_eq!(env.get("B"), Lookup::Unknown);
        assert_eq!(env.get("C"), Lookup::Unknown);
        env.set("E", Some("5".into()));
        assert_eq!(env.get("E"), Lookup::Set("5".into()));
        assert_eq!(env.unknown_since(), Some("load_dotenv()"));
    }

    #[test]
    fn names_no_environment_holds_are_unset() {
        let env = EnvState::new(Environment::process());
        for name in ["", "A=B", "A\0B"] {
            assert_eq!(env.get(name), Lookup::Unset, "{name:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn values_that_are_not_utf8_are_not_known() {
        use std::os::unix::ffi::OsStringExt;
        let env = EnvState::new(Environment::from_vars([(
            OsString::from("A"),
            OsString::from_vec(vec![0xff, 0x41]),
        )]));
        assert_eq!(env.get("A"), Lookup::Unknown);
    }
}
