//! Deployment version inference: what Prefect 3.9.1's `get_inferred_version_info` and
//! `RunnerDeployment._get_deployment_version_info` record as a deployment's `version_info`
//! (spec `runner-deployment.md` §5).
//!
//! The sources are tried in Prefect's order — GitHub Actions, GitLab CI, Bitbucket Pipelines,
//! Azure DevOps (their environment variables), then the git working tree itself — and the
//! first that yields a complete record wins. Every source needs a git repository at (or above)
//! the working directory, for the commit message.
//!
//! The repository is read with the `git` command, running Prefect's own commands
//! (`git log -1 --pretty=%B`, `git rev-parse HEAD`, `git rev-parse --abbrev-ref HEAD`,
//! `git config --get remote.origin.url`), so the answers are git's in every case (worktrees,
//! `safe.directory`, includes, `GIT_DIR`). Without a `git` executable on `PATH`, libgit2 reads
//! the same values. (libgit2 is not the first choice because its initialisation also
//! initialises OpenSSL and loads the system's certificate bundle — about 4 MiB, a fifth of a
//! `prefab deploy` process — to read four local values; docs/deviations.md V2.)
//!
//! The environment is passed in as a lookup function, so callers (and tests) decide what it
//! holds; [`process_env`] reads the real one.
//!
//! One deliberate difference from Prefect: where Prefect formats an unset environment
//! variable into a URL (`None/org/repo/tree/<sha>`), the URL is left out instead.
//!
//! ```
//! use std::collections::HashMap;
//! use prefab_core::version::{get_inferred_version_info, VersionInfo};
//!
//! let env: HashMap<&str, &str> = HashMap::new();
//! let lookup = |name: &str| env.get(name).map(|v| v.to_string());
//! let dir = std::env::temp_dir().join(format!("prefab-version-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! // Not a git repository and no CI variables: nothing to infer.
//! assert_eq!(get_inferred_version_info(None, &lookup, &dir).unwrap(), None);
//!
//! // What `apply` records then: the explicit (or flow) version, or "".
//! let info = VersionInfo::deployment(None, Some("1.2"), false);
//! assert_eq!(
//!     serde_json::to_string(&info).unwrap(),
//!     r#"{"type":"prefect:simple","version":"1.2"}"#
//! );
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

/// `prefect:simple`: a version string with no source-control information.
pub const SIMPLE: &str = "prefect:simple";
/// `vcs:github`: GitHub Actions (`GITHUB_*` variables).
pub const GITHUB: &str = "vcs:github";
/// `vcs:gitlab`: GitLab CI (`CI_*` variables).
pub const GITLAB: &str = "vcs:gitlab";
/// `vcs:bitbucket`: Bitbucket Pipelines (`BITBUCKET_*` variables).
pub const BITBUCKET: &str = "vcs:bitbucket";
/// `vcs:azuredevops`: Azure Pipelines (`BUILD_*` variables).
pub const AZUREDEVOPS: &str = "vcs:azuredevops";
/// `vcs:git`: the git working tree (HEAD, its branch, `remote.origin.url`).
pub const GIT: &str = "vcs:git";

/// Every version type Prefect knows, [`SIMPLE`] first, then the inference order.
pub const VERSION_TYPES: [&str; 6] = [SIMPLE, GITHUB, GITLAB, BITBUCKET, AZUREDEVOPS, GIT];

