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

fn yaml11(text: &str) -> LoadedYaml {
    load_with(text, Schema::Yaml11).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn yaml11_timestamps_are_pydantic_text_and_marked_where_they_end_up() {
    let doc = yaml11(
        "d: &d 2024-05-01\n\
         base: &base {when: 2001-12-14t21:59:43.10-05:00, n: 1}\n\
         list: [*d, '2024-05-01', 2024-5-1 1:02:03]\n\
         merged:\n  <<: *base\n  at: 2024-05-01T10:20:30.5Z\n\
         again: *base\n",
    );
    assert_eq!(doc.value["d"], "2024-05-01");
    assert_eq!(
        doc.value["merged"],
        json!({"when": "2001-12-14T21:59:43.100000-05:00", "n": 1, "at": "2024-05-01T10:20:30.500000Z"})
    );
    assert_eq!(doc.value["list"][2], "2024-05-01T01:02:03");
    let stamp = |p: &str| doc.timestamp(p);
    assert_eq!(stamp("/d"), Some(TimestampKind::Date));
    assert_eq!(stamp("/list/0"), Some(TimestampKind::Date));
    assert_eq!(stamp("/list/1"), None);
    assert_eq!(stamp("/list/2"), Some(TimestampKind::DateTime));
    // Through a merge key and through an alias of a mapping.
    assert_eq!(stamp("/merged/when"), Some(TimestampKind::DateTime));
    assert_eq!(stamp("/merged/at"), Some(TimestampKind::DateTime));
    assert_eq!(stamp("/again/when"), Some(TimestampKind::DateTime));
    assert_eq!(stamp("/merged/n"), None);
    assert_eq!(stamp("/merged"), None);
    assert_eq!(stamp("/nothing/here"), None);
    assert_eq!(stamp("/list/00"), None);
    // A later duplicate key replaces a timestamp: so does its mark.
    let doc = yaml11("a: 2024-05-01\na: text\nb~1c: 2024-05-01\n");
    assert_eq!(doc.timestamp("/a"), None);
    assert_eq!(doc.timestamp("/b~01c"), Some(TimestampKind::Date));
    // `!!timestamp` reads the looser pattern; `!!str` keeps the text.
    let doc = yaml11("a: !!timestamp 2001-1-1\nb: !!str 2001-01-01\nc: 2001-1-1\n");
    assert_eq!(
        doc.value,
        json!({"a": "2001-01-01", "b": "2001-01-01", "c": "2001-1-1"})
    );
    assert_eq!(doc.timestamp("/a"), Some(TimestampKind::Date));
    assert_eq!(doc.timestamp("/b"), None);
    // The whole document.
    assert_eq!(
        yaml11("2024-05-01\n").timestamp(""),
        Some(TimestampKind::Date)
    );
    // The core schema: text, unmarked.
    let core = load("a: 2024-05-01\n").unwrap();
    assert_eq!(core.value, json!({"a": "2024-05-01"}));
    assert_eq!(core.timestamp("/a"), None);
}

#[test]
fn yaml11_impossible_timestamps_are_errors_with_their_place() {
    for (text, at, needle) in [
        (
            "a:\n  - 2024-02-30\n",
            (2, 5),
            "February 2024 has no day 30",
        ),
        ("a: 2024-05-01 24:00:00\n", (1, 4), "the hour 24 is past 23"),
        (
            "a: 2024-05-01T10:20:30+24:00\n",
            (1, 4),
            "UTC offset +24:00",
        ),
        ("a: 0000-01-01\n", (1, 4), "no year 0"),
        ("a: !!timestamp 2024-05\n", (1, 4), "is not a !!timestamp"),
    ] {
        let err = load_with(text, Schema::Yaml11).unwrap_err();
        assert_eq!(
            (err.location().line, err.location().column),
            at,
            "{text:?}: {err}"
        );
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
    }
    let err = load_with("a: 2024-02-30\n", Schema::Yaml11).unwrap_err();
    assert!(matches!(err, YamlError::InvalidTimestamp { .. }), "{err}");
}

#[test]
fn yaml11_merges_follow_pyyaml_6_0_4() {
    // PyYAML 6.0.4 keeps a merged pair unless one of the same key identity came before:
    // one-character keys are one identity wherever written (the first merged mapping wins),
    // longer keys are their node's (the last wins), unless the same node comes again.
    let doc = yaml11(
        "a: &a {k: 1, kk: 1, 中: 1}\n\
         b: &b {k: 2, kk: 2, 中: 2}\n\
         list: {<<: [*a, *b]}\n\
         two_keys:\n  <<: *a\n  <<: *b\n\
         repeated: {<<: [*a, *b, *a]}\n\
         written: {kk: 0, <<: [*a, *b], k: 0}\n",
    );
    assert_eq!(doc.value["list"], json!({"k": 1, "kk": 2, "中": 2}));
    assert_eq!(doc.value["two_keys"], json!({"k": 1, "kk": 2, "中": 2}));
    assert_eq!(doc.value["repeated"], json!({"k": 1, "kk": 2, "中": 2}));
    // Written keys win; merged keys come first in the mapping's order, as in PyYAML's dict.
    assert_eq!(
        serde_json::to_string(&doc.value["written"]).unwrap(),
        r#"{"k":0,"kk":0,"中":2}"#
    );
    // A merged mapping contributes its first pair of a one-character key, which is not always
    // the value it has itself.
    let doc = yaml11(
        "a: &a {k: 1, k: 2, kk: 1, kk: 2}\nb: &b {<<: *a, k: 3}\nc: {<<: *a}\nd: {<<: *b}\n",
    );
    assert_eq!(doc.value["a"], json!({"k": 2, "kk": 2}));
    assert_eq!(doc.value["b"], json!({"k": 3, "kk": 2}));
    assert_eq!(doc.value["c"], json!({"k": 1, "kk": 2}));
    assert_eq!(doc.value["d"], json!({"k": 1, "kk": 2}));
    // The core schema keeps the merge spec's rule: earlier mappings win.
    let core = load("a: &a {k: 1, kk: 1}\nb: &b {k: 2, kk: 2}\nt: {<<: [*a, *b]}\n").unwrap();
    assert_eq!(core.value["t"], json!({"k": 1, "kk": 1}));
}

#[test]
fn yaml11_fails_where_pyyaml_fails() {
    // PyYAML constructs a value a later key replaces (an impossible date there fails), but
    // never a merged pair it leaves out; JSON's limits count only for what ends up in the value.
    for (text, ok) in [
        ("t: {k: 2024-02-30, k: 1}\n", false),
        ("t: {<<: [{k: 1}, {k: 2024-02-30}]}\n", true),
        ("t: {<<: [{kk: 1}, {kk: 2024-02-30}]}\n", false),
        ("t: {<<: [{k: 1}, {k: {<<: 5}}]}\n", true),
        ("t: {k: .nan, k: 1}\n", true),
        ("t: {k: {1: x}, k: 1}\n", true),
        // A number key: pydantic writes it as text ([`LoadedYaml::non_string_keys`]).
        ("t: {k: {1: x}}\n", true),
        ("t: {k: =, k: 1}\n", false),
        ("t: {<<: [{'1': a}, {1: b}]}\n", true),
        ("t: {<<: [{'1': a}, {1: b}], 1: c}\n", true),
        ("t: {=: 1}\n", true),
        ("t: {<<: 5}\n", false),
        ("t: {x: <<}\n", false),
        ("a: &a [1]\nt: {*a : 1}\n", false),
        // An alias key must name text (a number through an alias is refused).
        ("a: &a 1\nt: {*a : 1}\n", false),
        ("a: &a 1\nt: {'1': *a}\n", true),
    ] {
        let result = load_with(text, Schema::Yaml11);
        assert_eq!(result.is_ok(), ok, "{text:?}: {result:?}");
    }
    assert_eq!(yaml11("t: {=: 1}\n").value, json!({"t": {"=": 1}}));
    assert_eq!(yaml11("t: {k: .nan, k: 1}\n").value, json!({"t": {"k": 1}}));
    // The core schema refuses `.nan` where it is, replaced or not.
    assert!(load("t: {k: .nan, k: 1}\n").is_err());
}

#[test]
fn yaml11_refuses_what_pyyaml_scanner_and_composer_refuse() {
    for (text, needle) in [
        ("a: 2024-05-01\t10:20:30\n", "tab inside an unquoted value"),
        ("a: x\ty\n", "tab inside an unquoted value"),
        (
            "a: &x 1\nb: &x 2\n",
            "`&x` is defined a second time (first at line 1)",
        ),
        ("a: !!str &x 1\nb: &x {}\n", "defined a second time"),
        (
            "é中: &x 1\nb: &x 2\n",
            "defined a second time (first at line 1)",
        ),
        (
            "a: !!map # c\n  &x {a: 1}\nb: &x 2\n",
            "defined a second time",
        ),
        ("a: &x.y 1\n", "anchor names of letters, digits"),
        ("a: &中 1\n", "anchor names of letters, digits"),
    ] {
        let err = load_with(text, Schema::Yaml11).unwrap_err();
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
    }
    // Quoted, a tab is text; YAML 1.2 (the core schema) lets an anchor be redefined.
    assert_eq!(yaml11("a: 'x\ty'\n").value, json!({"a": "x\ty"}));
    assert_eq!(
        load("a: &x 1\nb: &x 2\nc: *x\n").unwrap().value,
        json!({"a": 1, "b": 2, "c": 2})
    );
    assert_eq!(
        yaml11("a: &x-1_B 1\nb: *x-1_B\n").value,
        json!({"a": 1, "b": 1})
    );
}
