//! AMF0, the encoding of RTMP command messages (type 20) and data messages such as
//! `@setDataFrame`/`onMetaData` (type 18).
//!
//! A message body is a run of consecutive values: read them with [`Amf0Reader`] (or
//! [`decode_all`]) and write them with [`encode`] / [`encode_all`].
//!
//! ```
//! use rtmp_core::protocol::amf::AmfLimits;
//! use rtmp_core::protocol::amf0::{self, Amf0Value};
//!
//! let command = [
//!     Amf0Value::from("connect"),
//!     Amf0Value::from(1.0),
//!     Amf0Value::object([("app", Amf0Value::from("live"))]),
//! ];
//! let mut body = Vec::new();
//! amf0::encode_all(&command, &mut body);
//!
//! let values = amf0::decode_all(&body, AmfLimits::default()).unwrap();
//! assert_eq!(values[0].as_str(), Some("connect"));
//! assert_eq!(values[2].get("app").and_then(Amf0Value::as_str), Some("live"));
//! ```
//!
//! Decoding is lenient where real peers are sloppy and strict where sloppiness would cost
//! memory: strings that are not UTF-8 are decoded lossily (encoders put Latin-1 in metadata),
//! an ECMA array's count is only a hint (peers get it wrong; the object-end marker decides), and
//! every length or count is checked against the bytes actually present before anything is
//! allocated for it.

use crate::protocol::amf::{self, AmfError, AmfLimits, Budget, Cursor};
use crate::protocol::amf3::{self, Amf3Value};

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const MOVIECLIP: u8 = 0x04;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const REFERENCE: u8 = 0x07;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0a;
const DATE: u8 = 0x0b;
const LONG_STRING: u8 = 0x0c;
const UNSUPPORTED: u8 = 0x0d;
const RECORDSET: u8 = 0x0e;
const XML_DOCUMENT: u8 = 0x0f;
const TYPED_OBJECT: u8 = 0x10;
const AVMPLUS: u8 = 0x11;

/// One AMF0 value, as an owned tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// IEEE 754 double; AMF0's only numeric type.
    Number(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// A string; written as a long string when it exceeds 65535 bytes.
    String(String),
    /// An anonymous object; property order is preserved.
    Object(Vec<(String, Amf0Value)>),
    /// `null`.
    Null,
    /// `undefined`.
    Undefined,
    /// A reference to the n-th object, typed object, ECMA array or strict array of the message,
    /// kept as an index: RTMP peers practically never send them and resolving would allow
    /// cycles.
    Reference(u16),
    /// An associative array; written with its entry count, decoded until the object-end marker.
    EcmaArray(Vec<(String, Amf0Value)>),
    /// A dense array.
    StrictArray(Vec<Amf0Value>),
    /// Milliseconds since the Unix epoch (UTC); `time_zone` is reserved and should be 0.
    Date {
        /// Milliseconds since 1970-01-01T00:00:00Z.
        millis: f64,
        /// Reserved by the specification; kept to round-trip exactly.
        time_zone: i16,
    },
    /// A string explicitly written with a 32-bit length, whatever its size.
    LongString(String),
    /// The marker a Flash player writes for values it cannot serialize.
    Unsupported,
    /// A legacy XML document, as text.
    XmlDocument(String),
    /// An object with a registered class name.
    TypedObject {
        /// The ActionScript class alias.
        class_name: String,
        /// Properties in wire order.
        properties: Vec<(String, Amf0Value)>,
    },
    /// One AMF3 value (marker 0x11, the "AVM+" switch), decoded with fresh AMF3 tables.
    AvmPlus(Amf3Value),
}

