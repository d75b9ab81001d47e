//! The extension gallery an operator points workspaces at (`--extensions-gallery`,
//! `DCS_EXTENSIONS_GALLERY`): the JSON object code-server reads from its
//! `EXTENSIONS_GALLERY` variable (VS Code's `extensionsGallery` product setting),
//! checked once here so that a typo is refused when the proxy starts, not met as an
//! empty Extensions view in every workspace.
//!
//! Two spellings: the base URL of an Open VSX server (`https://vsx.example.com`),
//! from which the object follows the layout code-server's own default for
//! open-vsx.org uses; or the object itself, for a gallery laid out otherwise. Its
//! URLs must be `http://` or `https://`.

use serde_json::{Map, Value};

/// The gallery's JSON, as code-server's `EXTENSIONS_GALLERY` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gallery(String);

/// The object's keys whose values are URLs (or URL templates), when present.
const URL_KEYS: &[&str] = &[
    "serviceUrl",
    "itemUrl",
    "extensionUrlTemplate",
    "resourceUrlTemplate",
];

/// The most a gallery's text may hold.
pub const MAX_LEN: usize = 8 * 1024;

impl Gallery {
    /// Reads an Open VSX base URL or a gallery object; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() > MAX_LEN {
            return Err(format!("longer than {MAX_LEN} bytes"));
        }
        if text.starts_with('{') {
            return Self::object(text);
        }
        if !is_http_url(text) || text.contains(char::is_whitespace) {
            return Err(format!(
                "{text:?} is neither an http:// or https:// URL of an Open VSX server nor a JSON \
                 object with a serviceUrl"
            ));
        }
        let base = text.trim_end_matches('/');
        let mut object = Map::new();
        for (key, path) in [
            ("serviceUrl", "/vscode/gallery"),
            ("itemUrl", "/vscode/item"),
            (
                "extensionUrlTemplate",
                "/vscode/gallery/{publisher}/{name}/latest",
            ),
            (
                "resourceUrlTemplate",
                "/vscode/asset/{publisher}/{name}/{version}/Microsoft.VisualStudio.Code.WebResources/{path}",
            ),
        ] {
            object.insert(key.into(), Value::String(format!("{base}{path}")));
        }
        Ok(Self(Value::Object(object).to_string()))
    }

    /// A gallery given as its object: `serviceUrl` required, every URL key a URL.
    fn object(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(object) = &value else {
            return Err("not a JSON object".into());
        };
        if !object.contains_key("serviceUrl") {
            return Err("the object has no serviceUrl".into());
        }
        for key in URL_KEYS {
            match object.get(*key) {
                None => {}
                Some(Value::String(url)) if is_http_url(url) => {}
                Some(other) => {
                    return Err(format!(
                        "{key} must be an http:// or https:// URL, not {other}"
                    ))
                }
            }
        }
        // Written again in one line: a variable's value, whatever the input's layout.
        Ok(Self(value.to_string()))
    }

    /// The JSON object, one line.
    pub fn json(&self) -> &str {
        &self.0
    }
}

/// Whether `text` starts like an HTTP URL with a host.
fn is_http_url(text: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && text.len() > scheme.len()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(gallery: &Gallery, key: &str) -> String {
        let value: Value = serde_json::from_str(gallery.json()).expect("json");
        value[key].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn an_open_vsx_url_gives_code_servers_layout_for_that_server() {
        let g = Gallery::parse("https://vsx.example.com/").expect("valid");
        assert_eq!(
            field(&g, "serviceUrl"),
            "https://vsx.example.com/vscode/gallery"
        );
        assert_eq!(field(&g, "itemUrl"), "https://vsx.example.com/vscode/item");
        assert_eq!(
            field(&g, "extensionUrlTemplate"),
            "https://vsx.example.com/vscode/gallery/{publisher}/{name}/latest"
        );
        assert!(field(&g, "resourceUrlTemplate")
            .starts_with("https://vsx.example.com/vscode/asset/{publisher}/{name}/{version}/"));
        assert!(!g.json().contains('\n'));
    }

    #[test]
    fn an_object_is_kept_in_one_line_with_its_own_keys() {
        let g = Gallery::parse(
            "{\n \"serviceUrl\": \"http://127.0.0.1:9/gallery\",\n \"itemUrl\": \"http://127.0.0.1:9/item\",\n \"controlUrl\": \"\"\n}",
        )
        .expect("valid");
        assert_eq!(field(&g, "serviceUrl"), "http://127.0.0.1:9/gallery");
        assert_eq!(field(&g, "controlUrl"), "");
        assert!(!g.json().contains('\n'), "{}", g.json());
    }

    #[test]
    fn what_code_server_could_not_use_is_refused_with_why() {
        for (text, why) in [
            ("vsx.example.com", "neither"),
            ("ftp://vsx.example.com", "neither"),
            ("https://", "neither"),
            ("https://vsx.example.com/a b", "neither"),
            ("{\"serviceUrl\": ", "not valid JSON"),
            ("[1]", "neither"),
            ("{\"itemUrl\": \"https://x/item\"}", "no serviceUrl"),
            ("{\"serviceUrl\": \"file:///etc\"}", "serviceUrl must be"),
            (
                "{\"serviceUrl\": \"https://x/g\", \"itemUrl\": 7}",
                "itemUrl must be",
            ),
        ] {
            let err = Gallery::parse(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
        let long = format!("https://x/{}", "a".repeat(MAX_LEN));
        assert!(Gallery::parse(&long).is_err());
    }
}