/// A deployment's `version_info`, serialised with Prefect's keys in Prefect's order:
/// `type`, `version`, then (source-control kinds) `commit_sha`, `message`, `branch`,
/// `repository`, `url`. Unset keys are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// `prefect:simple`, `vcs:github`, `vcs:gitlab`, `vcs:bitbucket`, `vcs:azuredevops`,
    /// `vcs:git` (or any other string another producer chose).
    #[serde(rename = "type")]
    pub kind: String,
    /// The deployment's version: the first 8 characters of the commit SHA unless the user set
    /// one.
    pub version: String,
    /// The full commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// The first line of the commit message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The branch (or ref) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The repository: `org/name` (GitHub, git remote path) or the bare name (GitLab,
    /// Bitbucket, Azure DevOps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// A link to the commit (CI kinds) or the remote URL (`vcs:git`); left out when the
    /// variable it is built from is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl VersionInfo {
    /// `{"type": "prefect:simple", "version": version}`.
    pub fn simple(version: impl Into<String>) -> Self {
        Self {
            kind: SIMPLE.to_owned(),
            version: version.into(),
            commit_sha: None,
            message: None,
            branch: None,
            repository: None,
            url: None,
        }
    }

    /// What `RunnerDeployment._get_deployment_version_info` returns, given the inferred info
    /// (if any), the deployment's `version` and whether that version came from the flow
    /// (`_version_from_flow`): an explicit version wins over the commit's short SHA, which wins
    /// over the flow's version, which wins over `""`.
    pub fn deployment(
        inferred: Option<VersionInfo>,
        version: Option<&str>,
        version_from_flow: bool,
    ) -> Self {
        let version = version.filter(|v| !v.is_empty());
        match inferred {
            Some(mut info) => {
                if let Some(v) = version.filter(|_| !version_from_flow) {
                    info.version = v.to_owned();
                }
                info
            }
            None => Self::simple(version.unwrap_or("")),
        }
    }

    /// The same value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A `version_type` that is none of [`VERSION_TYPES`] (Prefect: `Unknown version type: <v>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown version type: {0}")]
pub struct UnknownVersionType(pub String);

/// Reads the process environment (for [`get_inferred_version_info`] outside tests).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Infers version information the way Prefect's `get_inferred_version_info(version_type)`
/// does, with `env` as the environment and `cwd` as the working directory.
///
/// * `Some("prefect:simple")` → `Ok(None)`, nothing is looked at;
/// * another known type → only that source is tried;
/// * `None` → GitHub, GitLab, Bitbucket, Azure DevOps, git, first complete one wins;
/// * an unknown type → [`UnknownVersionType`].
///
/// A source that cannot give a complete record (a required variable unset, not inside a git
/// repository, no commit, no remote) is skipped; when every source is skipped the result is
/// `Ok(None)`.
pub fn get_inferred_version_info(
    version_type: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Option<VersionInfo>, UnknownVersionType> {
    let kinds: &[&str] = match version_type {
        Some(SIMPLE) => return Ok(None),
        Some(kind) => match VERSION_TYPES[1..].iter().find(|k| **k == kind) {
            Some(known) => std::slice::from_ref(known),
            None => return Err(UnknownVersionType(kind.to_owned())),
        },
        None => &VERSION_TYPES[1..],
    };
    Ok(kinds.iter().find_map(|kind| infer(kind, env, cwd)))
}

/// One source: `None` when it cannot give a complete record.
fn infer(kind: &str, env: &impl Fn(&str) -> Option<String>, cwd: &Path) -> Option<VersionInfo> {
    if kind == GIT {
        return git_version_info(cwd);
    }
    let ci = CiProvider::for_kind(kind)?;
    ci.version_info(env, cwd)
}

/// The environment variables of one CI provider and how its commit URL is built.
struct CiProvider {
    kind: &'static str,
    commit_sha: &'static str,
    branch: &'static str,
    repository: &'static str,
    /// The variable holding the URL's base.
    url_base: &'static str,
    /// Builds the URL from the base, the repository and the SHA.
    url: fn(&str, &str, &str) -> String,
}

static CI_PROVIDERS: [CiProvider; 4] = [
    CiProvider {
        kind: GITHUB,
        commit_sha: "GITHUB_SHA",
        branch: "GITHUB_REF_NAME",
        repository: "GITHUB_REPOSITORY",
        url_base: "GITHUB_SERVER_URL",
        url: |base, repository, sha| format!("{base}/{repository}/tree/{sha}"),
    },
    CiProvider {
        kind: GITLAB,
        commit_sha: "CI_COMMIT_SHA",
        branch: "CI_COMMIT_REF_NAME",
        repository: "CI_PROJECT_NAME",
        url_base: "CI_PROJECT_URL",
        url: |base, _, sha| format!("{base}/-/tree/{sha}"),
    },
    CiProvider {
        kind: BITBUCKET,
        commit_sha: "BITBUCKET_COMMIT",
        branch: "BITBUCKET_BRANCH",
        repository: "BITBUCKET_REPO_SLUG",
        url_base: "BITBUCKET_GIT_HTTP_ORIGIN",
        url: |base, _, sha| format!("{base}/src/{sha}"),
    },
    CiProvider {
        kind: AZUREDEVOPS,
        commit_sha: "BUILD_SOURCEVERSION",
        branch: "BUILD_SOURCEBRANCHNAME",
        repository: "BUILD_REPOSITORY_NAME",
        url_base: "BUILD_REPOSITORY_URI",
        url: |base, _, sha| format!("{base}?version=GC{sha}"),
    },
];

impl CiProvider {
    fn for_kind(kind: &str) -> Option<&'static CiProvider> {
        CI_PROVIDERS.iter().find(|p| p.kind == kind)
    }

    fn version_info(
        &self,
        env: &impl Fn(&str) -> Option<String>,
        cwd: &Path,
    ) -> Option<VersionInfo> {
        // Python's `os.getenv(...) or ...`: an empty value counts as unset.
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let commit_sha = var(self.commit_sha);
        let branch = var(self.branch);
        let repository = var(self.repository);
        // Prefect reads the message (running `git log`) before checking the variables, so
        // outside a git repository every CI source fails too. Either missing gives `None`, so
        // the variables are checked first: no repository is opened for an unset provider.
        let (commit_sha, branch, repository) = (commit_sha?, branch?, repository?);
        let message = commit_message(cwd)?;
        let url = var(self.url_base).map(|base| (self.url)(&base, &repository, &commit_sha));
        Some(VersionInfo {
            kind: self.kind.to_owned(),
            version: short_sha(&commit_sha),
            commit_sha: Some(commit_sha),
            message: Some(message),
            branch: Some(branch),
            repository: Some(repository),
            url,
        })
    }
}

