//! `prefab storage pull`: bring flow code here, with a progress bar, and say what changed.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use prefab_storage::{
    PullOptions, PullProgress, PullReport, RunnerStorage, SparseStrategy, Storage,
};

use super::{CliCredentials, Output, PullArgs, Sparse, build_storage, local_only};
use crate::Failure;

pub(crate) fn run(args: PullArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let secrets = CliCredentials {
        access_token: args.access_token.clone().filter(|s| !s.is_empty()),
        username: args.username.clone().filter(|s| !s.is_empty()),
        password: args.password.clone().filter(|s| !s.is_empty()),
    };
    let (base, name) = match &args.dest {
        Some(dest) => {
            let dest = if dest.is_absolute() {
                dest.clone()
            } else {
                cwd.join(dest)
            };
            let name = dest
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    Failure::Input(format!("--dest {}: not a directory name", dest.display()))
                })?;
            (
                dest.parent()
                    .map_or_else(|| cwd.clone(), |p| p.to_path_buf()),
                Some((dest, name)),
            )
        }
        None => (cwd.clone(), None),
    };
    let mut source_args = args.source_args;
    let is_git = source_args.git
        || prefab_storage::classify(&args.source) == prefab_storage::Classification::Git;
    if let (Some((_, name)), true) = (&name, is_git) {
        source_args.name = Some(name.clone());
    }
    let mut storage = build_storage(&args.source, &source_args, &secrets, &base)?;
    if let Some((dest, _)) = &name {
        if let Storage::Remote(remote) = storage {
            storage = Storage::Remote(remote.with_destination(dest.clone()));
        } else if local_only(&storage).is_some() {
            return Err(Failure::Input(
                "--dest does not apply to a local path: the code is used where it is".into(),
            ));
        }
    }
    let bar = if args.quiet || args.output == Output::Json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    };
    bar.set_message(format!(
        "pulling {}",
        prefab_storage::urls::strip_auth(&args.source)
    ));
    let progress_bar = bar.clone();
    let sink = Arc::new(move |event: PullProgress| match event {
        PullProgress::Phase(phase) => progress_bar.set_message(phase),
        PullProgress::Started { total: Some(total) } => {
            progress_bar.set_length(total);
            progress_bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        PullProgress::Advanced { done, total, .. } => {
            if let Some(total) = total {
                progress_bar.set_length(total);
            }
            progress_bar.set_position(done);
        }
        _ => {}
    });
    let options = PullOptions::default()
        .with_progress(sink)
        .with_delete_stale(args.delete)
        .with_concurrency(args.concurrency)
        .with_sparse(match args.sparse {
            Sparse::Auto => SparseStrategy::Auto,
            Sparse::Git => SparseStrategy::GitCli,
            Sparse::Libgit2 => SparseStrategy::Libgit2,
        });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(format!("starting the async runtime: {e}")))?;
    let started = std::time::Instant::now();
    let result = runtime.block_on(storage.pull(&options));
    bar.finish_and_clear();
    let report = result.map_err(|e| Failure::Run(e.to_string()))?;
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Run(e.to_string()))?
        ),
        Output::Text => print_report(&report, started.elapsed()),
    }
    Ok(())
}

fn print_report(report: &PullReport, took: Duration) {
    let mut summary = format!(
        "{} {}: {} added, {} updated, {} removed, {} unchanged",
        if report.fresh {
            "Pulled into"
        } else {
            "Updated"
        },
        report.destination.display(),
        report.added.len(),
        report.updated.len(),
        report.removed.len(),
        report.unchanged
    );
    if let Some(rev) = &report.revision {
        summary.push_str(&format!(" at {}", &rev[..rev.len().min(12)]));
    }
    summary.push_str(&format!(
        " ({} downloaded in {:.2} s)",
        human_bytes(report.bytes_downloaded),
        took.as_secs_f64()
    ));
    println!("{summary}");
    const SHOWN: usize = 20;
    for (mark, paths) in [
        ("+", &report.added),
        ("~", &report.updated),
        ("-", &report.removed),
    ] {
        for path in paths.iter().take(SHOWN) {
            println!("  {mark} {path}");
        }
        if paths.len() > SHOWN {
            println!("  {mark} … and {} more", paths.len() - SHOWN);
        }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
