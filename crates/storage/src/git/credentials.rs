//! Git credentials and how Prefect turns them into the userinfo of a clone URL
//! (storage.md §3.3).

use indexmap::IndexMap;
use prefab_schemas::Secret;

use crate::StorageError;
use crate::urls::{quote, unquote};
use crate::value::{BlockDocument, SecretBlock, SettingValue};

/// Credentials of a [`GitRepository`](super::GitRepository), in the shapes Prefect accepts.
///
/// `Debug` shows the keys and the username, never the other values.
#[derive(Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum GitCredentials {
    /// No credentials (anonymous clone).
    #[default]
    None,
    /// A plain map: `username`, `access_token`, `token`, `password`; values may be strings or
    /// `Secret` blocks.
    Fields(IndexMap<String, SettingValue>),
    /// A saved credentials block (`github-credentials`, `gitlab-credentials`, …); written into
    /// the pull step as a placeholder, its fields used when pulling.
    Block(BlockDocument),
}

impl std::fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitCredentials::None => f.write_str("None"),
            GitCredentials::Fields(fields) => f
                .debug_tuple("Fields")
                .field(&RedactedFields(fields))
                .finish(),
            GitCredentials::Block(b) => f
                .debug_struct("Block")
                .field("slug", &b.slug)
                .field("name", &b.name)
                .field("fields", &RedactedFields(&b.fields))
                .finish(),
        }
    }
}

/// A credentials map for `Debug`: the username as is, every other value as `***`.
struct RedactedFields<'a>(&'a IndexMap<String, SettingValue>);

impl std::fmt::Debug for RedactedFields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Raw(String);
        impl std::fmt::Debug for Raw {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if k == "username" {
                    format!("{v:?}")
                } else {
                    "***".to_owned()
                };
                (k, Raw(shown))
            }))
            .finish()
    }
}

impl GitCredentials {
    /// `{"access_token": <Secret block>}`: the shape that survives into the pull step as
    /// `{{ prefect.blocks.secret.<name> }}`.
    pub fn access_token_secret(block_name: impl Into<String>, token: impl Into<Secret>) -> Self {
        let mut fields = IndexMap::new();
        fields.insert(
            "access_token".into(),
            SettingValue::Secret(SecretBlock::saved(block_name, token)),
        );
        GitCredentials::Fields(fields)
    }

    /// `{"access_token": "<token>"}` in plain text: fine for pulling, but Prefect (and prefab)
    /// refuse to write it into a pull step.
    pub fn access_token(token: impl Into<Secret>) -> Self {
        let token: Secret = token.into();
        let mut fields = IndexMap::new();
        fields.insert("access_token".into(), SettingValue::from(token.expose()));
        GitCredentials::Fields(fields)
    }

    /// `{"username": …, "password": …}`.
    pub fn username_password(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        let password: Secret = password.into();
        let mut fields = IndexMap::new();
        fields.insert("username".into(), SettingValue::from(username.into()));
        fields.insert("password".into(), SettingValue::from(password.expose()));
        GitCredentials::Fields(fields)
    }

    /// Adds (or replaces) a field of a [`GitCredentials::Fields`] map.
    pub fn with_field(self, key: impl Into<String>, value: impl Into<SettingValue>) -> Self {
        let mut fields = match self {
            GitCredentials::Fields(f) => f,
            _ => IndexMap::new(),
        };
        fields.insert(key.into(), value.into());
        GitCredentials::Fields(fields)
    }

    /// Python truthiness (`if not self._credentials`).
    pub fn is_empty(&self) -> bool {
        match self {
            GitCredentials::None => true,
            GitCredentials::Fields(f) => f.is_empty(),
            GitCredentials::Block(_) => false,
        }
    }