/// `vcs:git`: HEAD's SHA, `git rev-parse --abbrev-ref HEAD`, `remote.origin.url` and the
/// repository path parsed from it, the commit message's first line — read with the `git`
/// command, as Prefect does, or with libgit2 when there is no `git` executable.
fn git_version_info(cwd: &Path) -> Option<VersionInfo> {
    match git_cli_version_info(cwd) {
        Ok(info) => info,
        Err(NoGit) => libgit2_version_info(cwd),
    }
}

/// There is no `git` executable on `PATH`.
#[derive(Debug)]
struct NoGit;

/// Runs `git ARGS` in `cwd` and returns its output, trimmed; `Ok(None)` when it fails or prints
/// something that is not UTF-8 (Prefect's `run_process(...).stdout.decode()` raises then).
fn git(cwd: &Path, args: &[&str]) -> Result<Option<String>, NoGit> {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(NoGit),
        Err(_) => Ok(None),
        Ok(o) if !o.status.success() => Ok(None),
        Ok(o) => Ok(String::from_utf8(o.stdout)
            .ok()
            .map(|s| s.trim().to_owned())),
    }
}

/// Prefect's `get_git_version_info`: the same four commands in the same order.
fn git_cli_version_info(cwd: &Path) -> Result<Option<VersionInfo>, NoGit> {
    let Some(commit_sha) = git(cwd, &["rev-parse", "HEAD"])? else {
        return Ok(None);
    };
    let Some(branch) = git(cwd, &["rev-parse", "--abbrev-ref", "HEAD"])? else {
        return Ok(None);
    };
    let Some(remote_url) = git(cwd, &["config", "--get", "remote.origin.url"])? else {
        return Ok(None);
    };
    let Some(message) = git_commit_message(cwd)? else {
        return Ok(None);
    };
    Ok(git_info(commit_sha, branch, remote_url, message))
}

/// The `vcs:git` record from what git said. Prefect takes the remote URL as `url` only when a
/// repository path was parsed from it, and fails without a URL.
fn git_info(
    commit_sha: String,
    branch: String,
    remote_url: String,
    message: String,
) -> Option<VersionInfo> {
    let repository = repository_from_remote(&remote_url);
    if repository.is_empty() || remote_url.is_empty() {
        return None;
    }
    Some(VersionInfo {
        kind: GIT.to_owned(),
        version: short_sha(&commit_sha),
        commit_sha: Some(commit_sha),
        message: Some(message),
        branch: Some(branch),
        repository: Some(repository),
        url: Some(remote_url),
    })
}

