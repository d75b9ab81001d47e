//! [`ContainerSpec`]: the workspace container's process as the generated Knative
//! Service describes it (command, environment, working directory, user, capabilities,
//! volume mounts and the volumes behind them, and where the init container puts the
//! launcher), read from the Service's JSON. Pure: no I/O.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::Value;

/// One volume mount of the workspace container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The volume's name.
    pub volume: String,
    /// Where it is mounted.
    pub path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// What backs a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Volume {
    /// A PersistentVolumeClaim of this name.
    Claim(String),
    /// An `emptyDir`.
    EmptyDir,
    /// A Secret of this name, projecting `(key, file)` pairs (all keys when empty).
    Secret(String, Vec<(String, String)>),
    /// A ConfigMap of this name, projecting `(key, file)` pairs (all keys when empty).
    ConfigMap(String, Vec<(String, String)>),
}

/// The workspace container of a Knative Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// `command` then `args`.
    pub argv: Vec<String>,
    /// `env`, in order (literal values only).
    pub env: Vec<(String, String)>,
    /// `workingDir`.
    pub working_dir: Option<String>,
    /// `volumeMounts`.
    pub mounts: Vec<Mount>,
    /// The pod's volumes, by name.
    pub volumes: BTreeMap<String, Volume>,
    /// `runAsUser`.
    pub uid: u32,
    /// `runAsGroup`.
    pub gid: u32,
    /// `capabilities.drop` holds `ALL`.
    pub drops_all_capabilities: bool,
    /// The file the init container copies the launcher to.
    pub launcher: String,
    /// The one container port.
    pub port: u16,
    /// `terminationMessagePath`: the file whose content the kubelet reports as the
    /// container's termination message (Kubernetes' default when unset).
    pub termination_message_path: String,
}

/// Kubernetes' default `terminationMessagePath`.
pub const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn items(v: &Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            Some((
                i["key"].as_str()?.to_owned(),
                i["path"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn id(v: &Value, field: &str) -> anyhow::Result<u32> {
    let n = v[field]
        .as_u64()
        .with_context(|| format!("securityContext.{field} is not set"))?;
    Ok(u32::try_from(n)?)
}

impl ContainerSpec {
    /// Reads the first container of `ksvc` (a `serving.knative.dev/v1` Service).
    pub fn from_ksvc(ksvc: &Value) -> anyhow::Result<Self> {
        let pod = &ksvc["spec"]["template"]["spec"];
        Self::of_container(pod, &pod["containers"][0])
    }

    /// The `checkout` init container of `ksvc`, if it has one, as the sandbox runs
    /// it. It runs the launcher image's `dcs-launcher`, which is the same static
    /// binary the sandbox binds where the init container copies it: so its program
    /// is that path, with the `launcher` volume mounted read-only. Its port is the
    /// workspace container's (it listens on none).
    pub fn checkout_of(ksvc: &Value) -> anyhow::Result<Option<Self>> {
        let pod = &ksvc["spec"]["template"]["spec"];
        let Some(c) = pod["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == "checkout")
        else {
            return Ok(None);
        };
        let mut spec = Self::of_container(pod, c)?;
        let dir = Path::new(&spec.launcher)
            .parent()
            .context("the launcher's folder")?
            .display()
            .to_string();
        spec.argv[0] = spec.launcher.clone();
        spec.mounts.push(Mount {
            volume: "launcher".into(),
            path: dir,
            read_only: true,
        });
        Ok(Some(spec))
    }

    /// Reads container `c` of the pod spec `pod`.
    fn of_container(pod: &Value, c: &Value) -> anyhow::Result<Self> {
        let mut argv = strings(&c["command"]);
        argv.extend(strings(&c["args"]));
        if argv.is_empty() {
            bail!("the workspace container has no command");
        }
        let mut env = Vec::new();
        for e in c["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().context("an env entry without a name")?;
            let Some(value) = e["value"].as_str() else {
                bail!("{name} is not a literal value (valueFrom is not emulated)");
            };
            env.push((name.to_owned(), value.to_owned()));
        }
        let mounts = c["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                Ok(Mount {
                    volume: m["name"].as_str().context("mount name")?.to_owned(),
                    path: m["mountPath"].as_str().context("mount path")?.to_owned(),
                    read_only: m["readOnly"] == true,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut volumes = BTreeMap::new();
        for v in pod["volumes"].as_array().into_iter().flatten() {
            let name = v["name"].as_str().context("volume name")?.to_owned();
            let kind = if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                Volume::Claim(claim.to_owned())
            } else if v.get("emptyDir").is_some() {
                Volume::EmptyDir
            } else if let Some(secret) = v["secret"]["secretName"].as_str() {
                Volume::Secret(secret.to_owned(), items(&v["secret"]))
            } else if let Some(map) = v["configMap"]["name"].as_str() {
                Volume::ConfigMap(map.to_owned(), items(&v["configMap"]))
            } else {
                bail!("volume {name}: a kind the sandbox does not emulate: {v}");
            };
            volumes.insert(name, kind);
        }
        for m in &mounts {
            if !volumes.contains_key(&m.volume) {
                bail!("mount {} names no volume", m.path);
            }
        }
        let security = &c["securityContext"];
        let init = &pod["initContainers"][0];
        let copy = strings(&init["command"]);
        let launcher = match copy.as_slice() {
            [cp, _from, to] if cp == "cp" => to.clone(),
            other => bail!("the init container does not copy the launcher: {other:?}"),
        };
        let port = c["ports"][0]["containerPort"]
            .as_u64()
            .or_else(|| pod["containers"][0]["ports"][0]["containerPort"].as_u64())
            .context("the container port")?;
        Ok(Self {
            argv,
            env,
            working_dir: c["workingDir"].as_str().map(str::to_owned),
            mounts,
            volumes,
            uid: id(security, "runAsUser")?,
            gid: id(security, "runAsGroup")?,
            drops_all_capabilities: strings(&security["capabilities"]["drop"])
                .iter()
                .any(|c| c == "ALL"),
            launcher,
            port: u16::try_from(port)?,
            termination_message_path: c["terminationMessagePath"]
                .as_str()
                .unwrap_or(TERMINATION_MESSAGE_PATH)
                .to_owned(),
        })
    }

    /// The value of `name` in the container's environment.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
