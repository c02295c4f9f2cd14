//! AMF3, the encoding Flash Player 9+ uses inside AMF0 (marker 0x11) and in AMF3 command and
//! data messages (types 17 and 15).
//!
//! AMF3 saves space with three reference tables, kept per message: strings, object traits
//! (class name and sealed member names), and complex values (objects, arrays, dates, XML, byte
//! arrays, vectors, dictionaries). [`Amf3Reader`] implements all three and resolves every
//! reference into a copy of the earlier value, so the result is a plain owned tree;
//! [`Amf3Writer`] emits string and traits references for repeats (never object references:
//! an owned tree has no shared identity to preserve).
//!
//! Copies made by references are charged to the reader's [`AmfLimits`] like any other value
//! (plus [`AmfLimits::max_expanded_bytes`] for the bytes they copy), a copy may not nest deeper
//! than `max_depth` either, and a reference to a value that is still being decoded (a cyclic
//! graph, which an owned tree cannot hold) is rejected with [`AmfError::CyclicReference`].
//!
//! The value types and the U29 integer coding both directions share are here; the reader
//! and the writer live in the private `reader` and `writer` submodules and are re-exported.
//!
//! [`AmfLimits`]: crate::protocol::amf::AmfLimits
//! [`AmfLimits::max_expanded_bytes`]: crate::protocol::amf::AmfLimits::max_expanded_bytes

use crate::protocol::amf::{AmfError, Cursor};

mod reader;
mod writer;

pub(crate) use reader::read_embedded;
pub use reader::{decode_all, Amf3Reader};
pub use writer::{encode, Amf3Writer};

const UNDEFINED: u8 = 0x00;
const NULL: u8 = 0x01;
const FALSE: u8 = 0x02;
const TRUE: u8 = 0x03;
const INTEGER: u8 = 0x04;
const DOUBLE: u8 = 0x05;
const STRING: u8 = 0x06;
const XML_DOCUMENT: u8 = 0x07;
const DATE: u8 = 0x08;
const ARRAY: u8 = 0x09;
const OBJECT: u8 = 0x0a;
const XML: u8 = 0x0b;
const BYTE_ARRAY: u8 = 0x0c;
const VECTOR_INT: u8 = 0x0d;
const VECTOR_UINT: u8 = 0x0e;
const VECTOR_DOUBLE: u8 = 0x0f;
const VECTOR_OBJECT: u8 = 0x10;
const DICTIONARY: u8 = 0x11;

/// Smallest value of [`Amf3Value::Integer`] that is written as an AMF3 integer (-2^28).
pub const INTEGER_MIN: i32 = -(1 << 28);
/// Largest value of [`Amf3Value::Integer`] that is written as an AMF3 integer (2^28 - 1).
pub const INTEGER_MAX: i32 = (1 << 28) - 1;

const U29_MASK: u32 = (1 << 29) - 1;

/// Externalizable classes whose external form is exactly one AMF3 value (Flex's wrappers
/// around an array or object), so they can be decoded without knowing the class. Any other
/// externalizable class is rejected with [`AmfError::Externalizable`].
pub const SINGLE_VALUE_EXTERNALIZABLE: [&str; 3] = [
    "flex.messaging.io.ArrayCollection",
    "flex.messaging.io.ArrayList",
    "flex.messaging.io.ObjectProxy",
];

/// One AMF3 value, as an owned tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf3Value {
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// `false`.
    False,
    /// `true`.
    True,
    /// A 29-bit signed integer; outside [`INTEGER_MIN`]..=[`INTEGER_MAX`] it is written as a
    /// `Double`.
    Integer(i32),
    /// IEEE 754 double.
    Double(f64),
    /// A string.
    String(String),
    /// A legacy `flash.xml.XMLDocument`, as text.
    XmlDocument(String),
    /// Milliseconds since the Unix epoch (UTC).
    Date(f64),
    /// An ActionScript `Array`: associative part (in wire order, keys never empty) and dense
    /// part.
    Array {
        /// Named entries; an entry with an empty key is not representable and is not written.
        assoc: Vec<(String, Amf3Value)>,
        /// Entries 0..n.
        dense: Vec<Amf3Value>,
    },
    /// An object, anonymous or typed.
    Object(Amf3Object),
    /// An E4X `XML` value, as text.
    Xml(String),
    /// A `flash.utils.ByteArray`.
    ByteArray(Vec<u8>),
    /// `Vector.<int>`.
    VectorInt {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// The items.
        items: Vec<i32>,
    },
    /// `Vector.<uint>`.
    VectorUInt {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// The items.
        items: Vec<u32>,
    },
    /// `Vector.<Number>`.
    VectorDouble {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// The items.
        items: Vec<f64>,
    },
    /// `Vector.<T>` for any other `T`.
    VectorObject {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// The item class name; `"*"` for any type.
        type_name: String,
        /// The items.
        items: Vec<Amf3Value>,
    },
    /// A `flash.utils.Dictionary`, whose keys may be any value.
    Dictionary {
        /// Whether the dictionary holds its keys weakly.
        weak_keys: bool,
        /// Entries in wire order.
        entries: Vec<(Amf3Value, Amf3Value)>,
    },
}

