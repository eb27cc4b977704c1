//! Prefect's own storage tests (tests/runner/test_storage.py, storage.md §12), ported: the
//! parts that need no server. Pulls against real servers live in the workspace's `tests/`.

use prefab_storage::{
    BlockDocument, BlockStorage, Classification, GitCredentials, GitProvider, GitRepository,
    LocalStorage, RemoteStorage, RunnerStorage, SecretBlock, SettingValue, Storage,
    create_storage_from_source_in,
};
use serde_json::json;

fn git(url: &str) -> prefab_storage::GitRepositoryBuilder {
    GitRepository::builder(url).base_path("/base")
}

fn creds(pairs: &[(&str, &str)]) -> GitCredentials {
    pairs
        .iter()
        .fold(GitCredentials::None, |c, (k, v)| c.with_field(*k, *v))
}

#[test]
fn create_storage_from_source_keeps_intervals_and_urls() {
    let cwd = std::env::temp_dir();
    let s =
        create_storage_from_source_in("git://github.com/user/repo.git", Some(120), &cwd).unwrap();
    assert_eq!(
        (s.classification(), s.pull_interval()),
        (Classification::Git, Some(120))
    );
    let s =
        create_storage_from_source_in("http://github.com/user/repo.git", Some(30), &cwd).unwrap();
    assert_eq!(
        (s.classification(), s.pull_interval()),
        (Classification::Git, Some(30))
    );
    for url in [
        "s3://my-bucket/path/to/folder",
        "ftp://example.com/path/to/folder",
    ] {
        let Storage::Remote(r) = create_storage_from_source_in(url, Some(60), &cwd).unwrap() else {
            panic!("{url} is remote storage");
        };
        assert_eq!(r.url(), url);
        assert_eq!(r.pull_interval(), Some(60));
    }
    let Storage::Local(l) =
        create_storage_from_source_in("file:///path/to/local/flows", Some(60), &cwd).unwrap()
    else {
        panic!("file:// is local")
    };
    assert_eq!(l.path(), std::path::Path::new("/path/to/local/flows"));
}

#[test]
fn constructor_validation_has_prefects_messages() {
    let err = |b: prefab_storage::GitRepositoryBuilder| b.build().unwrap_err().to_string();
    assert_eq!(
        err(git("https://github.com/org/repo.git")
            .branch("main")
            .commit_sha("abcd")),
        "Cannot provide both a branch and a commit SHA. Please provide only one."
    );
    for branch in ["--upload-pack=touch /tmp/x", "-u touch /tmp/x"] {
        assert_eq!(
            err(git("https://github.com/org/repo.git").branch(branch)),
            "Branch names cannot start with '-'."
        );
    }
    assert_eq!(
        err(git("https://github.com/org/repo.git").credentials(creds(&[("username", "bob")]))),
        "If a username is provided, an access token or password must also be provided."
    );
    // Q13 replicated: `token` does not count next to a username.
    assert!(
        git("https://github.com/org/repo.git")
            .credentials(creds(&[("username", "bob"), ("token", "t")]))
            .build()
            .is_err()
    );
    for bad in [
        "--upload-pack=x",
        "ghijkl",
        "not-a-hex-string",
        "abc",
        &"a".repeat(65),
    ] {
        let msg = err(git("https://github.com/org/repo.git").commit_sha(bad));
        assert!(
            msg.contains("use the 'branch' parameter instead"),
            "{bad}: {msg}"
        );
    }
    for good in [
        "abcd",
        "1234567",
        "0123456789",
        &"a".repeat(40),
        &"A".repeat(40),
        "aBcD1234",
        &"a".repeat(64),
    ] {
        let repo = git("https://github.com/org/repo.git")
            .commit_sha(good)
            .build()
            .unwrap();
        assert_eq!(repo.commit_sha(), Some(good));
    }
}

#[test]
fn dash_directories_warn_others_do_not() {
    let repo = git("https://github.com/org/repo.git")
        .directories(["--src", "src"])
        .build()
        .unwrap();
    assert_eq!(repo.warnings().len(), 1);
    assert!(repo.warnings()[0].contains("starts with '--'"));
    let repo = git("https://github.com/org/repo.git")
        .directories(["src", "-flag-like-dir", "path/to/dir"])
        .build()
        .unwrap();
    assert!(repo.warnings().is_empty());
    assert_eq!(repo.directories(), ["src", "-flag-like-dir", "path/to/dir"]);
}

