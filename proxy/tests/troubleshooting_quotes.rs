//! The troubleshooting tables of `docs/operations.md` quote what the product says
//! word for word: an operator searches the page for the message they see. Their
//! convention: text in double quotes is the proxy's or the launcher's, `…` (or a
//! `<name>`) standing for what varies; text in backquotes is a name, a command or
//! another program's message, not checked here. Each quote's pieces (cut at the
//! placeholders) must occur in `proxy/src` or `launcher/src`, outside their tests.

use std::path::{Path, PathBuf};

/// The workspace's root (this crate is `proxy/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

/// The table rows of every `### Troubleshooting` section.
fn troubleshooting_rows(doc: &str) -> Vec<&str> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with('#') {
            inside = line.trim() == "### Troubleshooting";
        } else if inside && line.starts_with('|') && !line.starts_with("|---") {
            rows.push(line);
        }
    }
    rows
}

/// The double-quoted texts of `row`, outside its backquoted spans.
fn quotes(row: &str) -> Vec<String> {
    let outside: String = row
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, piece)| piece)
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<&str> = outside.split('"').collect();
    assert!(parts.len() % 2 == 1, "an unbalanced quote in: {row}");
    parts
        .iter()
        .skip(1)
        .step_by(2)
        .map(|q| q.to_string())
        .collect()
}

/// The words of `quote` between its placeholders (`…`, `<name>`), without the
/// punctuation and spaces a placeholder takes with it.
fn pieces(quote: &str) -> Vec<String> {
    let mut cut = String::new();
    let mut in_name = false;
    for c in quote.chars() {
        match c {
            '…' => cut.push('\u{0}'),
            '<' => {
                in_name = true;
                cut.push('\u{0}');
            }
            '>' if in_name => in_name = false,
            _ if in_name => {}
            c => cut.push(c),
        }
    }
    cut.split('\u{0}')
        .map(|p| p.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation()))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The product's source text under `dir`: Rust files (and the pages' scripts and
/// templates), tests left out, string continuations (`\` at a line's end) joined.
fn sources(dir: &Path, into: &mut String) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                sources(&path, into);
            }
            continue;
        }
        let wanted = ["rs", "js", "html"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext));
        if !wanted || name == "tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        let text = match text.find("#[cfg(test)]\nmod tests {") {
            Some(at) => &text[..at],
            None => &text[..],
        };
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            match line.strip_suffix('\\') {
                Some(joined) => {
                    into.push_str(joined);
                    // The next line's indentation is no part of the string.
                    if let Some(next) = lines.next() {
                        push_continued(into, next, &mut lines);
                    }
                }
                None => into.push_str(line),
            }
            into.push('\n');
        }
    }
}

/// Appends `line` (a string's continuation, indentation dropped) and the lines
/// continuing it in turn.
fn push_continued<'a>(into: &mut String, line: &'a str, rest: &mut impl Iterator<Item = &'a str>) {
    let mut line = line.trim_start();
    while let Some(joined) = line.strip_suffix('\\') {
        into.push_str(joined);
        match rest.next() {
            Some(next) => line = next.trim_start(),
            None => return,
        }
    }
    into.push_str(line);
}

#[test]
fn every_quoted_message_in_the_troubleshooting_tables_is_in_the_sources() {
    let root = root();
    let doc = std::fs::read_to_string(root.join("docs/operations.md")).expect("operations.md");
    let mut source = String::new();
    sources(&root.join("proxy/src"), &mut source);
    sources(&root.join("launcher/src"), &mut source);
    let rows = troubleshooting_rows(&doc);
    assert!(rows.len() > 30, "the tables were not found: {rows:#?}");
    let mut checked = 0;
    let mut missing = Vec::new();
    for row in rows {
        for quote in quotes(row) {
            checked += 1;
            for piece in pieces(&quote) {
                if !source.contains(&piece) {
                    missing.push(format!("{piece:?} (of \"{quote}\")"));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} quotes found");
    assert!(
        missing.is_empty(),
        "quoted in docs/operations.md's troubleshooting but said nowhere in the sources:\n{}",
        missing.join("\n")
    );
}

#[test]
fn quotes_are_cut_at_their_placeholders() {
    assert_eq!(
        pieces("the git server at … did not answer within … nothing was created"),
        [
            "the git server at",
            "did not answer within",
            "nothing was created"
        ]
    );
    assert_eq!(pieces("open <url>/x (…) now"), ["open", "x", "now"]);
    assert_eq!(
        quotes(r#"| 404 "a … b" and `code "not this"` | "c" |"#),
        ["a … b", "c"]
    );
}
