//! `prefab storage …`: what a source means to Prefect (`describe`), and bringing the code here
//! (`pull`).

mod describe;
mod pull;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use prefab_storage::{
    Classification, GitCredentials, GitProvider, GitRepository, LocalStorage, RemoteStorage,
    SecretBlock, SettingValue, Storage, classify,
};
use serde_json::Value;

use crate::Failure;

/// `prefab storage` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum StorageCommand {
    /// Show how Prefect classifies a source, where it lands and the pull step it becomes.
    Describe(DescribeArgs),
    /// Pull flow code from a git repository, an object store or a local path.
    Pull(PullArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Text for people.
    Text,
    /// JSON for machines.
    Json,
}

/// What a source is, shared by `describe` and `pull`.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// Git branch to check out.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Git commit to pin (4–64 hex characters).
    #[arg(long = "commit", value_name = "SHA")]
    pub commit_sha: Option<String>,
    /// Check out only this directory (repeatable; git sparse checkout).
    #[arg(long = "directory", value_name = "DIR")]
    pub directories: Vec<String>,
    /// Also check out git submodules.
    #[arg(long)]
    pub include_submodules: bool,
    /// The checkout directory's name (default: from the URL and branch, as Prefect names it).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Treat SOURCE as a git repository even without `.git` (Prefect classifies such URLs as
    /// remote storage).
    #[arg(long)]
    pub git: bool,
    /// The Secret block holding the git access token; the pull step refers to it as
    /// `{{ prefect.blocks.secret.NAME }}`.
    #[arg(long, value_name = "NAME")]
    pub credentials_block: Option<String>,
    /// Whose token conventions apply: auto (Prefect's host-name guess), github, gitlab,
    /// bitbucket, bitbucket-server, generic.
    #[arg(long, value_name = "PROVIDER", default_value = "auto")]
    pub provider: String,
    /// A remote-storage setting as Prefect's fsspec argument, KEY=VALUE (repeatable; dotted
    /// keys nest: client_kwargs.endpoint_url=http://…; VALUE is JSON when it parses as JSON).
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Seconds between pulls of a runner (default 60).
    #[arg(long, value_name = "SECONDS")]
    pub pull_interval: Option<u64>,
}

/// Arguments of `prefab storage describe`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["source", "jsonl"])))]
pub(crate) struct DescribeArgs {
    /// A git URL, an object-store URL (s3://, gs://, az://, file://, memory://) or a local path.
    pub source: Option<String>,
    #[command(flatten)]
    pub source_args: SourceArgs,
    /// Describe storage definitions in bulk: JSON lines `{"id", "input"}` (FILE, or - for
    /// stdin), one JSON line out per input line.
    #[arg(long, value_name = "FILE", conflicts_with = "source")]
    pub jsonl: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// How `directories` are checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Sparse {
    /// The git executable when present, else libgit2.
    Auto,
    /// The git executable.
    Git,
    /// libgit2 (path-limited checkout).
    Libgit2,
}

/// Arguments of `prefab storage pull`.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// A git URL, an object-store URL (s3://, gs://, az://, file://, memory://) or a local path.
    pub source: String,
    #[command(flatten)]
    pub source_args: SourceArgs,
    /// Git access token (or set PREFAB_GIT_ACCESS_TOKEN); never echoed.
    #[arg(
        long,
        env = "PREFAB_GIT_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub access_token: Option<String>,
    /// Git username (or set PREFAB_GIT_USERNAME); needs --password or --access-token.
    #[arg(long, env = "PREFAB_GIT_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Git password (or set PREFAB_GIT_PASSWORD); never echoed.
    #[arg(
        long,
        env = "PREFAB_GIT_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
    /// Where the code lands (the directory itself); default: ./<destination name>.
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// Remote storage: also delete local files whose objects are gone upstream (only files an
    /// earlier prefab pull wrote). Prefect never deletes.
    #[arg(long)]
    pub delete: bool,
    /// Remote storage: objects downloaded at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// How `--directory` checkouts are made.
    #[arg(long, value_enum, default_value = "auto")]
    pub sparse: Sparse,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

pub(crate) fn run(cmd: StorageCommand) -> Result<(), Failure> {
    match cmd {
        StorageCommand::Describe(args) => describe::run(&args),
        StorageCommand::Pull(args) => pull::run(args),
    }
}

