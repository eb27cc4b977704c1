//! `cargo xtask release X.Y.Z [--dry-run]`: bump every crate in lockstep, date the changelog,
//! package and `cargo publish --dry-run` every publishable crate in dependency order, and print
//! the tag to create. It never publishes: publishing is a human decision.
//!
//! With `--dry-run` the whole procedure runs on a temporary copy of HEAD, so the working tree is
//! left as it was; without it the bump and the changelog are written in place.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace_root;

/// Publishable packages, dependencies first.
const PUBLISH_ORDER: &[&str] = &[
    "prefab-schemas",
    "prefab-client",
    "prefab-storage",
    "prefab-flows",
    "prefab-core",
    "prefab-cli",
    "prefab",
];

pub(crate) fn run(version: &str, dry_run: bool) -> Result<(), String> {
    check_version(version)?;
    let root = workspace_root();
    let (tree, _temp) = if dry_run {
        let temp = TempDir::new("prefab-release")?;
        let archive = Command::new("git")
            .current_dir(&root)
            .args(["archive", "--format=tar", "HEAD"])
            .output()
            .map_err(|e| format!("git archive: {e}"))?;
        if !archive.status.success() {
            return Err(format!(
                "git archive failed: {}",
                String::from_utf8_lossy(&archive.stderr)
            ));
        }
        let tar_path = temp.path().join("head.tar");
        fs::write(&tar_path, &archive.stdout).map_err(|e| e.to_string())?;
        let tree = temp.path().join("tree");
        fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
        run_cmd(
            Command::new("tar")
                .arg("-xf")
                .arg(&tar_path)
                .arg("-C")
                .arg(&tree),
        )?;
        eprintln!("xtask: dry run in {}", tree.display());
        (tree, Some(temp))
    } else {
        (root.clone(), None)
    };

    let old = bump_manifest(&tree.join("Cargo.toml"), version)?;
    date_changelog(&tree.join("CHANGELOG.md"), version)?;
    eprintln!("xtask: {old} → {version} for {}", PUBLISH_ORDER.join(", "));

    // Packages the crates together (cargo resolves the unpublished siblings through a local
    // registry), builds each package from its .crate file, and checks the upload without doing it.
    let mut publish = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    publish
        .current_dir(&tree)
        .args(["publish", "--dry-run", "--allow-dirty", "--no-verify"]);
    for p in PUBLISH_ORDER {
        publish.args(["--package", p]);
    }
    if dry_run {
        publish.env(
            "CARGO_TARGET_DIR",
            crate::target_dir().join("release-dry-run"),
        );
    }
    run_cmd(&mut publish)?;
    let mut package = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    package
        .current_dir(&tree)
        .args(["package", "--allow-dirty"]);
    for p in PUBLISH_ORDER {
        package.args(["--package", p]);
    }
    if dry_run {
        package.env(
            "CARGO_TARGET_DIR",
            crate::target_dir().join("release-dry-run"),
        );
    }
    run_cmd(&mut package)?;

    println!("release v{version}: every crate packaged and checked (nothing published)");
    println!("tag: git tag -a v{version} -m \"prefab {version}\"");
    if dry_run {
        println!("(dry run: the working tree is unchanged)");
    }
    Ok(())
}

fn check_version(v: &str) -> Result<(), String> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!("{v:?} is not a version X.Y.Z"))
    }
}

/// Sets `[workspace.package] version` and every `prefab-*` pin to `=version`. Returns the old
/// version.
fn bump_manifest(path: &Path, version: &str) -> Result<String, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut old = None;
    let mut in_package = false;
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_package = trimmed.starts_with("[workspace.package]");
        }
        let mut line = line.to_owned();
        if in_package && trimmed.starts_with("version =") && old.is_none() {
            old = trimmed.split('"').nth(1).map(str::to_owned);
            line = format!("version = \"{version}\"");
        } else if trimmed.starts_with("prefab-")
            && trimmed.contains("path =")
            && trimmed.contains("version = \"=")
            && let (Some(a), Some(b)) = (line.find("version = \"="), line.rfind('"'))
        {
            line = format!("{}version = \"={version}{}", &line[..a], &line[b..]);
        }
        out.push_str(&line);
        out.push('\n');
    }
    let old = old.ok_or("no version in [workspace.package]")?;
    fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(old)
}

fn date_changelog(path: &Path, version: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !text.contains("## Unreleased") {
        return Err(format!(
            "{} has no \"## Unreleased\" section to release",
            path.display()
        ));
    }
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map_err(|e| e.to_string())?;
    let date = String::from_utf8_lossy(&date.stdout).trim().to_owned();
    let updated = text.replacen(
        "## Unreleased",
        &format!("## Unreleased\n\n## {version} - {date}"),
        1,
    );
    fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

fn run_cmd(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<TempDir, String> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_version("1.2.3").is_ok());
        assert!(check_version("1.2.3-rc.1").is_ok());
        assert!(check_version("1.2").is_err());
        assert!(check_version("v1.2.3").is_err());
    }
}
