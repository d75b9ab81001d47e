//! The file-manager page: a directory listing with upload and new-folder controls.
//! Used for `/_dcs/files/<dir>/` and, by the `none` IDE, for the workspace root.
//!
//! Every link is relative (so the page works behind any proxy prefix), every name is
//! HTML-escaped for display (lossily decoded when it is not UTF-8) and
//! percent-encoded from its bytes in links (so that the link names that very file),
//! and there are no external assets: the small script below is the whole client.

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::listing::{Entry, Kind, Listing, MAX_COUNTED, MAX_ENTRIES};
use crate::notices::{self, Notice};
use crate::pages::{document, escape};

/// Everything but unreserved characters is encoded, so a name can never read as a URL
/// scheme (`javascript:`), a query or a fragment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment, from its bytes (UTF-8 or not), for use in a link.
pub fn encode_segment(name: &[u8]) -> String {
    percent_encode(name, SEGMENT).to_string()
}

/// Where the page is and how its links reach the file API.
#[derive(Debug, Clone, Copy)]
pub struct Chrome<'a> {
    /// `owner/repo`, for the title.
    pub repo: &'a str,
    /// The directory shown, e.g. `/sub/`.
    pub shown: &'a str,
    /// Prefix that turns an entry name into a relative link to it in the file API:
    /// `./` on a file-API listing, `_dcs/files/` on the workspace root page.
    pub prefix: &'static str,
    /// Whether to offer a link to the parent directory.
    pub parent_link: bool,
    /// The notices to show as a banner (with the script that keeps it current), and
    /// the page's relative path to the workspace root; `None` leaves both to the
    /// front, which injects them into the `none` IDE's page.
    pub notices: Option<(&'a [Notice], &'a str)>,
}

/// Renders the page.
pub fn render(chrome: &Chrome<'_>, listing: &Listing) -> String {
    let mut rows = String::new();
    if chrome.parent_link {
        rows.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td><td></td></tr>\n");
    }
    for e in &listing.entries {
        rows.push_str(&row(chrome.prefix, e));
    }
    if listing.entries.is_empty() {
        rows.push_str("<tr><td colspan=\"4\"><em>empty directory</em></td></tr>\n");
    }
    if listing.more > 0 {
        let at_least = if listing.more >= MAX_COUNTED {
            "at least "
        } else {
            ""
        };
        rows.push_str(&format!(
            "<tr><td colspan=\"4\"><em>and {at_least}{} more, not shown: this page lists the \
             first {MAX_ENTRIES} the folder gives (use a terminal for the rest)</em></td></tr>\n",
            listing.more
        ));
    }
    let title = format!("{} {}", chrome.repo, chrome.shown);
    let banner = match chrome.notices {
        Some((list, root)) => format!(
            "{}{}\n",
            notices::banner_html(list),
            notices::script_tag(root)
        ),
        None => String::new(),
    };
    let body = format!(
        "{banner}<h1>{repo} <small><code>{shown}</code></small></h1>\n\
         <form id=\"up\"><input type=\"file\" id=\"file\" multiple required> \
         <button>Upload</button></form>\n\
         <form id=\"mk\"><input id=\"dir\" placeholder=\"folder name\" required> \
         <button>New folder</button></form>\n\
         <p id=\"msg\" class=\"err\" role=\"status\"></p>\n\
         <table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th><th></th></tr>\n\
         {rows}</table>\n<script>{script}</script>",
        repo = escape(chrome.repo),
        shown = escape(chrome.shown),
        script = script(chrome.prefix),
    );
    document(&title, &body)
}

fn row(prefix: &str, e: &Entry) -> String {
    let href = format!("{prefix}{}", e.href);
    let (label, size, extra) = match e.kind {
        Kind::Dir => (format!("{}/", e.name), String::new(), String::new()),
        Kind::File => (
            e.name.clone(),
            human_size(e.size),
            format!("<a href=\"{}?download\">download</a>", escape(&href)),
        ),
        Kind::Symlink => (format!("{} →", e.name), String::new(), String::new()),
    };
    let modified = e.modified.map(utc).unwrap_or_default();
    format!(
        "<tr><td><a href=\"{}\">{}</a></td><td class=\"n\">{size}</td><td>{modified}</td><td>{extra}</td></tr>\n",
        escape(&href),
        escape(&label),
    )
}

