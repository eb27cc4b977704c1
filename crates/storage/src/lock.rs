//! Prefect's PID lock-file protocol (storage.md §3.5 "Locking").
//! (Filled in by the git work.)
