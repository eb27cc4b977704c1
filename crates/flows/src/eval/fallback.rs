//! Prefect's fallback loader (`safe_load_flow_from_entrypoint`, Prefect 3.9.1
//! `flows.py`), which a file entrypoint gets when importing its module raises.
//!
//! It reads the script again without running it as a whole (`safe_load_namespace` in
//! `utilities/importtools.py`): first every top-level `import` (an `ImportError` skips the
//! statement, any other exception ends the load), then every top-level `class`, `def` and
//! plain assignment, each on its own (one that raises binds nothing). Statements inside
//! `if`, `try`, loops are not run; the script's directory and its parent are on `sys.path`;
//! each statement is compiled alone, so `from __future__ import annotations` applies to
//! none. When the entrypoint's name is still unbound, its `def` is run once more with the
//! annotations that raise left out and the defaults that raise replaced by `None`
//! (`_sanitize_and_load_flow`).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use super::{Loader, ModuleRef, Namespace, ReadProblem, Value, read_module};
use crate::ast::{ClassDef, FunctionDef, Stmt};
use crate::exception::Raised;
use crate::value::FunctionInfo;

/// What Prefect's fallback loader makes of a file entrypoint.
pub(crate) enum FallbackOutcome {
    /// The object the entrypoint names; `sanitized` when its `def` was run again without the
    /// annotations and defaults that raise (keyword-only parameters without a default then
    /// default to `None`).
    Found { value: Value, sanitized: bool },
    /// No `def` or `class` with the entrypoint's name in the source (`ValueError`).
    NotInSource,
    /// The fallback loader finds nothing: Prefect raises the import's own exception.
    GaveUp,
    /// An import raised something other than `ImportError`: Prefect raises it as it is.
    Raised(Raised),
}

/// A definition found by name, the way `ast.walk` finds it (breadth first).
enum Definition<'a> {
    Function(&'a FunctionDef),
    Class(&'a ClassDef),
}

/// The first `def` or `class` named `name` in breadth-first order over the whole module
/// (nested definitions included, as `_entrypoint_definition_and_source` searches).
fn find_definition<'a>(body: &'a [Stmt], name: &str) -> Option<Definition<'a>> {
    let mut level: Vec<&'a Stmt> = body.iter().collect();
    while !level.is_empty() {
        let mut next: Vec<&'a Stmt> = Vec::new();
        for stmt in level {
            match stmt {
                Stmt::FunctionDef(f) => {
                    if f.name == name {
                        return Some(Definition::Function(f));
                    }
                    next.extend(f.body.iter());
                }
                Stmt::ClassDef(c) => {
                    if c.name == name {
                        return Some(Definition::Class(c));
                    }
                    next.extend(c.body.iter());
                }
                Stmt::If { branches } => {
                    for (_, b) in branches {
                        next.extend(b.iter());
                    }
                }
                Stmt::Try {
                    body,
                    handlers,
                    orelse,
                    finalbody,
                } => {
                    next.extend(body.iter());
                    for h in handlers {
                        next.extend(h.body.iter());
                    }
                    next.extend(orelse.iter());
                    next.extend(finalbody.iter());
                }
                Stmt::Block(blocks) => {
                    for b in blocks {
                        next.extend(b.iter());
                    }
                }
                _ => {}
            }
        }
        level = next;
    }
    None
}