/// The client: uploads with `PUT`, folders with `POST ?mkdir`, errors shown as text.
fn script(prefix: &'static str) -> String {
    // `prefix` is one of two constants, never user input; JSON-quote it anyway.
    let base = serde_json::Value::from(prefix).to_string();
    format!(
        r#"
const base = {base};
const msg = document.getElementById("msg");
async function send(url, opts) {{
  const r = await fetch(url, Object.assign({{headers: {{Accept: "application/json"}}}}, opts));
  if (!r.ok) {{
    let m = r.status + " " + r.statusText;
    try {{ m = (await r.json()).error || m; }} catch (e) {{}}
    throw new Error(m);
  }}
}}
document.getElementById("up").onsubmit = async (ev) => {{
  ev.preventDefault();
  try {{
    for (const f of document.getElementById("file").files) {{
      msg.textContent = "uploading " + f.name + "…";
      await send(base + encodeURIComponent(f.name), {{method: "PUT", body: f}});
    }}
    location.reload();
  }} catch (e) {{ msg.textContent = e.message; }}
}};
document.getElementById("mk").onsubmit = async (ev) => {{
  ev.preventDefault();
  try {{
    const name = document.getElementById("dir").value;
    await send(base + encodeURIComponent(name) + "/?mkdir", {{method: "POST"}});
    location.reload();
  }} catch (e) {{ msg.textContent = e.message; }}
}};
"#
    )
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `YYYY-MM-DD HH:MM` in UTC (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: Kind) -> Entry {
        Entry {
            name: name.into(),
            href: crate::files::listing::href(name.as_ref(), kind),
            kind,
            size: 2048,
            modified: Some(0),
        }
    }

    #[test]
    fn names_are_escaped_and_links_encoded_and_relative() {
        let chrome = Chrome {
            repo: "acme/hello",
            shown: "/",
            prefix: "_dcs/files/",
            parent_link: false,
            notices: None,
        };
        let page = render(
            &chrome,
            &Listing {
                entries: vec![
                    entry("<b>dir", Kind::Dir),
                    entry("javascript:alert(1)", Kind::File),
                ],
                more: 0,
            },
        );
        assert!(page.contains("href=\"_dcs/files/%3Cb%3Edir/\""), "{page}");
        assert!(page.contains("&lt;b&gt;dir/"));
        assert!(!page.contains("<b>dir"));
        assert!(page.contains("href=\"_dcs/files/javascript%3Aalert%281%29?download\""));
        assert!(page.contains("2.0 KiB"));
        assert!(page.contains("const base = \"_dcs/files/\";"));
        assert!(!page.contains("href=\"/"), "no absolute links");
        assert!(!page.contains("notice.js"), "left to the front");
        assert!(!page.contains("more, not shown"));
        let cut = Listing {
            entries: vec![entry("a", Kind::File)],
            more: 42,
        };
        assert!(render(&chrome, &cut).contains("and 42 more, not shown"));
    }

    #[test]
    fn a_name_that_is_not_utf8_is_linked_by_its_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let chrome = Chrome {
            repo: "acme/hello",
            shown: "/",
            prefix: "./",
            parent_link: false,
            notices: None,
        };
        let raw = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
        let e = Entry {
            name: raw.to_string_lossy().into_owned(),
            href: crate::files::listing::href(raw, Kind::File),
            kind: Kind::File,
            size: 1,
            modified: None,
        };
        let page = render(
            &chrome,
            &Listing {
                entries: vec![e],
                more: 0,
            },
        );
        assert!(
            page.contains("<a href=\"./caf%E9.txt\">caf\u{fffd}.txt</a>"),
            "{page}"
        );
        assert!(page.contains("href=\"./caf%E9.txt?download\""), "{page}");
    }

    #[test]
    fn notices_are_a_banner_above_the_listing_with_the_script_that_updates_it() {
        let list = [Notice::warning("checkout", "updates are not fetched")];
        let chrome = Chrome {
            repo: "acme/hello",
            shown: "/sub/",
            prefix: "./",
            parent_link: true,
            notices: Some((&list, "../../../")),
        };
        let page = render(&chrome, &Listing::default());
        let banner = page.find("updates are not fetched").expect("banner");
        assert!(banner < page.find("<h1>").expect("heading"));
        assert!(page.contains("<script src=\"../../../_dcs/notice.js\" defer></script>"));
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_782_400 + 3_661), "2000-02-29 01:01");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13");
    }
}