#[test]
fn names_destinations_and_defaults() {
    let repo = git("https://github.com/org/repo.git")
        .name("custom-name")
        .build()
        .unwrap();
    assert_eq!(repo.name(), "custom-name");
    let mut repo = git("https://github.com/org/repo.git")
        .branch("feature/test-branch")
        .build()
        .unwrap();
    assert_eq!(repo.name(), "repo-feature-test-branch");
    repo.set_base_path(std::path::Path::new("/tmp/x"));
    assert_eq!(
        repo.destination(),
        std::path::Path::new("/tmp/x/repo-feature-test-branch")
    );
    assert_eq!(repo.pull_interval(), Some(60));
    assert_eq!(
        git("https://bitbucket.test.com/scm/test/test.git")
            .build()
            .unwrap()
            .name(),
        "test"
    );
    assert_eq!(
        git("https://github.com/org/my.github.io.git")
            .build()
            .unwrap()
            .name(),
        "myhub.io"
    );
    assert_eq!(
        git("https://github.com/org/repo/").build().unwrap().name(),
        ""
    );
}

/// storage.md §3.3's table: URL → credentials → the URL Prefect passes to `git clone`.
#[test]
fn clone_urls_match_prefect() {
    let secret = |v: &str| SettingValue::Secret(SecretBlock::saved("s", v));
    let cases: Vec<(&str, GitCredentials, &str)> = vec![
        (
            "https://github.com/org/repo.git",
            creds(&[("username", "oauth2"), ("access_token", "token")]),
            "https://oauth2:token@github.com/org/repo.git",
        ),
        (
            "https://github.com/org/repo.git",
            creds(&[("username", "username"), ("password", "password")]),
            "https://username:password@github.com/org/repo.git",
        ),
        (
            "https://github.com/org/repo.git",
            GitCredentials::Block(
                BlockDocument::new("mockcredentials", Some("b".into()))
                    .field("token", "mock-token"),
            ),
            "https://mock-token@github.com/org/repo.git",
        ),
        (
            "https://github.com/org/repo.git",
            creds(&[("token", "my-github-token")]),
            "https://my-github-token@github.com/org/repo.git",
        ),
        (
            "https://github.com/org/repo.git",
            creds(&[("token", "ghp_token/with+special=chars")]),
            "https://ghp_token%2Fwith%2Bspecial%3Dchars@github.com/org/repo.git",
        ),
        (
            "https://gitlab.com/org/repo.git",
            creds(&[("token", "my-gitlab-token")]),
            "https://oauth2:my-gitlab-token@gitlab.com/org/repo.git",
        ),
        (
            "https://gitlab.com/org/repo.git",
            creds(&[("token", "deploy-user:deploy-token")]),
            "https://deploy-user:deploy-token@gitlab.com/org/repo.git",
        ),
        (
            "https://bitbucket.org/org/repo.git",
            creds(&[("token", "my-bitbucket-token")]),
            "https://x-token-auth:my-bitbucket-token@bitbucket.org/org/repo.git",
        ),
        (
            "https://bitbucketserver.example.com/scm/project/repo.git",
            creds(&[("token", "user@corp.com:token!with#special")]),
            "https://user%40corp.com:token%21with%23special@bitbucketserver.example.com/scm/project/repo.git",
        ),
        (
            "https://bitbucket.test.com/scm/test/test.git",
            creds(&[
                ("username", "user@domain.com"),
                ("password", "p@ss!word#123"),
            ]),
            "https://user%40domain.com:p%40ss%21word%23123@bitbucket.test.com/scm/test/test.git",
        ),
        (
            "https://git.company.com/org/repo.git",
            GitCredentials::Block(
                BlockDocument::new("gitlab-credentials", Some("g".into()))
                    .field("token", "example-token"),
            ),
            "https://oauth2:example-token@git.company.com/org/repo.git",
        ),
        (
            "https://gitlab.com/org/repo.git",
            GitCredentials::Block(
                BlockDocument::new("gitlab-credentials", Some("g".into()))
                    .field("token", "deploy-user:deploy-token-value"),
            ),
            "https://deploy-user:deploy-token-value@gitlab.com/org/repo.git",
        ),
        (
            "https://git.company.com/org/repo.git",
            GitCredentials::Block(
                BlockDocument::new("gitlab-credentials", Some("g".into()))
                    .field("token", "oauth2:example-token"),
            ),
            "https://oauth2:example-token@git.company.com/org/repo.git",
        ),
        (
            "https://github.com/org/repo.git",
            GitCredentials::None.with_field("access_token", secret("tok")),
            "https://tok@github.com/org/repo.git",
        ),
        // Not https: Prefect embeds nothing.
        (
            "http://github.com/org/repo.git",
            creds(&[("token", "t")]),
            "http://github.com/org/repo.git",
        ),
    ];
    for (url, credentials, expected) in cases {
        let repo = git(url).credentials(credentials).build().unwrap();
        assert_eq!(repo.clone_url().unwrap().expose(), expected, "{url}");
        // The secret never shows in Debug.
        assert!(!format!("{repo:?}").contains("token!with"), "{repo:?}");
    }
    let missing = git("https://github.com/org/repo.git")
        .credentials(creds(&[("username", "")]))
        .build()
        .unwrap();
    assert_eq!(
        missing.clone_url().unwrap_err().to_string(),
        "Please provide a `token` or `password` in your Credentials block to clone a repo."
    );
}

