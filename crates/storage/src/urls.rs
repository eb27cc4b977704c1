//! URL handling with Python's semantics: `urllib.parse.urlparse`/`urlunparse`, `quote(s,
//! safe='')`, and Prefect's credential redaction helpers (`prefect._internal.urls`).
//!
//! Storage classification, directory names and pull steps are a wire contract with Python
//! workers, so they are computed from URLs exactly as Python parses them (storage.md §2, §3.2)
//! rather than with a strict RFC 3986 parser that would reject `git@host:org/repo.git`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// A URL split the way Python's `urlparse` splits it. Every part is a slice of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyUrl<'a> {
    /// Lower-cased scheme, empty when there is none.
    pub scheme: String,
    /// Everything between `//` and the path (userinfo, host, port).
    pub netloc: &'a str,
    /// The path (without `;params`, query and fragment).
    pub path: &'a str,
    /// `;params` of the last path segment (only for schemes that use them).
    pub params: &'a str,
    /// The query, without `?`.
    pub query: &'a str,
    /// The fragment, without `#`.
    pub fragment: &'a str,
    has_netloc: bool,
    has_query: bool,
    has_fragment: bool,
}

const SCHEME_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips",
    "mms", "sftp", "tel",
];

/// Python's `urllib.parse.urlparse(url)` (3.11).
pub fn urlparse(url: &str) -> PyUrl<'_> {
    let mut rest = url;
    let mut scheme = String::new();
    if let Some(i) = url.find(':') {
        let candidate = &url[..i];
        let first_ok = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        if i > 0 && first_ok && candidate.chars().all(|c| SCHEME_CHARS.contains(c)) {
            scheme = candidate.to_ascii_lowercase();
            rest = &url[i + 1..];
        }
    }
    let mut netloc = "";
    let mut has_netloc = false;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        has_netloc = true;
        rest = &after[end..];
    }
    let mut fragment = "";
    let mut has_fragment = false;
    if let Some(i) = rest.find('#') {
        fragment = &rest[i + 1..];
        has_fragment = true;
        rest = &rest[..i];
    }
    let mut query = "";
    let mut has_query = false;
    if let Some(i) = rest.find('?') {
        query = &rest[i + 1..];
        has_query = true;
        rest = &rest[..i];
    }
    let mut path = rest;
    let mut params = "";
    if USES_PARAMS.contains(&scheme.as_str()) && rest.contains(';') {
        let split_at = match rest.rfind('/') {
            Some(slash) => rest[slash..].find(';').map(|j| slash + j),
            None => rest.find(';'),
        };
        if let Some(i) = split_at {
            path = &rest[..i];
            params = &rest[i + 1..];
        }
    }
    PyUrl {
        scheme,
        netloc,
        path,
        params,
        query,
        fragment,
        has_netloc,
        has_query,
        has_fragment,
    }
}

impl PyUrl<'_> {
    /// Python's `hostname`: the netloc without userinfo and port, lower-cased; `None` when empty.
    pub fn hostname(&self) -> Option<String> {
        let host_port = self.host_port();
        let host = if let Some(bracketed) = host_port.strip_prefix('[') {
            bracketed.split(']').next().unwrap_or("")
        } else {
            host_port.split(':').next().unwrap_or("")
        };
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    }

    /// The port text after the host, if any.
    pub fn port(&self) -> Option<&str> {
        let host_port = self.host_port();
        let after_host = match host_port.rfind(']') {
            Some(i) => &host_port[i + 1..],
            None => host_port,
        };
        after_host
            .find(':')
            .map(|i| &after_host[i + 1..])
            .filter(|p| !p.is_empty())
    }

    /// The netloc without `userinfo@`.
    pub fn host_port(&self) -> &str {
        match self.netloc.rfind('@') {
            Some(i) => &self.netloc[i + 1..],
            None => self.netloc,
        }
    }

    /// `userinfo` before `@` in the netloc, split into username and optional password
    /// (still percent-encoded).
    pub fn userinfo(&self) -> Option<(&str, Option<&str>)> {
        let i = self.netloc.rfind('@')?;
        let info = &self.netloc[..i];
        Some(match info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (info, None),
        })
    }

    /// Python's `urlunparse` of these parts with `netloc` and `path` replaced.
    pub fn unparse_with(&self, netloc: &str, path: &str) -> String {
        let mut url = String::new();
        // urlunsplit: netloc is written when present or when the scheme uses one and the path
        // starts with "//"; Prefect only ever rebuilds http(s)/git URLs here.
        let mut path_part = path.to_owned();
        if !self.params.is_empty() {
            path_part.push(';');
            path_part.push_str(self.params);
        }
        if !netloc.is_empty() || self.has_netloc || path_part.starts_with("//") {
            if !path_part.is_empty() && !path_part.starts_with('/') {
                path_part.insert(0, '/');
            }
            url.push_str("//");
            url.push_str(netloc);
        }
        url.push_str(&path_part);
        if !self.scheme.is_empty() {
            url.insert(0, ':');
            url.insert_str(0, &self.scheme);
        }
        if self.has_query && !self.query.is_empty() {
            url.push('?');
            url.push_str(self.query);
        }
        if self.has_fragment && !self.fragment.is_empty() {
            url.push('#');
            url.push_str(self.fragment);
        }
        url
    }
}

