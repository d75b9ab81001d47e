//! An installed IDE's executable and folders, handed out when the IDE starts
//! ([`super::IdeContext::on_program`]), so the launcher can run the IDE's own command
//! line beside it: `--install-extension` with the same `--extensions-dir` and
//! `--user-data-dir` the IDE runs with (code-server and openvscode-server take the
//! same flags; VS Code's `serve-web` installs none this way).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use super::dirs::ConfigDirs;
use super::{code_server, openvscode};

/// An IDE's executable, its folders and the environment it runs with (the trust
/// bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdeProgram {
    /// The `DCS_IDE` kind.
    pub kind: &'static str,
    /// The executable.
    pub program: PathBuf,
    /// Its folders in the config volume.
    pub dirs: ConfigDirs,
    /// Variables it gets on top of the user's environment.
    pub env: Vec<(OsString, OsString)>,
}

/// Whether the kind `kind` installs extensions by id from its command line.
pub fn installs_extensions(kind: &str) -> bool {
    matches!(kind, code_server::KIND | openvscode::KIND)
}

impl IdeProgram {
    /// The arguments that install `ids` (`publisher.name[@version]`) where the IDE
    /// looks for them; `None` for a kind that does not install extensions.
    pub fn install_extensions_args(&self, ids: &[String]) -> Option<Vec<OsString>> {
        let mut args: Vec<OsString> = match self.kind {
            code_server::KIND => vec![
                "--config".into(),
                self.dirs.root.join("config.yaml").into_os_string(),
            ],
            openvscode::KIND => vec![
                "--server-data-dir".into(),
                self.dirs.root.join("server").into_os_string(),
            ],
            _ => return None,
        };
        args.extend([
            "--user-data-dir".into(),
            self.dirs.data.clone().into_os_string(),
            "--extensions-dir".into(),
            self.dirs.extensions.clone().into_os_string(),
        ]);
        for id in ids {
            args.extend(["--install-extension".into(), id.into()]);
        }
        Some(args)
    }
}

/// What [`super::IdeContext::on_program`] calls (nothing by default).
#[derive(Clone, Default)]
pub struct OnProgram(Option<Arc<dyn Fn(IdeProgram) + Send + Sync>>);

impl OnProgram {
    /// Calls `f` with the program, before the IDE starts.
    pub fn new(f: impl Fn(IdeProgram) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// Hands `program` out.
    pub fn call(&self, program: IdeProgram) {
        if let Some(f) = &self.0 {
            f(program);
        }
    }
}

impl std::fmt::Debug for OnProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnProgram")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn program(kind: &'static str) -> IdeProgram {
        IdeProgram {
            kind,
            program: PathBuf::from("/ide/bin/x"),
            dirs: ConfigDirs::under(Path::new("/config"), kind),
            env: Vec::new(),
        }
    }

    fn joined(args: Vec<OsString>) -> String {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        args.join(" ")
    }

    #[test]
    fn extensions_go_where_the_ide_looks_for_them() {
        let ids = vec!["a.b".to_owned(), "c.d@1.0.0".to_owned()];
        let args = program(code_server::KIND)
            .install_extensions_args(&ids)
            .expect("code-server installs");
        assert_eq!(
            joined(args),
            "--config /config/code-server/config.yaml \
             --user-data-dir /config/code-server/data \
             --extensions-dir /config/code-server/extensions \
             --install-extension a.b --install-extension c.d@1.0.0"
        );
        let args = program(openvscode::KIND)
            .install_extensions_args(&ids)
            .expect("openvscode installs");
        assert!(joined(args).starts_with(
            "--server-data-dir /config/openvscode/server \
             --user-data-dir /config/openvscode/data \
             --extensions-dir /config/openvscode/extensions --install-extension a.b"
        ));
        assert_eq!(
            program(super::super::vscode::KIND).install_extensions_args(&ids),
            None
        );
        assert!(installs_extensions("code-server") && installs_extensions("openvscode"));
        assert!(!installs_extensions("vscode") && !installs_extensions("none"));
    }
}