    /// The plain map Prefect's legacy path works on (a block's field dump).
    pub(crate) fn fields(&self) -> Option<&IndexMap<String, SettingValue>> {
        match self {
            GitCredentials::None => None,
            GitCredentials::Fields(f) => Some(f),
            GitCredentials::Block(b) => Some(&b.fields),
        }
    }

    fn get(&self, key: &str) -> Option<&SettingValue> {
        self.fields().and_then(|f| f.get(key))
    }

    fn truthy(&self, key: &str) -> bool {
        self.get(key).is_some_and(SettingValue::is_truthy)
    }

    /// Prefect's constructor check (§3.1 rule 1; a `{username, token}` map fails too — Q13).
    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        if let GitCredentials::Fields(_) = self
            && self.truthy("username")
            && !(self.truthy("access_token") || self.truthy("password"))
        {
            return Err(StorageError::invalid(
                "If a username is provided, an access token or password must also be provided.",
            ));
        }
        Ok(())
    }

    /// Every secret value in the credentials (for redaction).
    pub(crate) fn secret_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(fields) = self.fields() {
            for (key, value) in fields {
                if key == "username" {
                    continue;
                }
                if let Some(s) = value.as_secret_text()
                    && !s.expose().is_empty()
                {
                    out.push(s.expose().to_owned());
                }
            }
        }
        out
    }
}

/// Which git host's token conventions apply. Prefect guesses from the host name
/// (`gitlab` / `bitbucket` / `bitbucketserver` substrings) — [`GitProvider::Auto`], the
/// default — which breaks self-hosted GitLab (Prefect issue #16836). Naming the provider
/// replaces the guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GitProvider {
    /// Prefect's host-name sniffing.
    #[default]
    Auto,
    /// GitHub (and anything that takes a bare token): `<token>`.
    GitHub,
    /// GitLab: `oauth2:<token>`, or a deploy token `user:token` as given.
    GitLab,
    /// Bitbucket Cloud: `x-token-auth:<token>`, or `user:token` as given.
    Bitbucket,
    /// Bitbucket Server / Data Center: the token must be `user:token`.
    BitbucketServer,
    /// Send the token as given (no prefix).
    Generic,
}

impl std::str::FromStr for GitProvider {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => GitProvider::Auto,
            "github" => GitProvider::GitHub,
            "gitlab" => GitProvider::GitLab,
            "bitbucket" => GitProvider::Bitbucket,
            "bitbucket-server" | "bitbucketserver" => GitProvider::BitbucketServer,
            "generic" => GitProvider::Generic,
            other => {
                return Err(StorageError::invalid(format!(
                    "unknown git provider {other:?}: use auto, github, gitlab, bitbucket, bitbucket-server or generic"
                )));
            }
        })
    }
}

