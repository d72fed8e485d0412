//! Property tests: random hex0 and hex2 programs (from `seed::testgen`) against
//! independent oracles written here.

use proptest::prelude::*;
use seed::hex2::{link, LinkOptions, HEX2_0, HEX2_C};
use seed::testgen::{hex0_text, hex2_program, render_hex2, Hex2Item, HEX2_0_KINDS, HEX2_KINDS};
use seed::{InputError, SeedError, Source};

/// hex0 by the definition: drop each line's text from the first `#` or `;`,
/// keep the hex digits, pair them up.
fn hex0_oracle(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .split('\n')
        .flat_map(|line| line.split(['#', ';']).next().unwrap_or("").chars())
        .filter_map(|c| c.to_digit(16).map(|d| d as u8))
        .collect();
    assert!(digits.len() & 1 == 0, "generator made an odd digit count");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Bytes(Vec<u8>),
    UnknownLabel,
    OutOfRange,
}

/// Width of each pointer kind and whether it is absolute.
fn width(kind: char) -> (u32, bool) {
    match kind {
        '!' => (1, false),
        '@' => (2, false),
        '~' => (3, false),
        '%' => (4, false),
        '$' => (2, true),
        '&' => (4, true),
        _ => unreachable!("generator kind {kind}"),
    }
}

/// hex2 by the definition: addresses from a first walk, then each pointer's value.
fn hex2_oracle(items: &[Hex2Item], base_address: u32) -> Expected {
    let mut labels = std::collections::HashMap::new();
    let mut address = base_address as i64;
    for item in items {
        match item {
            Hex2Item::Bytes(b) => address += b.len() as i64,
            Hex2Item::Label(name) => {
                labels.insert(name.clone(), address);
            }
            Hex2Item::Pointer(kind, ..) => address += width(*kind).0 as i64,
            Hex2Item::Comment(_) => {}
        }
    }
    let mut out = Vec::new();
    let mut address = base_address as i64;
    for item in items {
        match item {
            Hex2Item::Bytes(b) => {
                out.extend(b);
                address += b.len() as i64;
            }
            Hex2Item::Label(_) | Hex2Item::Comment(_) => {}
            Hex2Item::Pointer(kind, target, base) => {
                let (bytes, absolute) = width(*kind);
                address += bytes as i64;
                let Some(&t) = labels.get(target) else {
                    return Expected::UnknownLabel;
                };
                let from = match base {
                    Some(b) => match labels.get(b) {
                        Some(&a) => a,
                        None => return Expected::UnknownLabel,
                    },
                    None => address,
                };
                let value = if absolute { t } else { t - from };
                let bits = 8 * bytes;
                let fits = match (bytes, absolute) {
                    (4, _) => true,
                    (_, true) => (0..1i64 << bits).contains(&value),
                    (_, false) => (-(1i64 << (bits - 1))..1i64 << (bits - 1)).contains(&value),
                };
                if !fits {
                    return Expected::OutOfRange;
                }
                out.extend(&value.to_le_bytes()[..bytes as usize]);
            }
        }
    }
    Expected::Bytes(out)
}

fn classify(result: Result<Vec<u8>, SeedError>) -> Expected {
    match result {
        Ok(bytes) => Expected::Bytes(bytes),
        Err(SeedError::Input {
            kind: InputError::UnknownLabel(_),
            ..
        }) => Expected::UnknownLabel,
        Err(SeedError::Input {
            kind: InputError::PointerOutOfRange { .. },
            ..
        }) => Expected::OutOfRange,
        Err(other) => panic!("unexpected error {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn hex0_matches_the_definition(text in hex0_text()) {
        let ours = seed::hex0::assemble(&Source::new("gen.hex0", text.clone().into_bytes()));
        prop_assert_eq!(ours.unwrap(), hex0_oracle(&text));
    }

    #[test]
    fn hex2_matches_the_definition(items in hex2_program(HEX2_KINDS), base in prop_oneof![Just(0u32), Just(0x0804_8000), 0u32..0x10000]) {
        let text = render_hex2(&items);
        let opts = LinkOptions { base_address: base, big_endian: false, dialect: HEX2_C };
        let ours = classify(link(&[Source::new("gen.hex2", text.into_bytes())], &opts));
        prop_assert_eq!(ours, hex2_oracle(&items, base));
    }

    #[test]
    fn hex2_0_matches_the_definition(items in hex2_program(HEX2_0_KINDS)) {
        let text = render_hex2(&items);
        let opts = LinkOptions { base_address: 0x0804_8000, big_endian: false, dialect: HEX2_0 };
        let ours = classify(link(&[Source::new("gen.hex2", text.into_bytes())], &opts));
        prop_assert_eq!(ours, hex2_oracle(&items, 0x0804_8000));
    }
}

/// The oracle itself must be able to disagree: a wrong displacement base is caught.
#[test]
fn hex2_oracle_notices_a_wrong_answer() {
    let items = vec![
        Hex2Item::Label("a".into()),
        Hex2Item::Pointer('%', "a".into(), None),
    ];
    assert_eq!(
        hex2_oracle(&items, 0),
        Expected::Bytes((-4i32).to_le_bytes().to_vec())
    );
    assert_ne!(
        hex2_oracle(&items, 0),
        Expected::Bytes(0i32.to_le_bytes().to_vec())
    );
}
