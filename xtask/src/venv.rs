//! The pinned Prefect virtualenv, from `prefab_client::local_server` (the one implementation:
//! cache location, pin marker, install lock, error messages).

use prefab_client::local_server::{PythonEnv, PythonEnvSpec};

/// The venv with Prefect 3.9.1 (created under the user cache dir the first time, ~1 min).
pub(crate) fn prefect() -> Result<PythonEnv, String> {
    PythonEnvSpec::prefect()
        .on_progress(|line| eprintln!("xtask: {line}"))
        .ensure()
        .map_err(|e| e.to_string())
}
