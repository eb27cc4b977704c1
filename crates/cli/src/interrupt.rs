//! Ctrl-C and SIGTERM during `prefab deploy`: the first asks the bulk run to stop starting
//! deployments (those in flight finish their request sequence, so an owned-automation delete
//! is always followed by its re-create) and the report is printed; the second exits at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use prefab_core::deployment::StopSignal;

use crate::Failure;

/// Signals received so far.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler (once per process) and returns the flag it triggers.
pub(crate) fn install() -> Result<StopSignal, Failure> {
    let stop = StopSignal::new();
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if RECEIVED.fetch_add(1, Ordering::SeqCst) == 0 {
            flag.trigger();
            eprintln!(
                "\ninterrupted: no new deployments are started; those in flight finish, then \
                 the report follows (interrupt again to exit at once)"
            );
        } else {
            eprintln!("\ninterrupted again: exiting now");
            std::process::exit(130);
        }
    })
    .map_err(|e| Failure::Run(format!("installing the Ctrl-C handler: {e}")))?;
    Ok(stop)
}

/// Whether a signal arrived.
pub(crate) fn interrupted() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}
