//! The `prefab` command line.
fn main() {}
