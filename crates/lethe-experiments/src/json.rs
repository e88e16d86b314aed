//! JSON plumbing: a serializer that maps non-finite floats explicitly, canonical hashing,
//! atomic file writes and number reading.
//!
//! # Non-finite numbers in result files
//! `serde_json` silently writes NaN and ±∞ as `null`. lethe's result files never do that
//! implicitly: every value goes through [`to_value`], which writes
//! - `+∞` as the string `"inf"` and `−∞` as `"-inf"`,
//! - NaN as `null`, meaning *undefined or not applicable* (for example the accuracy of a squared
//!   loss model, or a median of no values).
//!
//! [`number`] reads all three forms back.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::error::{ExperimentError, Result};

/// Serializes `value` to a [`Value`], mapping non-finite floats explicitly (see the module
/// docs) instead of serde_json's silent `null`.
///
/// # Errors
/// [`ExperimentError::Json`] when a map key is not a string or number, or a type's `Serialize`
/// implementation fails.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    value
        .serialize(ValueSerializer)
        .map_err(|e| ExperimentError::Json {
            path: PathBuf::from("<value>"),
            what: e.0,
        })
}

/// Maps one float (see the module docs).
pub fn float(v: f64) -> Value {
    if v.is_nan() {
        Value::Null
    } else if v == f64::INFINITY {
        Value::String("inf".into())
    } else if v == f64::NEG_INFINITY {
        Value::String("-inf".into())
    } else {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// Reads a number written by [`to_value`]: a JSON number, `"inf"`, `"-inf"` or `"nan"`;
/// `null` and anything else give `None`.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "inf" | "+inf" | "Infinity" => Some(f64::INFINITY),
            "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
            "nan" | "NaN" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

/// The value at a dotted path (`"summary.requests"`), if present.
pub fn get<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |cur, key| cur.get(key))
}

/// A copy of `v` with every object's keys sorted, recursively (for hashing).
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// SHA-256 (lowercase hex) of the compact canonical JSON of `v`.
pub fn hash(v: &Value) -> String {
    let text = serde_json::to_string(&canonical(v)).unwrap_or_default();
    lethe_data::digest::hex(&Sha256::digest(text.as_bytes()))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (named
/// `.<file>.<pid>.<n>.tmp`), flushed and synced, then renamed over `path`, and the directory
/// synced so the rename survives a crash. A reader (or a run
/// that was killed) sees either the old file, the complete new file, or no file — never a
/// half-written one. Creates the parent directory if needed.
///
/// # Errors
/// [`ExperimentError::Io`] naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    place_atomic(path, bytes, |tmp| fs::rename(tmp, path).map(|()| true)).map(|_| ())
}

/// Writes `bytes` to `path` atomically as [`write_atomic`], but never replaces a file: the
/// complete temporary file is hard-linked to `path`, which fails if `path` exists, even if it
/// appeared meanwhile (on a file system without hard links: checked, then renamed). Returns
/// whether the file was created; `false` leaves an existing `path` untouched.
///
/// # Errors
/// [`ExperimentError::Io`] naming the path.
pub fn write_atomic_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    place_atomic(path, bytes, |tmp| {
        let placed = match fs::hard_link(tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(_) if !path.exists() => return fs::rename(tmp, path).map(|()| true),
            Err(_) => Ok(false),
        };
        let _ = fs::remove_file(tmp);
        placed
    })
}

/// Writes `bytes` to a synced temporary file beside `path` (`.<file>.<pid>.<n>.tmp`), hands it
/// to `place`, removes it if placing failed, and syncs the directory.
fn place_atomic(
    path: &Path,
    bytes: &[u8],
    place: impl FnOnce(&Path) -> std::io::Result<bool>,
) -> Result<bool> {
    let io = |p: &Path, e: std::io::Error| ExperimentError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        place(&tmp)
    })();
    match result {
        Ok(placed) => {
            sync_dir(&dir).map_err(|e| io(&dir, e))?;
            Ok(placed)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io(path, e))
        }
    }
}

