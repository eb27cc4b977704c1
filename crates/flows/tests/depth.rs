//! Deeply nested flow files through `load_flow_from_entrypoint`: every input either loads or
//! is refused with an error naming the file and line — never a stack overflow. Each case runs
//! on a 2 MiB thread (a tokio worker's stack), in whatever profile the tests are built.

use std::path::Path;

use prefab_flows::{FlowLoadError, LoadedFlow, load_flow_from_entrypoint};

const SMALL_STACK: usize = 2 * 1024 * 1024;

/// Writes `source` as `flow.py` in a fresh directory and loads `flow.py:f` on a 2 MiB thread.
fn load(source: String) -> Result<LoadedFlow, FlowLoadError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.py"), source).unwrap();
    let root = dir.path().to_path_buf();
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || load_flow_from_entrypoint("flow.py:f", Path::new(&root)))
        .unwrap()
        .join()
        .expect("the loader panicked")
}

fn flow_with(sig: &str) -> String {
    format!("from prefect import flow\n\n\n@flow\ndef f({sig}):\n    pass\n")
}

fn flow_after(prelude: &str, sig: &str) -> String {
    format!("from prefect import flow\n{prelude}\n\n@flow\ndef f({sig}):\n    pass\n")
}

fn syntax(err: FlowLoadError) -> (String, String, usize) {
    match &err {
        FlowLoadError::Syntax(d) => (d.python_class.to_string(), d.python_message.clone(), d.line),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

fn property(loaded: &LoadedFlow, name: &str) -> serde_json::Value {
    loaded.flow.parameter_schema.to_json()["properties"][name].clone()
}

fn nested_list(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn a_500_level_list_annotation_is_cpythons_syntax_error() {
    let ann = format!("{}int{}", "list[".repeat(500), "]".repeat(500));
    let err = load(flow_with(&format!("x: {ann}"))).unwrap_err();
    let (class, message, line) = syntax(err);
    assert_eq!(class, "SyntaxError");
    assert_eq!(message, "too many nested parentheses");
    assert_eq!(line, 5);
}

#[test]
fn the_deepest_annotation_pydantic_describes_loads() {
    let ann = format!("{}int{}", "list[".repeat(161), "]".repeat(161));
    let loaded = load(flow_with(&format!("x: {ann}"))).unwrap();
    let mut schema = property(&loaded, "x");
    let mut levels = 0;
    while schema["type"] == "array" {
        schema = schema["items"].clone();
        levels += 1;
    }
    assert_eq!(levels, 161);
    assert_eq!(schema["type"], "integer");
    // `def f(` opens one bracket: 199 more is CPython's limit, but pydantic gives up first.
    let ann = format!("{}int{}", "list[".repeat(199), "]".repeat(199));
    let err = load(flow_with(&format!("x: {ann}"))).unwrap_err();
    assert!(
        matches!(err, FlowLoadError::TooDeep { line: 5, .. }),
        "{err:?}"
    );
    let ann = format!("{}int{}", "list[".repeat(200), "]".repeat(200));
    let (_, message, _) = syntax(load(flow_with(&format!("x: {ann}"))).unwrap_err());
    assert_eq!(message, "too many nested parentheses");
}

#[test]
fn deep_list_defaults_load_up_to_the_bracket_limit() {
    let loaded = load(flow_with(&format!("x={}", nested_list(199)))).unwrap();
    let mut v = property(&loaded, "x")["default"].clone();
    let mut levels = 0;
    while let Some(first) = v.as_array().and_then(|a| a.first()).cloned() {
        v = first;
        levels += 1;
    }
    assert_eq!((levels, v), (199, serde_json::json!(1)));
    let (_, message, line) =
        syntax(load(flow_with(&format!("x={}", nested_list(500)))).unwrap_err());
    assert_eq!((message.as_str(), line), ("too many nested parentheses", 5));
}

#[test]
fn deep_dict_literals_load_up_to_the_bracket_limit() {
    let dict = format!("{}1{}", "{'k': ".repeat(150), "}".repeat(150));
    let loaded = load(flow_with(&format!("x={dict}"))).unwrap();
    let mut v = property(&loaded, "x")["default"].clone();
    let mut levels = 0;
    while let Some(inner) = v.get("k").cloned() {
        v = inner;
        levels += 1;
    }
    assert_eq!(levels, 150);
    let dict = format!("{}1{}", "{'k': ".repeat(300), "}".repeat(300));
    let (_, message, _) = syntax(load(flow_with(&format!("x={dict}"))).unwrap_err());
    assert_eq!(message, "too many nested parentheses");
}

/// Expressions without brackets: CPython 3.11 compiles up to 2993 nested levels and refuses
/// deeper ones with `RecursionError: maximum recursion depth exceeded during compilation`.
fn check_unbracketed(name: &str, make: impl Fn(usize) -> String) {
    let ok = load(flow_after(&format!("C = {}", make(2000)), "x=1"));
    assert!(ok.is_ok(), "{name} x2000: {ok:?}");
    for n in [2994, 100_000] {
        let err = load(flow_after(&format!("C = {}", make(n)), "x=1")).unwrap_err();
        let (class, message, line) = syntax(err);
        assert_eq!(class, "RecursionError", "{name} x{n}");
        assert_eq!(
            message,
            "maximum recursion depth exceeded during ast construction"
        );
        assert_eq!(line, 2, "{name} x{n}");
    }
}

#[test]
fn long_operator_chains_are_cpythons_recursion_error() {
    check_unbracketed("1+1", |n| vec!["1"; n].join("+"));
    check_unbracketed("2**", |n| vec!["1"; n].join("**"));
    check_unbracketed("'a'+", |n| vec!["'a'"; n].join("+"));
}

#[test]
fn long_prefix_chains_are_cpythons_recursion_error() {
    check_unbracketed("not", |n| format!("{}True", "not ".repeat(n)));
    check_unbracketed("neg", |n| format!("{}1", "-".repeat(n)));
    check_unbracketed("lambda", |n| format!("{}1", "lambda: ".repeat(n)));
}

#[test]
fn long_postfix_and_conditional_chains_are_cpythons_recursion_error() {
    check_unbracketed("attr", |n| format!("flow{}", ".a".repeat(n)));
    check_unbracketed("call", |n| format!("print{}", "()".repeat(n)));
    check_unbracketed("subscript", |n| format!("C{}", "[0]".repeat(n)));
    check_unbracketed("ifelse", |n| format!("{}2", "1 if C else ".repeat(n)));
}

#[test]
fn a_2000_term_sum_is_evaluated() {
    let src = flow_after(&format!("N = {}", vec!["1"; 2000].join(" + ")), "x=N");
    assert_eq!(property(&load(src).unwrap(), "x")["default"], 2000);
    let src = flow_after(
        &format!("NAME = {}", vec!["'a'"; 2000].join(" + ")),
        "x=NAME",
    );
    assert_eq!(
        property(&load(src).unwrap(), "x")["default"],
        "a".repeat(2000)
    );
}

#[test]
fn deep_string_annotations_degrade() {
    let ann = format!("{}int{}", "list[".repeat(500), "]".repeat(500));
    let loaded = load(flow_with(&format!("x: '{ann}' = None"))).unwrap();
    assert!(
        loaded.notes.iter().any(|n| n.contains("\"x\"")),
        "{:?}",
        loaded.notes
    );
}

/// Module constants built from each other nest without any deep expression.
#[test]
fn constants_nested_through_each_other_are_refused_by_name() {
    let mut prelude = String::from("A0 = []\n");
    for i in 1..1000 {
        prelude.push_str(&format!("A{i} = [A{}]\n", i - 1));
    }
    let err = load(flow_after(&prelude, "x=A999")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("flow.py"), "{msg}");
    assert!(msg.contains("line 1005"), "{msg}");
    assert!(msg.contains("default of parameter \"x\""), "{msg}");
    assert!(msg.contains("900"), "{msg}");
    assert_eq!(err.python_class(), "ScriptError");
    // Up to 254 levels: the default (pydantic serialises that deep).
    let loaded = load(flow_after(&prelude, "x=A253")).unwrap();
    assert!(property(&loaded, "x")["default"].is_array());
    // 255 and 256 levels: pydantic's serialisation error (measured).
    for n in [254, 255] {
        let err = load(flow_after(&prelude, &format!("x=A{n}"))).unwrap_err();
        assert_eq!(err.python_class(), "ValueError");
        assert_eq!(err.python_message(), "Maximum serialization depth exceeded");
        assert!(
            err.to_string().contains("default of parameter \"x\""),
            "{err}"
        );
    }
    // Deeper: Prefect's schema has no default (measured: 257 to 900 levels).
    for n in [256, 899] {
        let loaded = load(flow_after(&prelude, &format!("x=A{n}"))).unwrap();
        assert_eq!(
            property(&loaded, "x"),
            serde_json::json!({"position": 0, "title": "x"})
        );
    }
}

#[test]
fn types_nested_through_aliases_are_refused_by_name() {
    let mut prelude = String::from("T0 = int\n");
    for i in 1..1000 {
        prelude.push_str(&format!("T{i} = list[T{}]\n", i - 1));
    }
    // pydantic (Prefect 3.9.1) describes 161 nested lists, not 162.
    for n in [162, 600, 999] {
        let err = load(flow_after(&prelude, &format!("x: T{n}"))).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("flow.py") && msg.contains("annotation of parameter \"x\""),
            "{msg}"
        );
        assert_eq!(
            err.python_message(),
            "Script at 'flow.py' encountered an exception: RecursionError('maximum recursion depth exceeded')"
        );
    }
    let loaded = load(flow_after(&prelude, "x: T161")).unwrap();
    assert_eq!(property(&loaded, "x")["type"], "array");
}

#[test]
fn deeply_indented_blocks_are_cpythons_indentation_error() {
    let mut src = String::from("from prefect import flow\n\n\n@flow\ndef f():\n    pass\n");
    for i in 0..150 {
        src.push_str(&format!("{}if True:\n", " ".repeat(i)));
    }
    src.push_str(&format!("{}pass\n", " ".repeat(150)));
    let err = load(src).unwrap_err();
    let FlowLoadError::Syntax(d) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(d.python_class, "IndentationError");
    assert_eq!(d.python_message, "too many levels of indentation");
    assert_eq!(d.line, 107);
}

#[test]
fn the_deepest_schema_json_builds_on_a_small_stack() {
    // Each level is an `anyOf` array and two objects: about 500 levels of JSON.
    let ann = format!("{}int{}", "Optional[list[".repeat(99), "]]".repeat(99));
    let src = format!(
        "from typing import Optional\nfrom prefect import flow\n\n@flow\ndef f(x: {ann} = None):\n    pass\n"
    );
    let loaded = load(src).unwrap();
    let mut schema = property(&loaded, "x");
    let mut levels = 0;
    while let Some(list) = schema.get("anyOf").and_then(|a| a.get(0)).cloned() {
        schema = list["items"].clone();
        levels += 1;
    }
    assert_eq!(levels, 99);
}

#[test]
fn long_import_chains_degrade_instead_of_overflowing() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1000 {
        let src = if i + 1 < 1000 {
            format!("from m{} import X\n", i + 1)
        } else {
            "X = 'end'\n".to_string()
        };
        std::fs::write(dir.path().join(format!("m{i}.py")), src).unwrap();
    }
    std::fs::write(
        dir.path().join("flow.py"),
        "from prefect import flow\nfrom m0 import X\n\n@flow(name=X)\ndef f():\n    pass\n",
    )
    .unwrap();
    let root = dir.path().to_path_buf();
    let loaded = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || load_flow_from_entrypoint("flow.py:f", &root))
        .unwrap()
        .join()
        .expect("the loader panicked")
        .unwrap();
    assert_eq!(loaded.flow.name, "f");
    assert!(loaded.notes.iter().any(|n| n.contains("@flow(name=...)")));
    // A chain Python imports (50 modules) is followed to its end.
    std::fs::write(dir.path().join("m49.py"), "X = 'end-of-50'\n").unwrap();
    let loaded = load_flow_from_entrypoint("flow.py:f", dir.path()).unwrap();
    assert_eq!(loaded.flow.name, "end-of-50");
}

#[test]
fn nested_f_strings_load_or_are_refused_without_overflowing() {
    // Python 3.11 nests f-strings with alternating quotes.
    let loaded = load(flow_after("N = f'{f\"{1}\"}-x'", "x=N")).unwrap();
    assert_eq!(property(&loaded, "x")["default"], "1-x");
    // Python 3.12 nesting with the same quotes, 5000 deep: refused (3.11 refuses any of it).
    let deep = format!("{}1{}", "f\"{".repeat(5000), "}\"".repeat(5000));
    assert!(load(flow_after(&format!("N = {deep}"), "x=N")).is_err());
}