#[test]
fn naming_the_provider_fixes_self_hosted_gitlab() {
    let token = creds(&[("token", "glpat-abc")]);
    let guessed = git("https://code.acme.internal/data/p.git")
        .credentials(token.clone())
        .build()
        .unwrap();
    assert_eq!(
        guessed.clone_url().unwrap().expose(),
        "https://glpat-abc@code.acme.internal/data/p.git"
    );
    let named = git("https://code.acme.internal/data/p.git")
        .credentials(token)
        .provider(GitProvider::GitLab)
        .build()
        .unwrap();
    assert_eq!(
        named.clone_url().unwrap().expose(),
        "https://oauth2:glpat-abc@code.acme.internal/data/p.git"
    );
    assert!(
        "nope"
            .parse::<GitProvider>()
            .unwrap_err()
            .to_string()
            .contains("gitlab")
    );
}

#[test]
fn submodule_credentials_config() {
    let repo = git("https://github.com/org/repo.git")
        .include_submodules(true)
        .credentials(GitCredentials::access_token_secret("t", "token"))
        .build()
        .unwrap();
    let args: Vec<String> = repo
        .git_config_args()
        .unwrap()
        .iter()
        .map(|s| s.expose().to_owned())
        .collect();
    assert_eq!(
        args,
        [
            "-c",
            "url.https://token@github.com.insteadOf=https://github.com"
        ]
    );
}

#[test]
fn pull_steps() {
    let step = |b: prefab_storage::GitRepositoryBuilder| {
        b.build().unwrap().to_pull_step().map(|s| s.to_string())
    };
    assert_eq!(
        step(
            git("https://github.com/org/repo.git").credentials(GitCredentials::Block(
                BlockDocument::new("mockcredentials", Some("test-credentials".into()))
            ))
        )
        .unwrap(),
        r#"{"prefect.deployments.steps.git_clone":{"repository":"https://github.com/org/repo.git","branch":null,"credentials":"{{ prefect.blocks.mockcredentials.test-credentials }}"}}"#
    );
    let unsaved = step(
        git("https://github.com/org/repo.git").credentials(GitCredentials::Block(
            BlockDocument::new("mockcredentials", None),
        )),
    )
    .unwrap_err();
    assert_eq!(
        unsaved.to_string(),
        "Could not generate block placeholder for unsaved block."
    );
    assert_eq!(
        step(git("https://github.com/org/repo.git").credentials(
            creds(&[("username", "testuser")]).with_field(
                "access_token",
                SettingValue::Secret(SecretBlock::saved("test-access-token", "x"))
            )
        ))
        .unwrap(),
        r#"{"prefect.deployments.steps.git_clone":{"repository":"https://github.com/org/repo.git","branch":null,"credentials":{"username":"testuser","access_token":"{{ prefect.blocks.secret.test-access-token }}"}}}"#
    );
    assert!(
        step(
            git("https://github.com/org/repo.git")
                .credentials(GitCredentials::access_token("plain"))
        )
        .unwrap_err()
        .to_string()
        .starts_with("Please save your access token as a Secret block")
    );
    assert_eq!(
        step(
            git("https://github.com/org/repo.git")
                .branch("dev")
                .name("my-custom-name")
                .directories(["src"])
        )
        .unwrap(),
        r#"{"prefect.deployments.steps.git_clone":{"repository":"https://github.com/org/repo.git","branch":"dev","clone_directory_name":"my-custom-name","directories":["src"]}}"#
    );
    assert_eq!(
        step(
            git("https://github.com/org/repo.git")
                .commit_sha("1234567890")
                .include_submodules(true)
        )
        .unwrap(),
        r#"{"prefect.deployments.steps.git_clone":{"repository":"https://github.com/org/repo.git","branch":null,"include_submodules":true,"commit_sha":"1234567890"}}"#
    );
    // Q6: `token`-only credentials are dropped from the step, as in Prefect, with a warning.
    let dropped = git("https://github.com/org/repo.git")
        .credentials(creds(&[("token", "t")]))
        .build()
        .unwrap();
    assert!(
        !dropped
            .to_pull_step()
            .unwrap()
            .to_string()
            .contains("credentials")
    );
    assert!(
        dropped
            .dropped_credentials_warning()
            .unwrap()
            .contains("not written into the pull step")
    );
}

