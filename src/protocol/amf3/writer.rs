//! The AMF3 writer: [`Amf3Writer`] and [`encode`].

use std::collections::HashMap;

use super::{
    write_u29, Amf3Object, Amf3Value, ARRAY, BYTE_ARRAY, DATE, DICTIONARY, DOUBLE, FALSE, INTEGER,
    INTEGER_MAX, INTEGER_MIN, NULL, OBJECT, STRING, TRUE, U29_MASK, UNDEFINED, VECTOR_DOUBLE,
    VECTOR_INT, VECTOR_OBJECT, VECTOR_UINT, XML, XML_DOCUMENT,
};

/// Largest length, count or table index a U29 with one flag bit carries.
const MAX_LEN: usize = (1 << 28) - 1;
/// Largest string or object table index a U29 with one flag bit carries.
const MAX_STRING_INDEX: u32 = (1 << 28) - 1;
/// Largest traits index a U29 with two flag bits carries.
const MAX_TRAITS_INDEX: u32 = (1 << 27) - 1;
/// Largest sealed member count a U29 with four flag bits carries.
const MAX_SEALED: usize = (1 << 25) - 1;

/// Appends the encoding of `value` to `out`, with fresh tables.
///
/// See [`Amf3Writer::write_value`] for what cannot be represented.
pub fn encode(value: &Amf3Value, out: &mut Vec<u8>) {
    Amf3Writer::new().write_value(value, out);
}

/// Identity of a traits table entry on the writing side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TraitsKey {
    class_name: String,
    dynamic: bool,
    externalizable: bool,
    sealed: Vec<String>,
}

/// Writes consecutive AMF3 values of one message, keeping the string and traits tables across
/// them so repeated strings and repeated traits are sent as references.
#[derive(Debug, Clone)]
pub struct Amf3Writer {
    strings: HashMap<String, u32>,
    next_string: u32,
    traits: HashMap<TraitsKey, u32>,
    next_traits: u32,
    /// Longest string, byte array or sequence the format can carry; lowered by tests.
    max_len: usize,
}