impl Amf3Value {
    /// The text of a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf3Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an `Integer` or `Double`: AMF3 picks between them by magnitude, readers
    /// should not care.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf3Value::Integer(i) => Some(f64::from(*i)),
            Amf3Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The value of `True` or `False`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf3Value::True => Some(true),
            Amf3Value::False => Some(false),
            _ => None,
        }
    }
}

impl From<bool> for Amf3Value {
    fn from(b: bool) -> Self {
        if b {
            Amf3Value::True
        } else {
            Amf3Value::False
        }
    }
}

impl From<&str> for Amf3Value {
    fn from(s: &str) -> Self {
        Amf3Value::String(s.to_owned())
    }
}

/// An AMF3 object: its traits (class name, dynamic flag, sealed member names) and values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Amf3Object {
    /// The registered class alias; `""` for an anonymous object.
    pub class_name: String,
    /// Whether the object may carry `dynamic_props`. Written as set if `dynamic_props` is not
    /// empty, so no property is ever dropped.
    pub dynamic: bool,
    /// The sealed members, names and values in traits order.
    pub sealed: Vec<(String, Amf3Value)>,
    /// Dynamic members in wire order; keys are never empty (an empty key ends the list on the
    /// wire, so such a property is not written).
    pub dynamic_props: Vec<(String, Amf3Value)>,
    /// For an externalizable class: its external form, which we only know how to read for the
    /// [`SINGLE_VALUE_EXTERNALIZABLE`] classes (one AMF3 value). When set, `dynamic`, `sealed`
    /// and `dynamic_props` are ignored by the writer.
    pub externalizable: Option<Box<Amf3Value>>,
}

impl Amf3Object {
    /// The first sealed or dynamic member named `key`.
    pub fn get(&self, key: &str) -> Option<&Amf3Value> {
        self.sealed
            .iter()
            .chain(&self.dynamic_props)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// Reads a U29: 1 to 4 bytes, 7 bits from each of the first three (high bit = more follows),
/// all 8 from the fourth.
pub(crate) fn read_u29(cur: &mut Cursor<'_>) -> Result<u32, AmfError> {
    let mut value = 0u32;
    for _ in 0..3 {
        let byte = cur.read_u8()?;
        if byte & 0x80 == 0 {
            return Ok((value << 7) | u32::from(byte));
        }
        value = (value << 7) | u32::from(byte & 0x7f);
    }
    let byte = cur.read_u8()?;
    Ok((value << 8) | u32::from(byte))
}

/// Writes the low 29 bits of `value` as a U29 in its shortest form.
pub(crate) fn write_u29(value: u32, out: &mut Vec<u8>) {
    let v = value & U29_MASK;
    match v {
        0..=0x7f => out.push(v as u8),
        0x80..=0x3fff => out.extend_from_slice(&[(v >> 7) as u8 | 0x80, (v & 0x7f) as u8]),
        0x4000..=0x1f_ffff => out.extend_from_slice(&[
            (v >> 14) as u8 | 0x80,
            ((v >> 7) & 0x7f) as u8 | 0x80,
            (v & 0x7f) as u8,
        ]),
        _ => out.extend_from_slice(&[
            (v >> 22) as u8 | 0x80,
            ((v >> 15) & 0x7f) as u8 | 0x80,
            ((v >> 8) & 0x7f) as u8 | 0x80,
            v as u8,
        ]),
    }
}

#[cfg(test)]
pub(crate) mod tests;
