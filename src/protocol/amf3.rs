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

use std::collections::HashMap;

use crate::protocol::amf::{self, AmfError, AmfLimits, Budget, Cursor};

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
/// Largest length, count or table index a U29 with one flag bit carries.
const MAX_LEN: usize = (1 << 28) - 1;
/// Largest string or object table index a U29 with one flag bit carries.
const MAX_STRING_INDEX: u32 = (1 << 28) - 1;
/// Largest traits index a U29 with two flag bits carries.
const MAX_TRAITS_INDEX: u32 = (1 << 27) - 1;
/// Largest sealed member count a U29 with four flag bits carries.
const MAX_SEALED: usize = (1 << 25) - 1;

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

/// A string in the input: a byte range, and whether producing it copies data the peer sent
/// once (a reference, or anything read again while resolving a reference).
#[derive(Debug, Clone, Copy)]
struct Text {
    start: usize,
    end: usize,
    copied: bool,
}

impl Text {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// An entry of the traits table.
#[derive(Debug, Clone)]
struct Traits {
    class_name: Text,
    dynamic: bool,
    externalizable: bool,
    sealed: Vec<Text>,
}

/// An entry of the object table: where the value's definition starts, and whether it has
/// been decoded completely (a reference to an incomplete one is a cycle).
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: usize,
    complete: bool,
}

/// Cursor over a buffer of consecutive AMF3 values, keeping the string, traits and object
/// tables across the values of one message.
///
/// An object reference is resolved by decoding the referenced definition again from the
/// input (the tables hold positions, not values), so the copy is charged to the limits exactly
/// like the original, including its nesting depth. The [`AmfLimits`] apply to everything the
/// reader decodes over its life. After an error the reader's state is unspecified: drop it.
#[derive(Debug, Clone)]
pub struct Amf3Reader<'a> {
    cur: Cursor<'a>,
    limits: AmfLimits,
    budget: Budget,
    strings: Vec<Text>,
    traits: Vec<Traits>,
    objects: Vec<Slot>,
    /// Greater than 0 while decoding a referenced definition again: tables are not extended
    /// and everything produced counts as copied.
    replaying: usize,
}

impl<'a> Amf3Reader<'a> {
    /// A reader at the start of `buf`, with empty tables.
    pub fn new(buf: &'a [u8], limits: AmfLimits) -> Self {
        Self::at(buf, 0, limits, Budget::default())
    }

    fn at(buf: &'a [u8], pos: usize, limits: AmfLimits, budget: Budget) -> Self {
        Amf3Reader {
            cur: Cursor::new(buf, pos),
            limits,
            budget,
            strings: Vec::new(),
            traits: Vec::new(),
            objects: Vec::new(),
            replaying: 0,
        }
    }

    /// Decodes the next value.
    pub fn read_value(&mut self) -> Result<Amf3Value, AmfError> {
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

    /// The bytes not consumed yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.cur.rest()
    }

    fn read(&mut self, depth: usize) -> Result<Amf3Value, AmfError> {
        let start = self.cur.pos;
        let marker = self.cur.read_u8()?;
        self.budget.element(&self.limits)?;
        match marker {
            UNDEFINED => Ok(Amf3Value::Undefined),
            NULL => Ok(Amf3Value::Null),
            FALSE => Ok(Amf3Value::False),
            TRUE => Ok(Amf3Value::True),
            INTEGER => Ok(Amf3Value::Integer(i29(read_u29(&mut self.cur)?))),
            DOUBLE => Ok(Amf3Value::Double(self.cur.read_f64()?)),
            STRING => {
                let text = self.read_text()?;
                Ok(Amf3Value::String(self.string(text)?))
            }
            XML_DOCUMENT..=DICTIONARY => {
                // Every other type is complex: either a reference, or a definition that takes
                // the next object table index before its children are read.
                let header = read_u29(&mut self.cur)?;
                if header & 1 == 0 {
                    return self.resolve(header >> 1, depth);
                }
                let slot = self.define(start);
                let value = self.read_complex(marker, header >> 1, depth)?;
                self.complete(slot);
                Ok(value)
            }
            other => Err(AmfError::UnknownMarker(other)),
        }
    }

    /// Decodes the definition of object `index` again, at the referencing position's depth.
    fn resolve(&mut self, index: u32, depth: usize) -> Result<Amf3Value, AmfError> {
        let slot = lookup(&self.objects, index)?;
        if !slot.complete {
            return Err(AmfError::CyclicReference(index));
        }
        let resume = self.cur.pos;
        self.cur.pos = slot.start;
        self.replaying += 1;
        let value = self.read(depth);
        self.replaying -= 1;
        self.cur.pos = resume;
        value
    }

    /// Adds a complex value starting at `start` to the object table (unless replaying).
    fn define(&mut self, start: usize) -> Option<usize> {
        if self.replaying > 0 {
            return None;
        }
        self.objects.push(Slot {
            start,
            complete: false,
        });
        Some(self.objects.len() - 1)
    }

