//! Resolving blueprint tags the way Authentik does, before schema validation.
//!
//! Authentik resolves `!KeyOf`, `!Find`, `!Context`, `!Env` and `!Format` *before* its
//! serializers see the data, so the schema types a tagged field as what the tag
//! resolves to, usually a primary key. That type depends on the referenced model
//! (providers and users have integer keys; groups, applications, flows, policies and
//! outposts UUIDs), so `provider: !KeyOf <a group>` is as wrong as `provider: "x"`.
//! [`Mode::Resolve`] turns each tag into a placeholder of the right type:
//! - `!KeyOf id` → the key type of the model of the entry with that `id`, which must
//!   come earlier (the importer resolves it from already-applied entries);
//! - `!Find [model, …]` → that model's key type (the model must be in the schema);
//! - `!Context key` / `[key, default]` → the value in the blueprint's `context:`;
//! - `!Env [name, default]` → the default (else a `${name}` string);
//! - `!Format [fmt, args…]` → the `%s`-formatted string.
//!
//! Any other tag is an error until this converter learns it. [`Mode::Show`] keeps
//! tags visible (`{"!KeyOf": "dcs-provider"}`) for semantic assertions.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::yaml::{plain, Node};

/// How tags are turned into JSON.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    /// As Authentik resolves them: typed placeholders, checked references.
    Resolve,
    /// Kept visible for assertions: `{"!KeyOf": "dcs-provider"}`.
    Show,
}

/// Converts a blueprint tree to JSON, resolving or showing tags per [`Mode`].
pub struct Converter {
    mode: Mode,
    context: Map<String, Value>,
    /// Entry `id` → (entry index, model).
    ids: HashMap<String, (usize, String)>,
    /// Models the schema knows.
    models: HashSet<String>,
    /// Index of the entry being converted (for `!KeyOf` ordering).
    entry: usize,
}

/// The placeholder a reference to `model` resolves to: its primary key's type.
fn primary_key(model: &str) -> Result<Value, String> {
    let integer = model.starts_with("authentik_providers_") || model == "authentik_core.user";
    let uuid = matches!(
        model,
        "authentik_core.group" | "authentik_core.application" | "authentik_flows.flow"
    ) || model.starts_with("authentik_outposts.")
        || model.starts_with("authentik_policies");
    match (integer, uuid) {
        (true, _) => Ok(json!(1)),
        (_, true) => Ok(json!("00000000-0000-4000-8000-000000000001")),
        _ => Err(format!(
            "primary key type of {model} unknown: teach primary_key()"
        )),
    }
}

impl Converter {
    pub fn new(mode: Mode, root: &Node, schema: &Value) -> Result<Self, String> {
        let models = schema["$defs"]
            .as_object()
            .ok_or("schema without $defs")?
            .keys()
            .filter_map(|k| k.strip_prefix("model_"))
            .filter(|k| !k.ends_with("_permissions"))
            .map(str::to_owned)
            .collect();
        let mut me = Converter {
            mode,
            context: Map::new(),
            ids: HashMap::new(),
            models,
            entry: 0,
        };
        let get = |name: &str| match root {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            _ => None,
        };
        if let Some(ctx) = get("context") {
            me.context = me
                .convert(&ctx)?
                .as_object()
                .cloned()
                .ok_or("context must be a mapping")?;
        }
        if let Some(Node::Seq { items, .. }) = get("entries") {
            for (i, entry) in items.iter().enumerate() {
                let e = me.convert_plain(entry)?;
                if let (Some(id), Some(model)) = (e["id"].as_str(), e["model"].as_str()) {
                    me.ids.insert(id.to_owned(), (i, model.to_owned()));
                }
            }
        }
        Ok(me)
    }

    /// The whole document; each entry converted with its index known.
    pub fn document(&mut self, root: &Node) -> Result<Value, String> {
        let Node::Map { entries, .. } = root else {
            return Err("not a mapping".into());
        };
        let mut out = Map::new();
        for (k, v) in entries {
            let value = match (k.as_str(), v) {
                ("entries", Node::Seq { items, .. }) => {
                    let mut list = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        self.entry = i;
                        list.push(self.convert(item)?);
                    }
                    Value::Array(list)
                }
                _ => self.convert(v)?,
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// Converts ignoring tags (to read `id` and `model` before resolving).
    fn convert_plain(&self, node: &Node) -> Result<Value, String> {
        Converter {
            mode: Mode::Show,
            context: Map::new(),
            ids: HashMap::new(),
            models: HashSet::new(),
            entry: 0,
        }
        .convert(node)
    }

    fn convert(&self, node: &Node) -> Result<Value, String> {
        let untagged = match node {
            Node::Scalar {
                text, plain: true, ..
            } => plain(text),
            Node::Scalar { text, .. } => json!(text),
            Node::Seq { items, .. } => Value::Array(
                items
                    .iter()
                    .map(|n| self.convert(n))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map { entries, .. } => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.convert(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
        };
        let (Node::Scalar { tag: Some(tag), .. }
        | Node::Seq { tag: Some(tag), .. }
        | Node::Map { tag: Some(tag), .. }) = node
        else {
            return Ok(untagged);
        };
        match (self.mode, tag.as_str()) {
            (_, "!!str") => Ok(json!(untagged
                .as_str()
                .map_or_else(|| untagged.to_string(), str::to_owned))),
            (Mode::Show, _) => Ok(Value::Object(Map::from_iter([(tag.clone(), untagged)]))),
            (Mode::Resolve, t) => self.resolve(t, untagged),
        }
    }

    fn resolve(&self, tag: &str, arg: Value) -> Result<Value, String> {
        let first = |v: &Value| {
            v.as_array()
                .map_or(v.clone(), |a| a.first().cloned().unwrap_or(Value::Null))
        };
        match tag {
            "!KeyOf" => {
                let id = arg.as_str().ok_or("!KeyOf takes an id")?;
                match self.ids.get(id) {
                    Some((i, model)) if *i < self.entry => primary_key(model),
                    Some(_) => Err(format!("!KeyOf {id}: the entry must come earlier")),
                    None => Err(format!("!KeyOf {id}: no entry has this id")),
                }
            }
            "!Find" => {
                let model = first(&arg);
                let model = model.as_str().ok_or("!Find [model, [field, value]…]")?;
                if !self.models.contains(model) {
                    return Err(format!("!Find: unknown model {model}"));
                }
                primary_key(model)
            }
            "!Context" => {
                let key = first(&arg);
                let key = key.as_str().ok_or("!Context takes a key")?;
                match (self.context.get(key), arg.get(1)) {
                    (Some(v), _) | (None, Some(v)) => Ok(v.clone()),
                    (None, None) => Err(format!("!Context {key}: not in the blueprint's context")),
                }
            }
            "!Env" => Ok(arg
                .get(1)
                .cloned()
                .unwrap_or_else(|| json!(format!("${{{}}}", first(&arg))))),
            "!Format" => {
                let parts = arg.as_array().ok_or("!Format [fmt, args…]")?;
                let fmt = parts
                    .first()
                    .and_then(Value::as_str)
                    .ok_or("!Format needs a format string")?;
                let mut out = fmt.to_owned();
                for a in &parts[1..] {
                    out = out.replacen("%s", a.as_str().map_or(&a.to_string(), |s| s), 1);
                }
                Ok(json!(out))
            }
            other => Err(format!(
                "tag {other} is not handled by this test's converter"
            )),
        }
    }
}
