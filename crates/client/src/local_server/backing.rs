//! The services a production-shaped Prefect server stands on: a PostgreSQL cluster and, for
//! several API workers, a Redis server — both real, from the system's packages, started from
//! the state directory on `127.0.0.1` and free ports, and stopped by PID.
//!
//! Layout in the state directory:
//! - `postgres/` — the cluster: `data/` (initdb's data directory) and `postgres.log`. When
//!   this process runs as root, PostgreSQL (which refuses to run as root) runs as the `postgres`
//!   system user through `runuser`; if that user cannot reach the state directory (it is under
//!   `/root`, mode 700), `postgres` is a symlink to `/var/tmp/prefab-postgres/<hash>`.
//! - `redis/`, `redis.pid`, `redis.port`, `redis.log` — Redis, for `workers > 1`.
//!
//! Clients connect over TCP only (Unix sockets are off), so the state directory's path length
//! does not matter, and trust authentication on the private loopback cluster needs no password.

use std::fmt;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::{LocalServerError, Progress, StateDir, fnv1a, free_port, process, tail_lines};

/// The database a local server keeps its state in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Database {
    /// SQLite in `<state dir>/home/prefect.db` (Prefect's default; one API worker).
    #[default]
    Sqlite,
    /// A PostgreSQL cluster of the system's `postgresql` package in `<state dir>/postgres`,
    /// with `pg_trgm` (the shape production servers run).
    Postgres,
}

impl Database {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A database name that is not `sqlite` or `postgres`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown database `{0}`: expected sqlite or postgres")]
pub struct UnknownDatabase(pub String);

impl FromStr for Database {
    type Err = UnknownDatabase;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Database::Sqlite),
            "postgres" | "postgresql" => Ok(Database::Postgres),
            _ => Err(UnknownDatabase(s.to_owned())),
        }
    }
}

/// The PostgreSQL role and database Prefect uses.
const PG_USER: &str = "postgres";
const PG_DATABASE: &str = "prefect";
/// The system user PostgreSQL runs as when prefab runs as root.
const PG_SYSTEM_USER: &str = "postgres";
/// How long `pg_ctl start` may take to report the cluster ready.
const PG_START_SECONDS: u64 = 60;
/// How long Redis may take to answer `PING`.
const REDIS_START: Duration = Duration::from_secs(15);

/// Where the system's PostgreSQL server programs are: `$PREFAB_POSTGRES_BIN`, else Debian's
/// `/usr/lib/postgresql/<newest>/bin`, else `initdb` on `PATH`.
fn postgres_bin_dir() -> Result<PathBuf, LocalServerError> {
    if let Some(dir) = std::env::var_os("PREFAB_POSTGRES_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(LocalServerError::MissingSystemProgram {
                program: "initdb",
                package: "postgresql",
                looked_in: format!("PREFAB_POSTGRES_BIN={}", dir.display()),
            })
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(initdb) = on_path("initdb") {
        return Ok(initdb.parent().unwrap_or(Path::new("/")).to_path_buf());
    }
    Err(LocalServerError::MissingSystemProgram {
        program: "initdb",
        package: "postgresql",
        looked_in: "PREFAB_POSTGRES_BIN, /usr/lib/postgresql/*/bin and PATH".to_owned(),
    })
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Whether this process runs as root (effective UID 0), from `/proc` or `id -u`.
fn running_as_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        // `Uid:\treal\teffective\tsaved\tfs`
        return status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .is_some_and(|euid| euid == "0");
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command's output as text, stdout then stderr.
fn output_text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

/// The PostgreSQL cluster of one state directory.
pub(crate) struct Postgres {
    bin: PathBuf,
    /// `<state>/postgres` (possibly a symlink, see the module docs).
    root: PathBuf,
    /// Run the server programs as [`PG_SYSTEM_USER`] (we are root).
    as_system_user: bool,
}

/// A running cluster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PostgresRunning {
    pub(crate) pid: u32,
    pub(crate) port: u16,
    /// Whether this call started it (so a failed server start stops it again).
    pub(crate) started: bool,
}