impl Amf0Value {
    /// The text of a `String` or `LongString`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a `Number`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a `Boolean`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The properties of an `Object`, `EcmaArray` or `TypedObject`: commands carry their
    /// arguments in whichever of the three the peer chose.
    pub fn properties(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(props)
            | Amf0Value::EcmaArray(props)
            | Amf0Value::TypedObject {
                properties: props, ..
            } => Some(props),
            _ => None,
        }
    }

    /// The first property named `key` of an `Object`, `EcmaArray` or `TypedObject`.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether this is `Null` or `Undefined`, which peers use interchangeably for "absent".
    pub fn is_null_or_undefined(&self) -> bool {
        matches!(self, Amf0Value::Null | Amf0Value::Undefined)
    }

    /// An anonymous `Object` from `(key, value)` pairs, in order.
    pub fn object<I, K>(props: I) -> Amf0Value
    where
        I: IntoIterator<Item = (K, Amf0Value)>,
        K: Into<String>,
    {
        Amf0Value::Object(props.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for Amf0Value {
    fn from(s: &str) -> Self {
        Amf0Value::String(s.to_owned())
    }
}

impl From<String> for Amf0Value {
    fn from(s: String) -> Self {
        Amf0Value::String(s)
    }
}

impl From<f64> for Amf0Value {
    fn from(n: f64) -> Self {
        Amf0Value::Number(n)
    }
}

impl From<bool> for Amf0Value {
    fn from(b: bool) -> Self {
        Amf0Value::Boolean(b)
    }
}

/// Cursor over a buffer of consecutive AMF0 values (a command message body is one).
///
/// The [`AmfLimits`] apply to everything the reader decodes over its life, so a message cannot
/// escape them by splitting its payload across many top-level values. After an error the
/// reader's position is unspecified: drop it with the message.
#[derive(Debug, Clone)]
pub struct Amf0Reader<'a> {
    cur: Cursor<'a>,
    limits: AmfLimits,
    budget: Budget,
    /// Objects, typed objects, ECMA arrays and strict arrays begun so far: the AMF0 reference
    /// table's size, against which references are checked.
    complex_seen: usize,
}

impl<'a> Amf0Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8], limits: AmfLimits) -> Self {
        Amf0Reader {
            cur: Cursor::new(buf, 0),
            limits,
            budget: Budget::default(),
            complex_seen: 0,
        }
    }

    /// Decodes the next value.
    pub fn read_value(&mut self) -> Result<Amf0Value, AmfError> {
        self.read(0)
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.cur.remaining() == 0
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.cur.pos
    }

    /// The bytes not consumed yet (e.g. raw media after a data message's AMF part).
    pub fn remaining(&self) -> &'a [u8] {
        self.cur.rest()
    }

    fn read(&mut self, depth: usize) -> Result<Amf0Value, AmfError> {
        let marker = self.cur.read_u8()?;
        self.budget.element(&self.limits)?;
        Ok(match marker {
            NUMBER => Amf0Value::Number(self.cur.read_f64()?),
            BOOLEAN => Amf0Value::Boolean(self.cur.read_u8()? != 0),
            STRING => Amf0Value::String(self.read_utf8()?),
            OBJECT => {
                let inner = self.begin_complex(depth)?;
                Amf0Value::Object(self.read_properties(inner, 0)?)
            }
            NULL => Amf0Value::Null,
            UNDEFINED => Amf0Value::Undefined,
            REFERENCE => {
                let index = self.cur.read_u16()?;
                if usize::from(index) >= self.complex_seen {
                    return Err(AmfError::InvalidReference(u32::from(index)));
                }
                Amf0Value::Reference(index)
            }
            ECMA_ARRAY => {
                let inner = self.begin_complex(depth)?;
                let hint = amf::to_usize(self.cur.read_u32()?)?;
                Amf0Value::EcmaArray(self.read_properties(inner, hint)?)
            }
            OBJECT_END => return Err(AmfError::UnexpectedObjectEnd),
            STRICT_ARRAY => {
                let inner = self.begin_complex(depth)?;
                let count = amf::to_usize(self.cur.read_u32()?)?;
                let capacity = amf::capacity_for(
                    count,
                    self.cur.remaining(),
                    1,
                    self.budget.elements_left(&self.limits),
                );
                let mut items = Vec::with_capacity(capacity);
                for _ in 0..count {
                    items.push(self.read(inner)?);
                }
                Amf0Value::StrictArray(items)
            }
            DATE => {
                let millis = self.cur.read_f64()?;
                let time_zone = self.cur.read_i16()?;
                Amf0Value::Date { millis, time_zone }
            }
            LONG_STRING => Amf0Value::LongString(self.read_utf8_long()?),
            UNSUPPORTED => Amf0Value::Unsupported,
            XML_DOCUMENT => Amf0Value::XmlDocument(self.read_utf8_long()?),
            TYPED_OBJECT => {
                let inner = self.begin_complex(depth)?;
                let class_name = self.read_utf8()?;
                let properties = self.read_properties(inner, 0)?;
                Amf0Value::TypedObject {
                    class_name,
                    properties,
                }
            }
            AVMPLUS => {
                let (value, pos) = amf3::read_embedded(
                    self.cur.buf,
                    self.cur.pos,
                    self.limits,
                    &mut self.budget,
                    depth,
                )?;
                self.cur.pos = pos;
                Amf0Value::AvmPlus(value)
            }
            MOVIECLIP | RECORDSET => return Err(AmfError::UnsupportedMarker(marker)),
            other => return Err(AmfError::UnknownMarker(other)),
        })
    }

    /// Checks the depth for a container at `depth`, records it in the reference table, and
    /// returns the depth of its children.
    fn begin_complex(&mut self, depth: usize) -> Result<usize, AmfError> {
        let inner = amf::enter(depth, &self.limits)?;
        self.complex_seen = self.complex_seen.saturating_add(1);
        Ok(inner)
    }

    /// Reads `key, value` pairs up to the object-end marker (an empty key followed by 0x09).
    /// An empty key followed by anything else is an ordinary property named "".
    fn read_properties(
        &mut self,
        depth: usize,
        hint: usize,
    ) -> Result<Vec<(String, Amf0Value)>, AmfError> {
        // Smallest property: 2-byte key length + 1-byte marker.
        let capacity = amf::capacity_for(
            hint,
            self.cur.remaining(),
            3,
            self.budget.elements_left(&self.limits),
        );
        let mut props = Vec::with_capacity(capacity);
        loop {
            let key = self.read_utf8()?;
            if key.is_empty() && self.cur.peek_u8() == Some(OBJECT_END) {
                self.cur.pos += 1;
                return Ok(props);
            }
            let value = self.read(depth)?;
            props.push((key, value));
        }
    }

    fn read_utf8(&mut self) -> Result<String, AmfError> {
        let len = self.cur.read_u16()?;
        Ok(amf::text(self.cur.take(usize::from(len))?))
    }

    fn read_utf8_long(&mut self) -> Result<String, AmfError> {
        let len = amf::to_usize(self.cur.read_u32()?)?;
        Ok(amf::text(self.cur.take(len)?))
    }
}