/// Prefect's `_format_token_from_credentials(netloc, credentials)` (§3.3.2): the
/// percent-encoded userinfo placed before `@` in the clone URL.
pub(crate) fn format_userinfo(
    netloc: &str,
    credentials: &GitCredentials,
    provider: GitProvider,
) -> Result<Secret, StorageError> {
    let pick = |key: &str| {
        credentials
            .get(key)
            .filter(|v| v.is_truthy())
            .and_then(SettingValue::as_secret_text)
    };
    let token = pick("access_token")
        .or_else(|| pick("token"))
        .or_else(|| pick("password"))
        .filter(|t| !t.expose().is_empty())
        .ok_or_else(|| {
            StorageError::invalid(
                "Please provide a `token` or `password` in your Credentials block to clone a repo.",
            )
        })?;
    let token = token.expose();
    if let Some(username) = credentials
        .get("username")
        .filter(|v| v.is_truthy())
        .and_then(SettingValue::as_secret_text)
    {
        return Ok(Secret::new(format!(
            "{}:{}",
            quote(username.expose()),
            quote(token)
        )));
    }
    let split_pair = |t: &str| {
        let (a, b) = t.split_once(':').expect("checked for ':'");
        format!("{}:{}", quote(a), quote(b))
    };
    let provider = match provider {
        GitProvider::Auto if netloc.contains("bitbucketserver") => GitProvider::BitbucketServer,
        GitProvider::Auto if netloc.contains("bitbucket") => GitProvider::Bitbucket,
        GitProvider::Auto if netloc.contains("gitlab") => GitProvider::GitLab,
        GitProvider::Auto => GitProvider::GitHub,
        explicit => explicit,
    };
    Ok(Secret::new(match provider {
        GitProvider::BitbucketServer => {
            if !token.contains(':') {
                return Err(StorageError::invalid(
                    "Please provide a `username` and a `password` or `token` in your BitBucketCredentials block to clone a repo from BitBucket Server.",
                ));
            }
            split_pair(token)
        }
        GitProvider::Bitbucket => match token.strip_prefix("x-token-auth:") {
            Some(rest) => format!("x-token-auth:{}", quote(rest)),
            None if token.contains(':') => split_pair(token),
            None => format!("x-token-auth:{}", quote(token)),
        },
        GitProvider::GitLab => match token.strip_prefix("oauth2:") {
            Some(rest) => format!("oauth2:{}", quote(rest)),
            None if token.contains(':') => split_pair(token),
            None => format!("oauth2:{}", quote(token)),
        },
        GitProvider::GitHub | GitProvider::Generic | GitProvider::Auto => quote(token),
    }))
}

/// The userinfo of the Prefect integrations' credential blocks, which format git URLs
/// themselves (`format_git_credentials`, storage.md §3.3.1): `github-credentials`,
/// `gitlab-credentials`, `bitbucket-credentials`. `None` for any other credentials.
pub(crate) fn formatter_userinfo(
    netloc: &str,
    credentials: &GitCredentials,
) -> Option<Result<Secret, StorageError>> {
    let GitCredentials::Block(block) = credentials else {
        return None;
    };
    let field = |key: &str| {
        block
            .fields
            .get(key)
            .filter(|v| v.is_truthy())
            .and_then(SettingValue::as_secret_text)
    };
    let missing = |what: &str| {
        Some(Err(StorageError::invalid(format!(
            "the `{}` block `{}` has no {what}: it cannot authenticate a git clone",
            block.slug,
            block.name.as_deref().unwrap_or("(unsaved)")
        ))))
    };
    match block.slug.as_str() {
        "github-credentials" => match field("token") {
            Some(token) => Some(Ok(token)),
            None => missing("`token`"),
        },
        "gitlab-credentials" => match field("token") {
            Some(token) => {
                let t = token.expose();
                Some(Ok(if t.starts_with("oauth2:") || t.contains(':') {
                    token
                } else {
                    Secret::new(format!("oauth2:{t}"))
                }))
            }
            None => missing("`token`"),
        },
        "bitbucket-credentials" => {
            let Some(token) = field("token").or_else(|| field("password")) else {
                return missing("`token` or `password`");
            };
            let username = field("username");
            Some(Ok(match username {
                Some(user) => Secret::new(format!(
                    "{}:{}",
                    quote(user.expose()),
                    quote(token.expose())
                )),
                None if netloc.contains("bitbucketserver") => {
                    return Some(Err(StorageError::invalid(
                        "Username is required for BitBucket Server authentication.",
                    )));
                }
                None => Secret::new(format!("x-token-auth:{}", quote(token.expose()))),
            }))
        }
        _ => None,
    }
}

/// A userinfo string split for an HTTP Basic credential callback: username and password,
/// percent-decoded. A bare token is the username with an empty password — what
/// `https://<token>@host` means to git.
pub(crate) fn userinfo_to_pair(userinfo: &Secret) -> (String, Secret) {
    match userinfo.expose().split_once(':') {
        Some((user, pass)) => (unquote(user), Secret::new(unquote(pass))),
        None => (unquote(userinfo.expose()), Secret::new("")),
    }
}
