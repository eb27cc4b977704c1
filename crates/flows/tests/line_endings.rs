//! Flow files with Windows (`\r\n`) or old Mac (`\r`) line endings read as Python reads them:
//! universal newlines, so no `\r` reaches a description, a parameter's description or a
//! string default; the version stays the raw file's MD5 (a reproduction of a real-world class,
//! tests/fixtures/flows-realworld).

use md5::{Digest as _, Md5};
use prefab_flows::load_flow_from_entrypoint;

#[test]
fn crlf_and_cr_sources_read_with_universal_newlines() {
    for newline in ["\r\n", "\r"] {
        let dir = tempfile::tempdir().unwrap();
        let source = [
            "from prefect import flow",
            "",
            "@flow",
            "def report(region: str = \"\"\"eu",
            "west\"\"\"):",
            "    \"\"\"Daily report.",
            "",
            "    Args:",
            "        region: Where the",
            "            data lives.",
            "    \"\"\"",
            "",
        ]
        .join(newline);
        std::fs::write(dir.path().join("flows.py"), &source).unwrap();
        let loaded = load_flow_from_entrypoint("flows.py:report", dir.path()).unwrap();
        let flow = loaded.flow;
        let description = flow.description.unwrap();
        assert!(!description.contains('\r'), "{description:?}");
        assert!(
            description.starts_with("Daily report.\n"),
            "{description:?}"
        );
        let schema = flow.parameter_schema.to_json();
        let region = &schema["properties"]["region"];
        assert_eq!(region["default"], "eu\nwest", "{schema}");
        assert!(
            !region["description"].as_str().unwrap().contains('\r'),
            "{schema}"
        );
        // The version hashes the file as it is on disk.
        let digest = hex(&Md5::digest(source.as_bytes()));
        assert_eq!(flow.version.as_deref(), Some(digest.as_str()));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