/// [`git_cli_version_info`] through libgit2, for machines without a `git` executable.
fn libgit2_version_info(cwd: &Path) -> Option<VersionInfo> {
    let repo = open_repository(cwd)?;
    let head = repo.head().ok()?;
    let commit = head.peel_to_commit().ok()?;
    let commit_sha = commit.id().to_string();
    // `git rev-parse --abbrev-ref HEAD`: the branch's short name, `HEAD` when detached.
    let branch = if repo.head_detached().unwrap_or(false) {
        "HEAD".to_owned()
    } else {
        head.shorthand().unwrap_or("HEAD").to_owned()
    };
    let remote_url = repo
        .config()
        .ok()?
        .get_string("remote.origin.url")
        .ok()?
        .trim()
        .to_owned();
    let message = first_line(commit.message_raw().ok()?)?;
    git_info(commit_sha, branch, remote_url, message)
}

/// The repository at or above `cwd` (how `git` finds it).
fn open_repository(cwd: &Path) -> Option<git2::Repository> {
    git2::Repository::discover(cwd).ok()
}

/// `git log -1 --pretty=%B`, trimmed, first line; `None` outside a repository, without a
/// commit or with an empty message (Prefect's `splitlines()[0]` fails on it). libgit2 reads it
/// when there is no `git` executable.
fn commit_message(cwd: &Path) -> Option<String> {
    git_commit_message(cwd).unwrap_or_else(|NoGit| libgit2_commit_message(cwd))
}

/// [`commit_message`] through the `git` command.
fn git_commit_message(cwd: &Path) -> Result<Option<String>, NoGit> {
    Ok(git(cwd, &["log", "-1", "--pretty=%B"])?.and_then(|m| first_line(&m)))
}

/// [`commit_message`] through libgit2.
fn libgit2_commit_message(cwd: &Path) -> Option<String> {
    let repo = open_repository(cwd)?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    first_line(commit.message_raw().ok()?)
}

fn first_line(message: &str) -> Option<String> {
    message.trim().lines().next().map(str::to_owned)
}

/// The first 8 characters of a SHA.
fn short_sha(sha: &str) -> String {
    sha.chars().take(8).collect()
}

/// Python's `urlparse(remote).path.strip("/")` without a trailing `.git`:
/// `https://github.com/org/x.git` → `org/x`, `https://example.com/my-repo` → `my-repo`.
/// scp-like remotes (`git@github.com:org/x.git`) have no scheme, so `urlparse` takes the
/// whole string as the path, and so does this.
fn repository_from_remote(remote: &str) -> String {
    let path = url_path(remote);
    let path = path.trim_matches('/');
    path.strip_suffix(".git").unwrap_or(path).to_owned()
}

