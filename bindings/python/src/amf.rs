//! AMF0 values to and from Python objects (metadata and connect objects).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use rtmp_core::protocol::amf0::Amf0Value;

/// Objects, ECMA arrays and typed objects become dicts, strict arrays lists, numbers
/// floats, dates their milliseconds, null/undefined/references None.
pub fn to_python(py: Python<'_>, value: &Amf0Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Amf0Value::Number(n) => n.into_pyobject(py)?.into_any().unbind(),
        Amf0Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Amf0Value::String(s) | Amf0Value::LongString(s) | Amf0Value::XmlDocument(s) => {
            PyString::new(py, s).into_any().unbind()
        }
        Amf0Value::Object(props)
        | Amf0Value::EcmaArray(props)
        | Amf0Value::TypedObject {
            properties: props, ..
        } => properties_to_dict(py, props)?.into_any().unbind(),
        Amf0Value::StrictArray(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Amf0Value::Date { millis, .. } => millis.into_pyobject(py)?.into_any().unbind(),
        _ => py.None(),
    })
}

/// A property list as a dict (later duplicates win, as in ActionScript).
pub fn properties_to_dict<'py>(
    py: Python<'py>,
    props: &[(String, Amf0Value)],
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in props {
        dict.set_item(key, to_python(py, value)?)?;
    }
    Ok(dict)
}

/// Python to AMF0: dict -> ECMA array (what onMetaData carries), list/tuple -> strict
/// array, bool, int/float -> number, str, None -> null.
pub fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Amf0Value> {
    if value.is_none() {
        Ok(Amf0Value::Null)
    } else if let Ok(b) = value.cast::<PyBool>() {
        Ok(Amf0Value::Boolean(b.is_true()))
    } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        Ok(Amf0Value::Number(value.extract::<f64>()?))
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(Amf0Value::String(s.to_cow()?.into_owned()))
    } else if let Ok(dict) = value.cast::<PyDict>() {
        let mut props = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            props.push((k.extract::<String>()?, from_python(&v)?));
        }
        Ok(Amf0Value::EcmaArray(props))
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in value.try_iter()? {
            items.push(from_python(&item?)?);
        }
        Ok(Amf0Value::StrictArray(items))
    } else {
        Err(PyTypeError::new_err(format!(
            "cannot send {} as AMF0 (use dict, list, str, int, float, bool or None)",
            value.get_type().name()?
        )))
    }
}