impl Default for Amf3Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Amf3Writer {
    /// A writer with empty tables.
    pub fn new() -> Self {
        Amf3Writer {
            strings: HashMap::new(),
            next_string: 0,
            traits: HashMap::new(),
            next_traits: 0,
            max_len: MAX_LEN,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_max_len(max_len: usize) -> Self {
        Amf3Writer {
            max_len,
            ..Self::new()
        }
    }

    /// Appends the encoding of `value` to `out`.
    ///
    /// What AMF3 cannot represent is handled without corrupting the stream:
    /// - an `Integer` outside [`INTEGER_MIN`]..=[`INTEGER_MAX`] is written as a `Double`;
    /// - a string, XML, byte array, vector, array or dictionary longer than 2^28 - 1 bytes or
    ///   items is written as `Undefined`, and so is an object whose class name or a sealed
    ///   member name is that long, or that has more than 2^25 - 1 sealed members;
    /// - an associative-array entry or dynamic property whose key is empty or that long is
    ///   skipped (an empty key terminates the list on the wire).
    ///
    /// Encoding recurses once per nesting level of `value`, which is the caller's own data.
    pub fn write_value(&mut self, value: &Amf3Value, out: &mut Vec<u8>) {
        match value {
            Amf3Value::Undefined => out.push(UNDEFINED),
            Amf3Value::Null => out.push(NULL),
            Amf3Value::False => out.push(FALSE),
            Amf3Value::True => out.push(TRUE),
            Amf3Value::Integer(i) => {
                if (INTEGER_MIN..=INTEGER_MAX).contains(i) {
                    out.push(INTEGER);
                    // Two's complement truncated to 29 bits.
                    write_u29(*i as u32, out);
                } else {
                    out.push(DOUBLE);
                    out.extend_from_slice(&f64::from(*i).to_be_bytes());
                }
            }
            Amf3Value::Double(d) => {
                out.push(DOUBLE);
                out.extend_from_slice(&d.to_be_bytes());
            }
            Amf3Value::String(s) if self.fits(s.len()) => {
                out.push(STRING);
                self.write_text(s, out);
            }
            Amf3Value::XmlDocument(s) if self.fits(s.len()) => {
                write_bytes(XML_DOCUMENT, s.as_bytes(), out);
            }
            Amf3Value::Xml(s) if self.fits(s.len()) => write_bytes(XML, s.as_bytes(), out),
            Amf3Value::ByteArray(b) if self.fits(b.len()) => {
                write_bytes(BYTE_ARRAY, b, out);
            }
            Amf3Value::Date(millis) => {
                out.extend_from_slice(&[DATE, 0x01]);
                out.extend_from_slice(&millis.to_be_bytes());
            }
            Amf3Value::Array { assoc, dense } if self.fits(dense.len()) => {
                out.push(ARRAY);
                write_u29(inline_len(dense.len()), out);
                self.write_props(assoc, out);
                for item in dense {
                    self.write_value(item, out);
                }
            }
            Amf3Value::Object(object) => self.write_object(object, out),
            Amf3Value::VectorInt { fixed, items } if self.fits(items.len()) => {
                vector_header(VECTOR_INT, items.len(), *fixed, out);
                out.extend(items.iter().flat_map(|i| i.to_be_bytes()));
            }
            Amf3Value::VectorUInt { fixed, items } if self.fits(items.len()) => {
                vector_header(VECTOR_UINT, items.len(), *fixed, out);
                out.extend(items.iter().flat_map(|i| i.to_be_bytes()));
            }
            Amf3Value::VectorDouble { fixed, items } if self.fits(items.len()) => {
                vector_header(VECTOR_DOUBLE, items.len(), *fixed, out);
                out.extend(items.iter().flat_map(|d| d.to_be_bytes()));
            }
            Amf3Value::VectorObject {
                fixed,
                type_name,
                items,
            } if self.fits(items.len()) && self.fits(type_name.len()) => {
                vector_header(VECTOR_OBJECT, items.len(), *fixed, out);
                self.write_text(type_name, out);
                for item in items {
                    self.write_value(item, out);
                }
            }
            Amf3Value::Dictionary { weak_keys, entries } if self.fits(entries.len()) => {
                vector_header(DICTIONARY, entries.len(), *weak_keys, out);
                for (key, value) in entries {
                    self.write_value(key, out);
                    self.write_value(value, out);
                }
            }
            // Whatever is too long for a U29 length.
            _ => out.push(UNDEFINED),
        }
    }

    fn fits(&self, len: usize) -> bool {
        len <= self.max_len
    }

    /// Writes a UTF-8-vr: a reference if `s` was written before, else inline (extending the
    /// table exactly as the reader will). The empty string is never a reference.
    fn write_text(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            out.push(0x01);
            return;
        }
        if let Some(&index) = self.strings.get(s) {
            write_u29(index << 1, out);
            return;
        }
        write_u29(inline_len(s.len()), out);
        out.extend_from_slice(s.as_bytes());
        let index = self.next_string;
        self.next_string = index.saturating_add(1);
        if index <= MAX_STRING_INDEX {
            self.strings.insert(s.to_owned(), index);
        }
    }

    /// Writes `key, value` pairs and the empty-string terminator, skipping keys that cannot be
    /// represented.
    fn write_props(&mut self, props: &[(String, Amf3Value)], out: &mut Vec<u8>) {
        for (key, value) in props {
            if !key.is_empty() && self.fits(key.len()) {
                self.write_text(key, out);
                self.write_value(value, out);
            }
        }
        out.push(0x01);
    }

    fn write_object(&mut self, object: &Amf3Object, out: &mut Vec<u8>) {
        let externalizable = object.externalizable.is_some();
        let sealed: &[(String, Amf3Value)] = if externalizable { &[] } else { &object.sealed };
        let representable = self.fits(object.class_name.len())
            && sealed.len() <= MAX_SEALED
            && sealed.iter().all(|(name, _)| self.fits(name.len()));
        if !representable {
            out.push(UNDEFINED);
            return;
        }
        let dynamic = !externalizable && (object.dynamic || !object.dynamic_props.is_empty());
        let key = TraitsKey {
            class_name: object.class_name.clone(),
            dynamic,
            externalizable,
            sealed: sealed.iter().map(|(name, _)| name.clone()).collect(),
        };
        out.push(OBJECT);
        if let Some(&index) = self.traits.get(&key) {
            write_u29((index << 2) | 0b01, out);
        } else {
            let flags = if externalizable {
                0b0111
            } else {
                let count = u32::try_from(sealed.len()).unwrap_or(0);
                (count << 4) | (u32::from(dynamic) << 3) | 0b0011
            };
            write_u29(flags, out);
            self.write_text(&object.class_name, out);
            for (name, _) in sealed {
                self.write_text(name, out);
            }
            let index = self.next_traits;
            self.next_traits = index.saturating_add(1);
            if index <= MAX_TRAITS_INDEX {
                self.traits.insert(key, index);
            }
        }
        if let Some(inner) = &object.externalizable {
            self.write_value(inner, out);
            return;
        }
        for (_, value) in sealed {
            self.write_value(value, out);
        }
        if dynamic {
            self.write_props(&object.dynamic_props, out);
        }
    }
}

/// The U29 of an inline length: `len << 1 | 1`; the caller has checked `len` fits.
fn inline_len(len: usize) -> u32 {
    u32::try_from(len).map_or(U29_MASK, |len| (len << 1) | 1)
}

fn write_bytes(marker: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(marker);
    write_u29(inline_len(bytes.len()), out);
    out.extend_from_slice(bytes);
}

fn vector_header(marker: u8, len: usize, flag: bool, out: &mut Vec<u8>) {
    out.push(marker);
    write_u29(inline_len(len), out);
    out.push(u8::from(flag));
}
