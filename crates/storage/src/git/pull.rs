//! Pulling a git repository with libgit2 (and the `git` executable for sparse checkouts),
//! storage.md §3.5/§3.6/§3.10.
//!
//! What differs from Prefect, on purpose:
//! - credentials reach libgit2 through a credential callback (and the `git` executable through
//!   `GIT_ASKPASS` reading environment variables), never through the URL, so `.git/config`,
//!   argv and logs never hold them (Q8, Q9, Q12); they are offered for `http://` too;
//! - a fresh clone is built beside the destination and renamed into place (atomic);
//! - an existing checkout is updated by fetch + hard reset; a failed fetch leaves it untouched
//!   (Prefect deletes it and clones again);
//! - a pinned checkout moves when the pin changes (Q4) and a changed `directories` list always
//!   takes effect (Q5); fetching a pinned commit failing is a pull failure like any other (Q17).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;

use git2::build::CheckoutBuilder;
use git2::{
    AutotagOption, Cred, CredentialType, Direction, ErrorClass, ErrorCode, FetchOptions, Oid,
    RemoteCallbacks, Repository, ResetType, SubmoduleUpdateOptions,
};
use prefab_schemas::Secret;

use super::GitRepository;
use crate::StorageError;
use crate::lock::FileLock;
use crate::storage::{PullOptions, PullProgress, PullReport, RunnerStorage, SparseStrategy};
use crate::urls::{strip_auth, strip_auth_in_text, urlparse};

/// libgit2's `GIT_FETCH_DEPTH_UNSHALLOW`.
const UNSHALLOW: i32 = i32::MAX;
/// Index entry flag (extended flags) marking a path outside a sparse checkout.
const SKIP_WORKTREE: u16 = 1 << 14;
/// How often a rejected credential is offered again before giving up (libgit2 would loop).
const MAX_CREDENTIAL_OFFERS: u32 = 2;

pub(crate) async fn pull(
    repo: &GitRepository,
    options: &PullOptions,
) -> Result<PullReport, StorageError> {
    let transport = transport_of(repo.url())?;
    let job = Job::new(repo, transport, options)?;
    let _lock = FileLock::for_destination(&job.dest).acquire().await?;
    tracing::debug!(
        "Pulling contents from repository '{}' to '{}'...",
        job.name,
        job.dest.display()
    );
    let result = tokio::task::spawn_blocking(move || job.run())
        .await
        .map_err(|e| StorageError::Git {
            message: format!("the git pull task failed: {e}"),
            url: strip_auth(repo.url()),
            authentication: false,
        })?;
    if let Err(e) = &result {
        tracing::debug!("git pull of '{}' failed: {e}", strip_auth(repo.url()));
    }
    result
}

/// How a URL is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// `http://` / `https://` (smart HTTP; credentials via the callback).
    Http,
    /// `git://` (git daemon; anonymous).
    Git,
    /// `file://` or a plain path: libgit2's local transport cannot fetch shallow.
    Local,
}

impl Transport {
    fn supports_depth(self) -> bool {
        self != Transport::Local
    }
}

fn transport_of(url: &str) -> Result<Transport, StorageError> {
    let parsed = urlparse(url);
    let ssh = |url: &str| {
        let suggestion = ssh_to_https(url)
            .map(|u| format!(" (here: {u})"))
            .unwrap_or_default();
        StorageError::Unsupported {
            message: format!(
                "cannot pull '{}': ssh URLs are not supported (prefab is built without ssh). \
                 Use the repository's https URL{suggestion} with an access token as credentials.",
                strip_auth(url)
            ),
        }
    };
    match parsed.scheme.as_str() {
        "https" | "http" => Ok(Transport::Http),
        "git" => Ok(Transport::Git),
        "file" => Ok(Transport::Local),
        "ssh" | "git+ssh" | "ssh+git" => Err(ssh(url)),
        _ if !url.contains("://") && looks_like_scp(url) => Err(ssh(url)),
        "" => Ok(Transport::Local),
        s if s.len() == 1 && cfg!(windows) => Ok(Transport::Local),
        other => Err(StorageError::Unsupported {
            message: format!(
                "cannot pull '{}': the URL scheme '{other}' is not supported for git repositories; \
                 use https://, http://, git:// or file://.",
                strip_auth(url)
            ),
        }),
    }
}

/// `[user@]host:path` (scp-like ssh syntax): a `:` before any `/`.
fn looks_like_scp(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash && colon > 1,
        (Some(colon), None) => colon > 1,
        _ => false,
    }
}

/// `git@github.com:org/repo.git` / `ssh://git@host/org/repo.git` → `https://host/org/repo.git`.
fn ssh_to_https(url: &str) -> Option<String> {
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let (host, path) = rest.split_once('/')?;
        let host = host.split(':').next()?;
        return Some(format!("https://{host}/{path}"));
    }
    let rest = url.rsplit_once('@').map_or(url, |(_, h)| h);
    let (host, path) = rest.split_once(':')?;
    Some(format!("https://{host}/{}", path.trim_start_matches('/')))
}

/// The URL without `user:password@` (host case kept).
fn without_userinfo(url: &str) -> String {
    let parsed = urlparse(url);
    if parsed.userinfo().is_none() {
        return url.to_owned();
    }
    parsed.unparse_with(parsed.host_port(), parsed.path)
}

fn git_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("git")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

// ---------------------------------------------------------------------------------------------
// Sparse-checkout (cone mode) selection

/// Which files of a tree are checked out: all, or git's cone mode for some directories (files
/// at the top level, files directly inside every ancestor of a directory, and everything below
/// each directory).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Include {
    All,
    Cone(Vec<String>),
}

impl Include {
    fn from_directories(dirs: &[String]) -> Include {
        if dirs.is_empty() {
            return Include::All;
        }
        let mut norm: Vec<String> = dirs
            .iter()
            .map(|d| {
                d.trim_start_matches("./")
                    .trim_matches('/')
                    .replace("//", "/")
            })
            .filter(|d| !d.is_empty())
            .collect();
        if norm.len() < dirs.len() {
            // `.` or `/`: the whole tree.
            return Include::All;
        }
        norm.sort();
        norm.dedup();
        let kept: Vec<String> = norm
            .iter()
            .filter(|d| {
                !norm
                    .iter()
                    .any(|o| o != *d && d.starts_with(&format!("{o}/")))
            })
            .cloned()
            .collect();
        Include::Cone(kept)
    }

    fn matches(&self, path: &str) -> bool {
        let Include::Cone(dirs) = self else {
            return true;
        };
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        if parent.is_empty() {
            return true;
        }
        dirs.iter().any(|d| {
            path.starts_with(&format!("{d}/"))
                || d == parent
                || d.starts_with(&format!("{parent}/"))
        })
    }