/// Makes a rename in `dir` durable (fsync of the directory). File systems that cannot sync a
/// directory (`EINVAL`, unsupported) are accepted as they are.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        match fs::File::open(dir).and_then(|d| d.sync_all()) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `value` as pretty JSON (with a final newline) to `path` atomically.
///
/// # Errors
/// As [`write_atomic`].
pub fn write_json_atomic(path: &Path, value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| ExperimentError::Json {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads and parses a JSON file.
///
/// # Errors
/// [`ExperimentError::Io`] when it cannot be read, [`ExperimentError::Json`] (with line and
/// column) when it is not JSON or an object repeats a key ([`crate::strict_json`]).
pub fn read_json(path: &Path) -> Result<Value> {
    parse_json(path, &read_text(path)?)
}

/// Reads a UTF-8 text file.
///
/// # Errors
/// [`ExperimentError::Io`] when it cannot be read.
pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| ExperimentError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Parses JSON text by [`crate::strict_json`]; `path` names it in the error.
///
/// # Errors
/// [`ExperimentError::Json`] (with line and column) when it is not JSON or an object repeats a
/// key.
pub fn parse_json(path: &Path, text: &str) -> Result<Value> {
    crate::strict_json::parse(text).map_err(|e| ExperimentError::Json {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// A serde Serializer producing serde_json::Value with explicit non-finite floats.

/// Error of [`ValueSerializer`].
#[derive(Debug)]
struct SerError(String);

impl std::fmt::Display for SerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

struct ValueSerializer;

type R = std::result::Result<Value, SerError>;

struct SeqBuilder {
    items: Vec<Value>,
    variant: Option<&'static str>,
}

struct MapBuilder {
    map: Map<String, Value>,
    next_key: Option<String>,
    variant: Option<&'static str>,
}

fn wrap_variant(variant: Option<&'static str>, v: Value) -> Value {
    match variant {
        Some(name) => {
            let mut m = Map::new();
            m.insert(name.to_string(), v);
            Value::Object(m)
        }
        None => v,
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> R {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> R {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        Ok(Value::from(v))
    }
    fn serialize_u8(self, v: u8) -> R {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> R {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        Ok(Value::from(v))
    }
    fn serialize_f32(self, v: f32) -> R {
        Ok(float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> R {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> R {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> R {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        Ok(Value::Array(v.iter().map(|b| Value::from(*b)).collect()))
    }
    fn serialize_none(self) -> R {
        Ok(Value::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> R {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> R {
        Ok(wrap_variant(Some(variant), value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> std::result::Result<SeqBuilder, SerError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> std::result::Result<SeqBuilder, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> std::result::Result<SeqBuilder, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> std::result::Result<SeqBuilder, SerError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len),
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> std::result::Result<MapBuilder, SerError> {
        Ok(MapBuilder {
            map: Map::new(),
            next_key: None,
            variant: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> std::result::Result<MapBuilder, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> std::result::Result<MapBuilder, SerError> {
        Ok(MapBuilder {
            map: Map::new(),
            next_key: None,
            variant: Some(variant),
        })
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> R {
        Ok(wrap_variant(self.variant, Value::Array(self.items)))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for SeqBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

/// Map keys must become strings.
struct KeySerializer;

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = SerError;
    type SerializeSeq = Impossible<String, SerError>;
    type SerializeTuple = Impossible<String, SerError>;
    type SerializeTupleStruct = Impossible<String, SerError>;
    type SerializeTupleVariant = Impossible<String, SerError>;
    type SerializeMap = Impossible<String, SerError>;
    type SerializeStruct = Impossible<String, SerError>;
    type SerializeStructVariant = Impossible<String, SerError>;

    fn serialize_bool(self, v: bool) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_f64(self, v: f64) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> std::result::Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_bytes(self, _v: &[u8]) -> std::result::Result<String, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_none(self) -> std::result::Result<String, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_some<T: ?Sized + Serialize>(
        self,
        value: &T,
    ) -> std::result::Result<String, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> std::result::Result<String, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_unit_struct(self, _: &'static str) -> std::result::Result<String, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> std::result::Result<String, SerError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> std::result::Result<String, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<String, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_seq(self, _: Option<usize>) -> std::result::Result<Self::SerializeSeq, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_map(self, _: Option<usize>) -> std::result::Result<Self::SerializeMap, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, SerError> {
        Err(SerError("map key must be a string".into()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, SerError> {
        Err(SerError("map key must be a string".into()))
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_key<T: ?Sized + Serialize>(
        &mut self,
        key: &T,
    ) -> std::result::Result<(), SerError> {
        self.next_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        let key = self
            .next_key
            .take()
            .ok_or_else(|| SerError("map value without a key".into()))?;
        self.map.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> R {
        Ok(wrap_variant(self.variant, Value::Object(self.map)))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        self.map
            .insert(key.to_string(), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> R {
        ser::SerializeMap::end(self)
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> std::result::Result<(), SerError> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> R {
        ser::SerializeMap::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct S {
        a: f64,
        b: Vec<f64>,
        c: Option<f64>,
        #[serde(rename = "d_x")]
        d: std::collections::BTreeMap<u32, f64>,
        e: E,
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum E {
        Certified { epsilon: f64 },
    }

    #[test]
    fn non_finite_floats_are_explicit() {
        let s = S {
            a: f64::NAN,
            b: vec![1.5, f64::INFINITY, f64::NEG_INFINITY],
            c: None,
            d: [(3, 0.5)].into_iter().collect(),
            e: E::Certified { epsilon: 1.0 },
        };
        let v = to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({"a": null, "b": [1.5, "inf", "-inf"], "c": null, "d_x": {"3": 0.5},
                   "e": {"kind": "certified", "epsilon": 1.0}})
        );
        assert_eq!(number(&v["b"][1]), Some(f64::INFINITY));
        assert_eq!(number(&v["b"][0]), Some(1.5));
        assert_eq!(number(&v["a"]), None);
    }

    #[test]
    fn hash_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"x": 1, "y": {"b": 2, "a": 3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y": {"a": 3, "b": 2}, "x": 1}"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&json!({"x": 2})));
    }
}
