//! Duplicate keys in a JSON body. JSON parsers disagree on them (serde_json keeps
//! the last, others the first), so a body with one key twice in an object could
//! mean one thing to a checker and another to whoever acts on it: it is refused
//! (422 naming the field) instead. [`first`] walks the document once, building
//! nothing, and names the first repeated key by its path (`repo`, `env.A`,
//! `items[2].name`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The path of the first key that appears twice in one object of `json`, if any.
/// A document that does not parse has none (its syntax error is reported elsewhere).
pub fn first(json: &[u8]) -> Option<String> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(json);
    let _ = Walk {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut de);
    found.into_inner()
}

/// Walks one value at `path`, recording the first duplicate in `found`.
struct Walk<'a> {
    path: String,
    found: &'a RefCell<Option<String>>,
}

impl Walk<'_> {
    fn at(&self, path: String) -> Self {
        Walk {
            path,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                *self.found.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(self.at(path))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(self.at(format!("{}[{i}]", self.path)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_repeated_key_is_named_by_its_path() {
        assert_eq!(first(br#"{"a":1,"b":2}"#), None);
        assert_eq!(
            first(br#"{"repo":"x","repo":"y"}"#).as_deref(),
            Some("repo")
        );
        assert_eq!(
            first(br#"{"env":{"A":"1","B":"2","A":"3"}}"#).as_deref(),
            Some("env.A")
        );
        assert_eq!(
            first(br#"{"l":[{"n":1},{"n":1,"n":2}]}"#).as_deref(),
            Some("l[1].n")
        );
        assert_eq!(
            first(br#"{"a":{"x":1},"b":{"x":1}}"#),
            None,
            "one per object"
        );
        assert_eq!(first(br#"{"a":"#), None, "not JSON: none");
        assert_eq!(
            first(br#"{"\u0061":1,"a":2}"#).as_deref(),
            Some("a"),
            "escapes"
        );
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(first(deep.as_bytes()), None, "the depth limit holds");
    }
}
