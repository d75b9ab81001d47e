//! [`Listen`]: where a launcher's front listens (`DCS_LISTEN`): a TCP socket address,
//! or `unix:<absolute path>` for a unix socket, the form a sandboxed launcher uses
//! (its network namespace is its own, so the proxy reaches it through a socket file
//! bound into the sandbox).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// The prefix of the unix-socket form of `DCS_LISTEN`.
pub const UNIX_PREFIX: &str = "unix:";

/// Longest unix socket path the kernel accepts (`sun_path` is 108 bytes with its NUL).
pub const MAX_UNIX_PATH: usize = 107;

/// Where a launcher listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address; port 0 picks one.
    Tcp(SocketAddr),
    /// A unix socket at this absolute path (made by the launcher, replacing a stale
    /// one).
    Unix(PathBuf),
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Listen::Tcp(addr)
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "{addr}"),
            Listen::Unix(path) => write!(f, "{UNIX_PREFIX}{}", path.display()),
        }
    }
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix(UNIX_PREFIX) {
            if !path.starts_with('/') {
                return Err("the unix socket form is unix:<absolute path>".into());
            }
            if path.len() > MAX_UNIX_PATH {
                return Err(format!(
                    "a unix socket path may have at most {MAX_UNIX_PATH} bytes"
                ));
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        s.parse::<SocketAddr>()
            .map(Listen::Tcp)
            .map_err(|_| "must be an IP:port socket address or unix:<absolute path>".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip_and_bad_ones_are_refused() {
        for text in ["127.0.0.1:0", "[::1]:8080", "unix:/run/dcs/launcher.sock"] {
            let listen: Listen = text.parse().expect(text);
            assert_eq!(listen.to_string(), text);
        }
        assert_eq!(
            "unix:/x".parse::<Listen>(),
            Ok(Listen::Unix(PathBuf::from("/x")))
        );
        for bad in ["unix:relative.sock", "localhost:80", "", "unix:"] {
            assert!(bad.parse::<Listen>().is_err(), "{bad}");
        }
        let long = format!("unix:/{}", "a".repeat(MAX_UNIX_PATH));
        assert!(long.parse::<Listen>().is_err());
    }
}