#[test]
fn equality_and_repr() {
    let a = git("https://github.com/org/repo.git").build().unwrap();
    let b = git("https://github.com/org/repo.git")
        .credentials(creds(&[("token", "x")]))
        .build()
        .unwrap();
    assert_eq!(a, b, "credentials do not take part in equality");
    assert_ne!(
        a,
        git("https://github.com/org/repo.git")
            .branch("dev")
            .build()
            .unwrap()
    );
    // Q10 fixed: two pins of one repository are different storages.
    assert_ne!(
        git("https://github.com/org/repo.git")
            .commit_sha("abcd")
            .build()
            .unwrap(),
        git("https://github.com/org/repo.git")
            .commit_sha("abce")
            .build()
            .unwrap()
    );
    assert_eq!(
        a.repr(),
        "GitRepository(name='repo' repository='https://github.com/org/repo.git', branch=None)"
    );
    let r = RemoteStorage::new("s3://bucket/path");
    assert_eq!(r.repr(), "RemoteStorage(url='s3://bucket/path')");
    assert_eq!(r, RemoteStorage::new("s3://bucket/path"));
    assert_ne!(
        r,
        RemoteStorage::new("s3://bucket/path").setting("key", "k")
    );
    let l = LocalStorage::new("/path/to/local/flows");
    assert_eq!(l.repr(), "LocalStorage(path='/path/to/local/flows')");
    assert_eq!(l, LocalStorage::new("/path/to/local/flows"));
}

#[test]
fn remote_storage_paths_and_steps() {
    let mut r = RemoteStorage::new("memory://path/to/directory/");
    assert_eq!(r.remote_path(), "path/to/directory");
    r.set_base_path(std::path::Path::new("/cwd"));
    assert_eq!(
        r.destination(),
        std::path::Path::new("/cwd/path/to/directory")
    );
    assert_eq!(RemoteStorage::new("s3://bucket").remote_path(), "bucket");
    assert_eq!(RemoteStorage::new("unknown://x/y").required_package(), None);
    assert_eq!(
        RemoteStorage::new("gs://x/y").required_package(),
        Some("gcsfs")
    );
    let step = RemoteStorage::new("s3://bucket/path")
        .setting("key", SecretBlock::saved("aws-access-key-id", "fake"))
        .setting(
            "secret",
            SecretBlock::saved("aws-secret-access-key", "fake"),
        )
        .setting("token", SecretBlock::saved("aws-session-token", "fake"))
        .to_pull_step()
        .unwrap();
    assert_eq!(
        step,
        json!({"prefect.deployments.steps.pull_from_remote_storage": {
            "url": "s3://bucket/path",
            "key": "{{ prefect.blocks.secret.aws-access-key-id }}",
            "secret": "{{ prefect.blocks.secret.aws-secret-access-key }}",
            "token": "{{ prefect.blocks.secret.aws-session-token }}",
            "requires": "s3fs"}})
    );
    let plain = RemoteStorage::new("s3://b/p").setting("secret", "plaintext");
    assert_eq!(plain.plain_secret_settings(), ["secret"]);
}

#[test]
fn local_and_block_storage() {
    let mut l = LocalStorage::new("/path/to/directory");
    l.set_base_path(std::path::Path::new("/elsewhere"));
    assert_eq!(l.destination(), std::path::Path::new("/path/to/directory"));
    assert_eq!(
        l.to_pull_step().unwrap().to_string(),
        r#"{"prefect.deployments.steps.set_working_directory":{"directory":"/path/to/directory"}}"#
    );
    let block = BlockStorage::new(BlockDocument::new(
        "local-file-system",
        Some("shared".into()),
    ));
    assert_eq!(block.name(), "local-file-system-shared");
    assert_eq!(
        block.to_pull_step().unwrap().to_string(),
        r#"{"prefect.deployments.steps.pull_with_block":{"block_type_slug":"local-file-system","block_document_name":"shared"}}"#
    );
    let unsaved = BlockStorage::new(BlockDocument::new("local-file-system", None));
    assert_eq!(unsaved.name(), "local-file-system-None");
    assert_eq!(
        unsaved.to_pull_step().unwrap_err().to_string(),
        "Block must be saved with `.save()` before it can be converted to a pull step."
    );
}
