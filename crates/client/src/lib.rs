//! prefab-client: talking to a Prefect server.
//!
//! * [`local_server`] (feature `local-server`, on by default; Unix): provision a real Prefect
//!   3.9.1 server on loopback — pinned virtualenv, start or reuse, health check, stop — for
//!   integration tests, CI and local development.
//! * [`SecretString`]: credentials that never show up in `Debug` output, logs or errors.
//!
//! ```no_run
//! # #[cfg(all(feature = "local-server", unix))]
//! # fn main() -> Result<(), prefab_client::local_server::LocalServerError> {
//! let server = prefab_client::local_server::ServerOptions::new().start()?;
//! println!("PREFECT_API_URL={}", server.api_url());
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "local-server", unix)))]
//! # fn main() {}
//! ```

#[cfg(all(feature = "local-server", unix))]
pub mod local_server;
mod secret;

pub use secret::SecretString;
