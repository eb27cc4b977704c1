//! Git storage against real servers (tests/support/git_server.rs): the shared conformance suite
//! over smart HTTP with Basic auth, git daemon and file://, plus branch, commit pin, shallow,
//! submodule, sparse-checkout, credential, error-message, locking and secret-leak cases.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use prefab_storage::lock::FileLock;
use prefab_storage::{
    GitCredentials, GitRepository, GitRepositoryBuilder, PullOptions, PullProgress, PullReport,
    RunnerStorage, SparseStrategy, Storage, StorageError,
};
use support::git_server::{BareRepo, PASSWORD, USER, files, git, servers};
use support::storage_suite::{Upstream, read_tree, run_suite};

const WRONG_PASSWORD: &str = "wr0ng-Pa55w0rd-b81e44";

fn creds() -> GitCredentials {
    GitCredentials::username_password(USER, PASSWORD)
}

fn build(b: GitRepositoryBuilder) -> GitRepository {
    b.build().expect("valid git repository")
}

async fn pull_with(repo: &GitRepository, options: &PullOptions) -> PullReport {
    match repo.pull(options).await {
        Ok(r) => r,
        Err(e) => panic!("pull of {} failed: {e}", repo.url()),
    }
}

async fn pull(repo: &GitRepository) -> PullReport {
    pull_with(repo, &PullOptions::default()).await
}

async fn pull_err(repo: &GitRepository) -> StorageError {
    match repo.pull_code().await {
        Ok(r) => panic!("pull of {} should fail, got {r:?}", repo.url()),
        Err(e) => e,
    }
}

fn v1() -> BTreeMap<String, Vec<u8>> {
    files(&[("flows/a.py", "print(1)\n"), ("sub/b.txt", "b\n")])
}

// ---------------------------------------------------------------------------------------------
// The conformance suite

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Http,
    Daemon,
    File,
}

struct GitUpstream {
    kind: Kind,
    repo: BareRepo,
}

impl GitUpstream {
    fn new(kind: Kind) -> Self {
        GitUpstream {
            kind,
            repo: servers().create_repo("suite", true),
        }
    }

    fn url(&self) -> String {
        match self.kind {
            Kind::Http => servers().http_url(&self.repo.name),
            Kind::Daemon => servers().daemon_url(&self.repo.name),
            Kind::File => servers().file_url(&self.repo.name),
        }
    }
}

#[async_trait]
impl Upstream for GitUpstream {
    fn name(&self) -> String {
        match self.kind {
            Kind::Http => "git-http".into(),
            Kind::Daemon => "git-daemon".into(),
            Kind::File => "git-file".into(),
        }
    }

    async fn publish(&self, files: &BTreeMap<String, Vec<u8>>) {
        self.repo.publish(files);
    }

    fn storage(&self, base: &Path) -> Storage {
        let mut b = GitRepository::builder(self.url()).base_path(base);
        if self.kind == Kind::Http {
            b = b.credentials(creds());
        }
        build(b).into()
    }

    fn failing_storage(&self, base: &Path) -> Storage {
        let ok = self.storage(base);
        let name = ok
            .destination()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let b = GitRepository::builder(self.url())
            .base_path(base)
            .name(name);
        let b = match self.kind {
            Kind::Http => b.credentials(GitCredentials::username_password(USER, WRONG_PASSWORD)),
            _ => b.branch("no-such-branch"),
        };
        build(b).into()
    }