impl PostgresRunning {
    /// The SQLAlchemy URL Prefect connects with.
    pub(crate) fn url(&self) -> String {
        format!(
            "postgresql+asyncpg://{PG_USER}@127.0.0.1:{}/{PG_DATABASE}",
            self.port
        )
    }
}

impl Postgres {
    /// The cluster of `state` (nothing is created yet); fails naming the package when the
    /// PostgreSQL programs are missing.
    pub(crate) fn new(state: &StateDir) -> Result<Self, LocalServerError> {
        Ok(Self {
            bin: postgres_bin_dir()?,
            root: state.file("postgres"),
            as_system_user: running_as_root(),
        })
    }

    /// The cluster's postmaster, if one runs from this state directory (no programs needed).
    pub(crate) fn running(state: &StateDir) -> Option<(u32, u16)> {
        let data = state.file("postgres").join("data");
        let pid_file = fs::read_to_string(data.join("postmaster.pid")).ok()?;
        // postmaster.pid: PID, data directory, start time, port, socket dir, listen address, …
        let mut lines = pid_file.lines();
        let pid: u32 = lines.next()?.trim().parse().ok()?;
        let port: u16 = lines.nth(2)?.trim().parse().ok()?;
        let ours = process::command_line(pid).is_some_and(|args| {
            args.first()
                .is_some_and(|a| a.ends_with("postgres") || a.ends_with("postmaster"))
                && args.iter().any(|a| a.contains("data"))
        });
        (process::is_alive(pid) && ours).then_some((pid, port))
    }

