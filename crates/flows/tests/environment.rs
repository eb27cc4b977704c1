//! Reading the environment a flow's module reads when Prefect imports it, and where the
//! reader stops: code that may change `os.environ` without the reader seeing how makes what
//! is read afterwards unknown (with a note), never guessed. The cases Prefect 3.9.1 recorded,
//! with each variable set and unset, are in `tests/fixtures/flows-env`.

use prefab_flows::{
    Environment, FlowLoadError, LoadOptions, LoadedFlow, load_flow_from_entrypoint_with,
};
use serde_json::{Value, json};

fn load_with(files: &[(&str, &str)], vars: &[(&str, &str)]) -> Result<LoadedFlow, FlowLoadError> {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    let options = LoadOptions::default().with_environment(Environment::from_vars(vars.to_vec()));
    load_flow_from_entrypoint_with("flow.py:f", dir.path(), &options)
}

/// The default of parameter `x` of `f` in a flow file with `prelude` before it.
fn default_of(prelude: &str, default: &str, vars: &[(&str, &str)]) -> (Value, Vec<String>) {
    let source =
        format!("from prefect import flow\n{prelude}\n\n@flow\ndef f(x={default}):\n    pass\n");
    let loaded = load_with(&[("flow.py", &source)], vars).unwrap();
    let schema = loaded.flow.parameter_schema.to_json();
    (schema["properties"]["x"]["default"].clone(), loaded.notes)
}

#[test]
fn variables_are_read_from_the_given_environment() {
    let read = "import os\nV = os.getenv('PREFAB_V', 'unset')";
    assert_eq!(default_of(read, "V", &[]).0, "unset");
    assert_eq!(default_of(read, "V", &[("PREFAB_V", "set")]).0, "set");
    assert_eq!(default_of(read, "V", &[("PREFAB_V", "")]).0, "");
    // `os.environ.get` without a default, `in`, and a function reading it when called.
    let (v, _) = default_of(
        "import os\ndef region():\n    return os.environ.get('PREFAB_REGION', 'eu').upper()",
        "[region(), 'PREFAB_A' in os.environ, os.environ.get('PREFAB_B')]",
        &[("PREFAB_A", "1")],
    );
    assert_eq!(v, json!(["EU", true, null]));
}

#[test]
fn the_process_environment_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flow.py"),
        "import os\nfrom prefect import flow\n\n@flow\ndef f(x=os.getenv('PATH', 'no PATH')):\n    pass\n",
    )
    .unwrap();
    let loaded = prefab_flows::load_flow_from_entrypoint("flow.py:f", dir.path()).unwrap();
    let want = std::env::var("PATH").unwrap_or_else(|_| "no PATH".into());
    assert_eq!(
        loaded.flow.parameter_schema.to_json()["properties"]["x"]["default"],
        want
    );
}

#[test]
fn conversions_follow_python() {
    let vars = [
        ("PREFAB_N", " 1_024 "),
        ("PREFAB_F", "2.5e3"),
        ("PREFAB_L", "a b  c "),
    ];
    let (v, _) = default_of(
        "import os\nE = os.environ",
        "[int(E['PREFAB_N']), float(E['PREFAB_F']), E['PREFAB_L'].split(), \
         E['PREFAB_L'].rsplit(None, 1), bool(E.get('PREFAB_MISSING', ''))]",
        &vars,
    );
    assert_eq!(
        v,
        json!([1024, 2500.0, ["a", "b", "c"], ["a b", "c"], false])
    );
}

#[test]
fn a_missing_variable_raises_key_error() {
    let err = load_with(
        &[
            (
                "flow.py",
                "from pkg.mod import V\nfrom prefect import flow\n\n@flow\ndef f(x=V):\n    pass\n",
            ),
            ("pkg/__init__.py", ""),
            ("pkg/mod.py", "import os\nV = os.environ['PREFAB_V']\n"),
        ],
        &[],
    )
    .unwrap_err();
    // The script's import raises, and so does its fallback loader's import of `pkg.mod`.
    assert_eq!(err.python_class(), "KeyError");
    assert_eq!(err.python_message(), "'PREFAB_V'");
    assert!(err.to_string().contains("KeyError"), "{err}");
}

#[test]
fn an_exception_where_python_may_not_run_is_not_certain() {
    // `os.getcwd()` is not evaluated: whether the branch runs is not known, so neither is
    // whether the module raises; it is read as importing without error.
    let (v, _) = default_of(
        "import os\nif os.getcwd():\n    V = os.environ['PREFAB_MISSING']\nelse:\n    V = 'b'",
        "1",
        &[],
    );
    assert_eq!(v, 1);
    // A clause naming a class the reader cannot place may or may not catch it: what the
    // clauses bind is not known.
    let (v, notes) = default_of(
        "import os\nfrom somewhere import CustomError\ntry:\n    V = os.environ['PREFAB_MISSING']\nexcept CustomError:\n    V = 'caught'",
        "V",
        &[],
    );
    assert_eq!(v, Value::Null);
    assert!(
        notes.iter().any(|n| n.contains("could not be evaluated")),
        "{notes:?}"
    );
}