/// Python's `quote(s, safe='')`: everything but ASCII letters, digits and `_.-~` is
/// percent-encoded (UTF-8 bytes).
pub fn quote(s: &str) -> String {
    const QUOTE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~');
    utf8_percent_encode(s, QUOTE).to_string()
}

/// Percent-decodes `s` (lossy on invalid UTF-8), as Python's `unquote`.
pub fn unquote(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Prefect's `strip_auth(url)`: the URL with any `user:password@` removed and the host
/// lower-cased. A URL without a host (e.g. `git@host:org/repo.git`) comes back unchanged.
pub fn strip_auth(url: &str) -> String {
    let parsed = urlparse(url);
    let Some(host) = parsed.hostname() else {
        return url.to_owned();
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let netloc = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    parsed.unparse_with(&netloc, parsed.path)
}

/// Prefect's `strip_auth_in_text(text, extra_secrets)`: removes `userinfo@` from every
/// `http(s)://` URL in `text` and replaces each non-empty extra secret by `***`.
pub fn strip_auth_in_text<S: AsRef<str>>(text: &str, extra_secrets: &[S]) -> String {
    let mut out = String::with_capacity(text.len());
    let lower = text.to_ascii_lowercase();
    let mut i = 0;
    while i < text.len() {
        let scheme_len = if lower[i..].starts_with("https://") {
            8
        } else if lower[i..].starts_with("http://") {
            7
        } else {
            0
        };
        if scheme_len > 0 {
            out.push_str(&text[i..i + scheme_len]);
            let start = i + scheme_len;
            // `[^/\s'"<>]*@`: greedy, so the last `@` before a stop character.
            let stop = text[start..]
                .find(|c: char| c == '/' || c.is_whitespace() || "'\"<>".contains(c))
                .map_or(text.len(), |j| start + j);
            match text[start..stop].rfind('@') {
                Some(at) => i = start + at + 1,
                None => i = start,
            }
            continue;
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    for secret in extra_secrets {
        let secret = secret.as_ref();
        if !secret.is_empty() {
            out = out.replace(secret, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlparse_matches_python() {
        let u = urlparse("https://user:pw@GitHub.com:8443/org/repo.git?x=1#f");
        assert_eq!(u.scheme, "https");
        assert_eq!(u.netloc, "user:pw@GitHub.com:8443");
        assert_eq!(u.path, "/org/repo.git");
        assert_eq!(u.hostname().as_deref(), Some("github.com"));
        assert_eq!(u.port(), Some("8443"));
        let scp = urlparse("git@github.com:org/repo.git");
        assert_eq!(scp.scheme, "");
        assert_eq!(scp.path, "git@github.com:org/repo.git");
        assert_eq!(urlparse("C:\\flows").scheme, "c");
        assert_eq!(urlparse("https://x/a/repo.git;p").path, "/a/repo.git");
    }

    #[test]
    fn quote_is_pythons() {
        assert_eq!(
            quote("ghp_token/with+special=chars"),
            "ghp_token%2Fwith%2Bspecial%3Dchars"
        );
        assert_eq!(quote("user@corp.com"), "user%40corp.com");
        assert_eq!(quote("a~b-c.d_e"), "a~b-c.d_e");
    }

    #[test]
    fn strip_auth_removes_userinfo_and_lowercases_host() {
        assert_eq!(
            strip_auth("https://tok@GitHub.com/Org/repo.git"),
            "https://github.com/Org/repo.git"
        );
        assert_eq!(
            strip_auth("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(
            strip_auth("http://u:p@127.0.0.1:8080/r.git"),
            "http://127.0.0.1:8080/r.git"
        );
    }

    #[test]
    fn strip_auth_in_text_redacts() {
        let text = "fatal: https://ghp_SECRET@github.com/x failed; token ghp_SECRET";
        assert_eq!(
            strip_auth_in_text(text, &["ghp_SECRET"]),
            "fatal: https://github.com/x failed; token ***"
        );
    }
}
