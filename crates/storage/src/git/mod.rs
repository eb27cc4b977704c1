//! `GitRepository`: flow code in a git repository (storage.md §3).

mod credentials;
mod pull;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use prefab_schemas::Secret;
use serde_json::{Map, Value};

pub use credentials::{GitCredentials, GitProvider};

use crate::pypath::{repr_opt, repr_str};
use crate::storage::{PullOptions, PullReport, PullStep, RunnerStorage};
use crate::urls::urlparse;
use crate::value::SettingValue;
use crate::{DEFAULT_PULL_INTERVAL, StorageError};

pub(crate) const GIT_CLONE_STEP: &str = "prefect.deployments.steps.git_clone";

/// A git repository holding flow code, pulled into `<base path>/<name>` as Prefect's
/// `GitRepository` does.
///
/// Build one with [`GitRepository::builder`]:
///
/// ```
/// use prefab_storage::{GitRepository, RunnerStorage};
///
/// let repo = GitRepository::builder("https://github.com/acme/flows.git")
///     .branch("feature/etl")
///     .build()?;
/// assert_eq!(repo.name(), "flows-feature-etl");
/// assert_eq!(
///     repo.to_pull_step()?.to_string(),
///     r#"{"prefect.deployments.steps.git_clone":{"repository":"https://github.com/acme/flows.git","branch":"feature/etl"}}"#
/// );
/// # Ok::<(), prefab_storage::StorageError>(())
/// ```
///
/// `Debug` never shows secrets: credential values and the URL's `user:password@` are replaced
/// by `***`.
#[derive(Clone)]
pub struct GitRepository {
    url: String,
    credentials: GitCredentials,
    provider: GitProvider,
    name: String,
    branch: Option<String>,
    commit_sha: Option<String>,
    include_submodules: bool,
    pull_interval: Option<u64>,
    directories: Vec<String>,
    base_path: PathBuf,
    warnings: Vec<String>,
}

/// Builds a [`GitRepository`]; see [`GitRepository::builder`].
#[derive(Clone)]
#[must_use]
pub struct GitRepositoryBuilder {
    url: String,
    credentials: GitCredentials,
    provider: GitProvider,
    name: Option<String>,
    branch: Option<String>,
    commit_sha: Option<String>,
    include_submodules: bool,
    pull_interval: Option<u64>,
    directories: Vec<String>,
    base_path: Option<PathBuf>,
}

/// The secret parts of a URL's `user:password`: the password; the user only when there is no
/// password (a token in the user's place, `https://<token>@host/…`). A user name beside a
/// password is not secret (the credentials show it too), and replacing a short one — `u` —
/// everywhere in a message would mangle its words.
fn secret_parts<'a>(user: &'a str, password: Option<&'a str>) -> Vec<&'a str> {
    match password {
        Some(p) if !p.is_empty() => vec![p],
        _ => vec![user],
    }
}

/// The URL with any `userinfo@` replaced by `***@` (for `Debug`).
fn redact_userinfo(url: &str) -> String {
    let parsed = urlparse(url);
    if parsed.userinfo().is_none() {
        return url.to_owned();
    }
    parsed.unparse_with(&format!("***@{}", parsed.host_port()), parsed.path)
}

impl std::fmt::Debug for GitRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepository")
            .field("url", &redact_userinfo(&self.url))
            .field("credentials", &self.credentials)
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field("branch", &self.branch)
            .field("commit_sha", &self.commit_sha)
            .field("include_submodules", &self.include_submodules)
            .field("pull_interval", &self.pull_interval)
            .field("directories", &self.directories)
            .field("base_path", &self.base_path)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl std::fmt::Debug for GitRepositoryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepositoryBuilder")
            .field("url", &redact_userinfo(&self.url))
            .field("credentials", &self.credentials)
            .field("name", &self.name)
            .field("branch", &self.branch)
            .field("commit_sha", &self.commit_sha)
            .field("directories", &self.directories)
            .finish_non_exhaustive()
    }
}

