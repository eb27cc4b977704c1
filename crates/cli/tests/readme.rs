//! The README's commands, run as a user would run them, with their shown output checked: the
//! schedule preview byte for byte, the quick start's deploy by its table and its plan line by
//! line (ids and run dates differ from run to run). A README that drifts from the binary fails
//! here.

mod common;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The README line running `cargo run -p prefab-cli -- {command}`: the directory it runs in
/// (`(cd DIR && cargo run …)`, relative to the repository) and the arguments after
/// `cargo run -p prefab-cli --`, split as a shell would (double quotes only).
fn readme_command(command: &str) -> (PathBuf, Vec<String>) {
    let needle = format!("cargo run -p prefab-cli -- {command}");
    let line = readme()
        .lines()
        .find(|l| l.starts_with(&needle) || (l.starts_with("(cd ") && l.contains(&needle)))
        .unwrap_or_else(|| panic!("no README line runs {needle:?}"))
        .to_owned();
    let (dir, rest) = match line.strip_prefix("(cd ") {
        Some(sub) => {
            let (dir, rest) = sub.split_once(" && ").expect("(cd DIR && …)");
            (root().join(dir), rest.trim_end_matches(')').to_owned())
        }
        None => (root(), line.clone()),
    };
    let rest = rest.trim_start_matches("cargo run -p prefab-cli -- ");
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        args.push(current);
    }
    (dir, args)
}

/// The first ```text block after the line starting with `after`.
fn text_block_after(after: &str) -> String {
    let text = readme();
    let start = text.find(after).unwrap();
    let block = &text[start..];
    let open = block.find("```text\n").unwrap() + "```text\n".len();
    let close = block[open..].find("```").unwrap();
    block[open..open + close].to_owned()
}

#[test]
fn the_schedule_preview_prints_what_the_readme_shows() {
    let (_, args) = readme_command("schedule preview");
    let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = text_block_after("cargo run -p prefab-cli -- schedule preview");
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn the_quick_start_deploy_applies_what_the_readme_shows() {
    let server = prefect::server();
    let (dir, args) = readme_command("deploy");
    let mut cmd = prefab();
    let out = cmd
        .current_dir(&dir)
        .env("PREFECT_API_URL", server.api_url())
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = text_block_after("The first command reads");
    let shown = &shown[..]; // the README's example output
    let table = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .skip_while(|l| !l.starts_with("DEPLOYMENT  "))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| {
                let mut cols = l.split_whitespace();
                (
                    cols.next().unwrap_or_default().to_owned(),
                    cols.next().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let expected = table(shown);
    assert_eq!(expected.len(), 5, "the README's table: {shown}");
    assert_eq!(table(&stdout), expected, "{stdout}");
    assert!(stdout.contains("5 applied, 0 failed"), "{stdout}");
    assert!(stdout.contains("NEXT RUNS"), "{stdout}");

    // The README's plan, "after changing a parameter in the file": region us → eu in a copy of
    // the examples (same deployments, so the rest is unchanged).
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&root().join("examples"), &copy.path().join("examples"));
    let project = copy.path().join(dir.strip_prefix(root()).unwrap());
    let file = project.join("prefect.yaml");
    // Applied from the copy first: outside a git checkout the default version is the flow
    // file's hash, not the commit the repository's deploy above recorded.
    let mut cmd = prefab();
    let out = cmd
        .current_dir(&project)
        .env("PREFECT_API_URL", server.api_url())
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches("region: us").count(), 1);
    std::fs::write(&file, text.replace("region: us", "region: eu")).unwrap();
    let (_, plan_args) = readme_command("plan");
    let mut cmd = prefab();
    let out = cmd
        .current_dir(&project)
        .env("PREFECT_API_URL", server.api_url())
        .args(plan_args)
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{plan}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = text_block_after("cargo run -p prefab-cli -- plan");
    // The shared test server holds other tests' deployments of the same flows, which `--prune`
    // lists as deletions: the summary's delete count is not the README's.
    let summary = shown.lines().last().unwrap();
    let kept = summary.rsplit_once(", ").unwrap().0;
    assert!(
        plan.contains(&format!("{kept}, ")),
        "{kept:?} is not in:\n{plan}"
    );
    for line in shown.lines().filter(|l| !l.contains('…') && *l != summary) {
        // Ids differ from run to run; the rest of each shown line is printed as shown.
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| uuid::Uuid::parse_str(w).is_err())
            .collect();
        let found = plan.lines().any(|l| {
            let got: Vec<&str> = l
                .split_whitespace()
                .filter(|w| uuid::Uuid::parse_str(w).is_err())
                .collect();
            got == words
        });
        assert!(found, "the README's line {line:?} is not in:\n{plan}");
    }
}

/// The binary with no `PREFECT_*` of the environment running the test.
fn prefab() -> Command {
    common::prefab(None)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
