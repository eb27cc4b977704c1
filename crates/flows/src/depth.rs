//! Depth limits for the recursive walks over user input (source, values, types).
//!
//! Every walk over something a flow file can make arbitrarily deep is bounded here, and
//! each level of the walks that may go a few thousand levels deep runs through [`guarded`],
//! which moves to a fresh heap-allocated stack segment when the current one runs low. The
//! limits keep the total bounded; the guard keeps the bounded total off the caller's stack
//! (a tokio worker has 2 MiB, a debug build's frames are large).

/// CPython's tokenizer refuses more than 200 nested parentheses, brackets and braces
/// (`SyntaxError: too many nested parentheses`).
pub(crate) const MAX_BRACKETS: usize = 200;

/// The deepest syntax tree Prefect 3.9.1 loads, counting statements, expressions and the
/// nodes between them (parameters, keywords, …): its fallback loader's `ast.parse` raises
/// `RecursionError: maximum recursion depth exceeded during ast construction` beyond
/// (measured: a module-level `x = 1+1+…` loads with 2974 terms, not with 2975; CPython's
/// compiler alone allows 2993).
pub(crate) const MAX_SYNTAX_DEPTH: usize = 2975;

/// The deepest value (lists, dicts, models inside each other) or type (`list[list[…]]`) the
/// reader builds; deeper ones become [`Value::TooDeep`](super::value::Value::TooDeep) /
/// [`Ty::TooDeep`](super::value::Ty::TooDeep), and a flow whose parameter uses one is
/// refused. One literal nests at most 200 deep (the bracket limit); deeper values are module
/// constants built from each other. Prefect (measured) still loads a 900-deep default and
/// fails on Python's recursion limit by 1000 (`RecursionError`).
pub(crate) const MAX_VALUE_DEPTH: usize = 900;

/// Prefect serialises parameter defaults with pydantic, which serialises 254 levels
/// (measured): 255 and 256 fail (`ValueError: Maximum serialization depth exceeded`), deeper
/// ones leave the schema without a `default`.
pub(crate) const MAX_DEFAULT_DEPTH: usize = 254;

/// pydantic's schema generation for a parameter type fails on Python's recursion limit
/// beyond 161 nested `list[…]` (measured with Prefect 3.9.1: `RecursionError`, which the
/// flow's module raises on import).
pub(crate) const MAX_TYPE_DEPTH: usize = 161;

/// How deep module functions may call each other (Python's recursion limit is 1000).
pub(crate) const MAX_CALL_DEPTH: usize = 64;

/// How many module-function calls one load evaluates in all (`fib(40)` makes hundreds of
/// millions; Python takes minutes): beyond, calls are not evaluated.
pub(crate) const MAX_CALLS: usize = 100_000;

/// How many local modules may be in the middle of importing each other (`a` imports `b`
/// imports `c` …). Python 3.11 fails between 100 and 150 levels (`RecursionError`).
pub(crate) const MAX_IMPORT_DEPTH: usize = 128;

const RED_ZONE: usize = 256 * 1024;
const SEGMENT: usize = 4 * 1024 * 1024;

/// Runs one level of a deep walk, on a new stack segment when less than a red zone is left.
#[inline]
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Drops something whose drop glue recurses `depth` levels (a syntax tree deeper than the
/// limit) on a stack sized for it.
pub(crate) fn drop_deep<T>(value: T, depth: usize) {
    let size = depth.saturating_mul(1024).saturating_add(SEGMENT);
    stacker::grow(size, move || drop(value));
}
