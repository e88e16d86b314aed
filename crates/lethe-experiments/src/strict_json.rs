//! JSON text to a [`serde_json::Value`] that refuses what `serde_json::from_str` silently
//! accepts.
//!
//! - **Duplicate keys.** `{"sigma": 1, "sigma": 0}` parses with serde_json and keeps the last
//!   value, so a config that says σ = 1 in one place runs with σ = 0. Here every object is
//!   checked and a repeated key is an error naming the key and the object (a JSONPath such as
//!   `$.model`), with serde_json's line and column.
//! - **A UTF-8 byte-order mark.** Editors on some systems start files with U+FEFF, which
//!   serde_json rejects as "expected value at line 1 column 1". It carries no content, so it
//!   is skipped.
//!
//! Everything else (numbers, escapes, nesting limits, trailing characters) is serde_json's own
//! parser: the values built are exactly those of `serde_json::from_str`.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The byte-order mark U+FEFF, as it appears at the start of a UTF-8 file.
const BOM: char = '\u{feff}';

/// Parses `text` (a leading byte-order mark skipped) into a [`Value`], rejecting an object
/// that repeats a key.
///
/// # Errors
/// serde_json's error for malformed JSON or a duplicate key, with line and column.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue { path: "$".into() }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Deserializes one value at `path` (a JSONPath, for error messages).
struct StrictValue {
    path: String,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue {
            path: format!("{}[{}]", self.path, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in the object at {}",
                    self.path
                )));
            }
            let value = map.next_value_seed(StrictValue {
                path: format!("{}.{key}", self.path),
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_those_of_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, 1e308, "x\u00e9", null, true], "b": {"c": 18446744073709551615}}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_repeated_key_is_named_with_its_object() {
        let e = parse(r#"{"model": {"sigma": 1, "lambda": 2, "sigma": 0}}"#).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(r#"duplicate key "sigma" in the object at $.model"#),
            "{msg}"
        );
        assert!(msg.contains("line 1"), "{msg}");
        let e = parse(r#"[{"a": 1}, {"a": 1, "a": 1}]"#).unwrap_err();
        assert!(e.to_string().contains("at $[1]"), "{e}");
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        assert!(parse(r#"{"a": {"x": 1}, "b": {"x": 2}, "x": 3}"#).is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_trailing_text_refused() {
        assert_eq!(
            parse("\u{feff}{\"a\": 1}").unwrap(),
            serde_json::json!({"a": 1})
        );
        assert!(parse("{\"a\": 1} x").is_err());
        assert!(parse("{\"a\": 1}\u{feff}").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        assert!(parse(&"[".repeat(100_000)).is_err());
        assert!(parse(&"{\"a\":".repeat(100_000)).is_err());
    }
}