    /// Starts the cluster unless it runs: `initdb` the first time, then `pg_ctl start` on a
    /// free port, then the `prefect` database with `pg_trgm`.
    pub(crate) fn ensure_running(
        &mut self,
        state: &StateDir,
        progress: &Progress,
    ) -> Result<PostgresRunning, LocalServerError> {
        if let Some((pid, port)) = Self::running(state) {
            progress.report(&format!(
                "reusing PostgreSQL on 127.0.0.1:{port} (pid {pid})"
            ));
            let running = PostgresRunning {
                pid,
                port,
                started: false,
            };
            self.create_database(running.port)?;
            return Ok(running);
        }
        self.prepare_root(state)?;
        // The programs get the real path: the `postgres` user may not be able to follow the
        // link through the state directory's parents.
        self.root =
            fs::canonicalize(&self.root).map_err(LocalServerError::io("resolve", &self.root))?;
        let data = self.root.join("data");
        if !data.join("PG_VERSION").is_file() {
            self.initdb(progress)?;
        }
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let started = Instant::now();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' \
                 -c max_connections=200"
            );
            let log = self.root.join("postgres.log");
            let out = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args([
                    "-w",
                    "-t",
                    &PG_START_SECONDS.to_string(),
                    "-o",
                    &options,
                    "start",
                ])
                .output()
                .map_err(|source| self.spawn_error("pg_ctl", source))?;
            if out.status.success()
                && let Some((pid, port)) = Self::running(state)
            {
                progress.report(&format!(
                    "PostgreSQL ready on 127.0.0.1:{port} (pid {pid}) after {:.1?}",
                    started.elapsed()
                ));
                let running = PostgresRunning {
                    pid,
                    port,
                    started: true,
                };
                if let Err(e) = self.create_database(port) {
                    let _ = Self::stop(state, Duration::from_secs(10));
                    return Err(e);
                }
                return Ok(running);
            }
            last = format!(
                "{}\n--- postgres.log ---\n{}",
                output_text(&out).trim(),
                tail_lines(&fs::read_to_string(&log).unwrap_or_default(), 15)
            );
            if !last.contains("could not bind") && !last.contains("already in use") {
                break;
            }
        }
        Err(LocalServerError::BackingServiceFailed {
            service: "PostgreSQL",
            step: "pg_ctl start",
            log_file: self.root.join("postgres.log"),
            output_tail: last,
        })
    }

    /// Makes `<state>/postgres`, owned by the user PostgreSQL runs as.
    fn prepare_root(&self, state: &StateDir) -> Result<(), LocalServerError> {
        if self.root.is_dir() {
            return self.own(&self.root);
        }
        // A dangling symlink (its target under /var/tmp was cleaned) is replaced.
        let _ = fs::remove_file(&self.root);
        let reachable = !self.as_system_user
            || Command::new("runuser")
                .args(["-u", PG_SYSTEM_USER, "--", "test", "-x"])
                .arg(&state.dir)
                .status()
                .is_ok_and(|s| s.success());
        if reachable {
            fs::create_dir_all(&self.root)
                .map_err(LocalServerError::io("create directory", &self.root))?;
        } else {
            // The `postgres` user cannot traverse the state directory's parents (/root is
            // mode 700): keep the cluster where it can, and link it from the state directory.
            let shared = Path::new("/var/tmp/prefab-postgres");
            fs::create_dir_all(shared).map_err(LocalServerError::io("create directory", shared))?;
            let target = shared.join(fnv1a(&state.dir.to_string_lossy()));
            fs::create_dir_all(&target)
                .map_err(LocalServerError::io("create directory", &target))?;
            std::os::unix::fs::symlink(&target, &self.root)
                .map_err(LocalServerError::io("create symlink", &self.root))?;
        }
        self.own(&self.root)
    }

    /// `chown postgres:` and mode 700 (as root); PostgreSQL insists on both.
    fn own(&self, dir: &Path) -> Result<(), LocalServerError> {
        use std::os::unix::fs::PermissionsExt as _;
        if self.as_system_user {
            let out = Command::new("chown")
                .arg(format!("{PG_SYSTEM_USER}:"))
                .arg(dir)
                .output()
                .map_err(|source| LocalServerError::SpawnFailed {
                    program: "chown".into(),
                    source,
                })?;
            if !out.status.success() {
                return Err(LocalServerError::BackingServiceFailed {
                    service: "PostgreSQL",
                    step: "chown of the cluster directory",
                    log_file: dir.to_path_buf(),
                    output_tail: output_text(&out),
                });
            }
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(LocalServerError::io("set permissions of", dir))
    }

    /// `initdb` into `data.partial`, renamed to `data` when complete, so that an interrupted
    /// first start leaves nothing a later start would trust.
    fn initdb(&self, progress: &Progress) -> Result<(), LocalServerError> {
        let partial = self.root.join("data.partial");
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(LocalServerError::io("remove", &partial))?;
        }
        progress.report(&format!(
            "creating a PostgreSQL cluster in {} (one time)",
            self.root.display()
        ));
        let out = self
            .pg_command("initdb")
            .arg("-D")
            .arg(&partial)
            .args([
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ])
            .output()
            .map_err(|source| self.spawn_error("initdb", source))?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&partial);
            return Err(LocalServerError::BackingServiceFailed {
                service: "PostgreSQL",
                step: "initdb",
                log_file: self.root.clone(),
                output_tail: tail_lines(&output_text(&out), 20),
            });
        }
        let data = self.root.join("data");
        fs::rename(&partial, &data).map_err(LocalServerError::io("rename", &partial))
    }

    /// The `prefect` database and `pg_trgm` in it (both kept across restarts).
    fn create_database(&self, port: u16) -> Result<(), LocalServerError> {
        let exists = self.psql(
            port,
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"),
        )?;
        if exists.trim() != "1" {
            self.psql(port, "postgres", &format!("CREATE DATABASE {PG_DATABASE}"))?;
        }
        self.psql(port, PG_DATABASE, "CREATE EXTENSION IF NOT EXISTS pg_trgm")?;
        Ok(())
    }

    fn psql(&self, port: u16, database: &str, sql: &str) -> Result<String, LocalServerError> {
        let mut cmd = Command::new(self.bin.join("psql"));
        clear_pg_env(&mut cmd);
        let out = cmd
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                PG_USER,
                "-d",
                database,
            ])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.spawn_error("psql", source))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(LocalServerError::BackingServiceFailed {
                service: "PostgreSQL",
                step: "psql (creating the prefect database and pg_trgm)",
                log_file: self.root.join("postgres.log"),
                output_tail: output_text(&out),
            })
        }
    }

    /// A server program, as the `postgres` system user when we are root.
    fn pg_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_system_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", PG_SYSTEM_USER, "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        };
        clear_pg_env(&mut cmd);
        // Its own process group: Ctrl-C in the caller's terminal leaves the cluster running.
        cmd.stdin(Stdio::null()).process_group(0);
        cmd
    }

    fn spawn_error(&self, program: &str, source: std::io::Error) -> LocalServerError {
        if source.kind() == std::io::ErrorKind::NotFound && self.as_system_user {
            // `runuser` is util-linux; without it we cannot switch users.
            return LocalServerError::MissingSystemProgram {
                program: "runuser",
                package: "util-linux",
                looked_in: "PATH".to_owned(),
            };
        }
        LocalServerError::SpawnFailed {
            program: self.bin.join(program),
            source,
        }
    }

    /// Stops the cluster of `state` if it runs (fast shutdown: SIGINT to the postmaster, by
    /// PID; SIGQUIT, then SIGKILL after `timeout`). Returns the PID it stopped.
    pub(crate) fn stop(
        state: &StateDir,
        timeout: Duration,
    ) -> Result<Option<u32>, LocalServerError> {
        let Some((pid, _)) = Self::running(state) else {
            return Ok(None);
        };
        process::signal(pid, "INT")?;
        if !process::wait_for_exit(pid, timeout) {
            process::signal(pid, "QUIT")?;
            if !process::wait_for_exit(pid, Duration::from_secs(5)) {
                process::terminate(pid, Duration::ZERO)?;
            }
        }
        Ok(Some(pid))
    }
}