impl GitRepositoryBuilder {
    /// The branch to check out (default: the remote's default branch).
    pub fn branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into()).filter(|b: &String| !b.is_empty());
        self
    }

    /// A commit to pin (4–64 hexadecimal characters); excludes `branch`.
    pub fn commit_sha(mut self, sha: impl Into<String>) -> Self {
        self.commit_sha = Some(sha.into()).filter(|s: &String| !s.is_empty());
        self
    }

    /// Credentials used when pulling.
    pub fn credentials(mut self, credentials: GitCredentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Whose token conventions apply to the credentials (default: Prefect's host sniffing).
    pub fn provider(mut self, provider: GitProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The checkout directory's name (default: derived from the URL and branch, §3.2).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into()).filter(|n: &String| !n.is_empty());
        self
    }

    /// Also check out submodules.
    pub fn include_submodules(mut self, include: bool) -> Self {
        self.include_submodules = include;
        self
    }

    /// Check out only these directories (git sparse checkout).
    pub fn directories<S: Into<String>>(mut self, dirs: impl IntoIterator<Item = S>) -> Self {
        self.directories = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// How often a runner pulls again (seconds; `None` = once). Default 60.
    pub fn pull_interval(mut self, seconds: Option<u64>) -> Self {
        self.pull_interval = seconds;
        self
    }

    /// The directory the checkout goes under (default: the current directory).
    pub fn base_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.base_path = Some(path.into());
        self
    }

    /// Validates as Prefect's constructor does (§3.1), with Prefect's messages.
    pub fn build(self) -> Result<GitRepository, StorageError> {
        self.credentials.validate()?;
        if self.branch.is_some() && self.commit_sha.is_some() {
            return Err(StorageError::invalid(
                "Cannot provide both a branch and a commit SHA. Please provide only one.",
            ));
        }
        if self.branch.as_deref().is_some_and(|b| b.starts_with('-')) {
            return Err(StorageError::invalid("Branch names cannot start with '-'."));
        }
        if let Some(sha) = &self.commit_sha
            && (!(4..=64).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(StorageError::invalid(format!(
                "Invalid commit SHA: {}. Expected a hexadecimal Git commit SHA (4\u{2013}64 characters). If you are trying to specify a branch or tag name, use the 'branch' parameter instead.",
                repr_str(sha)
            )));
        }
        let mut warnings = Vec::new();
        for d in &self.directories {
            if d.starts_with("--") {
                let w = format!(
                    "Directory {} starts with '--' and will be interpreted as a path by git sparse-checkout. If this is not intentional, remove it from the directories list.",
                    repr_str(d)
                );
                tracing::warn!("{w}");
                warnings.push(w);
            }
        }
        let name = self
            .name
            .unwrap_or_else(|| default_name(&self.url, self.branch.as_deref()));
        let base_path = match self.base_path {
            Some(p) => p,
            None => std::env::current_dir().map_err(|e| StorageError::io("reading", ".", e))?,
        };
        Ok(GitRepository {
            url: self.url,
            credentials: self.credentials,
            provider: self.provider,
            name,
            branch: self.branch,
            commit_sha: self.commit_sha,
            include_submodules: self.include_submodules,
            pull_interval: self.pull_interval,
            directories: self.directories,
            base_path,
            warnings,
        })
    }
}

/// Prefect's default checkout name: the URL path's last segment with every `.git` removed
/// (Q2: `my.github.io.git` → `myhub.io`), plus `-<branch with / → ->` (§3.2).
pub fn default_name(url: &str, branch: Option<&str>) -> String {
    let path = urlparse(url).path;
    let repo_name = path.rsplit('/').next().unwrap_or("").replace(".git", "");
    match branch.filter(|b| !b.is_empty()) {
        Some(b) => format!("{repo_name}-{}", b.replace('/', "-")),
        None => repo_name,
    }
}

impl GitRepository {
    /// Starts a builder for the repository at `url` (https, http, git://, file:// or an
    /// ssh-style address; the last is written into pull steps but cannot be pulled by prefab).
    pub fn builder(url: impl Into<String>) -> GitRepositoryBuilder {
        GitRepositoryBuilder {
            url: url.into(),
            credentials: GitCredentials::None,
            provider: GitProvider::Auto,
            name: None,
            branch: None,
            commit_sha: None,
            include_submodules: false,
            pull_interval: Some(DEFAULT_PULL_INTERVAL),
            directories: Vec::new(),
            base_path: None,
        }
    }

    /// The pull interval as configured.
    pub fn pull_interval_raw(&self) -> Option<u64> {
        self.pull_interval
    }

    /// The repository URL exactly as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The checkout directory's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The branch, if one was given.
    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    /// The pinned commit, if one was given.
    pub fn commit_sha(&self) -> Option<&str> {
        self.commit_sha.as_deref()
    }

    /// Whether submodules are checked out.
    pub fn include_submodules(&self) -> bool {
        self.include_submodules
    }

    /// The sparse-checkout directories.
    pub fn directories(&self) -> &[String] {
        &self.directories
    }

    /// The credentials.
    pub fn credentials(&self) -> &GitCredentials {
        &self.credentials
    }

    /// The token conventions in use.
    pub fn provider(&self) -> GitProvider {
        self.provider
    }

    /// Warnings Prefect gives when the same repository is built (e.g. a directory starting
    /// with `--`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Prefect's `repr()` (§3.8): `GitRepository(name='repo' repository='…', branch=None)`.
    pub fn repr(&self) -> String {
        format!(
            "GitRepository(name={} repository={}, branch={})",
            repr_str(&self.name),
            repr_str(&self.url),
            repr_opt(self.branch.as_deref())
        )
    }

    /// The URL Prefect passes to `git clone` (`_repository_url_with_credentials`, §3.3): the
    /// credentials' userinfo inserted before the host of an `https` URL; other schemes are
    /// returned unchanged. It holds the secret, hence the [`Secret`] wrapper. prefab itself
    /// never clones with this URL: it hands credentials to libgit2 through a callback.
    pub fn clone_url(&self) -> Result<Secret, StorageError> {
        if self.credentials.is_empty() {
            return Ok(Secret::new(self.url.clone()));
        }
        let parsed = urlparse(&self.url);
        if let Some(userinfo) = self.formatter_userinfo(parsed.netloc) {
            // The integrations' formatters insert credentials whatever the scheme.
            let netloc = format!("{}@{}", userinfo?.expose(), parsed.netloc);
            return Ok(Secret::new(parsed.unparse_with(&netloc, parsed.path)));
        }
        let userinfo = self.userinfo(parsed.netloc)?;
        if parsed.scheme != "https" {
            return Ok(Secret::new(self.url.clone()));
        }
        let netloc = format!("{}@{}", userinfo.expose(), parsed.netloc);
        Ok(Secret::new(parsed.unparse_with(&netloc, parsed.path)))
    }

    /// A credentials block of a Prefect git integration formats its own userinfo, unless the
    /// caller named a provider.
    fn formatter_userinfo(&self, netloc: &str) -> Option<Result<Secret, StorageError>> {
        if self.provider != GitProvider::Auto {
            return None;
        }
        credentials::formatter_userinfo(netloc, &self.credentials)
    }

    /// The userinfo for `netloc`: the block's formatter, else Prefect's legacy rules (§3.3.2).
    fn userinfo(&self, netloc: &str) -> Result<Secret, StorageError> {
        match self.formatter_userinfo(netloc) {
            Some(userinfo) => userinfo,
            None => credentials::format_userinfo(netloc, &self.credentials, self.provider),
        }
    }

    /// Prefect's `_git_config` argv fragment (§3.4): `["-c", "url.<base with auth>.insteadOf=<base>"]`
    /// when submodules and credentials are both set, else empty. Holds the secret.
    pub fn git_config_args(&self) -> Result<Vec<Secret>, StorageError> {
        if !self.include_submodules || self.credentials.is_empty() {
            return Ok(Vec::new());
        }
        let parsed = urlparse(&self.url);
        let base_without_auth = parsed.unparse_with(parsed.netloc, "");
        let userinfo = self.userinfo(parsed.netloc)?;
        let base_with_auth =
            parsed.unparse_with(&format!("{}@{}", userinfo.expose(), parsed.netloc), "");
        Ok(vec![
            Secret::new("-c"),
            Secret::new(format!(
                "url.{base_with_auth}.insteadOf={base_without_auth}"
            )),
        ])
    }

    /// The HTTP credentials prefab offers when the server asks: username and password
    /// (percent-decoded) from the same userinfo Prefect would embed, or the URL's own
    /// `user:password@`. `None` for an anonymous repository.
    pub(crate) fn basic_credentials(&self) -> Result<Option<(String, Secret)>, StorageError> {
        let parsed = urlparse(&self.url);
        if !self.credentials.is_empty() {
            let userinfo = self.userinfo(parsed.netloc)?;
            return Ok(Some(credentials::userinfo_to_pair(&userinfo)));
        }
        Ok(parsed.userinfo().map(|(user, pass)| {
            (
                crate::urls::unquote(user),
                Secret::new(crate::urls::unquote(pass.unwrap_or(""))),
            )
        }))
    }

    /// Every secret that must never be printed: credential values and the URL's own password
    /// (raw and percent-decoded).
    pub(crate) fn secrets_to_redact(&self) -> Vec<String> {
        let mut out = self.credentials.secret_texts();
        if let Ok(Some(userinfo)) = self.clone_url().map(|u| {
            let owned = u.expose().to_owned();
            urlparse(&owned)
                .userinfo()
                .map(|(u, p)| (u.to_owned(), p.map(str::to_owned)))
        }) {
            let (user, pass) = userinfo;
            for s in secret_parts(&user, pass.as_deref()) {
                out.push(crate::urls::unquote(s));
                out.push(s.to_owned());
            }
        }
        if let Some((user, pass)) = urlparse(&self.url).userinfo() {
            for s in secret_parts(user, pass) {
                out.push(crate::urls::unquote(s));
                out.push(s.to_owned());
            }
        }
        out.retain(|s| !s.is_empty());
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }

    /// The credentials key of the pull step (§3.9), or `None` when Prefect writes none.
    fn pull_step_credentials(&self) -> Result<Option<Value>, StorageError> {
        match &self.credentials {
            GitCredentials::None => Ok(None),
            GitCredentials::Block(block) => Ok(Some(Value::String(block.placeholder()?))),
            GitCredentials::Fields(fields) => match fields.get("access_token") {
                Some(SettingValue::Secret(secret)) => {
                    let placeholder = secret.placeholder()?;
                    let mut out = Map::new();
                    for (k, v) in fields {
                        if k == "access_token" {
                            out.insert(k.clone(), Value::String(placeholder.clone()));
                        } else {
                            out.insert(k.clone(), v.to_pull_step_json()?);
                        }
                    }
                    Ok(Some(Value::Object(out)))
                }
                Some(v) if !matches!(v, SettingValue::Plain(Value::Null)) => Err(StorageError::PullStep {
                    message: "Please save your access token as a Secret block before converting this storage object to a pull step.".into(),
                }),
                _ => Ok(None),
            },
        }
    }

    /// Why credentials given to this repository will not reach the pull step, if they will not
    /// (Prefect drops `token`/`password`-only maps silently, Q6; prefab warns).
    pub fn dropped_credentials_warning(&self) -> Option<String> {
        let GitCredentials::Fields(fields) = &self.credentials else {
            return None;
        };
        let has_access_token = fields
            .get("access_token")
            .is_some_and(|v| !matches!(v, SettingValue::Plain(Value::Null)));
        if fields.is_empty() || has_access_token {
            return None;
        }
        let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        Some(format!(
            "the credentials of {} ({}) are not written into the pull step: Prefect only keeps an `access_token` saved as a Secret block, or a credentials block; workers will clone without credentials. Save the token as a Secret block and pass it as `access_token`.",
            crate::urls::strip_auth(&self.url),
            keys.join(", ")
        ))
    }
}

impl PartialEq for GitRepository {
    /// Prefect compares url, branch and name; prefab also compares `commit_sha` and
    /// `directories`, so two pins of one repository are not merged into one checkout
    /// (storage.md Q10, fixed).
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
            && self.branch == other.branch
            && self.name == other.name
            && self.commit_sha == other.commit_sha
            && self.directories == other.directories
    }
}