    /// `.git/info/sparse-checkout` in cone-mode format, as `git sparse-checkout set` writes it.
    fn cone_patterns(&self) -> String {
        let Include::Cone(dirs) = self else {
            return "/*\n".into();
        };
        let mut out = String::from("/*\n!/*/\n");
        let mut parents = BTreeSet::new();
        for d in dirs {
            let mut acc = String::new();
            let parts: Vec<&str> = d.split('/').collect();
            for part in &parts[..parts.len() - 1] {
                if !acc.is_empty() {
                    acc.push('/');
                }
                acc.push_str(part);
                parents.insert(acc.clone());
            }
        }
        let mut lines: BTreeMap<String, bool> = BTreeMap::new();
        for p in parents {
            lines.insert(p, false);
        }
        for d in dirs {
            lines.insert(d.clone(), true);
        }
        for (path, recursive) in lines {
            out.push_str(&format!("/{path}/\n"));
            if !recursive {
                out.push_str(&format!("!/{path}/*/\n"));
            }
        }
        out
    }

    /// Reads the cone-mode directories back from a sparse-checkout file; `None` when the
    /// patterns are not cone-mode.
    fn parse_cone(text: &str) -> Option<Include> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let mut dirs = Vec::new();
        for line in &lines {
            if *line == "/*" || *line == "!/*/" || line.starts_with('!') {
                continue;
            }
            let dir = line.strip_prefix('/')?.strip_suffix('/')?;
            let negated = format!("!/{dir}/*/");
            if !lines.contains(&negated.as_str()) {
                dirs.push(dir.replace('\\', ""));
            }
        }
        Some(if dirs.is_empty() {
            Include::Cone(Vec::new())
        } else {
            Include::from_directories(&dirs)
        })
    }
}

/// The sparse state of an existing checkout (`core.sparseCheckout` + its patterns).
fn existing_include(git_dir: &Path) -> Include {
    let mut sparse = None;
    for file in ["config.worktree", "config"] {
        let path = git_dir.join(file);
        if !path.exists() {
            continue;
        }
        if let Ok(cfg) = git2::Config::open(&path)
            && let Ok(v) = cfg.get_bool("core.sparseCheckout")
        {
            sparse = Some(v);
            break;
        }
    }
    if sparse != Some(true) {
        return Include::All;
    }
    std::fs::read_to_string(git_dir.join("info").join("sparse-checkout"))
        .ok()
        .and_then(|t| Include::parse_cone(&t))
        .unwrap_or(Include::All)
}

/// path → (object id, file mode) of every file (and gitlink) in a tree.
type TreeFiles = BTreeMap<String, (String, i32)>;