/// The caller's `PG*` variables (a password, another host) must not redirect our programs.
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
}

/// A running Redis server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RedisRunning {
    pub(crate) pid: u32,
    pub(crate) port: u16,
}

/// The Redis server of one state directory (for `workers > 1`).
pub(crate) struct Redis;

impl Redis {
    /// The recorded Redis, if it is alive and ours.
    pub(crate) fn running(state: &StateDir) -> Option<RedisRunning> {
        let pid: u32 = state.read("redis.pid").ok()??.parse().ok()?;
        let port: u16 = state.read("redis.port").ok()??.parse().ok()?;
        let ours = process::command_line(pid).is_some_and(|args| {
            let line = args.join(" ");
            line.contains("redis-server") && line.contains(&format!(":{port}"))
        });
        (process::is_alive(pid) && ours).then_some(RedisRunning { pid, port })
    }

    /// Starts `redis-server` on a free port unless it runs; no persistence (Prefect keeps only
    /// messages and leases there).
    pub(crate) fn ensure_running(
        state: &StateDir,
        progress: &Progress,
    ) -> Result<(RedisRunning, bool), LocalServerError> {
        if let Some(running) = Self::running(state) {
            if ping(running.port) {
                return Ok((running, false));
            }
            let _ = process::terminate(running.pid, Duration::from_secs(5));
        }
        let program = redis_program()?;
        let dir = state.file("redis");
        fs::create_dir_all(&dir).map_err(LocalServerError::io("create directory", &dir))?;
        let log = state.file("redis.log");
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let started = Instant::now();
            let mut child = Command::new(&program)
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir)
                .arg("--logfile")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .map_err(|source| LocalServerError::SpawnFailed {
                    program: program.clone(),
                    source,
                })?;
            let pid = child.id();
            state.write("redis.pid", &pid.to_string())?;
            state.write("redis.port", &port.to_string())?;
            while started.elapsed() < REDIS_START {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if ping(port) {
                    progress.report(&format!(
                        "Redis ready on 127.0.0.1:{port} (pid {pid}) after {:.1?}",
                        started.elapsed()
                    ));
                    return Ok((RedisRunning { pid, port }, true));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = process::terminate(pid, Duration::from_secs(5));
            let _ = child.try_wait();
            state.remove("redis.pid")?;
            state.remove("redis.port")?;
            last = tail_lines(&fs::read_to_string(&log).unwrap_or_default(), 15);
            if !last.contains("Address already in use") {
                break;
            }
        }
        Err(LocalServerError::BackingServiceFailed {
            service: "Redis",
            step: "redis-server start",
            log_file: log,
            output_tail: last,
        })
    }

