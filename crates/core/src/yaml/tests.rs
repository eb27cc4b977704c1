use serde_json::json;

use super::*;

fn value(text: &str) -> Value {
    load(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).value
}

#[test]
fn scalars_resolve_as_serde_yaml_ng_did() {
    // Every plain scalar form the core schema knows, and neighbours that stay strings.
    let scalars = [
        "",
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "true",
        "True",
        "TRUE",
        "tRUE",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "0",
        "-0",
        "+0",
        "7",
        "-7",
        "+7",
        "007",
        "-007",
        "0x1F",
        "-0x1F",
        "+0x1F",
        "0x",
        "0x-1",
        "0o17",
        "0o8",
        "0b101",
        "0b2",
        "1_000",
        "1.5",
        "-1.5",
        "+1.5",
        ".5",
        "5.",
        "1e3",
        "1E-3",
        "1e",
        "e3",
        "1.5.5",
        "0.1",
        "00.1",
        "inf",
        "nan",
        "infinity",
        "18446744073709551615",
        "-9223372036854775808",
        "9223372036854775807",
        "1:30",
        "2026-12-06",
        "12:30:45",
        "0 9 * * *",
        "a b",
        "0.",
        "-.5",
        "+.5e+2",
    ];
    for s in scalars {
        let text = format!("x: {s}\n");
        let ours = value(&text);
        let theirs: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(ours, theirs, "{s:?}");
    }
    // Quoted and block scalars and `!!str` are strings.
    assert_eq!(
        value("a: '1'\nb: \"true\"\nc: !!str 5\nd: |\n  x\n"),
        json!({"a": "1", "b": "true", "c": "5", "d": "x\n"})
    );
    assert_eq!(
        value("a: !!int '12'\nb: !!float 3\nc: !!bool 'true'\nd: !!null ''\n"),
        json!({"a": 12, "b": 3.0, "c": true, "d": null})
    );
}

#[test]
fn what_json_cannot_hold_is_refused_where_it_is() {
    for (text, needle) in [
        ("p:\n  x: .nan\n", "line 2, column 6"),
        ("p: [1, .inf]\n", "line 1, column 8"),
        ("p: -.Inf\n", "infinity"),
        ("p: 1e400\n", "too large"),
        ("p: 1180591620717411303424\n", "64 bits"),
        ("p: -9223372036854775809\n", "64 bits"),
        ("p: 0x1ffffffffffffffff\n", "64 bits"),
        ("p: !!python/tuple [1]\n", "not supported"),
        ("p: !custom x\n", "not supported"),
        ("p: !!int 1.5\n", "not a !!int"),
        ("p: !!binary aGk=\n", "!!binary"),
    ] {
        let err = load(text).unwrap_err();
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
    }
    // The extremes that fit are kept exactly.
    assert_eq!(
        value("a: 18446744073709551615\nb: -9223372036854775808\nc: 1.7976931348623157e308\n"),
        json!({"a": u64::MAX, "b": i64::MIN, "c": f64::MAX})
    );
}

#[test]
fn keys_must_be_strings() {
    for (text, needle) in [
        ("1: a\n", "`1` is a number"),
        ("true: a\n", "`true` is a boolean"),
        ("~: a\n", "null"),
        ("? [a, b]\n: c\n", "line 1"),
        ("? {a: b}\n: c\n", "line 1"),
    ] {
        let err = load(text).unwrap_err();
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
    }
    assert_eq!(
        value("'1': a\n\"true\": b\n"),
        json!({"1": "a", "true": "b"})
    );
}

#[test]
fn duplicate_keys_keep_the_last_value_and_warn_with_both_lines() {
    let doc =
        load("deployments:\n  - name: a\n    tags: [x]\n    tags: [y]\nname: top\nname: again\n")
            .unwrap();
    assert_eq!(
        doc.value,
        json!({"deployments": [{"name": "a", "tags": ["y"]}], "name": "again"})
    );
    let warnings: Vec<String> = doc.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 4, column 5: duplicate key `tags` in deployments[0] (first at line 3): the later value is used",
            "line 6, column 1: duplicate key `name` (first at line 5): the later value is used",
        ]
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let doc = load(
        "defaults: &d {work_pool_name: wp, tags: [a]}\n\
         other: &o {tags: [b], paused: true}\n\
         one:\n  <<: *d\n  name: one\n\
         two:\n  <<: [*o, *d]\n  name: two\n  paused: false\n\
         three: *d\n\
         quoted:\n  '<<': x\n",
    )
    .unwrap();
    assert_eq!(
        doc.value["one"],
        json!({"name": "one", "work_pool_name": "wp", "tags": ["a"]})
    );
    // Written keys win; earlier merged mappings win over later ones.
    assert_eq!(
        doc.value["two"],
        json!({"name": "two", "paused": false, "tags": ["b"], "work_pool_name": "wp"})
    );
    assert_eq!(doc.value["three"], doc.value["defaults"]);
    assert_eq!(doc.value["quoted"], json!({"<<": "x"}));
    assert!(doc.warnings.is_empty());
    let err = load("a: &a 1\nb:\n  <<: *a\n").unwrap_err();
    assert!(err.to_string().contains("merge key"), "{err}");
    let err = load("a: *missing\n").unwrap_err();
    assert!(matches!(err, YamlError::Syntax { .. }), "{err}");
}