#[test]
fn load_dotenv_makes_the_environment_unknown() {
    for prelude in [
        "import os\nfrom dotenv import load_dotenv\nload_dotenv()",
        "import os\nimport dotenv\ndotenv.load_dotenv(override=True)",
        "import os\nfrom environs import Env\nenv = Env()\nenv.read_env()",
        "import os\nfrom somewhere import configure\nconfigure()",
        "import os\ndef setup():\n    for k in ['PREFAB_V']:\n        os.environ[k] = 'x'\nsetup()",
        "import os\nos.environ.clear()",
    ] {
        let (v, notes) = default_of(
            &format!("{prelude}\nV = os.getenv('PREFAB_V', 'unset')"),
            "V",
            &[("PREFAB_V", "set")],
        );
        assert_eq!(v, Value::Null, "{prelude}");
        assert!(
            notes.iter().any(|n| n.contains("os.environ is read after")),
            "{prelude}: {notes:?}"
        );
    }
    // Variables the module sets afterwards are known again.
    let (v, _) = default_of(
        "import os\nfrom dotenv import load_dotenv\nload_dotenv()\nos.environ['PREFAB_V'] = 'mine'",
        "os.environ['PREFAB_V']",
        &[],
    );
    assert_eq!(v, "mine");
}

#[test]
fn calls_known_to_leave_the_environment_alone_keep_it_known() {
    for prelude in [
        "import logging\nlogging.basicConfig(level=logging.INFO)\nlogger = logging.getLogger(__name__)\nlogger.info('start')",
        "import warnings\nwarnings.filterwarnings('ignore')",
        "print('loading')",
        "import os\nos.makedirs('/tmp/x', exist_ok=True)",
    ] {
        let (v, _) = default_of(
            &format!("import os\n{prelude}\nV = os.getenv('PREFAB_V', 'unset')"),
            "V",
            &[("PREFAB_V", "set")],
        );
        assert_eq!(v, "set", "{prelude}");
    }
}

#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_not_known() {
    use std::os::unix::ffi::OsStringExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flow.py"),
        "import os\nfrom prefect import flow\n\n@flow\ndef f(x=os.environ['PREFAB_V']):\n    pass\n",
    )
    .unwrap();
    let env = Environment::from_vars([(
        std::ffi::OsString::from("PREFAB_V"),
        std::ffi::OsString::from_vec(vec![0xff]),
    )]);
    let loaded = load_flow_from_entrypoint_with(
        "flow.py:f",
        dir.path(),
        &LoadOptions::default().with_environment(env),
    )
    .unwrap();
    assert_eq!(
        loaded.flow.parameter_schema.to_json()["properties"]["x"]["default"],
        Value::Null
    );
    assert!(
        loaded.notes.iter().any(|n| n.contains("\"PREFAB_V\"")),
        "{:?}",
        loaded.notes
    );
}

#[test]
fn the_environment_debug_output_has_no_values() {
    let env = Environment::from_vars([("PREFAB_SECRET", "hunter2")]);
    let shown = format!("{:?}", LoadOptions::default().with_environment(env));
    assert!(shown.contains("PREFAB_SECRET"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn changes_python_may_not_make_leave_the_variable_unknown() {
    let (v, _) = default_of(
        "import os\nif os.getcwd():\n    os.environ['PREFAB_V'] = 'maybe'",
        "os.getenv('PREFAB_V', 'unset')",
        &[],
    );
    assert_eq!(v, Value::Null);
    // A test on a variable is known: the change is certain.
    let (v, _) = default_of(
        "import os\nif 'PREFAB_V' not in os.environ:\n    os.environ['PREFAB_V'] = 'default'",
        "os.environ['PREFAB_V']",
        &[],
    );
    assert_eq!(v, "default");
}

#[test]
fn with_blocks_run_and_only_suppress_swallows() {
    let (v, _) = default_of(
        "import os\nfrom contextlib import suppress\nV = 'before'\nwith suppress(KeyError):\n    V = os.environ['PREFAB_MISSING']\n    V = 'not reached'",
        "V",
        &[],
    );
    assert_eq!(v, "before");
    // Any other context manager lets the exception through: the module raises, and the
    // fallback loader (which runs no `with`) gives the flow no version.
    let source = "import os\nfrom prefect import flow\nwith open('/dev/null') as f:\n    V = os.environ['PREFAB_MISSING']\n\n@flow\ndef f(x: int = 1):\n    pass\n";
    let loaded = load_with(&[("flow.py", source)], &[]).unwrap();
    assert_eq!(loaded.flow.version, None);
}

#[cfg(unix)]
#[test]
fn file_paths_are_absolute_like_pythons() {
    let source = "from pathlib import Path\nimport os\nfrom prefect import flow\n\n@flow\ndef f(\n    here=__file__,\n    name=Path(__file__).name,\n    parent=Path(__file__).resolve().parent.name,\n    data=str(Path(__file__).parent / 'data' / 'in.csv'),\n    up=os.path.basename(os.path.dirname(os.path.abspath(__file__))),\n):\n    pass\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/flow.py"), source).unwrap();
    let options =
        LoadOptions::default().with_environment(Environment::from_vars(Vec::<(&str, &str)>::new()));
    let loaded = load_flow_from_entrypoint_with("flows/flow.py:f", dir.path(), &options).unwrap();
    let props = &loaded.flow.parameter_schema.to_json()["properties"];
    let file = dir.path().join("flows/flow.py");
    assert_eq!(props["here"]["default"], file.to_str().unwrap());
    assert_eq!(props["name"]["default"], "flow.py");
    assert_eq!(props["parent"]["default"], "flows");
    assert_eq!(
        props["data"]["default"],
        dir.path().join("flows/data/in.csv").to_str().unwrap()
    );
    assert_eq!(props["up"]["default"], "flows");
}