/// The path component as `urllib.parse.urlparse` splits it: after `scheme:` (a letter followed
/// by letters, digits, `+`, `-`, `.`), after `//netloc` when present, before `?` and `#`.
fn url_path(url: &str) -> &str {
    let mut rest = url;
    if let Some((scheme, after)) = url.split_once(':') {
        let mut chars = scheme.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid {
            rest = after;
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        rest = after.find(['/', '?', '#']).map_or("", |i| &after[i..]);
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;

    const SHA: &str = "abcdef1234567890";

    /// An environment variable and its value.
    type Var = (&'static str, &'static str);

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    /// A repository with one commit on `my-current-branch` and the given origin.
    fn repo_with_commit(message: &str, remote: Option<&str>) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("flow.py"), "x = 1\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("flow.py")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Test", "test@example.com").unwrap();
        let oid = repo
            .commit(
                Some("refs/heads/my-current-branch"),
                &sig,
                &sig,
                message,
                &tree,
                &[],
            )
            .unwrap();
        repo.set_head("refs/heads/my-current-branch").unwrap();
        if let Some(url) = remote {
            repo.remote("origin", url).unwrap();
        }
        (dir, oid.to_string())
    }

    fn infer_in(
        version_type: Option<&str>,
        env: &[(&str, &str)],
        cwd: &Path,
    ) -> Option<VersionInfo> {
        get_inferred_version_info(version_type, &env_of(env), cwd).unwrap()
    }

    const GITHUB_ENV: [(&str, &str); 4] = [
        ("GITHUB_SHA", SHA),
        ("GITHUB_REF_NAME", "my-current-branch"),
        ("GITHUB_REPOSITORY", "org/test-repo"),
        ("GITHUB_SERVER_URL", "https://github.com"),
    ];
    const GITLAB_ENV: [(&str, &str); 4] = [
        ("CI_COMMIT_SHA", SHA),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_PROJECT_NAME", "test-repo"),
        ("CI_PROJECT_URL", "https://gitlab.com/org/test-repo"),
    ];
    const BITBUCKET_ENV: [(&str, &str); 4] = [
        ("BITBUCKET_COMMIT", SHA),
        ("BITBUCKET_BRANCH", "main"),
        ("BITBUCKET_REPO_SLUG", "test-repo"),
        (
            "BITBUCKET_GIT_HTTP_ORIGIN",
            "https://bitbucket.org/org/test-repo",
        ),
    ];
    const AZURE_ENV: [(&str, &str); 4] = [
        ("BUILD_SOURCEVERSION", SHA),
        ("BUILD_SOURCEBRANCHNAME", "main"),
        ("BUILD_REPOSITORY_NAME", "test-repo"),
        (
            "BUILD_REPOSITORY_URI",
            "https://dev.azure.com/org/project/_git/test-repo",
        ),
    ];

    #[test]
    fn github_shape_and_key_order() {
        let (dir, _) = repo_with_commit("Initial commit", None);
        let info = infer_in(None, &GITHUB_ENV, dir.path()).unwrap();
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"type":"vcs:github","version":"abcdef12","commit_sha":"abcdef1234567890","message":"Initial commit","branch":"my-current-branch","repository":"org/test-repo","url":"https://github.com/org/test-repo/tree/abcdef1234567890"}"#
        );
    }

    #[test]
    fn gitlab_bitbucket_azure_shapes() {
        let (dir, _) = repo_with_commit("Initial commit", None);
        let cases: [(&[Var], &str, &str); 3] = [
            (
                &GITLAB_ENV,
                GITLAB,
                "https://gitlab.com/org/test-repo/-/tree/abcdef1234567890",
            ),
            (
                &BITBUCKET_ENV,
                BITBUCKET,
                "https://bitbucket.org/org/test-repo/src/abcdef1234567890",
            ),
            (
                &AZURE_ENV,
                AZUREDEVOPS,
                "https://dev.azure.com/org/project/_git/test-repo?version=GCabcdef1234567890",
            ),
        ];
        for (env, kind, url) in cases {
            let info = infer_in(None, env, dir.path()).unwrap();
            assert_eq!(
                info,
                VersionInfo {
                    kind: kind.to_owned(),
                    version: "abcdef12".to_owned(),
                    commit_sha: Some(SHA.to_owned()),
                    message: Some("Initial commit".to_owned()),
                    branch: Some("main".to_owned()),
                    repository: Some("test-repo".to_owned()),
                    url: Some(url.to_owned()),
                },
                "{kind}"
            );
            // Asking for that type explicitly gives the same.
            assert_eq!(infer_in(Some(kind), env, dir.path()), Some(info));
        }
    }

    #[test]
    fn missing_required_variable_skips_the_provider() {
        let (dir, _) = repo_with_commit("Initial commit", None);
        for providers in CI_PROVIDERS.iter() {
            for missing in [providers.commit_sha, providers.branch, providers.repository] {
                let env: Vec<(&str, &str)> = [GITHUB_ENV, GITLAB_ENV, BITBUCKET_ENV, AZURE_ENV]
                    .concat()
                    .into_iter()
                    .filter(|(k, _)| *k != missing)
                    .collect();
                let info = infer_in(Some(providers.kind), &env, dir.path());
                assert_eq!(info, None, "{} without {missing}", providers.kind);
                // An empty value is unset too (Python's `or`).
                let mut env = env;
                env.push((missing, ""));
                assert_eq!(infer_in(Some(providers.kind), &env, dir.path()), None);
            }
        }
    }

    #[test]
    fn missing_url_base_omits_the_url_never_none() {
        let (dir, _) = repo_with_commit("Initial commit", None);
        for (env, base) in [
            (GITHUB_ENV, "GITHUB_SERVER_URL"),
            (GITLAB_ENV, "CI_PROJECT_URL"),
            (BITBUCKET_ENV, "BITBUCKET_GIT_HTTP_ORIGIN"),
            (AZURE_ENV, "BUILD_REPOSITORY_URI"),
        ] {
            let env: Vec<_> = env.into_iter().filter(|(k, _)| *k != base).collect();
            let info = infer_in(None, &env, dir.path()).unwrap();
            assert_eq!(info.url, None, "{}", info.kind);
            assert_eq!(info.commit_sha.as_deref(), Some(SHA));
            let json = serde_json::to_string(&info).unwrap();
            assert!(!json.contains("None"), "{json}");
            assert!(!json.contains("\"url\""), "{json}");
        }
    }

    #[test]
    fn ci_sources_need_a_git_repository() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(infer_in(None, &GITHUB_ENV, dir.path()), None);
        assert_eq!(infer_in(Some(GITLAB), &GITLAB_ENV, dir.path()), None);
    }

    #[test]
    fn no_ci_and_not_a_repository_gives_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(infer_in(None, &[], dir.path()), None);
        assert_eq!(infer_in(Some(GIT), &[], dir.path()), None);
    }

    #[test]
    fn plain_git_repository() {
        let (dir, sha) = repo_with_commit("Initial commit", Some("https://example.com/my-repo"));
        let info = infer_in(None, &[], dir.path()).unwrap();
        assert_eq!(
            info,
            VersionInfo {
                kind: GIT.to_owned(),
                version: sha[..8].to_owned(),
                commit_sha: Some(sha.clone()),
                message: Some("Initial commit".to_owned()),
                branch: Some("my-current-branch".to_owned()),
                repository: Some("my-repo".to_owned()),
                url: Some("https://example.com/my-repo".to_owned()),
            }
        );
        assert_eq!(
            serde_json::to_value(&info)
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            [
                "type",
                "version",
                "commit_sha",
                "message",
                "branch",
                "repository",
                "url"
            ]
        );
        // From a subdirectory too (git discovers the repository upwards).
        let sub: PathBuf = dir.path().join("flows");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(infer_in(Some(GIT), &[], &sub), Some(info));
    }

    #[test]
    fn multi_line_message_keeps_the_first_line() {
        let (dir, _) = repo_with_commit(
            "\nAdd the flow\n\nLonger description\nmore\n",
            Some("https://github.com/org/x.git"),
        );
        let info = infer_in(None, &[], dir.path()).unwrap();
        assert_eq!(info.message.as_deref(), Some("Add the flow"));
        assert_eq!(info.repository.as_deref(), Some("org/x"));
    }

    #[test]
    fn git_without_remote_or_commit_fails() {
        let (dir, _) = repo_with_commit("Initial commit", None);
        assert_eq!(infer_in(None, &[], dir.path()), None);
        let empty = tempfile::tempdir().unwrap();
        git2::Repository::init(empty.path()).unwrap();
        assert_eq!(infer_in(None, &GITHUB_ENV, empty.path()), None);
    }

    #[test]
    fn detached_head_branch_is_head() {
        let (dir, sha) = repo_with_commit("Initial commit", Some("https://example.com/my-repo"));
        let repo = git2::Repository::open(dir.path()).unwrap();
        repo.set_head_detached(git2::Oid::from_str(&sha).unwrap())
            .unwrap();
        let info = infer_in(None, &[], dir.path()).unwrap();
        assert_eq!(info.branch.as_deref(), Some("HEAD"));
    }

    /// The `git` command and the libgit2 fallback read the same values from the same
    /// repositories: a branch, a subdirectory, a detached HEAD, a multi-line message, an scp-like
    /// remote, no remote, no commit, no repository.
    #[test]
    fn git_command_and_libgit2_agree() {
        let mut cases: Vec<(tempfile::TempDir, PathBuf)> = Vec::new();
        let (dir, _) = repo_with_commit("Initial commit", Some("https://example.com/my-repo"));
        let sub = dir.path().join("flows");
        std::fs::create_dir_all(&sub).unwrap();
        cases.push((dir, sub));
        let (dir, sha) = repo_with_commit("\nFirst\n\nmore\n", Some("git@github.com:org/x.git"));
        git2::Repository::open(dir.path())
            .unwrap()
            .set_head_detached(git2::Oid::from_str(&sha).unwrap())
            .unwrap();
        let path = dir.path().to_owned();
        cases.push((dir, path));
        let (dir, _) = repo_with_commit("No remote", None);
        let path = dir.path().to_owned();
        cases.push((dir, path));
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let path = dir.path().to_owned();
        cases.push((dir, path));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        cases.push((dir, path));
        let mut found = 0;
        for (_dir, path) in &cases {
            let cli = git_cli_version_info(path).expect("the tests need a git executable");
            assert_eq!(cli, libgit2_version_info(path), "{}", path.display());
            assert_eq!(
                git_commit_message(path).unwrap(),
                libgit2_commit_message(path),
                "{}",
                path.display()
            );
            found += usize::from(cli.is_some());
        }
        assert_eq!(found, 2, "two of the cases have complete git info");
    }

    #[test]
    fn precedence_github_gitlab_bitbucket_azure_git() {
        let (dir, _) = repo_with_commit("Initial commit", Some("https://example.com/my-repo"));
        let all = [GITHUB_ENV, GITLAB_ENV, BITBUCKET_ENV, AZURE_ENV];
        for (skip, expected) in [GITHUB, GITLAB, BITBUCKET, AZUREDEVOPS, GIT]
            .into_iter()
            .enumerate()
        {
            let env: Vec<_> = all[skip..].concat();
            let info = infer_in(None, &env, dir.path()).unwrap();
            assert_eq!(info.kind, expected);
        }
        // An explicit type picks that source even when an earlier one would answer.
        let env = all.concat();
        assert_eq!(infer_in(Some(GIT), &env, dir.path()).unwrap().kind, GIT);
        assert_eq!(
            infer_in(Some(AZUREDEVOPS), &env, dir.path()).unwrap().kind,
            AZUREDEVOPS
        );
    }

    #[test]
    fn simple_and_unknown_types() {
        let (dir, _) = repo_with_commit("Initial commit", Some("https://example.com/my-repo"));
        assert_eq!(infer_in(Some(SIMPLE), &GITHUB_ENV, dir.path()), None);
        assert_eq!(
            get_inferred_version_info(Some("vcs:svn"), &env_of(&[]), dir.path())
                .unwrap_err()
                .to_string(),
            "Unknown version type: vcs:svn"
        );
    }

    #[test]
    fn deployment_version_precedence() {
        let inferred = VersionInfo {
            kind: GITHUB.to_owned(),
            version: "abcdef12".to_owned(),
            commit_sha: Some(SHA.to_owned()),
            message: Some("m".to_owned()),
            branch: Some("b".to_owned()),
            repository: Some("r".to_owned()),
            url: None,
        };
        // Explicit version > short SHA.
        let info = VersionInfo::deployment(Some(inferred.clone()), Some("1.0"), false);
        assert_eq!((info.kind.as_str(), info.version.as_str()), (GITHUB, "1.0"));
        // Short SHA > the flow's version > nothing.
        for version in [Some("flowhash"), None, Some("")] {
            let info = VersionInfo::deployment(Some(inferred.clone()), version, true);
            assert_eq!(info.version, "abcdef12");
        }
        assert_eq!(
            VersionInfo::deployment(Some(inferred.clone()), None, false).version,
            "abcdef12"
        );
        // No inference: the flow's (or explicit) version, else "".
        assert_eq!(
            VersionInfo::deployment(None, Some("flowhash"), true),
            VersionInfo::simple("flowhash")
        );
        assert_eq!(
            VersionInfo::deployment(None, None, false).to_json(),
            serde_json::json!({"type": "prefect:simple", "version": ""})
        );
    }

    #[test]
    fn repository_from_remote_urls() {
        for (remote, repository) in [
            ("https://example.com/my-repo", "my-repo"),
            ("https://github.com/org/x.git", "org/x"),
            ("https://github.com/org/x.git/", "org/x"),
            ("ssh://git@github.com/org/x.git", "org/x"),
            ("https://github.com/org/x?ref=1#frag", "org/x"),
            ("git@github.com:org/x.git", "git@github.com:org/x"),
            ("https://example.com", ""),
        ] {
            assert_eq!(repository_from_remote(remote), repository, "{remote}");
        }
    }

    #[test]
    fn deserialises_other_producers() {
        let info: VersionInfo =
            serde_json::from_str(r#"{"type":"prefect:simple","version":"v1"}"#).unwrap();
        assert_eq!(info, VersionInfo::simple("v1"));
    }
}