    fn complete(&mut self, slot: Option<usize>) {
        if let Some(slot) = slot.and_then(|i| self.objects.get_mut(i)) {
            slot.complete = true;
        }
    }

    /// Decodes the body of a complex value's definition; `bits` is its U29 header without the
    /// inline flag: a length, a count, or the object's traits flags.
    fn read_complex(&mut self, marker: u8, bits: u32, depth: usize) -> Result<Amf3Value, AmfError> {
        let count = amf::to_usize(bits)?;
        Ok(match marker {
            // The U29D header carries nothing but the inline flag.
            DATE => Amf3Value::Date(self.cur.read_f64()?),
            XML_DOCUMENT => Amf3Value::XmlDocument(amf::text(self.payload(count)?)),
            XML => Amf3Value::Xml(amf::text(self.payload(count)?)),
            BYTE_ARRAY => Amf3Value::ByteArray(self.payload(count)?.to_vec()),
            VECTOR_INT => {
                let (fixed, bytes) = self.number_vector(count, 4)?;
                let items = bytes.chunks_exact(4).map(|c| i32::from_be_bytes(array(c)));
                Amf3Value::VectorInt {
                    fixed,
                    items: items.collect(),
                }
            }
            VECTOR_UINT => {
                let (fixed, bytes) = self.number_vector(count, 4)?;
                let items = bytes.chunks_exact(4).map(|c| u32::from_be_bytes(array(c)));
                Amf3Value::VectorUInt {
                    fixed,
                    items: items.collect(),
                }
            }
            VECTOR_DOUBLE => {
                let (fixed, bytes) = self.number_vector(count, 8)?;
                let items = bytes.chunks_exact(8).map(|c| f64::from_be_bytes(array(c)));
                Amf3Value::VectorDouble {
                    fixed,
                    items: items.collect(),
                }
            }
            ARRAY => self.read_array(count, amf::enter(depth, &self.limits)?)?,
            OBJECT => self.read_object(bits, amf::enter(depth, &self.limits)?)?,
            VECTOR_OBJECT => {
                let inner = amf::enter(depth, &self.limits)?;
                let fixed = self.cur.read_u8()? != 0;
                let type_name = self.read_text()?;
                let type_name = self.string(type_name)?;
                let items = self.read_values(count, inner)?;
                Amf3Value::VectorObject {
                    fixed,
                    type_name,
                    items,
                }
            }
            _ => {
                let inner = amf::enter(depth, &self.limits)?;
                let weak_keys = self.cur.read_u8()? != 0;
                let mut entries = Vec::with_capacity(self.capacity(count, 2));
                for _ in 0..count {
                    let key = self.read(inner)?;
                    entries.push((key, self.read(inner)?));
                }
                Amf3Value::Dictionary { weak_keys, entries }
            }
        })
    }

