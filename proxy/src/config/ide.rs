//! The IDE every workspace runs: its kind (`--ide`, checked here) and the gallery
//! its extensions come from (`--extensions-gallery`, handed to every launcher as
//! `DCS_EXTENSIONS_GALLERY`, local or Knative).

use clap::Args;

use dcs_model::env::IDE_KINDS;
use dcs_model::gallery::Gallery;

/// The `--extensions-gallery` flag.
#[derive(Debug, Clone, Default, Args)]
pub struct GalleryArgs {
    /// Where code-server finds extensions (its Extensions view, and the extensions a
    /// checkout's `devcontainer.json` asks for): the URL of an Open VSX server of
    /// your own (`https://vsx.example.com`), or the gallery's JSON object (with
    /// `serviceUrl`) for one laid out otherwise. [default: the IDE's own, Open VSX]
    #[arg(long, env = "DCS_PROXY_EXTENSIONS_GALLERY")]
    pub extensions_gallery: Option<String>,
}

impl GalleryArgs {
    /// The gallery, if set; a problem naming the flag if it cannot be used.
    pub fn validate(&self, problems: &mut Vec<String>) -> Option<Gallery> {
        let text = self.extensions_gallery.as_deref()?;
        Gallery::parse(text)
            .map_err(|why| problems.push(format!("--extensions-gallery: {why}")))
            .ok()
    }
}

/// Adds a problem unless `ide` is a kind launchers can run.
pub fn check_kind(ide: &str, problems: &mut Vec<String>) {
    if !IDE_KINDS.contains(&ide) {
        problems.push(format!(
            "--ide {ide:?} is not known; choose one of: {}",
            IDE_KINDS.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(value: Option<&str>) -> (Option<Gallery>, Vec<String>) {
        let mut problems = Vec::new();
        let args = GalleryArgs {
            extensions_gallery: value.map(str::to_owned),
        };
        (args.validate(&mut problems), problems)
    }

    #[test]
    fn unset_is_the_ides_own_and_a_url_or_object_is_taken() {
        assert_eq!(validate(None), (None, vec![]));
        let (gallery, problems) = validate(Some("https://vsx.example.com"));
        assert!(problems.is_empty());
        assert!(gallery
            .expect("gallery")
            .json()
            .contains("https://vsx.example.com/vscode/gallery"));
        let (gallery, _) = validate(Some(r#"{"serviceUrl":"https://g.example/gallery"}"#));
        assert!(gallery.is_some());
    }

    #[test]
    fn an_unusable_gallery_is_a_problem_naming_the_flag() {
        let (gallery, problems) = validate(Some("vsx.example.com"));
        assert!(gallery.is_none());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("--extensions-gallery: "),
            "{problems:?}"
        );
    }
}
