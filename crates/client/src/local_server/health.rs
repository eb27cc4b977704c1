//! The one HTTP request the provisioner needs — `GET /api/health` on loopback — over a plain
//! `TcpStream`, so that the `local-server` feature pulls in no HTTP stack.

use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Per-request budget: the server answers health checks in milliseconds once it is up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the server on `127.0.0.1:port` answers `GET /api/health` with `200` and `true`
/// (what Prefect's health route returns, open even when an auth string is set; spec §1).
pub(crate) fn is_healthy(port: u16) -> bool {
    matches!(get(port, "/api/health"), Ok((200, body)) if body.trim() == "true")
}

/// `GET path` on `127.0.0.1:port`; returns the status code and the body.
fn get(port: u16, path: &str) -> io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    // One write: `write!` straight to the socket would send the request in pieces.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    parse_response(&response)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP response"))
}

/// Splits a complete `Connection: close` response into status and body (chunked or not).
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
        })
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ntrue";
        assert_eq!(parse_response(plain), Some((200, "true".into())));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\ntr\r\n2\r\nue\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((200, "true".into())));
        assert_eq!(parse_response(b"garbage"), None);
    }

    #[test]
    fn health_needs_200_and_true() {
        for (response, healthy) in [
            ("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ntrue", true),
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfalse", false),
            (
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\ntrue",
                false,
            ),
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    let n = conn.read(&mut buf).unwrap();
                    assert!(n > 0, "request ended early");
                    request.extend_from_slice(&buf[..n]);
                }
                assert!(request.starts_with(b"GET /api/health HTTP/1.1\r\n"));
                conn.write_all(response.as_bytes()).unwrap();
            });
            assert_eq!(is_healthy(port), healthy, "{response}");
            server.join().unwrap();
        }
    }

    #[test]
    fn closed_port_is_not_healthy() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(!is_healthy(port));
    }
}