#[test]
fn locations_point_at_each_value() {
    let doc = load(
        "deployments:\n  - name: a\n    tags:\n      - x\n      - 5\n  - {name: b, paused: yes}\n",
    )
    .unwrap();
    let at = |p: &str| doc.location(p).map(|l| (l.line, l.column));
    assert_eq!(at("/deployments/0/name"), Some((2, 11)));
    assert_eq!(at("/deployments/0/tags/1"), Some((5, 9)));
    assert_eq!(at("/deployments/1/paused"), Some((6, 23)));
    assert_eq!(at("/deployments/1"), Some((6, 5)));
    assert_eq!(
        doc.nearest_location("/deployments/1/paused/extra")
            .map(|l| l.line),
        Some(6)
    );
    assert_eq!(
        pointer_to_path("/deployments/3/tags"),
        "deployments[3].tags"
    );
    assert_eq!(pointer_to_path("/a~1b/0"), "a/b[0]");
}

#[test]
fn deep_nesting_is_refused_at_once_in_every_form() {
    let n = 100_000;
    let flow = format!("{{x: {}{}}}", "[".repeat(n), "]".repeat(n));
    let flow_maps = format!("{}1{}", "{a: ".repeat(n), "}".repeat(n));
    let dashes = format!("{}x\n", "- ".repeat(n));
    let keys = format!("{}x\n", "? ".repeat(n));
    let mut indented = String::new();
    for i in 0..200 {
        indented.push_str(&" ".repeat(i));
        indented.push_str("a:\n");
    }
    for text in [&flow, &flow_maps, &dashes, &keys, &indented] {
        let err = load(text).unwrap_err();
        assert!(
            matches!(
                err,
                YamlError::TooDeep { .. } | YamlError::Syntax { .. } | YamlError::BadKey { .. }
            ),
            "{}: {err}",
            &text[..20]
        );
        assert!(
            err.to_string().contains("line 1") || text == &indented,
            "{err}"
        );
    }
    // Exactly at the limit is fine.
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(load(&ok).is_ok());
    let over = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert!(matches!(
        load(&over),
        Err(YamlError::TooDeep {
            limit: MAX_DEPTH,
            ..
        })
    ));
}

#[test]
fn aliases_cannot_build_what_the_text_could_not() {
    // Depth through aliases: each level nests the previous anchor one deeper.
    let mut text = String::from("a0: &a0 [[[[[[[[[[x]]]]]]]]]]\n");
    for i in 1..20 {
        text.push_str(&format!("a{i}: &a{i} [[[[[[[[[[*a{}]]]]]]]]]]\n", i - 1));
    }
    assert!(matches!(load(&text), Err(YamlError::TooDeep { .. })));
    // A billion laughs.
    let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    let err = load(&bomb).unwrap_err();
    assert!(
        matches!(
            err,
            YamlError::TooLarge {
                limit: MAX_NODES,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn documents_and_syntax_errors() {
    assert_eq!(value(""), Value::Null);
    assert_eq!(value("# only a comment\n"), Value::Null);
    assert_eq!(value("--- {a: 1}\n...\n"), json!({"a": 1}));
    let err = load("a: 1\n---\nb: 2\n").unwrap_err();
    assert!(
        err.to_string().contains("line 2") && err.to_string().contains("second"),
        "{err}"
    );
    let err = load("- [unclosed\n").unwrap_err();
    assert!(matches!(err, YamlError::Syntax { .. }), "{err}");
    let err = load("a: b: c\n").unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn json_integers_outside_64_bits_are_found_where_they_are() {
    assert!(
        check_json_integers(
            r#"{"a": [1, -2, 18446744073709551615, -9223372036854775808, 1e400, 1.5]}"#
        )
        .is_ok()
    );
    assert!(
        check_json_integers(
            r#"{"a": "123456789012345678901234567890", "b\"": "-99999999999999999999"}"#
        )
        .is_ok()
    );
    let err = check_json_integers("{\n  \"a\": [1,\n    1180591620717411303424]}").unwrap_err();
    assert_eq!(err.location(), Location { line: 3, column: 5 });
    assert!(err.to_string().contains("64 bits"), "{err}");
    assert!(check_json_integers("-9223372036854775809").is_err());
    assert!(check_json_integers("18446744073709551616").is_err());
}
