//! How far a workspace's start is: the phases a person watches on the progress
//! page, in `GET /api/status` and in `dcs … --wait`.
//!
//! Knative workspaces go created → scheduled → pulling image → starting → cloning →
//! IDE installing/starting → ready; local ones cloning → IDE starting → ready. A
//! start that cannot finish ends in `failed` with a reason and what to do. The
//! runtime fills in what it can observe; missing figures stay `None`.

use serde::{Deserialize, Serialize};

/// One step of a workspace's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StartPhase {
    /// Nothing runs yet; the next request starts it.
    Stopped,
    /// Its objects exist (Knative Service, volume); nothing is scheduled yet.
    Created,
    /// A node was chosen for it.
    Scheduled,
    /// The node is pulling its image.
    PullingImage,
    /// Its container (the launcher) is starting.
    Starting,
    /// The launcher is cloning or fetching the repository.
    Cloning,
    /// The IDE is being installed.
    IdeInstalling,
    /// The IDE is starting.
    IdeStarting,
    /// Serving.
    Ready,
    /// The start cannot finish; see `reason` and `hint`.
    Failed,
}

impl StartPhase {
    /// A short phrase for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Created => "created",
            Self::Scheduled => "scheduled",
            Self::PullingImage => "pulling image",
            Self::Starting => "starting",
            Self::Cloning => "cloning",
            Self::IdeInstalling => "installing the IDE",
            Self::IdeStarting => "starting the IDE",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    /// The phases a start on Knative (`containers`) or on local processes goes
    /// through, in order.
    pub fn steps(containers: bool) -> &'static [StartPhase] {
        if containers {
            &[
                Self::Created,
                Self::Scheduled,
                Self::PullingImage,
                Self::Starting,
                Self::Cloning,
                Self::IdeStarting,
                Self::Ready,
            ]
        } else {
            &[
                Self::Starting,
                Self::Cloning,
                Self::IdeStarting,
                Self::Ready,
            ]
        }
    }

    /// Whether nothing follows (ready or failed).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Failed)
    }
}

/// Objects received while cloning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Objects {
    /// Received so far.
    pub done: u64,
    /// Sent by the server in all (0 until it says).
    pub total: u64,
}

/// Where a workspace's start is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    /// The current phase.
    pub phase: StartPhase,
    /// How far the phase is, 0–100, where it can be told (cloning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// Objects received (cloning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Objects>,
    /// Bytes received (cloning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// A sentence about what is happening, if there is more to say than the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it failed (`failed`), or why it waits (e.g. `ImagePullBackOff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to do about a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Progress {
    /// Just `phase`, nothing more known.
    pub fn at(phase: StartPhase) -> Self {
        Self {
            phase,
            percent: None,
            objects: None,
            bytes: None,
            message: None,
            reason: None,
            hint: None,
        }
    }

    /// Failed because of `reason`, with what to do.
    pub fn failed(reason: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            hint: Some(hint.into()),
            ..Self::at(StartPhase::Failed)
        }
    }

    /// Cloning, with the figures the transfer reported so far; the percentage is
    /// that of objects received (known once the server said how many).
    pub fn cloning(objects_done: u64, objects_total: u64, bytes: u64) -> Self {
        let percent = (objects_total > 0)
            .then(|| (objects_done.min(objects_total) * 100 / objects_total) as u8);
        Self {
            percent,
            objects: Some(Objects {
                done: objects_done,
                total: objects_total,
            }),
            bytes: Some(bytes),
            ..Self::at(StartPhase::Cloning)
        }
    }

    /// One line for people: `cloning 42% (21/50 objects, 1.2 MiB)`.
    pub fn line(&self) -> String {
        let mut line = self.phase.label().to_owned();
        if let Some(p) = self.percent {
            line.push_str(&format!(" {p}%"));
        }
        let mut figures = Vec::new();
        if let Some(o) = self.objects.filter(|o| o.total > 0) {
            figures.push(format!("{}/{} objects", o.done, o.total));
        }
        if let Some(b) = self.bytes.filter(|b| *b > 0) {
            figures.push(human_bytes(b));
        }
        if !figures.is_empty() {
            line.push_str(&format!(" ({})", figures.join(", ")));
        }
        for extra in [&self.message, &self.reason].into_iter().flatten() {
            line.push_str(": ");
            line.push_str(extra);
        }
        line
    }
}

/// `1.2 MiB`, `512 B`.
fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloning_reports_a_percentage_of_objects() {
        let p = Progress::cloning(21, 50, 1_300_000);
        assert_eq!(p.percent, Some(42));
        assert_eq!(p.line(), "cloning 42% (21/50 objects, 1.2 MiB)");
        assert_eq!(Progress::cloning(3, 0, 0).percent, None);
    }

    #[test]
    fn serialises_without_empty_fields() {
        let json = serde_json::to_value(Progress::at(StartPhase::PullingImage)).expect("json");
        assert_eq!(json, serde_json::json!({"phase": "pulling_image"}));
        let failed = Progress::failed("ErrImagePull: no such image", "fix the image");
        let back: Progress =
            serde_json::from_value(serde_json::to_value(&failed).expect("json")).expect("back");
        assert_eq!(back, failed);
        assert!(failed.line().contains("no such image"));
    }
}