    /// Takes `len` bytes of payload, charging them as copied when replaying.
    fn payload(&mut self, len: usize) -> Result<&'a [u8], AmfError> {
        let bytes = self.cur.take(len)?;
        if self.replaying > 0 {
            self.budget.expand(len, &self.limits)?;
        }
        Ok(bytes)
    }

    /// Reads a vector's fixed flag and the bytes of its `count` items of `size` bytes.
    fn number_vector(&mut self, count: usize, size: usize) -> Result<(bool, &'a [u8]), AmfError> {
        let fixed = self.cur.read_u8()? != 0;
        let len = count.checked_mul(size).ok_or(AmfError::LengthOverflow)?;
        Ok((fixed, self.payload(len)?))
    }

    /// Reads a UTF-8-vr (inline string or string reference), extending the string table.
    fn read_text(&mut self) -> Result<Text, AmfError> {
        let header = read_u29(&mut self.cur)?;
        let index = header >> 1;
        if header & 1 == 0 {
            let text = lookup(&self.strings, index)?;
            return Ok(Text {
                copied: true,
                ..text
            });
        }
        let start = self.cur.pos;
        self.cur.take(amf::to_usize(index)?)?;
        let text = Text {
            start,
            end: self.cur.pos,
            copied: self.replaying > 0,
        };
        if !text.is_empty() && self.replaying == 0 {
            self.strings.push(text);
        }
        Ok(text)
    }

    fn string(&mut self, text: Text) -> Result<String, AmfError> {
        let bytes = self
            .cur
            .buf
            .get(text.start..text.end)
            .ok_or(AmfError::UnexpectedEof)?;
        if text.copied {
            self.budget.expand(bytes.len(), &self.limits)?;
        }
        Ok(amf::text(bytes))
    }

    /// Reads `key, value` pairs up to the empty key that ends them.
    fn read_pairs(&mut self, depth: usize) -> Result<Vec<(String, Amf3Value)>, AmfError> {
        let mut pairs = Vec::new();
        loop {
            let key = self.read_text()?;
            if key.is_empty() {
                return Ok(pairs);
            }
            let key = self.string(key)?;
            pairs.push((key, self.read(depth)?));
        }
    }

    fn read_values(&mut self, count: usize, depth: usize) -> Result<Vec<Amf3Value>, AmfError> {
        let mut values = Vec::with_capacity(self.capacity(count, 1));
        for _ in 0..count {
            values.push(self.read(depth)?);
        }
        Ok(values)
    }

    fn capacity(&self, count: usize, min_item_size: usize) -> usize {
        amf::capacity_for(
            count,
            self.cur.remaining(),
            min_item_size,
            self.budget.elements_left(&self.limits),
        )
    }

    fn read_array(&mut self, count: usize, inner: usize) -> Result<Amf3Value, AmfError> {
        let assoc = self.read_pairs(inner)?;
        let dense = self.read_values(count, inner)?;
        Ok(Amf3Value::Array { assoc, dense })
    }

    fn read_object(&mut self, flags: u32, inner: usize) -> Result<Amf3Value, AmfError> {
        let traits = self.read_traits(flags)?;
        let class_name = self.string(traits.class_name)?;
        let mut object = Amf3Object {
            class_name,
            dynamic: traits.dynamic,
            ..Amf3Object::default()
        };
        if traits.externalizable {
            if !SINGLE_VALUE_EXTERNALIZABLE.contains(&object.class_name.as_str()) {
                return Err(AmfError::Externalizable(object.class_name));
            }
            object.externalizable = Some(Box::new(self.read(inner)?));
            return Ok(Amf3Value::Object(object));
        }
        object.sealed = Vec::with_capacity(self.capacity(traits.sealed.len(), 1));
        for name in traits.sealed {
            let name = self.string(name)?;
            object.sealed.push((name, self.read(inner)?));
        }
        if traits.dynamic {
            object.dynamic_props = self.read_pairs(inner)?;
        }
        Ok(Amf3Value::Object(object))
    }

    /// Reads the traits part of an object header: `flags` is the U29O without its inline
    /// object flag, so bit 0 says "traits inline", bit 1 "externalizable", bit 2 "dynamic" and
    /// the rest is the sealed member count (or, for a reference, the traits index).
    fn read_traits(&mut self, flags: u32) -> Result<Traits, AmfError> {
        if flags & 1 == 0 {
            let mut traits = lookup(&self.traits, flags >> 1)?;
            traits.class_name.copied = true;
            for name in &mut traits.sealed {
                name.copied = true;
            }
            return Ok(traits);
        }
        let externalizable = flags & 0b10 != 0;
        let dynamic = !externalizable && flags & 0b100 != 0;
        let count = if externalizable {
            0
        } else {
            amf::to_usize(flags >> 3)?
        };
        let class_name = self.read_text()?;
        let mut sealed = Vec::with_capacity(amf::capacity_for(
            count,
            self.cur.remaining(),
            1,
            usize::MAX,
        ));
        for _ in 0..count {
            sealed.push(self.read_text()?);
        }
        let traits = Traits {
            class_name,
            dynamic,
            externalizable,
            sealed,
        };
        if self.replaying == 0 {
            self.traits.push(traits.clone());
        }
        Ok(traits)
    }
}

/// Entry `index` of a reference table, or `InvalidReference`.
fn lookup<T: Clone>(table: &[T], index: u32) -> Result<T, AmfError> {
    amf::to_usize(index)
        .ok()
        .and_then(|i| table.get(i))
        .cloned()
        .ok_or(AmfError::InvalidReference(index))
}

/// A fixed-size array from a slice of exactly that size (as `chunks_exact` yields).
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap_or([0; N])
}

/// Decodes one AMF3 value embedded in AMF0 (after marker 0x11) at `pos` of `buf`, with fresh
/// tables but the enclosing reader's budget and depth. Returns the value and the position after
/// it.
pub(crate) fn read_embedded(
    buf: &[u8],
    pos: usize,
    limits: AmfLimits,
    budget: &mut Budget,
    depth: usize,
) -> Result<(Amf3Value, usize), AmfError> {
    let mut reader = Amf3Reader::at(buf, pos, limits, *budget);
    let value = reader.read(depth);
    *budget = reader.budget;
    Ok((value?, reader.cur.pos))
}

/// Decodes every value in `buf`, sharing the reference tables between them as one message
/// does. The limits apply to the buffer as a whole.
pub fn decode_all(buf: &[u8], limits: AmfLimits) -> Result<Vec<Amf3Value>, AmfError> {
    let mut reader = Amf3Reader::new(buf, limits);
    let mut values = Vec::new();
    while !reader.is_empty() {
        values.push(reader.read_value()?);
    }
    Ok(values)
}

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

/// Sign-extends a 29-bit two's complement integer.
fn i29(value: u32) -> i32 {
    ((value << 3) as i32) >> 3
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
#[path = "amf3_tests.rs"]
pub(crate) mod tests;
