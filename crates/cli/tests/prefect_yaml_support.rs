//! Offline checks of the prefect.yaml conformance harness (`tests/support/prefect_state.rs`,
//! `tests/support/prefect_yaml.rs`): the normaliser's and comparer's unit tests, and the
//! vendored corpus's shape. The harness itself runs in `conformance_prefect_yaml` (a real
//! server, one project at a time).

#[allow(dead_code)]
#[path = "../../../tests/support/prefect_state.rs"]
mod prefect_state;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect_yaml.rs"]
mod prefect_yaml;

use prefect_state::compare_states;
use prefect_yaml::{fixtures_dir, process_base_job_template, projects};

#[test]
fn every_vendored_project_loads_and_equals_itself() {
    let all = projects(&fixtures_dir().join("projects")).unwrap();
    assert!(all.len() >= 26, "{} projects", all.len());
    for project in &all {
        assert!(
            project.dir.join("prefect.yaml").is_file(),
            "{}: no prefect.yaml",
            project.name
        );
        let state = project.expected_state();
        for key in ["deployments", "automations", "flows", "work_queues"] {
            assert!(state[key].is_array(), "{}: state.{key}", project.name);
        }
        let d = compare_states(state, state);
        assert!(d.is_empty(), "{}: {d}", project.name);
        assert!(!project.args().is_empty());
    }
}

#[test]
fn the_process_template_is_prefects_process_worker_template() {
    let template = process_base_job_template().unwrap();
    let properties = &template["variables"]["properties"];
    // ProcessWorker's own template (nullable fields), not the collection registry's.
    assert_eq!(properties["command"]["anyOf"][1]["type"], "null");
    assert_eq!(template["job_configuration"]["command"], "{{ command }}");
}
