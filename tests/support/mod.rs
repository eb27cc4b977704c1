//! Helpers shared by the workspace integration tests; a test file opts in with `mod support;`.
//! Not every test file uses every helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod git_server;
pub mod prefect;
pub mod s3_server;
pub mod storage_suite;
