//! Result-file JSON values as Python objects, built in Rust (no JSON text in between).
//!
//! lethe's JSON writer ([`lethe_experiments::json::to_value`]) writes +∞/−∞ as the strings
//! `"inf"`/`"-inf"` and NaN as null; here they become `float('inf')`, `float('-inf')` and
//! `None`, as `lethe._certificate._floats` makes them on the Python side. Building the objects
//! directly spares `remove` a `json.dumps`/`json.loads` round trip and a pass of `_floats`
//! (about a third of its Python overhead on MNIST).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

/// The Python object of `v`: None, bool, int, float, str, list or dict.
pub fn to_python<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) if s == "inf" => f64::INFINITY.into_pyobject(py)?.into_any(),
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY.into_pyobject(py)?.into_any(),
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