/// Decodes every value in `buf`, e.g. a whole command message body. The limits apply to the
/// buffer as a whole.
pub fn decode_all(buf: &[u8], limits: AmfLimits) -> Result<Vec<Amf0Value>, AmfError> {
    let mut reader = Amf0Reader::new(buf, limits);
    let mut values = Vec::new();
    while !reader.is_empty() {
        values.push(reader.read_value()?);
    }
    Ok(values)
}

/// Appends the encoding of `value` to `out`.
///
/// Everything a value can hold is written, except what AMF0 cannot represent at all:
/// - a `String` longer than 65535 bytes is written as a long string (decodes as `LongString`);
/// - a property whose key is longer than 65535 bytes is skipped (keys have a 16-bit length and
///   a cut key would silently become another key); an ECMA array's count counts only the
///   properties written;
/// - a `TypedObject` whose class name is longer than 65535 bytes is written as an anonymous
///   object;
/// - a string, XML document or strict array longer than `u32::MAX` bytes or items is written
///   as `Undefined`.
///
/// Encoding recurses once per nesting level of `value`, which is the caller's own data.
pub fn encode(value: &Amf0Value, out: &mut Vec<u8>) {
    match value {
        Amf0Value::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => out.extend_from_slice(&[BOOLEAN, u8::from(*b)]),
        Amf0Value::String(s) => match u16::try_from(s.len()) {
            Ok(len) => {
                out.push(STRING);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Err(_) => write_long(LONG_STRING, s, out),
        },
        Amf0Value::Object(props) => {
            out.push(OBJECT);
            write_properties(props, out);
        }
        Amf0Value::Null => out.push(NULL),
        Amf0Value::Undefined => out.push(UNDEFINED),
        Amf0Value::Reference(index) => {
            out.push(REFERENCE);
            out.extend_from_slice(&index.to_be_bytes());
        }
        Amf0Value::EcmaArray(props) => {
            out.push(ECMA_ARRAY);
            let written = props.iter().filter(|(k, _)| key_fits(k)).count();
            let count = u32::try_from(written).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            write_properties(props, out);
        }
        Amf0Value::StrictArray(items) => match u32::try_from(items.len()) {
            Ok(count) => {
                out.push(STRICT_ARRAY);
                out.extend_from_slice(&count.to_be_bytes());
                for item in items {
                    encode(item, out);
                }
            }
            Err(_) => out.push(UNDEFINED),
        },
        Amf0Value::Date { millis, time_zone } => {
            out.push(DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&time_zone.to_be_bytes());
        }
        Amf0Value::LongString(s) => write_long(LONG_STRING, s, out),
        Amf0Value::Unsupported => out.push(UNSUPPORTED),
        Amf0Value::XmlDocument(s) => write_long(XML_DOCUMENT, s, out),
        Amf0Value::TypedObject {
            class_name,
            properties,
        } => {
            if key_fits(class_name) {
                out.push(TYPED_OBJECT);
                write_key(class_name, out);
            } else {
                out.push(OBJECT);
            }
            write_properties(properties, out);
        }
        Amf0Value::AvmPlus(value) => {
            out.push(AVMPLUS);
            amf3::encode(value, out);
        }
    }
}

/// Appends the encodings of `values`, one after another (e.g. a command's name, transaction
/// id and arguments).
pub fn encode_all<'v>(values: impl IntoIterator<Item = &'v Amf0Value>, out: &mut Vec<u8>) {
    for value in values {
        encode(value, out);
    }
}

fn key_fits(key: &str) -> bool {
    key.len() <= usize::from(u16::MAX)
}

/// Writes a 16-bit-length string; the caller has checked [`key_fits`].
fn write_key(key: &str, out: &mut Vec<u8>) {
    let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key.as_bytes());
}

fn write_long(marker: u8, s: &str, out: &mut Vec<u8>) {
    match u32::try_from(s.len()) {
        Ok(len) => {
            out.push(marker);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Err(_) => out.push(UNDEFINED),
    }
}

fn write_properties(props: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (key, value) in props.iter().filter(|(k, _)| key_fits(k)) {
        write_key(key, out);
        encode(value, out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

#[cfg(test)]
#[path = "amf0_tests.rs"]
mod tests;