    fn removes_deleted_files(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_over_http_with_basic_auth() {
    run_suite(&GitUpstream::new(Kind::Http)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_over_git_daemon() {
    run_suite(&GitUpstream::new(Kind::Daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_over_file_urls() {
    run_suite(&GitUpstream::new(Kind::File)).await;
}

// ---------------------------------------------------------------------------------------------
// Branches, commits, shallow clones

#[tokio::test]
async fn branch_is_checked_out_and_followed() {
    let s = servers();
    let repo = s.create_repo("branch", true);
    repo.publish(&v1());
    repo.publish_tree("feature/x", &files(&[("feat.txt", "f1\n")]), &[]);
    let base = tempfile::tempdir().unwrap();
    let g = build(
        GitRepository::builder(s.http_url(&repo.name))
            .credentials(creds())
            .branch("feature/x")
            .base_path(base.path()),
    );
    assert!(
        g.destination()
            .ends_with(format!("{}-feature-x", repo.name.trim_end_matches(".git")))
    );
    let r = pull(&g).await;
    assert!(r.fresh);
    assert_eq!(read_tree(&g.destination()), files(&[("feat.txt", "f1\n")]));
    let checkout = git2::Repository::open(g.destination()).unwrap();
    assert_eq!(checkout.head().unwrap().shorthand().ok(), Some("feature/x"));
    let sha2 = repo.publish_tree("feature/x", &files(&[("feat.txt", "f2\n")]), &[]);
    let r = pull(&g).await;
    assert_eq!(r.updated, ["feat.txt"]);
    assert_eq!(r.revision.as_deref(), Some(sha2.as_str()));
    // The git executable sees an ordinary checkout tracking origin/feature/x.
    assert_eq!(
        git(
            &g.destination(),
            &["rev-parse", "--abbrev-ref", "@{upstream}"]
        )
        .trim(),
        "origin/feature/x"
    );
    assert_eq!(git(&g.destination(), &["status", "--porcelain"]), "");
}

#[tokio::test]
async fn commit_pins_full_short_moving_and_already_current() {
    let s = servers();
    let repo = s.create_repo("pins", true);
    let c1 = repo.publish(&files(&[("v.txt", "1\n")]));
    let c2 = repo.publish(&files(&[("v.txt", "2\n"), ("new.txt", "n\n")]));
    let _c3 = repo.publish(&files(&[("v.txt", "3\n")]));
    let base = tempfile::tempdir().unwrap();
    let pinned = |sha: &str| {
        build(
            GitRepository::builder(s.http_url(&repo.name))
                .credentials(creds())
                .commit_sha(sha)
                .base_path(base.path()),
        )
    };
    // Full SHA: fetched by SHA (the server allows it) at depth 1.
    let g1 = pinned(&c1);
    let r = pull(&g1).await;
    assert_eq!(r.revision.as_deref(), Some(c1.as_str()));
    assert_eq!(read_tree(&g1.destination()), files(&[("v.txt", "1\n")]));
    let checkout = git2::Repository::open(g1.destination()).unwrap();
    assert!(checkout.head_detached().unwrap());
    assert!(
        checkout.is_shallow(),
        "a commit fetched by SHA is fetched at depth 1"
    );
    drop(checkout);
    // The pin changes (short SHA, upper case): the checkout moves (Q4 fixed).
    let g2 = pinned(&c2[..8].to_ascii_uppercase());
    let r = pull(&g2).await;
    assert_eq!(r.revision.as_deref(), Some(c2.as_str()));
    assert_eq!(r.updated, ["v.txt"]);
    assert_eq!(r.added, ["new.txt"]);
    assert_eq!(
        read_tree(&g2.destination()),
        files(&[("v.txt", "2\n"), ("new.txt", "n\n")])
    );
    // Already at the pinned commit: nothing is fetched (no request reaches the server).
    let before = s.requests(&repo.name);
    let r = pull(&g2).await;
    assert!(r.is_unchanged(), "{r:?}");
    assert_eq!(r.unchanged, 2);
    assert_eq!(
        s.requests(&repo.name),
        before,
        "already-current pin contacted the server"
    );
    // Back to the old pin (full SHA) moves back.
    let r = pull(&g1).await;
    assert_eq!(r.revision.as_deref(), Some(c1.as_str()));
    assert_eq!(r.removed, ["new.txt"]);
}

#[tokio::test]
async fn commit_pin_falls_back_when_the_server_refuses_sha_wants() {
    let s = servers();
    let repo = s.create_repo("nosha", false);
    let c1 = repo.publish(&files(&[("v.txt", "1\n")]));
    let _c2 = repo.publish(&files(&[("v.txt", "2\n")]));
    for (i, url) in [s.daemon_url(&repo.name), s.file_url(&repo.name)]
        .into_iter()
        .enumerate()
    {
        let base = tempfile::tempdir().unwrap();
        for sha in [c1.clone(), c1[..7].to_owned()] {
            let g = build(
                GitRepository::builder(url.as_str())
                    .commit_sha(sha.as_str())
                    .name(format!("pin-{i}-{}", sha.len()))
                    .base_path(base.path()),
            );
            let r = pull(&g).await;
            assert_eq!(r.revision.as_deref(), Some(c1.as_str()), "{url} {sha}");
            assert_eq!(read_tree(&g.destination()), files(&[("v.txt", "1\n")]));
        }
    }
}

#[tokio::test]
async fn clones_are_shallow_where_libgit2_can() {
    let s = servers();
    let repo = s.create_repo("shallow", true);
    repo.publish(&files(&[("a", "1")]));
    repo.publish(&files(&[("a", "2")]));
    let base = tempfile::tempdir().unwrap();
    let mut current = "2".to_owned();
    for (name, url, creds_needed, shallow) in [
        ("http", s.http_url(&repo.name), true, true),
        ("public-http", s.public_http_url(&repo.name), false, true),
        ("daemon", s.daemon_url(&repo.name), false, true),
        ("file", s.file_url(&repo.name), false, false),
    ] {
        let mut b = GitRepository::builder(url)
            .name(name)
            .base_path(base.path());
        if creds_needed {
            b = b.credentials(creds());
        }
        let g = build(b);
        pull(&g).await;
        let checkout = git2::Repository::open(g.destination()).unwrap();
        assert_eq!(checkout.is_shallow(), shallow, "{name}");
        assert_eq!(
            read_tree(&g.destination()),
            files(&[("a", current.as_str())])
        );
        // A later update of a shallow checkout stays shallow and moves.
        repo.publish(&files(&[("a", name)]));
        current = name.to_owned();
        let r = pull(&g).await;
        assert_eq!(r.updated, ["a"], "{name}");
        assert_eq!(
            git2::Repository::open(g.destination())
                .unwrap()
                .is_shallow(),
            shallow
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Submodules

#[tokio::test]
async fn submodules_use_the_same_credentials() {
    let s = servers();
    let sub = s.create_repo("sub", true);
    let sub1 = sub.publish(&files(&[("lib.py", "x = 1\n")]));
    let sup = s.create_repo("super", true);
    let rel = format!("../{}", sub.name);
    sup.publish_tree(
        "main",
        &files(&[("flow.py", "import lib\n")]),
        &[("libs/sub", &rel, &sub1)],
    );
    let base = tempfile::tempdir().unwrap();
    let g = build(
        GitRepository::builder(s.http_url(&sup.name))
            .credentials(creds())
            .include_submodules(true)
            .base_path(base.path()),
    );
    let r = pull(&g).await;
    assert!(r.fresh);
    let tree = read_tree(&g.destination());
    assert_eq!(
        tree.get("libs/sub/lib.py").map(Vec::as_slice),
        Some(&b"x = 1\n"[..])
    );
    assert!(
        s.requests(&sub.name) > 0,
        "the submodule came from the private HTTP server"
    );
    // The submodule survived the rename of the temporary clone.
    let sm = git2::Repository::open(g.destination().join("libs/sub")).unwrap();
    assert_eq!(sm.head().unwrap().target().unwrap().to_string(), sub1);
    drop(sm);
    // No credentials anywhere in the configs.
    for cfg in [".git/config", ".git/modules/libs/sub/config"] {
        let text = std::fs::read_to_string(g.destination().join(cfg)).unwrap();
        assert!(
            !text.contains(PASSWORD) && !text.contains("alice@"),
            "{cfg}: {text}"
        );
    }
    // A new submodule commit is followed.
    let sub2 = sub.publish(&files(&[("lib.py", "x = 2\n")]));
    sup.publish_tree(
        "main",
        &files(&[("flow.py", "import lib\n")]),
        &[("libs/sub", &rel, &sub2)],
    );
    let r = pull(&g).await;
    assert_eq!(r.updated, ["libs/sub"]);
    assert_eq!(
        std::fs::read_to_string(g.destination().join("libs/sub/lib.py")).unwrap(),
        "x = 2\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Sparse checkouts

fn sparse_fixture() -> BTreeMap<String, Vec<u8>> {
    files(&[
        ("README.md", "root\n"),
        ("flows/a.py", "a\n"),
        ("flows/nested/b.py", "b\n"),
        ("docs/x.md", "x\n"),
        ("docs/deep/y.md", "y\n"),
        ("docs/deep/more/z.md", "z\n"),
        ("docs/other/w.md", "w\n"),
        ("sub/c.txt", "c\n"),
    ])
}

fn pick(all: &BTreeMap<String, Vec<u8>>, keys: &[&str]) -> BTreeMap<String, Vec<u8>> {
    keys.iter()
        .map(|k| ((*k).to_owned(), all[*k].clone()))
        .collect()
}

#[tokio::test]
async fn sparse_checkout_strategies_agree_and_follow_directory_changes() {
    let s = servers();
    let repo = s.create_repo("sparse", true);
    let content = sparse_fixture();
    repo.publish(&content);
    let base = tempfile::tempdir().unwrap();
    let make = |strategy: &str, dirs: &[&str]| {
        build(
            GitRepository::builder(s.http_url(&repo.name))
                .credentials(creds())
                .name(strategy)
                .directories(dirs.iter().copied())
                .base_path(base.path()),
        )
    };
    let strategies = [
        ("cli", SparseStrategy::GitCli),
        ("libgit2", SparseStrategy::Libgit2),
    ];
    let expected1 = pick(
        &content,
        &[
            "README.md",
            "flows/a.py",
            "flows/nested/b.py",
            "docs/x.md",
            "docs/deep/y.md",
            "docs/deep/more/z.md",
        ],
    );
    for (name, strategy) in strategies {
        let g = make(name, &["flows", "docs/deep"]);
        let opts = PullOptions::default().with_sparse(strategy);
        let r = pull_with(&g, &opts).await;
        assert!(r.fresh);
        assert_eq!(read_tree(&g.destination()), expected1, "{name}");
        let mut added = r.added.clone();
        added.sort();
        assert_eq!(
            added,
            expected1.keys().cloned().collect::<Vec<_>>(),
            "{name}"
        );
        // Both leave a state the git executable understands.
        assert_eq!(
            git(&g.destination(), &["status", "--porcelain"]),
            "",
            "{name}"
        );
        assert_eq!(
            git(&g.destination(), &["sparse-checkout", "list"]),
            "docs/deep\nflows\n",
            "{name}"
        );
        let config = std::fs::read_to_string(g.destination().join(".git/config")).unwrap();
        assert!(!config.contains(PASSWORD), "{name}: {config}");
    }
    // A changed directory list takes effect on the existing checkouts (Q5 fixed), together
    // with an upstream change.
    let mut content2 = content.clone();
    content2.insert("sub/c.txt".into(), b"c2\n".to_vec());
    content2.insert("flows/a.py".into(), b"a2\n".to_vec());
    repo.publish(&content2);
    let expected2 = pick(
        &content2,
        &["README.md", "sub/c.txt", "docs/x.md", "docs/other/w.md"],
    );
    for (name, strategy) in strategies {
        let g = make(name, &["sub", "docs/other"]);
        let opts = PullOptions::default().with_sparse(strategy);
        let r = pull_with(&g, &opts).await;
        assert_eq!(read_tree(&g.destination()), expected2, "{name}");
        assert_eq!(r.added, ["docs/other/w.md", "sub/c.txt"], "{name}: {r:?}");
        assert_eq!(
            r.removed,
            [
                "docs/deep/more/z.md",
                "docs/deep/y.md",
                "flows/a.py",
                "flows/nested/b.py"
            ],
            "{name}: {r:?}"
        );
        assert_eq!(
            git(&g.destination(), &["status", "--porcelain"]),
            "",
            "{name}"
        );
        // No directories any more: the whole tree.
        let g = make(name, &[]);
        pull_with(&g, &opts).await;
        assert_eq!(read_tree(&g.destination()), content2, "{name}");
    }
}

/// Cold sparse clones of a 2,000-file repository with both strategies (printed; the numbers
/// are in the storage docs). Asserts only that both produce the same tree.
#[tokio::test]
async fn sparse_strategies_on_a_large_repository() {
    let s = servers();
    let repo = s.create_repo("large", true);
    // 2,000 files of ~2 KiB of incompressible-ish text (a fixed LCG), 20 directories.
    let mut content = BTreeMap::new();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for d in 0..20 {
        for f in 0..100 {
            let mut text = format!("# {d} {f}\n");
            while text.len() < 2048 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let _ = write!(text, "{:016x}", seed >> 1);
            }
            content.insert(
                format!("dir{d:02}/sub{}/file{f:03}.py", f % 4),
                text.into_bytes(),
            );
        }
    }
    repo.publish(&content);
    let mut trees = Vec::new();
    for (name, strategy) in [
        ("cli", SparseStrategy::GitCli),
        ("libgit2", SparseStrategy::Libgit2),
    ] {
        let base = tempfile::tempdir().unwrap();
        let g = build(
            GitRepository::builder(s.http_url(&repo.name))
                .credentials(creds())
                .directories(["dir03", "dir07/sub1"])
                .base_path(base.path()),
        );
        let started = Instant::now();
        let r = pull_with(&g, &PullOptions::default().with_sparse(strategy)).await;
        eprintln!(
            "sparse clone of 2000 files ({name}): {:?}, {} files checked out, {} bytes downloaded",
            started.elapsed(),
            r.added.len(),
            r.bytes_downloaded
        );
        trees.push(read_tree(&g.destination()));
    }
    assert_eq!(trees[0].len(), 125);
    assert_eq!(trees[0], trees[1]);
}

// ---------------------------------------------------------------------------------------------
// Credentials and errors

#[tokio::test]
async fn wrong_credentials_fail_fast_with_a_clear_message() {
    let s = servers();
    let repo = s.create_repo("authloop", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    for strategy in [SparseStrategy::Libgit2, SparseStrategy::GitCli] {
        let before = s.unauthorized(&repo.name);
        let g = build(
            GitRepository::builder(s.http_url(&repo.name))
                .credentials(GitCredentials::username_password(USER, WRONG_PASSWORD))
                .directories(if strategy == SparseStrategy::GitCli {
                    vec!["flows"]
                } else {
                    vec![]
                })
                .base_path(base.path()),
        );
        // A hang guard (an authentication loop would never end); the behaviour that matters,
        // few unauthorized requests, is counted below.
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            g.pull(&PullOptions::default().with_sparse(strategy)),
        )
        .await
        .expect("a wrong password must fail, not loop")
        .expect_err("wrong password must fail");
        let StorageError::Git {
            message,
            url,
            authentication,
        } = &err
        else {
            panic!("unexpected error {err:?}");
        };
        assert!(*authentication, "{err}");
        assert_eq!(url, &s.http_url(&repo.name));
        assert!(message.contains(&s.http_url(&repo.name)), "{message}");
        assert!(message.contains("credentials or access token"), "{message}");
        assert!(!message.contains(WRONG_PASSWORD), "{message}");
        let tries = s.unauthorized(&repo.name) - before;
        assert!(
            tries <= 4,
            "{strategy:?}: {tries} unauthorized requests (loop?)"
        );
        assert!(
            !g.destination().exists(),
            "a failed clone left {}",
            g.destination().display()
        );
        assert_no_temp_dirs(base.path());
    }
}

#[tokio::test]
async fn missing_credentials_are_reported_as_such() {
    let s = servers();
    let repo = s.create_repo("nocreds", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let g = build(GitRepository::builder(s.http_url(&repo.name)).base_path(base.path()));
    let err = pull_err(&g).await;
    let StorageError::Git {
        message,
        authentication,
        ..
    } = &err
    else {
        panic!("unexpected error {err:?}");
    };
    assert!(*authentication, "{err}");
    assert!(message.contains("no credentials were given"), "{message}");
    assert!(message.contains(&s.http_url(&repo.name)), "{message}");
    // The URL's own userinfo counts as credentials (and is not stored).
    let with_userinfo = s
        .http_url(&repo.name)
        .replace("http://", &format!("http://{USER}:{PASSWORD}@"));
    let g = build(GitRepository::builder(with_userinfo).base_path(base.path()));
    pull(&g).await;
    let config = std::fs::read_to_string(g.destination().join(".git/config")).unwrap();
    assert!(
        !config.contains(PASSWORD) && !config.contains("alice@"),
        "{config}"
    );
    assert!(config.contains(&s.http_url(&repo.name)), "{config}");
}

#[tokio::test]
async fn missing_repository_branch_and_commit_say_which() {
    let s = servers();
    let repo = s.create_repo("missing", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    for (label, url, with_creds) in [
        ("http", s.http_url("nope.git"), true),
        ("daemon", s.daemon_url("nope.git"), false),
        ("file", s.file_url("nope.git"), false),
    ] {
        let mut b = GitRepository::builder(url.as_str())
            .name(label)
            .base_path(base.path());
        if with_creds {
            b = b.credentials(creds());
        }
        let err = pull_err(&build(b)).await.to_string();
        assert!(err.contains("was not found"), "{label}: {err}");
        assert!(
            err.contains(&format!("Repository '{url}'")),
            "{label}: {err}"
        );
    }
    for (label, url) in [
        ("http", s.http_url(&repo.name)),
        ("daemon", s.daemon_url(&repo.name)),
    ] {
        let mut b = GitRepository::builder(url.as_str())
            .branch("nope")
            .base_path(base.path())
            .name(format!("b-{label}"));
        if label == "http" {
            b = b.credentials(creds());
        }
        let err = pull_err(&build(b)).await.to_string();
        assert!(
            err.contains("Branch 'nope' was not found"),
            "{label}: {err}"
        );
        let mut b = GitRepository::builder(url.as_str())
            .commit_sha("deadbeef")
            .base_path(base.path())
            .name(format!("c-{label}"));
        if label == "http" {
            b = b.credentials(creds());
        }
        let err = pull_err(&build(b)).await.to_string();
        assert!(
            err.contains("Commit 'deadbeef' was not found"),
            "{label}: {err}"
        );
    }
    // An unreachable server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let g = build(
        GitRepository::builder(format!("http://127.0.0.1:{port}/x.git")).base_path(base.path()),
    );
    let err = pull_err(&g).await.to_string();
    assert!(err.contains("Could not connect"), "{err}");
    assert_no_temp_dirs(base.path());
}

#[tokio::test]
async fn remote_mismatch_uses_prefects_message() {
    let s = servers();
    let a = s.create_repo("mis-a", true);
    let b = s.create_repo("mis-b", true);
    a.publish(&v1());
    b.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    pull(&build(
        GitRepository::builder(s.daemon_url(&a.name))
            .name("code")
            .base_path(base.path()),
    ))
    .await;
    let other = build(
        GitRepository::builder(s.daemon_url(&b.name))
            .name("code")
            .base_path(base.path()),
    );
    let err = pull_err(&other).await;
    assert!(
        matches!(err, StorageError::RemoteMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "The existing repository at {} does not match the configured repository {}",
            base.path().join("code").display(),
            s.daemon_url(&b.name)
        )
    );
    // The same repository with credentials in the URL matches (#20330).
    let same = build(
        GitRepository::builder(s.daemon_url(&a.name).replace("git://", "git://u:p@"))
            .name("code")
            .base_path(base.path()),
    );
    assert!(transport_ok(&same).await);
}

async fn transport_ok(g: &GitRepository) -> bool {
    g.pull_code().await.is_ok()
}

#[tokio::test]
async fn ssh_urls_are_rejected_clearly() {
    let base = tempfile::tempdir().unwrap();
    for url in [
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo.git",
    ] {
        let g = build(GitRepository::builder(url).base_path(base.path()));
        let err = pull_err(&g).await;
        assert!(matches!(err, StorageError::Unsupported { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("ssh URLs are not supported"), "{text}");
        assert!(text.contains("https://github.com/org/repo.git"), "{text}");
        assert!(text.contains("access token"), "{text}");
    }
}

#[tokio::test]
async fn existing_non_git_directory_is_not_overwritten() {
    let s = servers();
    let repo = s.create_repo("occupied", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let g = build(GitRepository::builder(s.daemon_url(&repo.name)).base_path(base.path()));
    std::fs::create_dir_all(g.destination()).unwrap();
    std::fs::write(g.destination().join("mine.txt"), "keep").unwrap();
    let err = pull_err(&g).await.to_string();
    assert!(
        err.contains(&g.destination().display().to_string()),
        "{err}"
    );
    assert!(err.contains("stale working directory"), "{err}");
    assert_eq!(read_tree(&g.destination()), files(&[("mine.txt", "keep")]));
}

#[tokio::test]
async fn progress_events_are_emitted() {
    let s = servers();
    let repo = s.create_repo("progress", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let opts =
        PullOptions::default().with_progress(Arc::new(move |e| sink.lock().unwrap().push(e)));
    let g = build(
        GitRepository::builder(s.http_url(&repo.name))
            .credentials(creds())
            .base_path(base.path()),
    );
    let r = pull_with(&g, &opts).await;
    assert!(r.bytes_downloaded > 0, "{r:?}");
    let events = events.lock().unwrap();
    assert!(
        events.contains(&PullProgress::Phase("cloning".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&PullProgress::Phase("checking out".into())),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, PullProgress::Advanced { done, total: Some(t), bytes } if done == t && *bytes > 0)),
        "{events:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets never leak

/// A minimal `tracing` subscriber that writes every event and span field into a buffer.
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut buf = self.0.lock().unwrap();
        span.record(&mut Fields(&mut buf));
        buf.push('\n');
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut buf = self.0.lock().unwrap();
        values.record(&mut Fields(&mut buf));
        buf.push('\n');
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut buf = self.0.lock().unwrap();
        let _ = write!(
            buf,
            "{} {}: ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut buf));
        buf.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn captured_logs() -> Arc<Mutex<String>> {
    static LOGS: OnceLock<Arc<Mutex<String>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(String::new()));
        tracing::subscriber::set_global_default(Capture(logs.clone()))
            .expect("no other global subscriber in this test process");
        logs
    })
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_errors_logs_or_debug() {
    let logs = captured_logs();
    let s = servers();
    let repo = s.create_repo("leak", true);
    repo.publish(&v1());
    repo.publish_tree("dev", &v1(), &[]);
    let base = tempfile::tempdir().unwrap();
    let mut seen = String::new();
    let url = s.http_url(&repo.name);
    let in_url = |pw: &str| url.replace("http://", &format!("http://{USER}:{pw}@"));
    let cases: Vec<(GitRepositoryBuilder, SparseStrategy)> = vec![
        (
            GitRepository::builder(url.as_str()).credentials(creds()),
            SparseStrategy::Libgit2,
        ),
        (
            GitRepository::builder(url.as_str())
                .credentials(creds())
                .directories(["flows"]),
            SparseStrategy::GitCli,
        ),
        (
            GitRepository::builder(url.as_str())
                .credentials(GitCredentials::username_password(USER, WRONG_PASSWORD)),
            SparseStrategy::Libgit2,
        ),
        (
            GitRepository::builder(url.as_str())
                .credentials(GitCredentials::username_password(USER, WRONG_PASSWORD))
                .directories(["flows"]),
            SparseStrategy::GitCli,
        ),
        (
            GitRepository::builder(url.as_str())
                .credentials(GitCredentials::access_token(PASSWORD))
                .branch("no-such-branch"),
            SparseStrategy::Libgit2,
        ),
        (
            GitRepository::builder(url.as_str())
                .credentials(GitCredentials::access_token(PASSWORD))
                .branch("no-such-branch")
                .directories(["flows"]),
            SparseStrategy::GitCli,
        ),
        (
            GitRepository::builder(in_url(PASSWORD)),
            SparseStrategy::Libgit2,
        ),
        (
            GitRepository::builder(in_url(WRONG_PASSWORD)),
            SparseStrategy::Libgit2,
        ),
        (
            GitRepository::builder(in_url(WRONG_PASSWORD)).directories(["flows"]),
            SparseStrategy::GitCli,
        ),
        (
            GitRepository::builder(in_url(PASSWORD))
                .branch("dev")
                .commit_sha("abcdef12"),
            SparseStrategy::Libgit2,
        ),
    ];
    for (i, (builder, strategy)) in cases.into_iter().enumerate() {
        match builder
            .base_path(base.path())
            .name(format!("case-{i}"))
            .build()
        {
            Ok(g) => {
                // Debug only: `repr()` is Prefect's and shows the URL exactly as given.
                let _ = writeln!(seen, "{g:?}");
                let opts = PullOptions::default().with_sparse(strategy);
                match g.pull(&opts).await {
                    Ok(r) => {
                        let _ = writeln!(seen, "{r:?}");
                        let config =
                            std::fs::read_to_string(g.destination().join(".git/config")).unwrap();
                        seen.push_str(&config);
                    }
                    Err(e) => {
                        let _ = writeln!(seen, "{e} {e:?}");
                    }
                }
                // Pull once more (existing checkout path) where the first one worked.
                if g.destination().join(".git").exists() {
                    match g.pull(&opts).await {
                        Ok(r) => {
                            let _ = writeln!(seen, "{r:?}");
                        }
                        Err(e) => {
                            let _ = writeln!(seen, "{e} {e:?}");
                        }
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(seen, "{e} {e:?}");
            }
        }
    }
    let logs = logs.lock().unwrap().clone();
    assert!(
        logs.contains("Pulling contents from repository"),
        "logs were not captured:\n{logs}"
    );
    assert!(seen.contains("authentication"), "{seen}");
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(!seen.contains(secret), "secret in errors/Debug:\n{seen}");
        assert!(!logs.contains(secret), "secret in logs:\n{logs}");
    }
}

// ---------------------------------------------------------------------------------------------
// Locking (Prefect's PID lock-file protocol)

fn lock_of(g: &GitRepository) -> PathBuf {
    let d = g.destination();
    d.with_file_name(format!("{}.lock", d.file_name().unwrap().to_string_lossy()))
}

fn assert_no_temp_dirs(base: &Path) {
    let left: Vec<String> = std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("prefab-tmp") || n.ends_with(".lock"))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        base.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_blocks_the_pull_until_released_and_stale_locks_are_taken_over() {
    let s = servers();
    let repo = s.create_repo("locked", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let g = build(GitRepository::builder(s.daemon_url(&repo.name)).base_path(base.path()));
    // Held by this process (another pull): the pull waits.
    let guard = FileLock::new(lock_of(&g)).acquire().await.unwrap();
    let task = {
        let g = g.clone();
        tokio::spawn(async move { g.pull_code().await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!task.is_finished(), "the pull ignored the lock");
    assert!(!g.destination().exists());
    drop(guard);
    let r = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(r.fresh);
    assert_no_temp_dirs(base.path());
    // A lock left by a dead process is taken over.
    std::fs::write(lock_of(&g), "4194304999").unwrap();
    tokio::time::timeout(Duration::from_secs(10), g.pull_code())
        .await
        .unwrap()
        .unwrap();
    assert!(!lock_of(&g).exists());
    // A lock of a live foreign process blocks until it is removed.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(lock_of(&g), sleeper.id().to_string()).unwrap();
    let task = {
        let g = g.clone();
        tokio::spawn(async move { g.pull_code().await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !task.is_finished(),
        "the pull ignored a live process's lock"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Interop with Prefect's own `prefect.locking._filelock.FileLock`, run in the Prefect 3.9.1
/// virtualenv that `prefab_client::local_server::PythonEnvSpec::prefect()` provides (installed
/// on first use).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_interoperate_with_prefects_python_filelock() {
    use std::io::{BufRead as _, Write as _};
    let env = tokio::task::spawn_blocking(|| {
        prefab_client::local_server::PythonEnvSpec::prefect()
            .on_progress(|l| eprintln!("prefect venv: {l}"))
            .ensure()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the Prefect virtualenv is needed for this test: {e}"));
    let s = servers();
    let repo = s.create_repo("pylock", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let g = build(GitRepository::builder(s.daemon_url(&repo.name)).base_path(base.path()));
    let lock = lock_of(&g);

    // Python holds the lock: the Rust pull waits until Python releases it.
    let script = "import sys\n\
from prefect.locking._filelock import FileLock\n\
lock = FileLock(sys.argv[1])\n\
lock.acquire()\n\
print('locked', flush=True)\n\
sys.stdin.read()\n\
lock.release()\n\
print('released', flush=True)\n";
    let mut py = std::process::Command::new(env.python())
        .args(["-c", script])
        .arg(&lock)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(py.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), py.id().to_string());
    let task = {
        let g = g.clone();
        tokio::spawn(async move { g.pull_code().await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!task.is_finished(), "the pull ignored Prefect's lock");
    drop(py.stdin.take());
    py.wait().unwrap();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    // Rust holds the lock: Prefect's FileLock times out; after release it acquires.
    let guard = FileLock::new(&lock).acquire().await.unwrap();
    let probe = "import sys\n\
from prefect.locking._filelock import FileLock\n\
lock = FileLock(sys.argv[1], timeout=float(sys.argv[2]))\n\
try:\n    lock.acquire()\n    lock.release()\n    print('acquired')\n\
except TimeoutError:\n    print('timeout')\n";
    let run_probe = |timeout: &str| {
        let out = std::process::Command::new(env.python())
            .args(["-c", probe])
            .arg(&lock)
            .arg(timeout)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(run_probe("0.5"), "timeout");
    drop(guard);
    assert_eq!(run_probe("5"), "acquired");
    let _ = std::io::stdout().flush();
}

#[tokio::test]
async fn sparse_checkout_of_a_pinned_commit_agrees_between_strategies() {
    let s = servers();
    let repo = s.create_repo("sparse-pin", true);
    let content = sparse_fixture();
    let c1 = repo.publish(&content);
    repo.publish(&files(&[("README.md", "later\n")]));
    let base = tempfile::tempdir().unwrap();
    let expected = pick(&content, &["README.md", "sub/c.txt"]);
    for (name, strategy, sha) in [
        ("cli", SparseStrategy::GitCli, c1.clone()),
        ("libgit2", SparseStrategy::Libgit2, c1.clone()),
        ("cli-short", SparseStrategy::GitCli, c1[..10].to_owned()),
        (
            "libgit2-short",
            SparseStrategy::Libgit2,
            c1[..10].to_owned(),
        ),
    ] {
        let g = build(
            GitRepository::builder(s.http_url(&repo.name))
                .credentials(creds())
                .commit_sha(sha.as_str())
                .directories(["sub"])
                .name(name)
                .base_path(base.path()),
        );
        let opts = PullOptions::default().with_sparse(strategy);
        let r = pull_with(&g, &opts).await;
        assert_eq!(r.revision.as_deref(), Some(c1.as_str()), "{name}");
        assert_eq!(read_tree(&g.destination()), expected, "{name}");
        // Pulling again at the same pin changes nothing.
        let r = pull_with(&g, &opts).await;
        assert!(r.is_unchanged(), "{name}: {r:?}");
        assert_eq!(read_tree(&g.destination()), expected, "{name}");
    }
}

/// A Python worker reusing a prefab checkout runs `git config --get remote.origin.url` and
/// `git pull origin --depth 1` (Prefect's update commands) in it: they must behave exactly as in
/// a checkout made by `git clone --depth 1` (a shallow pull after a new commit fails with
/// "unrelated histories" in both, and Prefect then clones again, #11546).
#[tokio::test]
async fn prefects_git_commands_see_a_prefab_checkout_as_their_own() {
    let s = servers();
    let repo = s.create_repo("interop", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let g = build(GitRepository::builder(s.daemon_url(&repo.name)).base_path(base.path()));
    pull(&g).await;
    let cli_clone = base.path().join("cli-clone");
    git(
        base.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &s.daemon_url(&repo.name),
            "cli-clone",
        ],
    );
    let dest = g.destination();
    assert_eq!(git(&dest, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&dest, &["config", "--get", "remote.origin.url"]).trim(),
        s.daemon_url(&repo.name)
    );
    assert_eq!(
        git(&dest, &["rev-parse", "--abbrev-ref", "@{upstream}"]),
        git(&cli_clone, &["rev-parse", "--abbrev-ref", "@{upstream}"])
    );
    assert_eq!(
        git(&dest, &["rev-parse", "--is-shallow-repository"]),
        git(&cli_clone, &["rev-parse", "--is-shallow-repository"])
    );
    let v2 = files(&[("flows/a.py", "print(2)\n"), ("sub/b.txt", "b\n")]);
    repo.publish(&v2);
    let pull_cli = |dir: &Path| {
        let out = std::process::Command::new("git")
            .args(["pull", "-q", "--no-rebase", "origin", "--depth", "1"])
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(pull_cli(&dest), pull_cli(&cli_clone));
    // prefab itself simply moves on (fetch + reset, no reclone).
    let r = pull(&g).await;
    assert_eq!(r.updated, ["flows/a.py"]);
    assert_eq!(read_tree(&dest), v2);
}

/// A re-pull with nothing new upstream is one listing (no fetch, no checkout) — unless a
/// tracked file was changed locally, which the pull restores as a hard reset does.
#[tokio::test]
async fn unchanged_upstream_is_one_listing_and_local_edits_are_restored() {
    let s = servers();
    let repo = s.create_repo("warm", true);
    repo.publish(&v1());
    let base = tempfile::tempdir().unwrap();
    let g = build(
        GitRepository::builder(s.http_url(&repo.name))
            .credentials(creds())
            .base_path(base.path()),
    );
    pull(&g).await;
    let before = s.requests(&repo.name);
    let r = pull(&g).await;
    assert!(r.is_unchanged(), "{r:?}");
    assert_eq!(r.unchanged, 2);
    assert_eq!(r.bytes_downloaded, 0);
    // One ref advertisement (plus its 401 challenge), and no upload-pack POST.
    let warm_requests = s.requests(&repo.name) - before;
    assert!(
        warm_requests <= 2,
        "a warm pull made {warm_requests} requests"
    );

    std::fs::write(g.destination().join("flows/a.py"), "edited locally\n").unwrap();
    let r = pull(&g).await;
    assert_eq!(read_tree(&g.destination()), v1());
    assert!(r.updated.is_empty(), "upstream did not change: {r:?}");
}