impl Loader {
    /// Reads the script `file` (relative to the root) as Prefect's fallback loader does and
    /// looks up `object` (`func` or `Class.method`) in what it binds.
    pub(crate) fn load_script_fallback(
        &mut self,
        file: &Path,
        object: &str,
    ) -> Result<FallbackOutcome, ReadProblem> {
        let full = self.full_path(file);
        let module = read_module(&full)?;
        let parts: Vec<&str> = object.split('.').collect();
        let Some(definition) = find_definition(&module.body, parts[0]) else {
            return Ok(FallbackOutcome::NotInSource);
        };
        let ns: ModuleRef = Rc::new(RefCell::new(Namespace {
            file: full.clone(),
            fallback: true,
            ..Namespace::default()
        }));
        ns.borrow_mut().names.insert(
            "__name__".into(),
            Value::Str("prefect_safe_namespace_loader".into()),
        );
        self.kept.push(ns.clone());
        let saved_path = self.sys_path.clone();
        if let Some(dir) = full.parent() {
            if let Some(parent) = dir.parent() {
                self.sys_path.insert(0, parent.to_path_buf());
            }
            self.sys_path.insert(0, dir.to_path_buf());
        }
        self.raised = None;
        for stmt in &module.body {
            if matches!(stmt, Stmt::Import(_) | Stmt::ImportFrom { .. }) {
                self.exec_stmt(&ns, stmt, true);
                if let Some(err) = self.raised.take() {
                    self.sys_path = saved_path;
                    return Ok(FallbackOutcome::Raised(err));
                }
            }
        }
        for stmt in &module.body {
            if matches!(
                stmt,
                Stmt::ClassDef(_) | Stmt::FunctionDef(_) | Stmt::Assign { .. }
            ) {
                self.exec_stmt(&ns, stmt, true);
                self.raised = None;
            }
        }
        self.sys_path = saved_path;

        let found = ns.borrow().names.get(parts[0]).cloned();
        let mut value = match found {
            Some(v) => v,
            None => {
                let def = match definition {
                    Definition::Function(f) => f,
                    Definition::Class(c) if parts.len() >= 2 => {
                        let method = c.body.iter().find_map(|s| match s {
                            Stmt::FunctionDef(f) if f.name == parts[1] => Some(f.as_ref()),
                            _ => None,
                        });
                        match method {
                            Some(m) => m,
                            None => return Ok(FallbackOutcome::GaveUp),
                        }
                    }
                    Definition::Class(_) => return Ok(FallbackOutcome::GaveUp),
                };
                // Prefect returns what the sanitised `def` binds, whatever else the
                // entrypoint names after a class.
                return Ok(match self.sanitized_function(&ns, def) {
                    Some(value) => FallbackOutcome::Found {
                        value,
                        sanitized: true,
                    },
                    None => FallbackOutcome::GaveUp,
                });
            }
        };
        for part in &parts[1..] {
            value = match &value {
                Value::PlainClass(c) => match c.attrs.iter().rev().find(|(n, _)| n == part) {
                    Some((_, v)) => v.clone(),
                    None => return Ok(FallbackOutcome::GaveUp),
                },
                _ => return Ok(FallbackOutcome::GaveUp),
            };
        }
        Ok(FallbackOutcome::Found {
            value,
            sanitized: false,
        })
    }

    /// `_sanitize_and_load_flow`: the `def` run again, a default that raises replaced by
    /// `None` (annotations that raise are left out by the schema's own evaluation); `None`
    /// when it still raises (a decorator).
    fn sanitized_function(&mut self, ns: &ModuleRef, f: &FunctionDef) -> Option<Value> {
        let decorators: Vec<Value> = f.decorators.iter().map(|d| self.eval(ns, d)).collect();
        if self.raised.take().is_some() {
            return None;
        }
        let p = &f.params;
        let mut defaults = Vec::new();
        for param in p.posonly.iter().chain(&p.args).chain(&p.kwonly) {
            if let Some(d) = &param.default {
                let mut v = self.eval(ns, d);
                if self.raised.take().is_some() {
                    v = Value::None;
                }
                defaults.push((param.name.clone(), v));
            }
        }
        let mut value = Value::Function(Rc::new(FunctionInfo {
            def: f.clone(),
            defaults,
            file: ns.borrow().file.clone(),
            module: Rc::downgrade(ns),
        }));
        for d in decorators.iter().rev() {
            value = self.apply_decorator(d, value);
            self.check_flow_creation(&value);
            if self.raised.take().is_some() {
                return None;
            }
        }
        Some(value)
    }
}
