//! The CA certificates every workspace trusts besides Mozilla's and its image's
//! (`--knative-extra-ca-secret`/`-configmap`, `--knative-extra-ca-key`): where they
//! come from, validated.

use super::{is_dns1123_subdomain, KnativeArgs};

/// The default key of the extra CA bundle in its Secret or ConfigMap (the name
/// Kubernetes and cert-manager use for a CA certificate).
pub const DEFAULT_EXTRA_CA_KEY: &str = "ca.crt";

/// Where the extra CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// A Secret of this name.
    Secret(String),
    /// A ConfigMap of this name.
    ConfigMap(String),
}

/// CA certificates every workspace trusts besides Mozilla's and its image's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraCa {
    /// The Secret or ConfigMap, in the workspace namespace.
    pub source: CaSource,
    /// The key holding the PEM bundle.
    pub key: String,
}

/// The extra CA source `args` name, if any; adds what is wrong to `problems`.
pub(super) fn from_args(args: &KnativeArgs, problems: &mut Vec<String>) -> Option<ExtraCa> {
    let source = match (
        &args.knative_extra_ca_secret,
        &args.knative_extra_ca_configmap,
    ) {
        (Some(_), Some(_)) => {
            problems.push(
                "--knative-extra-ca-secret and --knative-extra-ca-configmap exclude each \
                 other: name one"
                    .into(),
            );
            return None;
        }
        (Some(name), None) => ("--knative-extra-ca-secret", CaSource::Secret(name.clone())),
        (None, Some(name)) => (
            "--knative-extra-ca-configmap",
            CaSource::ConfigMap(name.clone()),
        ),
        (None, None) => return None,
    };
    let (flag, source) = source;
    let (CaSource::Secret(name) | CaSource::ConfigMap(name)) = &source;
    if !is_dns1123_subdomain(name) {
        problems.push(format!("{flag} {name:?} is not a valid object name"));
    }
    let key = &args.knative_extra_ca_key;
    let key_ok = !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && key != "."
        && key != "..";
    if !key_ok {
        problems.push(format!(
            "--knative-extra-ca-key {key:?} is not a valid key (letters, digits, '-', '_', '.')"
        ));
    }
    Some(ExtraCa {
        source,
        key: key.clone(),
    })
}
