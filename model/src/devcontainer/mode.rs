//! What a launcher does with a checkout's `devcontainer.json` ([`Mode`], the
//! contract's `DCS_DEVCONTAINER`; the proxy's `--devcontainer`).

use std::fmt;
use std::str::FromStr;

/// `ask` (default), `run` or `off`: see [`Mode`].
pub const DCS_DEVCONTAINER: &str = "DCS_DEVCONTAINER";

/// What a launcher does with a checkout's `devcontainer.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Its commands and variables apply once the workspace's user allowed them for
    /// that checkout (a notice asks); until then nothing of the file runs.
    #[default]
    Ask,
    /// They apply from the first start, without asking (every repository opened is
    /// trusted, e.g. a company's own git server).
    Run,
    /// The file is not read.
    Off,
}

impl Mode {
    /// Every mode's name, for help texts and errors.
    pub const NAMES: [&'static str; 3] = ["ask", "run", "off"];

    /// The mode's name in the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Run => "run",
            Self::Off => "off",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ask" => Ok(Self::Ask),
            "run" => Ok(Self::Run),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "unknown devcontainer mode {other:?}; known: {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_choices() {
        for name in Mode::NAMES {
            assert_eq!(name.parse::<Mode>().expect("known").as_str(), name);
        }
        assert_eq!(Mode::default(), Mode::Ask);
        let err = "yes".parse::<Mode>().expect_err("unknown");
        assert_eq!(
            err,
            "unknown devcontainer mode \"yes\"; known: ask, run, off"
        );
    }
}
