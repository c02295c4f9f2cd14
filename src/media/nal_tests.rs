//! NAL-unit stream tests: Annex-B splitting, length-prefixed iteration, emulation
//! prevention and the Exp-Golomb bit reader.

use proptest::prelude::*;

use super::*;

fn nals(data: &[u8]) -> Vec<&[u8]> {
    split_annexb(data).collect()
}

#[test]
fn splits_annexb_with_both_start_code_lengths() {
    let stream = b"\x99\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x67\x64\x00\x00\x03\x01\x00\x00\x00\x01\x65\x88\x00\x00";
    assert_eq!(
        nals(stream),
        [&b"\x09\xf0"[..], b"\x67\x64\x00\x00\x03\x01", b"\x65\x88"]
    );
    // Empty NAL units (start codes back to back) and streams without start codes.
    assert_eq!(nals(b"\x00\x00\x01\x00\x00\x01\x41"), [&b"\x41"[..]]);
    assert!(nals(b"\x41\x42\x43").is_empty());
    assert!(nals(b"").is_empty());
    assert!(nals(b"\x00\x00\x01").is_empty());
    // 00 00 02 is not a start code.
    assert_eq!(
        nals(b"\x00\x00\x01\x41\x00\x00\x02\x05"),
        [&b"\x41\x00\x00\x02\x05"[..]]
    );
}

#[test]
fn length_prefixed_and_emulation_prevention() {
    let data = b"\x00\x02ab\x00\x01c";
    let units: Vec<_> = length_prefixed(data, 2).map(Result::unwrap).collect();
    assert_eq!(units, [&b"ab"[..], b"c"]);
    let mut it = length_prefixed(b"\x00\x00\x00\x05abc", 4);
    assert_eq!(
        it.next(),
        Some(Err(MediaError::Truncated("length-prefixed NAL unit")))
    );
    assert_eq!(it.next(), None);
    assert_eq!(
        length_prefixed(b"\x00", 2).next(),
        Some(Err(MediaError::Truncated("NAL unit length")))
    );
    assert_eq!(
        &*remove_emulation_prevention(b"\x00\x00\x03\x01\x00\x00\x03"),
        b"\x00\x00\x01\x00\x00"
    );
    assert!(matches!(
        remove_emulation_prevention(b"\x01\x02"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn exp_golomb_reader() {
    // 1 | 010 | 011 | 00100 | 00101 -> ue 0, 1, 2, 3; se(4) = -2
    let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000], "test");
    assert_eq!(r.ue().unwrap(), 0);
    assert_eq!(r.ue().unwrap(), 1);
    assert_eq!(r.ue().unwrap(), 2);
    assert_eq!(r.ue().unwrap(), 3);
    assert_eq!(r.se().unwrap(), -2);
    assert!(BitReader::new(&[0; 8], "zeros").ue().is_err());
    assert!(BitReader::new(&[0x01], "short").ue().is_err());
    assert_eq!(BitReader::new(&[0x30], "se").se().unwrap(), 3); // 00110 = ue 5 = se +3
}

proptest! {
    #[test]
    fn split_never_panics_and_stays_inside(data in prop::collection::vec(0u8..4, 0..200)) {
        let range = data.as_ptr_range();
        for nal in split_annexb(&data) {
            prop_assert!(!nal.is_empty());
            prop_assert!(range.contains(&nal.as_ptr()));
            prop_assert!(*nal.last().unwrap() != 0);
            prop_assert!(!nal.windows(3).any(|w| w == [0, 0, 1]));
        }
    }
}
