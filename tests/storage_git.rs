//! placeholder
mod support;
#[test]
fn placeholder() {}