/// Git credentials given on the command line or in the environment.
#[derive(Default)]
pub(crate) struct CliCredentials {
    pub access_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Builds the storage SOURCE and the flags describe, based in `base`.
pub(crate) fn build_storage(
    source: &str,
    args: &SourceArgs,
    secrets: &CliCredentials,
    base: &Path,
) -> Result<Storage, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let classification = if args.git {
        Classification::Git
    } else {
        classify(source)
    };
    let interval = Some(
        args.pull_interval
            .unwrap_or(prefab_storage::DEFAULT_PULL_INTERVAL),
    );
    let git_only = [
        ("--branch", args.branch.is_some()),
        ("--commit", args.commit_sha.is_some()),
        ("--directory", !args.directories.is_empty()),
        ("--include-submodules", args.include_submodules),
        ("--credentials-block", args.credentials_block.is_some()),
        ("--name", args.name.is_some()),
        ("--access-token", secrets.access_token.is_some()),
        ("--username", secrets.username.is_some()),
        ("--password", secrets.password.is_some()),
    ];
    if classification != Classification::Git
        && let Some((flag, _)) = git_only.iter().find(|(_, set)| *set)
    {
        return Err(Failure::Input(format!(
            "{flag} applies to git repositories, but {source:?} is {} storage to Prefect (a git URL must end in .git); pass --git to treat it as a git repository",
            classification.as_str()
        )));
    }
    if classification != Classification::Remote && !args.settings.is_empty() {
        return Err(Failure::Input(format!(
            "--setting applies to remote storage (s3://, gs://, az://, …), but {source:?} is {} storage",
            classification.as_str()
        )));
    }
    let input = |e: prefab_storage::StorageError| Failure::Input(e.to_string());
    Ok(match classification {
        Classification::Git => {
            let provider: GitProvider = args.provider.parse().map_err(input)?;
            let mut builder = GitRepository::builder(source)
                .provider(provider)
                .include_submodules(args.include_submodules)
                .directories(args.directories.clone())
                .pull_interval(interval)
                .base_path(base);
            if let Some(b) = &args.branch {
                builder = builder.branch(b);
            }
            if let Some(s) = &args.commit_sha {
                builder = builder.commit_sha(s);
            }
            if let Some(n) = &args.name {
                builder = builder.name(n);
            }
            builder = builder.credentials(git_credentials(args, secrets)?);
            Storage::Git(builder.build().map_err(input)?)
        }
        Classification::Remote => {
            let mut remote = RemoteStorage::new(source).with_pull_interval(interval);
            for setting in &args.settings {
                let (key, value) = parse_setting(setting)?;
                remote = insert_setting(remote, &key, value);
            }
            let mut storage = Storage::Remote(remote);
            prefab_storage::RunnerStorage::set_base_path(&mut storage, base);
            storage
        }
        _ => {
            match prefab_storage::create_storage_from_source_in(source, interval, &cwd)
                .map_err(input)?
            {
                Storage::Local(local) => Storage::Local(local),
                other => other,
            }
        }
    })
}

fn git_credentials(args: &SourceArgs, secrets: &CliCredentials) -> Result<GitCredentials, Failure> {
    let mut credentials = GitCredentials::None;
    if let Some(user) = &secrets.username {
        credentials = credentials.with_field("username", user.as_str());
    }
    match (&args.credentials_block, &secrets.access_token) {
        (Some(block), token) => {
            let value = token.clone().unwrap_or_default();
            credentials = credentials.with_field(
                "access_token",
                SettingValue::Secret(SecretBlock::saved(block.clone(), value)),
            );
        }
        (None, Some(token)) => credentials = credentials.with_field("access_token", token.as_str()),
        (None, None) => {}
    }
    if let Some(password) = &secrets.password {
        credentials = credentials.with_field("password", password.as_str());
    }
    if secrets.username.is_some() && secrets.password.is_none() && secrets.access_token.is_none() {
        return Err(Failure::Input(
            "--username needs --password or --access-token (or PREFAB_GIT_PASSWORD / PREFAB_GIT_ACCESS_TOKEN)".into(),
        ));
    }
    Ok(credentials)
}

fn parse_setting(setting: &str) -> Result<(String, Value), Failure> {
    let (key, value) = setting.split_once('=').ok_or_else(|| {
        Failure::Input(format!("--setting {setting:?}: expected KEY=VALUE, e.g. client_kwargs.endpoint_url=http://127.0.0.1:9000"))
    })?;
    if key.is_empty() {
        return Err(Failure::Input(format!(
            "--setting {setting:?}: the key is empty"
        )));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

fn insert_setting(remote: RemoteStorage, key: &str, value: Value) -> RemoteStorage {
    let mut settings = remote.settings().clone();
    let mut parts = key.split('.').collect::<Vec<_>>();
    let last = parts.pop().expect("split yields at least one part");
    let mut map = &mut settings;
    for part in parts {
        let entry = map
            .entry(part.to_owned())
            .or_insert_with(|| SettingValue::Map(Default::default()));
        if !matches!(entry, SettingValue::Map(_)) {
            *entry = SettingValue::Map(Default::default());
        }
        let SettingValue::Map(inner) = entry else {
            unreachable!()
        };
        map = inner;
    }
    let value = SettingValue::from_json(&value).unwrap_or(SettingValue::Plain(value));
    map.insert(last.to_owned(), value);
    remote.with_settings(settings)
}

/// Local storage is not moved by --dest; git and remote storage are.
pub(crate) fn local_only(storage: &Storage) -> Option<&LocalStorage> {
    match storage {
        Storage::Local(l) => Some(l),
        _ => None,
    }
}
