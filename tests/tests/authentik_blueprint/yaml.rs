//! A small YAML-to-tree reader that keeps tags (serde deserializers drop them), and
//! PyYAML's YAML 1.1 resolution of untagged plain scalars (Authentik loads blueprints
//! with PyYAML, so `yes`/`on` are booleans there).

use serde_json::{json, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Tag};

/// A YAML node with its tag (`!KeyOf`, `!!str`, …) kept.
#[derive(Debug, Clone)]
pub enum Node {
    Scalar {
        text: String,
        plain: bool,
        tag: Option<String>,
    },
    Seq {
        items: Vec<Node>,
        tag: Option<String>,
    },
    Map {
        entries: Vec<(String, Node)>,
        key: Option<String>,
        tag: Option<String>,
    },
}

pub fn load_yaml(text: &str) -> Result<Node, String> {
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| format!("YAML: {e}"))?;
        let tag_of = |t: Option<std::borrow::Cow<'_, Tag>>| {
            t.map(|t| match t.handle() {
                "!" => format!("!{}", t.suffix()),
                "tag:yaml.org,2002:" => format!("!!{}", t.suffix()),
                h => format!("{h}{}", t.suffix()),
            })
        };
        let done = match event {
            Event::Scalar(text, style, _, tag) => Some(Node::Scalar {
                text: text.into_owned(),
                plain: style == ScalarStyle::Plain,
                tag: tag_of(tag),
            }),
            Event::SequenceStart(_, _, tag) => {
                stack.push(Node::Seq {
                    items: Vec::new(),
                    tag: tag_of(tag),
                });
                None
            }
            Event::MappingStart(_, _, tag) => {
                stack.push(Node::Map {
                    entries: Vec::new(),
                    key: None,
                    tag: tag_of(tag),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop(),
            Event::Alias(_) => {
                return Err(format!(
                    "line {}: aliases are not supported",
                    span.start.line()
                ))
            }
            _ => None,
        };
        let Some(node) = done else { continue };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Node::Seq { items, .. }) => items.push(node),
            Some(Node::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node {
                    Node::Scalar { text, .. } => *key = Some(text),
                    _ => return Err("only scalar mapping keys are supported".into()),
                },
            },
            Some(Node::Scalar { .. }) => unreachable!("scalars are never open"),
        }
    }
    root.ok_or_else(|| "empty document".into())
}

/// PyYAML (YAML 1.1) resolution of an untagged plain scalar.
pub fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return json!(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return json!(false)
        }
        _ => {}
    }
    if let Ok(i) = text.replace('_', "").parse::<i64>() {
        return json!(i);
    }
    let numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || ".eE+-_".contains(c));
    match text.parse::<f64>() {
        Ok(f) if numeric && text.contains(|c: char| c.is_ascii_digit()) => json!(f),
        _ => json!(text),
    }
}

#[test]
pub fn plain_scalars_resolve_like_yaml_1_1() {
    assert_eq!(plain("yes"), json!(true));
    assert_eq!(plain("off"), json!(false));
    assert_eq!(plain("0"), json!(0));
    assert_eq!(plain("1.5"), json!(1.5));
    assert_eq!(plain("~"), Value::Null);
    assert_eq!(plain("hours=24"), json!("hours=24"));
    assert_eq!(plain("e"), json!("e"));
}
