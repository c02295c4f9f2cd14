//! The AMF3 reader: [`Amf3Reader`], [`decode_all`], and the embedded-in-AMF0 entry point.

use super::{
    read_u29, Amf3Object, Amf3Value, ARRAY, BYTE_ARRAY, DATE, DICTIONARY, DOUBLE, FALSE, INTEGER,
    NULL, OBJECT, SINGLE_VALUE_EXTERNALIZABLE, STRING, TRUE, UNDEFINED, VECTOR_DOUBLE, VECTOR_INT,
    VECTOR_OBJECT, VECTOR_UINT, XML, XML_DOCUMENT,
};
use crate::protocol::amf::{self, AmfError, AmfLimits, Budget, Cursor};

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

/// Sign-extends a 29-bit two's complement integer.
fn i29(value: u32) -> i32 {
    ((value << 3) as i32) >> 3
}
