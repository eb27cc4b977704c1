//! Which Prefect API `deploy` and `plan` talk to: `PREFECT_API_URL` (with `PREFECT_API_KEY` /
//! `PREFECT_API_AUTH_STRING`) when set, else a local Prefect 3.9.1 server that prefab
//! provisions itself — the same one `prefab server start` starts — unless
//! `--no-local-server` makes that an error.

use prefab_client::ClientConfig;
use prefab_client::local_server::ServerOptions;

use crate::Failure;

/// The API to use, and whether it is prefab's own local server.
#[derive(Debug)]
pub(crate) struct ApiTarget {
    /// Client configuration (URL, credentials, timeouts).
    pub config: ClientConfig,
    /// The local server's URL when prefab provisioned it.
    pub local_url: Option<String>,
}

/// Resolves the API: the environment's, or (when `PREFECT_API_URL` is unset or empty and
/// `allow_local` is true) prefab's local server, started or reused, announced in one line on
/// stderr.
pub(crate) fn resolve(allow_local: bool) -> Result<ApiTarget, Failure> {
    let from_env = std::env::var("PREFECT_API_URL")
        .ok()
        .filter(|url| !url.trim().is_empty());
    if from_env.is_some() {
        let config = ClientConfig::from_env().map_err(|e| Failure::Input(e.to_string()))?;
        return Ok(ApiTarget {
            config,
            local_url: None,
        });
    }
    if !allow_local {
        return Err(Failure::Input(
            "PREFECT_API_URL is not set and --no-local-server was given: set PREFECT_API_URL to your Prefect API (for example http://127.0.0.1:4200/api, or your Prefect Cloud workspace URL with PREFECT_API_KEY), or drop --no-local-server to let prefab start a local server".into(),
        ));
    }
    // The same server `prefab server start` starts (same state directory), quietly: one line
    // below says what happened.
    let server = ServerOptions::new()
        .name(crate::server::COMMANDS.name)
        .start()
        .map_err(|e| Failure::Run(format!("starting prefab's local Prefect server: {e}")))?;
    let url = server.api_url().to_owned();
    eprintln!(
        "PREFECT_API_URL is not set: using prefab's local Prefect 3.9.1 server at {url} ({}; stop it with `prefab server stop`)",
        if server.was_reused() {
            "already running"
        } else {
            "started"
        }
    );
    let config = ClientConfig::new(url.clone()).map_err(|e| Failure::Run(e.to_string()))?;
    Ok(ApiTarget {
        config,
        local_url: Some(url),
    })
}