fn diff_report(
    report: &mut PullReport,
    old: Option<(&TreeFiles, &Include)>,
    new: (&TreeFiles, &Include),
) {
    let filter = |files: &TreeFiles, inc: &Include| -> TreeFiles {
        files
            .iter()
            .filter(|(p, _)| inc.matches(p))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect()
    };
    let new = filter(new.0, new.1);
    let old = old.map(|(f, i)| filter(f, i)).unwrap_or_default();
    for (path, entry) in &new {
        match old.get(path) {
            None => report.added.push(path.clone()),
            Some(before) if before != entry => report.updated.push(path.clone()),
            Some(_) => report.unchanged += 1,
        }
    }
    for path in old.keys() {
        if !new.contains_key(path) {
            report.removed.push(path.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failures and messages (§3.6)

#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Auth,
    RepoNotFound,
    BranchNotFound(String),
    CommitNotFound(String),
    Unreachable,
    Other,
}

/// A failed step: what kind, the raw text from libgit2 / git, and the exit code to report.
#[derive(Debug)]
struct GitFailure {
    kind: Failure,
    detail: String,
    code: i32,
}

impl GitFailure {
    fn new(kind: Failure, detail: impl Into<String>) -> Self {
        GitFailure {
            kind,
            detail: detail.into(),
            code: 1,
        }
    }
}

impl From<git2::Error> for GitFailure {
    fn from(e: git2::Error) -> Self {
        let m = e.message().to_ascii_lowercase();
        let kind = if e.code() == ErrorCode::Auth
            || m.contains("status code: 401")
            || m.contains("authentication")
        {
            Failure::Auth
        } else if m.contains("status code: 404")
            || m.contains("not exported")
            || m.contains("repository not found")
            || m.contains("could not find repository")
            || m.contains("failed to resolve path")
        {
            Failure::RepoNotFound
        } else if e.class() == ErrorClass::Net
            || m.contains("failed to connect")
            || m.contains("connection refused")
            || m.contains("failed to resolve address")
            || m.contains("could not resolve host")
        {
            Failure::Unreachable
        } else {
            Failure::Other
        };
        GitFailure::new(kind, e.message().to_owned())
    }
}

/// Prefect's hint table (first case-insensitive match wins).
fn hint_for(text: &str) -> Option<&'static str> {
    const CREDS: &str =
        "Hint: Check that your credentials or access token are correct and not expired.";
    const ACCESS: &str = "Hint: Verify the repository URL and that you have access to it.";
    const NETWORK: &str = "Hint: Check your network connectivity and DNS settings.";
    let t = text.to_ascii_lowercase();
    [
        ("authentication failed", CREDS),
        ("repository not found", ACCESS),
        ("could not resolve host", NETWORK),
        ("connection refused", NETWORK),
        (
            "permission denied",
            "Hint: Check your SSH key or token permissions.",
        ),
        (
            "destination path",
            "Hint: A stale working directory may exist. Consider removing it and retrying.",
        ),
        ("not found", ACCESS),
    ]
    .into_iter()
    .find(|(p, _)| t.contains(p))
    .map(|(_, h)| h)
}

/// The last 3 lines of the trimmed text joined with ` | ` (Prefect's `git stderr:` tail).
fn tail3(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

// ---------------------------------------------------------------------------------------------
// The job

struct Job {
    url: String,
    remote_url: String,
    safe_url: String,
    transport: Transport,
    credentials: Option<(String, Secret)>,
    secrets: Vec<String>,
    branch: Option<String>,
    commit_sha: Option<String>,
    submodules: bool,
    directories: Vec<String>,
    include: Include,
    dest: PathBuf,
    name: String,
    sparse: SparseStrategy,
    options: PullOptions,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Clone,
    Update,
}

impl Job {
    fn new(
        repo: &GitRepository,
        transport: Transport,
        options: &PullOptions,
    ) -> Result<Job, StorageError> {
        let url = repo.url().to_owned();
        let credentials = match transport {
            Transport::Http => repo.basic_credentials()?,
            _ => None,
        };
        Ok(Job {
            remote_url: without_userinfo(&url),
            safe_url: strip_auth(&url),
            url,
            transport,
            credentials,
            secrets: repo.secrets_to_redact(),
            branch: repo.branch().map(str::to_owned),
            commit_sha: repo.commit_sha().map(str::to_owned),
            submodules: repo.include_submodules(),
            directories: repo.directories().to_vec(),
            include: Include::from_directories(repo.directories()),
            dest: repo.destination(),
            name: repo.name().to_owned(),
            sparse: options.sparse,
            options: options.clone(),
        })
    }

    fn redact(&self, text: &str) -> String {
        strip_auth_in_text(text, &self.secrets)
    }

    fn phase(&self, phase: &str) {
        self.options.emit(PullProgress::Phase(phase.to_owned()));
    }

    /// The error for a failed step, in Prefect's shape (§3.6), redacted.
    fn error(&self, op: Op, f: GitFailure) -> StorageError {
        let safe = &self.safe_url;
        let head = match op {
            Op::Clone => format!(
                "Failed to clone repository '{safe}' with exit code {}.",
                f.code
            ),
            Op::Update => format!(
                "Failed to pull latest changes from repository '{safe}' into '{}' with exit code {}; the existing checkout was left as it was.",
                self.dest.display(),
                f.code
            ),
        };
        let detail = f.detail.trim();
        let stderr = if detail.is_empty() {
            String::new()
        } else {
            format!(" git stderr: {}", tail3(detail))
        };
        let body = match &f.kind {
            Failure::Auth if self.credentials.is_some() => format!(
                "Hint: Check that your credentials or access token are correct and not expired. \
                 The server rejected the credentials for '{safe}' (offered {MAX_CREDENTIAL_OFFERS} times). \
                 Check the access token or password, the username your provider expects with a token \
                 (GitHub: any; GitLab: oauth2; Bitbucket: x-token-auth), and that the token may read this repository."
            ),
            Failure::Auth => format!(
                "Hint: Check that your credentials or access token are correct and not expired. \
                 The server at '{safe}' requires authentication, but no credentials were given: \
                 pass credentials (for example an access token) to the GitRepository."
            ),
            Failure::RepoNotFound => format!(
                "Hint: Verify the repository URL and that you have access to it. \
                 Repository '{safe}' was not found on the server (or is not exported).{stderr}"
            ),
            Failure::BranchNotFound(b) => format!(
                "Branch '{b}' was not found in repository '{safe}'. Check the branch name (it is case-sensitive) and that it is pushed.{stderr}"
            ),
            Failure::CommitNotFound(sha) => format!(
                "Commit '{sha}' was not found in repository '{safe}' (all branches were fetched). Check the SHA and that the commit is pushed to a branch.{stderr}"
            ),
            Failure::Unreachable => format!(
                "Hint: Check your network connectivity and DNS settings. Could not connect to the server of '{safe}'.{stderr}"
            ),
            Failure::Other => match hint_for(detail) {
                Some(hint) => format!("{hint}{stderr}"),
                None => stderr.trim_start().to_owned(),
            },
        };
        let full = format!("{head} {body}");
        let message = self.redact(full.trim_end());
        tracing::debug!(
            "git {} failed (exit {}) for '{safe}': {}",
            if op == Op::Clone { "clone" } else { "fetch" },
            f.code,
            self.redact(detail)
        );
        StorageError::Git {
            message,
            url: safe.clone(),
            authentication: f.kind == Failure::Auth,
        }
    }

    fn run(self) -> Result<PullReport, StorageError> {
        let git_dir = self.dest.join(".git");
        if git_dir.exists() {
            self.update(&git_dir)
        } else {
            self.fresh()
        }
    }

    /// Whether `directories` are checked out with the `git` executable.
    fn use_cli(&self) -> Result<bool, StorageError> {
        if self.directories.is_empty() || self.include == Include::All {
            return Ok(false);
        }
        let cli = match self.sparse {
            SparseStrategy::GitCli => true,
            SparseStrategy::Libgit2 => false,
            _ => git_available(),
        };
        if cli && !git_available() {
            return Err(StorageError::Unsupported {
                message: "SparseStrategy::GitCli needs the `git` executable on PATH; install git or use SparseStrategy::Libgit2".into(),
            });
        }
        Ok(cli)
    }

    // -----------------------------------------------------------------------------------------
    // Fresh clone (atomic)

    fn fresh(self) -> Result<PullReport, StorageError> {
        let dest = &self.dest;
        let mut replace_empty_dir = false;
        if dest.exists() {
            let empty = std::fs::read_dir(dest)
                .map_err(|e| StorageError::io("reading", dest, e))?
                .next()
                .is_none();
            if !empty {
                return Err(self.error(
                    Op::Clone,
                    GitFailure {
                        kind: Failure::Other,
                        detail: format!(
                            "fatal: destination path '{}' already exists and is not an empty directory (and it is not a git checkout). Remove it or choose another name / base path.",
                            dest.display()
                        ),
                        code: 128,
                    },
                ));
            }
            replace_empty_dir = true;
        }
        let parent = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| StorageError::io("creating", parent, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.prefab-tmp-", self.name))
            .tempdir_in(parent)
            .map_err(|e| StorageError::io("creating a temporary directory in", parent, e))?;
        tracing::debug!("Cloning repository {}", self.safe_url);
        self.phase("cloning");
        let mut report = if self.use_cli()? {
            self.cli_clone(tmp.path())?
        } else {
            self.libgit2_clone(tmp.path())
                .map_err(|f| self.error(Op::Clone, f))?
        };
        if replace_empty_dir {
            // Only an empty directory is removed; anything created meanwhile makes this fail.
            std::fs::remove_dir(dest).map_err(|e| StorageError::io("replacing", dest, e))?;
        }
        std::fs::rename(tmp.path(), dest)
            .map_err(|e| StorageError::io("renaming into", dest, e))?;
        let _ = tmp.keep();
        report.destination = dest.clone();
        report.fresh = true;
        Ok(report)
    }

    fn libgit2_clone(&self, dir: &Path) -> Result<PullReport, GitFailure> {
        let repo = Repository::init(dir)?;
        repo.remote("origin", &self.remote_url)?;
        let stats = Stats::default();
        let (target, branch, _) = self.fetch_target(&repo, &stats, true, None)?;
        self.phase("checking out");
        let commit = repo.find_commit(target)?;
        self.check_out(&repo, &commit, branch.as_deref(), &Include::All)?;
        if self.submodules {
            self.phase("submodules");
            self.update_submodules(&repo, &stats)?;
        }
        let mut report = PullReport::new(self.dest.clone());
        let files = tree_files(&repo, &commit)?;
        diff_report(&mut report, None, (&files, &self.include));
        report.revision = Some(target.to_string());
        report.bytes_downloaded = stats.bytes.get();
        Ok(report)
    }

    // -----------------------------------------------------------------------------------------
    // Existing checkout

    fn update(self, git_dir: &Path) -> Result<PullReport, StorageError> {
        let existing = self.origin_url(git_dir)?;
        if strip_auth(&existing) != strip_auth(&self.url) {
            return Err(StorageError::RemoteMismatch {
                destination: self.dest.clone(),
                existing: strip_auth(&existing),
                configured: strip_auth(&self.url),
            });
        }
        let old_include = existing_include(git_dir);
        let partial = is_partial_clone(git_dir);
        self.phase("fetching");
        if partial || self.use_cli()? {
            if !git_available() {
                return Err(StorageError::Unsupported {
                    message: format!(
                        "the checkout at {} is a partial clone made by the git executable, which libgit2 cannot update; install git or remove the directory",
                        self.dest.display()
                    ),
                });
            }
            return self.cli_update(&old_include);
        }
        let mut report = self
            .libgit2_update(&old_include)
            .map_err(|f| self.error(Op::Update, f))?;
        report.destination = self.dest.clone();
        Ok(report)
    }

    fn origin_url(&self, git_dir: &Path) -> Result<String, StorageError> {
        let missing = |why: String| StorageError::Git {
            message: format!(
                "The existing checkout at {} has no usable remote 'origin' ({why}); remove the directory or point it at {}.",
                self.dest.display(),
                self.safe_url
            ),
            url: self.safe_url.clone(),
            authentication: false,
        };
        if git_dir.is_dir() {
            let cfg = git2::Config::open(&git_dir.join("config"))
                .map_err(|e| missing(e.message().to_owned()))?;
            return cfg
                .get_string("remote.origin.url")
                .map_err(|e| missing(e.message().to_owned()));
        }
        // `.git` is a file (a linked worktree or submodule): let libgit2 follow it.
        let repo = Repository::open(&self.dest).map_err(|e| missing(e.message().to_owned()))?;
        let cfg = repo.config().map_err(|e| missing(e.message().to_owned()))?;
        cfg.get_string("remote.origin.url")
            .map_err(|e| missing(e.message().to_owned()))
    }

    fn libgit2_update(&self, old_include: &Include) -> Result<PullReport, GitFailure> {
        let repo = Repository::open(&self.dest)?;
        // The checkout keeps no credentials in its remote URL; make sure libgit2 uses the
        // configured URL without userinfo (an older checkout may have one).
        let old_commit = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let stats = Stats::default();
        let mut report = PullReport::new(self.dest.clone());
        if let (Some(sha), Some(head)) = (&self.commit_sha, &old_commit)
            && head.id().to_string().starts_with(&sha.to_ascii_lowercase())
            && *old_include == self.include
        {
            let files = tree_files(&repo, head)?;
            diff_report(
                &mut report,
                Some((&files, old_include)),
                (&files, &self.include),
            );
            report.revision = Some(head.id().to_string());
            return Ok(report);
        }
        let (target, branch, fetched) =
            self.fetch_target(&repo, &stats, false, old_commit.as_ref().map(|c| c.id()))?;
        if !fetched && *old_include == self.include && work_tree_is_clean(&repo)? {
            // Nothing moved upstream and nothing changed here: leave the checkout alone.
            let head = old_commit.as_ref().expect("a known head was compared");
            let files = tree_files(&repo, head)?;
            diff_report(
                &mut report,
                Some((&files, old_include)),
                (&files, &self.include),
            );
            report.revision = Some(target.to_string());
            return Ok(report);
        }
        self.phase("checking out");
        let commit = repo.find_commit(target)?;
        let old_files = match &old_commit {
            Some(c) => Some(tree_files(&repo, c)?),
            None => None,
        };
        self.check_out(&repo, &commit, branch.as_deref(), old_include)?;
        if self.submodules {
            self.phase("submodules");
            self.update_submodules(&repo, &stats)?;
        }
        let new_files = tree_files(&repo, &commit)?;
        diff_report(
            &mut report,
            old_files.as_ref().map(|f| (f, old_include)),
            (&new_files, &self.include),
        );
        report.revision = Some(target.to_string());
        report.bytes_downloaded = stats.bytes.get();
        Ok(report)
    }

    // -----------------------------------------------------------------------------------------
    // libgit2: fetching

    /// Callbacks offering the credentials (at most [`MAX_CREDENTIAL_OFFERS`] times) and
    /// reporting progress.
    fn callbacks<'a>(&'a self, stats: &'a Stats) -> RemoteCallbacks<'a> {
        let mut cb = RemoteCallbacks::new();
        let offers = Rc::new(Cell::new(0u32));
        let safe = self.safe_url.clone();
        cb.credentials(move |_url, _user_from_url, allowed| {
            let Some((user, password)) = &self.credentials else {
                return Err(git2::Error::new(
                    ErrorCode::Auth,
                    ErrorClass::Http,
                    format!("authentication required by '{safe}' but no credentials were given"),
                ));
            };
            if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                return Err(git2::Error::new(
                    ErrorCode::Auth,
                    ErrorClass::Http,
                    format!("'{safe}' asks for a kind of credentials prefab cannot give"),
                ));
            }
            let n = offers.get() + 1;
            offers.set(n);
            if n > MAX_CREDENTIAL_OFFERS {
                return Err(git2::Error::new(
                    ErrorCode::Auth,
                    ErrorClass::Http,
                    format!("authentication failed for '{safe}': the credentials were rejected"),
                ));
            }
            Cred::userpass_plaintext(user, password.expose())
        });
        let base = stats.bytes.get();
        let last = Cell::new(u64::MAX);
        cb.transfer_progress(move |p| {
            let done = p.received_objects() as u64;
            let total = p.total_objects() as u64;
            let bytes = p.received_bytes() as u64;
            stats.bytes.set(base + bytes);
            let step = (total / 100).max(1);
            if last.get() == u64::MAX || done == total || done >= last.get() + step {
                last.set(done);
                self.options.emit(PullProgress::Advanced {
                    done,
                    total: Some(total),
                    bytes: base + bytes,
                });
            }
            true
        });
        cb
    }

    fn fetch_options<'a>(&'a self, stats: &'a Stats, depth: Option<i32>) -> FetchOptions<'a> {
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(self.callbacks(stats));
        fo.download_tags(AutotagOption::None);
        if let Some(d) = depth {
            fo.depth(d);
        }
        fo
    }

    /// Fetches what the repository asks for and returns the commit to check out, plus the
    /// local branch to put it on (`None` = detached, for a pinned commit).
    /// Resolves and fetches what the checkout should hold: the pinned commit, or the tip of the
    /// branch (the remote's default branch when none is set). When the tip is `known_head` (the
    /// checkout's HEAD), nothing is fetched and the third value is `false`.
    fn fetch_target(
        &self,
        repo: &Repository,
        stats: &Stats,
        fresh: bool,
        known_head: Option<Oid>,
    ) -> Result<(Oid, Option<String>, bool), GitFailure> {
        let shallow = self.transport.supports_depth() && (fresh || repo.is_shallow());
        let mut remote = repo.find_remote("origin")?;
        if remote.url().ok() != Some(self.remote_url.as_str()) {
            repo.remote_set_url("origin", &self.remote_url)?;
            remote = repo.find_remote("origin")?;
        }
        if let Some(sha) = &self.commit_sha {
            return self
                .fetch_commit(repo, stats, sha)
                .map(|oid| (oid, None, true));
        }
        // Ask the server which branches it has (and its default branch).
        // The listing and the download share one connection (one ref advertisement and one
        // authentication round trip fewer than a separate `ls-remote` + `fetch`).
        let mut conn = remote.connect_auth(Direction::Fetch, Some(self.callbacks(stats)), None)?;
        let (branch, tip) = {
            let listed: Vec<(String, Oid)> = conn
                .list()?
                .iter()
                .map(|h| (h.name().to_owned(), h.oid()))
                .collect();
            let heads: Vec<String> = listed.iter().map(|(name, _)| name.clone()).collect();
            let branch = match &self.branch {
                Some(b) => {
                    if !heads.contains(&format!("refs/heads/{b}")) {
                        return Err(GitFailure::new(
                            Failure::BranchNotFound(b.clone()),
                            format!("fatal: Remote branch {b} not found in upstream origin"),
                        ));
                    }
                    b.clone()
                }
                None => match conn.default_branch() {
                    Ok(buf) => buf
                        .as_str()
                        .ok()
                        .and_then(|s| s.strip_prefix("refs/heads/"))
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            GitFailure::new(Failure::Other, "the remote HEAD is not a branch")
                        })?,
                    Err(e) if heads.is_empty() => {
                        return Err(GitFailure::new(
                            Failure::Other,
                            format!("the repository is empty (no branches): {}", e.message()),
                        ));
                    }
                    Err(_) => {
                        return Err(GitFailure::new(
                            Failure::Other,
                            "the remote does not say which branch is its default; set `branch`",
                        ));
                    }
                },
            };
            let tip = listed
                .iter()
                .find(|(name, _)| *name == format!("refs/heads/{branch}"))
                .map(|(_, oid)| *oid);
            (branch, tip)
        };
        if let Some(tip) = tip
            && Some(tip) == known_head
            && repo.find_commit(tip).is_ok()
        {
            // The branch has not moved: one listing, no fetch.
            return Ok((tip, Some(branch), false));
        }
        self.phase("fetching");
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        let mut fo = self.fetch_options(stats, shallow.then_some(1));
        conn.remote().download(&[refspec.as_str()], Some(&mut fo))?;
        let mut callbacks = self.callbacks(stats);
        conn.remote().update_tips(
            Some(&mut callbacks),
            git2::RemoteUpdateFlags::UPDATE_FETCHHEAD,
            AutotagOption::None,
            None,
        )?;
        drop(conn);
        let oid = repo
            .find_reference(&format!("refs/remotes/origin/{branch}"))?
            .peel_to_commit()?
            .id();
        Ok((oid, Some(branch), true))
    }

    /// Fetches a pinned commit: by SHA at depth 1 when the server allows it, else every branch
    /// (unshallowing), then looks the (possibly short) SHA up.
    fn fetch_commit(&self, repo: &Repository, stats: &Stats, sha: &str) -> Result<Oid, GitFailure> {
        if let Some(oid) = lookup_commit(repo, sha) {
            return Ok(oid);
        }
        let mut remote = repo.find_remote("origin")?;
        let full = sha.len() == 40 || sha.len() == 64;
        if full {
            let mut fo = self.fetch_options(stats, self.transport.supports_depth().then_some(1));
            match remote.fetch(&[sha.to_ascii_lowercase()], Some(&mut fo), None) {
                Ok(()) => {
                    if let Some(oid) = lookup_commit(repo, sha) {
                        return Ok(oid);
                    }
                }
                Err(e) => {
                    let f = GitFailure::from(e);
                    if matches!(
                        f.kind,
                        Failure::Auth | Failure::Unreachable | Failure::RepoNotFound
                    ) {
                        return Err(f);
                    }
                    tracing::debug!(
                        "fetching commit {sha} directly failed ({}); fetching all branches",
                        self.redact(&f.detail)
                    );
                }
            }
        }
        let depth = (self.transport.supports_depth() && repo.is_shallow()).then_some(UNSHALLOW);
        let mut fo = self.fetch_options(stats, depth);
        remote.fetch(
            &["+refs/heads/*:refs/remotes/origin/*"],
            Some(&mut fo),
            None,
        )?;
        lookup_commit(repo, sha).ok_or_else(|| {
            GitFailure::new(
                Failure::CommitNotFound(sha.to_owned()),
                format!("fatal: reference is not a tree: {sha}"),
            )
        })
    }

    // -----------------------------------------------------------------------------------------
    // libgit2: checking out

    /// Points HEAD at `commit` (on `branch`, or detached) and makes the work tree match it,
    /// limited to the sparse directories, like `git reset --hard` / `git sparse-checkout set`.
    fn check_out(
        &self,
        repo: &Repository,
        commit: &git2::Commit<'_>,
        branch: Option<&str>,
        old_include: &Include,
    ) -> Result<(), GitFailure> {
        let workdir = repo
            .workdir()
            .ok_or_else(|| GitFailure::new(Failure::Other, "the repository is bare"))?
            .to_path_buf();
        match branch {
            Some(b) => {
                let refname = format!("refs/heads/{b}");
                repo.set_head(&refname)?;
                let mut cfg = repo.config()?;
                cfg.set_str(&format!("branch.{b}.remote"), "origin")?;
                cfg.set_str(&format!("branch.{b}.merge"), &refname)?;
            }
            None => repo.set_head_detached(commit.id())?,
        }
        let new_files = tree_files(repo, commit)?;
        let mut cb = CheckoutBuilder::new();
        cb.force();
        let autocrlf = repo
            .config()
            .ok()
            .and_then(|c| c.get_string("core.autocrlf").ok())
            .is_some_and(|v| !v.eq_ignore_ascii_case("false"));
        if !autocrlf
            && !new_files
                .keys()
                .any(|p| p == ".gitattributes" || p.ends_with("/.gitattributes"))
        {
            // No attributes anywhere in the tree and no autocrlf: no filter can apply, so skip
            // the per-file attribute lookups.
            cb.disable_filters(true);
        }
        if let Include::Cone(_) = &self.include {
            // Files no longer selected (narrowed directories) leave the work tree.
            if *old_include != self.include {
                let index = repo.index()?;
                let mut known: BTreeSet<String> = new_files.keys().cloned().collect();
                for e in index.iter() {
                    known.insert(String::from_utf8_lossy(&e.path).into_owned());
                }
                for path in known {
                    if !self.include.matches(&path) {
                        remove_file_and_empty_parents(&workdir, &path);
                    }
                }
            }
            cb.disable_pathspec_match(true);
            let mut any = false;
            for path in new_files.keys().filter(|p| self.include.matches(p)) {
                cb.path(path.as_str());
                any = true;
            }
            if !any {
                cb.path("\u{1}prefab-no-path");
            }
        }
        repo.reset(commit.as_object(), ResetType::Hard, Some(&mut cb))?;
        if let Include::Cone(_) = &self.include {
            // Mark the other paths skip-worktree so `git status` agrees, and write the state a
            // later `git` sees (core.sparseCheckout + cone patterns).
            let mut index = repo.index()?;
            let entries: Vec<git2::IndexEntry> = index.iter().collect();
            for mut e in entries {
                let path = String::from_utf8_lossy(&e.path).into_owned();
                if !self.include.matches(&path) {
                    e.flags_extended |= SKIP_WORKTREE;
                    index.add(&e)?;
                }
            }
            index.write()?;
            self.write_sparse_config(repo.path(), true)?;
        } else if *old_include != Include::All {
            self.write_sparse_config(repo.path(), false)?;
        }
        Ok(())
    }

    fn write_sparse_config(&self, git_dir: &Path, sparse: bool) -> Result<(), GitFailure> {
        let mut files = vec![git_dir.join("config")];
        let worktree = git_dir.join("config.worktree");
        if worktree.exists() {
            files.push(worktree);
        }
        for file in files {
            let mut cfg = git2::Config::open(&file)?;
            if sparse || cfg.get_bool("core.sparseCheckout").is_ok() {
                cfg.set_bool("core.sparseCheckout", sparse)?;
                cfg.set_bool("core.sparseCheckoutCone", sparse)?;
            }
        }
        if sparse {
            let info = git_dir.join("info");
            std::fs::create_dir_all(&info)
                .and_then(|()| {
                    std::fs::write(info.join("sparse-checkout"), self.include.cone_patterns())
                })
                .map_err(|e| {
                    GitFailure::new(Failure::Other, format!("writing sparse-checkout: {e}"))
                })?;
        }
        Ok(())
    }

    fn update_submodules(&self, repo: &Repository, stats: &Stats) -> Result<(), GitFailure> {
        for mut sm in repo.submodules()? {
            let mut opts = SubmoduleUpdateOptions::new();
            opts.fetch(self.fetch_options(stats, None));
            let mut co = CheckoutBuilder::new();
            co.force();
            opts.checkout(co);
            sm.update(true, Some(&mut opts))?;
            let sub = sm.open()?;
            self.update_submodules(&sub, stats)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Stats {
    bytes: Cell<u64>,
}

/// Whether tracked files match HEAD (untracked and ignored files do not count, as a hard reset
/// would not touch them either).
fn work_tree_is_clean(repo: &Repository) -> Result<bool, GitFailure> {
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(true);
    Ok(repo.statuses(Some(&mut options))?.is_empty())
}

fn lookup_commit(repo: &Repository, sha: &str) -> Option<Oid> {
    let obj = if sha.len() >= 40 {
        Oid::from_str(sha)
            .ok()
            .and_then(|o| repo.find_commit(o).ok())
    } else {
        repo.find_commit_by_prefix(sha).ok()
    };
    obj.map(|c| c.id())
}

fn tree_files(repo: &Repository, commit: &git2::Commit<'_>) -> Result<TreeFiles, GitFailure> {
    let tree = commit.tree()?;
    let mut out = TreeFiles::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if matches!(
            entry.kind(),
            Some(git2::ObjectType::Blob) | Some(git2::ObjectType::Commit)
        ) {
            let name = String::from_utf8_lossy(entry.name_bytes());
            out.insert(
                format!("{root}{name}"),
                (entry.id().to_string(), entry.filemode()),
            );
        }
        git2::TreeWalkResult::Ok
    })?;
    let _ = repo;
    Ok(out)
}

fn remove_file_and_empty_parents(workdir: &Path, rel: &str) {
    let path = workdir.join(rel);
    if std::fs::symlink_metadata(&path).is_err() {
        return;
    }
    if std::fs::remove_file(&path).is_err() {
        return;
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == workdir || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn is_partial_clone(git_dir: &Path) -> bool {
    git2::Config::open(&git_dir.join("config")).is_ok_and(|cfg| {
        cfg.get_string("extensions.partialclone").is_ok()
            || cfg.get_bool("remote.origin.promisor").unwrap_or(false)
    })
}

// ---------------------------------------------------------------------------------------------
// The `git` executable (sparse checkouts, SparseStrategy::GitCli)

/// The askpass helper: prints the username or password from the environment, so the secret
/// never appears in argv, in `.git/config` or in a file.
const ASKPASS_SCRIPT: &str = "#!/bin/sh\ncase \"$1\" in\n  Username*|username*) printf '%s\\n' \"$PREFAB_GIT_USERNAME\" ;;\n  *) printf '%s\\n' \"$PREFAB_GIT_PASSWORD\" ;;\nesac\n";

struct Cli<'a> {
    job: &'a Job,
    askpass: Option<(tempfile::TempDir, PathBuf)>,
}

struct CliFailure {
    code: i32,
    stderr: String,
}

impl<'a> Cli<'a> {
    fn new(job: &'a Job) -> Result<Cli<'a>, StorageError> {
        let askpass = match &job.credentials {
            Some(_) => {
                let dir = tempfile::Builder::new()
                    .prefix("prefab-askpass-")
                    .tempdir()
                    .map_err(|e| StorageError::io("creating", std::env::temp_dir(), e))?;
                let script = dir.path().join("askpass.sh");
                std::fs::write(&script, ASKPASS_SCRIPT)
                    .map_err(|e| StorageError::io("writing", &script, e))?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700))
                        .map_err(|e| StorageError::io("writing", &script, e))?;
                }
                Some((dir, script))
            }
            None => None,
        };
        Ok(Cli { job, askpass })
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Result<String, CliFailure> {
        let mut cmd = Command::new("git");
        // No credential helper may store the credentials; no prompt may hang.
        cmd.args(["-c", "credential.helper=", "-c", "core.askPass="])
            .args(args)
            .current_dir(cwd)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env_remove("SSH_ASKPASS")
            .env_remove("PREFAB_GIT_USERNAME")
            .env_remove("PREFAB_GIT_PASSWORD")
            .stdin(Stdio::null());
        match (&self.askpass, &self.job.credentials) {
            (Some((_, script)), Some((user, password))) => {
                cmd.env("GIT_ASKPASS", script)
                    .env("PREFAB_GIT_USERNAME", user)
                    .env("PREFAB_GIT_PASSWORD", password.expose());
            }
            _ => {
                cmd.env_remove("GIT_ASKPASS");
            }
        }
        tracing::debug!("running git {}", self.job.redact(&args.join(" ")));
        let out = cmd.output().map_err(|e| CliFailure {
            code: 127,
            stderr: format!("cannot run git: {e}"),
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(CliFailure {
                code: out.status.code().unwrap_or(1),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    fn failure(&self, f: CliFailure) -> GitFailure {
        let t = f.stderr.to_ascii_lowercase();
        let kind = if t.contains("authentication failed")
            || t.contains("could not read username")
            || t.contains("could not read password")
            || t.contains("401")
        {
            Failure::Auth
        } else if t.contains("remote branch") && t.contains("not found")
            || t.contains("couldn't find remote ref")
        {
            match &self.job.branch {
                Some(b) => Failure::BranchNotFound(b.clone()),
                None => Failure::Other,
            }
        } else if t.contains("repository") && t.contains("not found")
            || t.contains("does not appear to be a git repository")
            || t.contains("not exported")
        {
            Failure::RepoNotFound
        } else if t.contains("connection refused")
            || t.contains("could not resolve host")
            || t.contains("unable to connect")
            || t.contains("failed to connect")
        {
            Failure::Unreachable
        } else {
            Failure::Other
        };
        GitFailure {
            kind,
            detail: f.stderr,
            code: f.code,
        }
    }

    fn tree(&self, cwd: &Path, rev: &str) -> Result<TreeFiles, CliFailure> {
        let out = self.run(cwd, &["ls-tree", "-r", "-z", "--full-tree", rev])?;
        let mut files = TreeFiles::new();
        for rec in out.split('\0').filter(|r| !r.is_empty()) {
            let Some((meta, path)) = rec.split_once('\t') else {
                continue;
            };
            let mut parts = meta.split(' ');
            let mode = parts.next().unwrap_or("");
            let _kind = parts.next();
            let oid = parts.next().unwrap_or("");
            files.insert(
                path.to_owned(),
                (oid.to_owned(), i32::from_str_radix(mode, 8).unwrap_or(0)),
            );
        }
        Ok(files)
    }

    fn head(&self, cwd: &Path) -> Option<String> {
        self.run(cwd, &["rev-parse", "-q", "--verify", "HEAD^{commit}"])
            .ok()
            .map(|s| s.trim().to_owned())
    }

    fn has_commit(&self, cwd: &Path, sha: &str) -> Option<String> {
        self.run(
            cwd,
            &["rev-parse", "-q", "--verify", &format!("{sha}^{{commit}}")],
        )
        .ok()
        .map(|s| s.trim().to_owned())
    }

    fn sparse_set(&self, cwd: &Path) -> Result<(), CliFailure> {
        let mut args = vec!["sparse-checkout", "set", "--"];
        args.extend(self.job.directories.iter().map(String::as_str));
        self.run(cwd, &args).map(drop)
    }

    /// Fetches and checks out a pinned commit (already-present commits are not fetched).
    fn checkout_commit(&self, cwd: &Path, sha: &str) -> Result<String, GitFailure> {
        if self.has_commit(cwd, sha).is_none() {
            let mut fetched = false;
            if sha.len() == 40 || sha.len() == 64 {
                fetched = self.run(cwd, &["fetch", "origin", sha]).is_ok();
            }
            if !fetched {
                let shallow = self
                    .run(cwd, &["rev-parse", "--is-shallow-repository"])
                    .is_ok_and(|s| s.trim() == "true");
                let args: &[&str] = if shallow {
                    &["fetch", "origin", "--unshallow"]
                } else {
                    &["fetch", "origin"]
                };
                self.run(cwd, args).map_err(|f| self.failure(f))?;
            }
        }
        let Some(full) = self.has_commit(cwd, sha) else {
            return Err(GitFailure::new(
                Failure::CommitNotFound(sha.to_owned()),
                format!("fatal: reference is not a tree: {sha}"),
            ));
        };
        self.run(cwd, &["checkout", "--force", "--detach", &full])
            .map_err(|f| self.failure(f))?;
        Ok(full)
    }

    fn submodules(&self, cwd: &Path) -> Result<(), GitFailure> {
        if self.job.submodules {
            self.run(
                cwd,
                &["submodule", "update", "--init", "--recursive", "--force"],
            )
            .map_err(|f| self.failure(f))?;
        }
        Ok(())
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

impl Job {
    fn cli_clone(&self, dir: &Path) -> Result<PullReport, StorageError> {
        let cli = Cli::new(self)?;
        let fail = |f: GitFailure| self.error(Op::Clone, f);
        let parent = dir.parent().unwrap_or(Path::new("."));
        let dir_text = dir.to_string_lossy().into_owned();
        let mut args: Vec<&str> = vec!["clone", "--sparse", "--filter=blob:none", "--quiet"];
        if self.submodules {
            args.push("--recurse-submodules");
        }
        if self.commit_sha.is_some() {
            args.push("--no-checkout");
        } else {
            if let Some(b) = &self.branch {
                args.extend(["--branch", b.as_str()]);
            }
            args.extend(["--depth", "1"]);
        }
        args.extend(["--", self.remote_url.as_str(), dir_text.as_str()]);
        cli.run(parent, &args).map_err(|f| fail(cli.failure(f)))?;
        self.phase("checking out");
        let revision = match &self.commit_sha {
            Some(sha) => {
                let full = cli.checkout_commit(dir, sha).map_err(fail)?;
                cli.submodules(dir).map_err(fail)?;
                full
            }
            None => cli.head(dir).unwrap_or_default(),
        };
        cli.sparse_set(dir).map_err(|f| fail(cli.failure(f)))?;
        let files = cli.tree(dir, "HEAD").map_err(|f| fail(cli.failure(f)))?;
        let mut report = PullReport::new(self.dest.clone());
        diff_report(&mut report, None, (&files, &self.include));
        report.revision = Some(revision);
        report.bytes_downloaded = dir_size(&dir.join(".git").join("objects"));
        Ok(report)
    }

    fn cli_update(&self, old_include: &Include) -> Result<PullReport, StorageError> {
        let cli = Cli::new(self)?;
        let dest = &self.dest;
        let fail = |f: GitFailure| self.error(Op::Update, f);
        let objects_before = dir_size(&dest.join(".git").join("objects"));
        let old = cli.head(dest);
        let old_files = match &old {
            Some(rev) => Some(cli.tree(dest, rev).map_err(|f| fail(cli.failure(f)))?),
            None => None,
        };
        // Q5 fixed: the directory list always takes effect.
        if self.include == Include::All {
            if *old_include != Include::All {
                cli.run(dest, &["sparse-checkout", "disable"])
                    .map_err(|f| fail(cli.failure(f)))?;
            }
        } else {
            cli.sparse_set(dest).map_err(|f| fail(cli.failure(f)))?;
        }
        let revision = match &self.commit_sha {
            Some(sha)
                if old
                    .as_deref()
                    .is_some_and(|h| h.starts_with(&sha.to_ascii_lowercase())) =>
            {
                old.clone().unwrap_or_default()
            }
            Some(sha) => {
                let full = cli.checkout_commit(dest, sha).map_err(fail)?;
                cli.submodules(dest).map_err(fail)?;
                full
            }
            None => {
                let shallow = cli
                    .run(dest, &["rev-parse", "--is-shallow-repository"])
                    .is_ok_and(|s| s.trim() == "true");
                let what = self.branch.as_deref().unwrap_or("HEAD");
                let mut args = vec!["fetch", "--quiet"];
                if shallow {
                    args.extend(["--depth", "1"]);
                }
                args.extend(["origin", what]);
                cli.run(dest, &args).map_err(|f| fail(cli.failure(f)))?;
                self.phase("checking out");
                let local = match &self.branch {
                    Some(b) => Some(b.clone()),
                    None => cli
                        .run(dest, &["symbolic-ref", "--short", "-q", "HEAD"])
                        .ok()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty()),
                };
                match &local {
                    Some(b) => cli.run(dest, &["checkout", "--force", "-B", b, "FETCH_HEAD"]),
                    None => cli.run(dest, &["checkout", "--force", "--detach", "FETCH_HEAD"]),
                }
                .map_err(|f| fail(cli.failure(f)))?;
                cli.submodules(dest).map_err(fail)?;
                cli.head(dest).unwrap_or_default()
            }
        };
        let new_files = cli.tree(dest, "HEAD").map_err(|f| fail(cli.failure(f)))?;
        let mut report = PullReport::new(dest.clone());
        diff_report(
            &mut report,
            old_files.as_ref().map(|f| (f, old_include)),
            (&new_files, &self.include),
        );
        report.revision = Some(revision);
        report.bytes_downloaded =
            dir_size(&dest.join(".git").join("objects")).saturating_sub(objects_before);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert_eq!(transport_of("https://h/r.git").unwrap(), Transport::Http);
        assert_eq!(transport_of("http://h/r.git").unwrap(), Transport::Http);
        assert_eq!(transport_of("git://h/r.git").unwrap(), Transport::Git);
        assert_eq!(transport_of("file:///srv/r.git").unwrap(), Transport::Local);
        assert_eq!(transport_of("/srv/r.git").unwrap(), Transport::Local);
        for ssh in [
            "git@github.com:org/repo.git",
            "ssh://git@github.com/org/repo.git",
            "github.com:org/repo.git",
        ] {
            let err = transport_of(ssh).unwrap_err().to_string();
            assert!(err.contains("ssh URLs are not supported"), "{err}");
            assert!(err.contains("https://github.com/org/repo.git"), "{err}");
        }
        assert!(matches!(
            transport_of("ftp://h/r.git"),
            Err(StorageError::Unsupported { .. })
        ));
    }

    #[test]
    fn userinfo_removed_from_remote_url() {
        assert_eq!(
            without_userinfo("https://u:p@Host.example/r.git"),
            "https://Host.example/r.git"
        );
        assert_eq!(without_userinfo("file:///x/r.git"), "file:///x/r.git");
    }

    #[test]
    fn cone_selection_matches_git() {
        let inc = Include::from_directories(&["a/b".into(), "c/".into(), "a/b/c".into()]);
        assert_eq!(inc, Include::Cone(vec!["a/b".into(), "c".into()]));
        assert!(inc.matches("root.txt"));
        assert!(inc.matches("a/x"));
        assert!(inc.matches("a/b/y"));
        assert!(inc.matches("a/b/deep/z"));
        assert!(!inc.matches("a/other/z"));
        assert!(inc.matches("c/z"));
        assert!(!inc.matches("d/z"));
        let text = inc.cone_patterns();
        assert_eq!(text, "/*\n!/*/\n/a/\n!/a/*/\n/a/b/\n/c/\n");
        assert_eq!(Include::parse_cone(&text), Some(inc));
        assert_eq!(Include::from_directories(&[]), Include::All);
    }

    #[test]
    fn hints_follow_prefects_table() {
        assert!(
            hint_for("fatal: Authentication failed for x")
                .unwrap()
                .contains("credentials")
        );
        assert!(
            hint_for("remote: Repository not found.")
                .unwrap()
                .contains("Verify")
        );
        assert!(hint_for("Connection refused").unwrap().contains("network"));
        assert!(hint_for("fatal: early EOF").is_none());
        assert_eq!(tail3("a\nb\nc\nd\n"), "b | c | d");
    }

    #[test]
    fn report_diff() {
        let mk = |v: &[(&str, &str)]| -> TreeFiles {
            v.iter()
                .map(|(p, o)| ((*p).to_owned(), ((*o).to_owned(), 0o100644)))
                .collect()
        };
        let old = mk(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let new = mk(&[("a", "1"), ("b", "9"), ("d", "4")]);
        let mut r = PullReport::default();
        diff_report(&mut r, Some((&old, &Include::All)), (&new, &Include::All));
        assert_eq!(r.added, ["d"]);
        assert_eq!(r.updated, ["b"]);
        assert_eq!(r.removed, ["c"]);
        assert_eq!(r.unchanged, 1);
    }
}