#[async_trait]
impl RunnerStorage for GitRepository {
    fn set_base_path(&mut self, path: &Path) {
        self.base_path = path.to_path_buf();
    }

    fn destination(&self) -> PathBuf {
        if self.name.is_empty() {
            // Q3: an empty name (URL ending in `/`) clones into the base path itself.
            self.base_path.clone()
        } else {
            self.base_path.join(&self.name)
        }
    }

    fn pull_interval(&self) -> Option<u64> {
        self.pull_interval.filter(|s| *s > 0)
    }

    async fn pull(&self, options: &PullOptions) -> Result<PullReport, StorageError> {
        pull::pull(self, options).await
    }

    fn to_pull_step(&self) -> Result<PullStep, StorageError> {
        let mut inputs = Map::new();
        inputs.insert("repository".into(), Value::String(self.url.clone()));
        inputs.insert(
            "branch".into(),
            self.branch.clone().map_or(Value::Null, Value::String),
        );
        if self.name != default_name(&self.url, self.branch.as_deref()) {
            inputs.insert(
                "clone_directory_name".into(),
                Value::String(self.name.clone()),
            );
        }
        if !self.directories.is_empty() {
            inputs.insert(
                "directories".into(),
                Value::Array(
                    self.directories
                        .iter()
                        .cloned()
                        .map(Value::String)
                        .collect(),
                ),
            );
        }
        if self.include_submodules {
            inputs.insert("include_submodules".into(), Value::Bool(true));
        }
        if let Some(sha) = &self.commit_sha {
            inputs.insert("commit_sha".into(), Value::String(sha.clone()));
        }
        match self.pull_step_credentials()? {
            Some(credentials) => {
                inputs.insert("credentials".into(), credentials);
            }
            None => {
                if let Some(warning) = self.dropped_credentials_warning() {
                    tracing::warn!("{warning}");
                }
            }
        }
        let mut step = Map::new();
        step.insert(GIT_CLONE_STEP.into(), Value::Object(inputs));
        Ok(Value::Object(step))
    }
}
