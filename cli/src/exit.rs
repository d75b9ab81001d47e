//! Exit codes and the error type every command returns: an error carries the exit
//! code it ends the process with, a message and detail lines (e.g. field errors).

use std::fmt;

/// What `dcs` exits with; the numbers are part of its interface (see `dcs --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: a local problem (token store, launching a browser).
    Local = 1,
    /// 2: usage errors and input the server rejected (400, 405, 409, 413, 415, 422),
    /// or a redirect of the API to another server (the `--server` to use).
    Usage = 2,
    /// 3: not signed in or not allowed (401, 403), or a redirect elsewhere (a
    /// sign-in page: the token is missing or expired).
    Auth = 3,
    /// 4: no such instance (404), or no stored token to open it with.
    NotFound = 4,
    /// 5: server errors (5xx), a limit reached (429: retry later), network errors,
    /// unreadable answers, failed instances.
    Server = 5,
    /// 6: timed out waiting for an instance to become ready.
    Timeout = 6,
}

impl Exit {
    /// The exit code for an HTTP error status.
    pub fn from_status(status: u16) -> Self {
        match status {
            401 | 403 => Exit::Auth,
            404 | 410 => Exit::NotFound,
            // A limit (instances, starts at once): nothing wrong with the input,
            // try again later, as after a server error.
            429 => Exit::Server,
            400..=499 => Exit::Usage,
            _ => Exit::Server,
        }
    }

    /// The process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// The help text listing the exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  local problem (token store, launching a browser)
  2  usage error, or input the server rejected (400, 405, 409, 413, 415, 422),
     or the server redirects the API to another address (use it as --server)
  3  authentication or permission (401, 403), or a redirect to elsewhere (most
     likely a sign-in page: DCS_TOKEN/--token missing or expired); redirects are
     never followed
  4  not found (404), or no stored token for `dcs open`
  5  server or network error (5xx, connection refused, unreadable answer), a limit
     reached (429: try again later), or the instance failed
  6  timed out waiting (--wait)";

/// An error that ends the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// How the process exits.
    pub exit: Exit,
    /// The main message.
    pub message: String,
    /// Extra lines (field errors as `field: message`).
    pub details: Vec<String>,
    /// The API's error code (`not_found`, `validation_failed`, …) when the answer
    /// was the API's own JSON error; `None` for anything else (an ingress's 404 page).
    pub code: Option<String>,
}

impl CliError {
    /// An error with `exit` and `message`.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            details: Vec::new(),
            code: None,
        }
    }

    /// A local error (exit 1).
    pub fn local(message: impl Into<String>) -> Self {
        Self::new(Exit::Local, message)
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for line in &self.details {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_codes() {
        for (status, code) in [
            (400, 2),
            (405, 2),
            (409, 2),
            (413, 2),
            (415, 2),
            (422, 2),
            (401, 3),
            (403, 3),
            (404, 4),
            (429, 5),
            (500, 5),
            (502, 5),
            (503, 5),
            (504, 5),
        ] {
            assert_eq!(Exit::from_status(status).code(), code, "HTTP {status}");
        }
        assert_eq!(Exit::Timeout.code(), 6);
        assert_eq!(Exit::Ok.code(), 0);
    }

    #[test]
    fn details_follow_the_message() {
        let mut e = CliError::usage("invalid request");
        e.details.push("cpu_limit: not a quantity".into());
        assert_eq!(
            e.to_string(),
            "invalid request\n  cpu_limit: not a quantity"
        );
    }
}