    /// Stops the recorded Redis (SIGTERM by PID, SIGKILL after `timeout`).
    pub(crate) fn stop(
        state: &StateDir,
        timeout: Duration,
    ) -> Result<Option<u32>, LocalServerError> {
        let stopped = match Self::running(state) {
            Some(running) => {
                process::terminate(running.pid, timeout)?;
                Some(running.pid)
            }
            None => None,
        };
        state.remove("redis.pid")?;
        state.remove("redis.port")?;
        Ok(stopped)
    }
}

/// `$PREFAB_REDIS_SERVER`, else `redis-server` on `PATH` or in `/usr/bin`.
pub(crate) fn redis_program() -> Result<PathBuf, LocalServerError> {
    if let Some(program) = std::env::var_os("PREFAB_REDIS_SERVER").filter(|p| !p.is_empty()) {
        let program = PathBuf::from(program);
        return if program.is_file() {
            Ok(program)
        } else {
            Err(LocalServerError::MissingSystemProgram {
                program: "redis-server",
                package: "redis-server",
                looked_in: format!("PREFAB_REDIS_SERVER={}", program.display()),
            })
        };
    }
    on_path("redis-server")
        .or_else(|| {
            let p = PathBuf::from("/usr/bin/redis-server");
            p.is_file().then_some(p)
        })
        .ok_or(LocalServerError::MissingSystemProgram {
            program: "redis-server",
            package: "redis-server",
            looked_in: "PREFAB_REDIS_SERVER, PATH and /usr/bin".to_owned(),
        })
}

/// Whether Redis on `port` answers `PING` with `+PONG`.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0_u8; 16];
    stream
        .read(&mut buf)
        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

/// The Prefect settings that put messaging, the cache, causal ordering and lease storage in
/// Redis (what `prefect server start --workers N` requires for N > 1).
pub(crate) fn redis_settings(port: u16) -> Vec<(&'static str, String)> {
    vec![
        (
            "PREFECT_MESSAGING_BROKER",
            "prefect_redis.messaging".to_owned(),
        ),
        (
            "PREFECT_MESSAGING_CACHE",
            "prefect_redis.messaging".to_owned(),
        ),
        (
            "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING",
            "prefect_redis.ordering".to_owned(),
        ),
        (
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
            "prefect_redis.lease_storage".to_owned(),
        ),
        ("PREFECT_REDIS_MESSAGING_HOST", "127.0.0.1".to_owned()),
        ("PREFECT_REDIS_MESSAGING_PORT", port.to_string()),
        ("PREFECT_REDIS_MESSAGING_DB", "0".to_owned()),
        (
            "PREFECT_SERVER_DOCKET_URL",
            format!("redis://127.0.0.1:{port}/1"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_parse_and_print() {
        assert_eq!("postgres".parse::<Database>(), Ok(Database::Postgres));
        assert_eq!("PostgreSQL".parse::<Database>(), Ok(Database::Postgres));
        assert_eq!("sqlite".parse::<Database>(), Ok(Database::Sqlite));
        let err = "mysql".parse::<Database>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown database `mysql`: expected sqlite or postgres"
        );
        assert_eq!(Database::Postgres.to_string(), "postgres");
    }

    #[test]
    fn redis_settings_name_every_prefect_redis_module() {
        let settings = redis_settings(6400);
        let get = |k| {
            settings
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("PREFECT_MESSAGING_BROKER"),
            Some("prefect_redis.messaging")
        );
        assert_eq!(get("PREFECT_REDIS_MESSAGING_PORT"), Some("6400"));
        assert_eq!(
            get("PREFECT_SERVER_DOCKET_URL"),
            Some("redis://127.0.0.1:6400/1")
        );
    }

    #[test]
    fn ping_fails_where_nothing_listens() {
        let port = free_port().unwrap();
        assert!(!ping(port));
    }
}
