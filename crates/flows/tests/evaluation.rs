//! What the static reader evaluates the way Python would (calls of module functions,
//! conditional and boolean expressions) and where it stops: anything it cannot evaluate
//! falls back to Prefect's default with a note, and never guesses. The cases Prefect 3.9.1
//! recorded are in `tests/fixtures/flows-edge` (`evaluated-*`) and `tests/fixtures/flows-env`
//! (the environment); these cover the fallbacks. Each flow is read with an empty
//! environment (`tests/environment.rs` covers reading one).

use prefab_flows::{Environment, LoadOptions, LoadedFlow, load_flow_from_entrypoint_with};

fn load(source: &str) -> LoadedFlow {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.py"), source).unwrap();
    let options =
        LoadOptions::default().with_environment(Environment::from_vars(Vec::<(&str, &str)>::new()));
    load_flow_from_entrypoint_with("flow.py:f", dir.path(), &options).unwrap()
}

fn name_of(prelude: &str, name_expr: &str) -> (String, Vec<String>) {
    let loaded = load(&format!(
        "from prefect import flow\n{prelude}\n\n@flow(name={name_expr})\ndef f():\n    pass\n"
    ));
    (loaded.flow.name, loaded.notes)
}

fn falls_back(prelude: &str, name_expr: &str) {
    let (name, notes) = name_of(prelude, name_expr);
    assert_eq!(name, "f", "{name_expr}");
    assert!(
        notes.iter().any(|n| n.contains("@flow(name=...)")),
        "{name_expr}: {notes:?}"
    );
}

#[test]
fn functions_with_statements_the_reader_does_not_run_fall_back() {
    // A loop, a call of an unknown function, an attribute assignment.
    falls_back(
        "def g(x):\n    out = ''\n    for c in x:\n        out = out + c\n    return out\n",
        "g('abc')",
    );
    falls_back("import os\ndef g():\n    return os.getcwd()\n", "g()");
    falls_back("def g(x):\n    x.y = 1\n    return 'n'\n", "g(1)");
    // `global` and mutation through a method are not modelled either.
    falls_back(
        "def g():\n    v = []\n    v.append('a')\n    return v[0]\n",
        "g()",
    );
}

#[test]
fn recursion_without_end_falls_back_without_overflowing() {
    falls_back("def g(n):\n    return g(n + 1)\n", "g(0)");
    falls_back(
        "def g(n):\n    return h(n)\ndef h(n):\n    return g(n)\n",
        "g(0)",
    );
    // Ending recursion within the call-depth limit is evaluated.
    let (name, _) = name_of(
        "def g(n):\n    if n == 0:\n        return 'done'\n    return g(n - 1)\n",
        "g(30)",
    );
    assert_eq!(name, "done");
}

#[test]
fn branches_on_unknown_values_fall_back() {
    // Whether the environment is empty is not evaluated (its variables are).
    falls_back("import os\n", "'a' if os.environ else 'b'");
    falls_back("import os\n", "os.getcwd() or 'x'");
    falls_back(
        "import os\ndef g():\n    if os.environ:\n        return 'a'\n    return 'b'\n",
        "g()",
    );
    // The truth of a result the reader cannot evaluate is not guessed.
    falls_back("X = [1]\n", "'a' if len(X) else 'b'");
    falls_back(
        "def g(x):\n    for c in x:\n        return c\n",
        "'a' if g('z') else 'b'",
    );
    falls_back("import os\n", "not os.getcwd() and 'a' or 'b'");
    // Python raises TypeError for a bad call: not guessed.
    falls_back("def g(a):\n    return a\n", "g()");
    falls_back("def g(a):\n    return a\n", "g('x', 'y')");
    falls_back("def g(a):\n    return a\n", "g(b='x')");
    // A local read before it is assigned (`UnboundLocalError`), even with a global of
    // that name.
    falls_back(
        "N = 'global'\ndef g():\n    v = N\n    N = 'local'\n    return v\n",
        "g()",
    );
}

#[test]
fn the_branch_not_taken_is_never_evaluated() {
    assert_eq!(name_of("", "undefined_name if False else 'ok'").0, "ok");
    assert_eq!(name_of("", "'ok' if True else undefined_name").0, "ok");
    assert_eq!(name_of("", "'ok' or undefined_name").0, "ok");
    assert_eq!(name_of("", "'' and undefined_name or 'ok'").0, "ok");
    assert_eq!(
        name_of(
            "def g(x):\n    if x:\n        return 'yes'\n    return missing()\n",
            "g(1)"
        )
        .0,
        "yes"
    );
}

#[test]
fn module_constants_are_read_when_the_function_is_called() {
    // The decorator runs after `SUFFIX` is rebound: Python sees the new value.
    let (name, _) = name_of(
        "SUFFIX = 'one'\ndef g():\n    return 'n-' + SUFFIX\nSUFFIX = 'two'\n",
        "g()",
    );
    assert_eq!(name, "n-two");
    // Defaults are evaluated when the `def` runs.
    let (name, _) = name_of(
        "SUFFIX = 'one'\ndef g(s=SUFFIX):\n    return 'n-' + s\nSUFFIX = 'two'\n",
        "g()",
    );
    assert_eq!(name, "n-one");
    // `pass` and a bare string are no-ops; falling off the end returns None.
    let (name, _) = name_of(
        "def g(x):\n    'doc'\n    if x:\n        pass\n    else:\n        return 'no'\n",
        "g(1) or 'none'",
    );
    assert_eq!(name, "none");
}

#[test]
fn parameter_defaults_from_calls_the_reader_cannot_evaluate_stay_unset() {
    let loaded = load(
        "from prefect import flow\nimport os\n\ndef g():\n    return os.getcwd()\n\n@flow\ndef f(x: str = g()):\n    pass\n",
    );
    let schema = loaded.flow.parameter_schema.to_json();
    assert_eq!(
        schema["properties"]["x"],
        serde_json::json!({"position": 0, "title": "x", "type": "string"})
    );
}

#[test]
fn numbers_past_the_readers_range_and_huge_results_fall_back() {
    for expr in [
        "str(2**64 * 2**64)",
        "str(-(-170141183460469231731687303715884105727 - 1))",
        "str((-170141183460469231731687303715884105727 - 1) // -1)",
        "str(170141183460469231731687303715884105727 + 1)",
        "'a' * 10**12",
        "str(timedelta(days=10**30))",
        "str(timedelta(days=999999999) + timedelta(days=1))",
        "B",
        "f'{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}{A}'",
        "A.replace('a', A)",
        "A.join([A, A, A])",
        "'{}{}{}'.format(A, A, A)",
    ] {
        // `A` is 8 MiB: every doubling step past 16 MiB is left unevaluated.
        falls_back(
            "from datetime import timedelta\nA = 'a' * (8 * 1024 * 1024)\n\
             B = A + A\nB = B + B\nB = B + B\nB = B + B\nB = B + B\nB = B + B\nB = B + B\n",
            expr,
        );
    }
    let loaded = load(
        "from enum import Enum, auto\nfrom prefect import flow\n\n\
         class E(Enum):\n    A = 170141183460469231731687303715884105727\n    B = auto()\n\n\
         @flow\ndef f(e: E = E.A):\n    pass\n",
    );
    assert_eq!(loaded.flow.name, "f");
}

#[test]
fn exponential_recursion_stops_at_the_call_budget() {
    let started = std::time::Instant::now();
    falls_back(
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "str(fib(60))",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    // Small cases are evaluated.
    assert_eq!(
        name_of(
            "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
            "'f' + str(fib(15))"
        )
        .0,
        "f610"
    );
}
