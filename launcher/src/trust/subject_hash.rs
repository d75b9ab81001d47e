//! OpenSSL's subject name hash of a certificate (`openssl x509 -subject_hash`), the
//! file name under which OpenSSL's certificate folder lookup (`SSL_CERT_DIR`) finds a
//! certificate: `<hash as 8 hex digits>.<n>`.
//!
//! OpenSSL loads a certificate *file* whole when TLS is set up (libgit2 does it when
//! it starts, for every transfer, HTTPS or not: ~20 ms for Mozilla's roots), but a
//! *folder* lazily, one issuer at a time while verifying. The hash is the first four
//! bytes (little-endian) of the SHA-1 of the subject's canonical encoding, as
//! OpenSSL's `x509_name_canon` makes it: every string value (UTF8String,
//! PrintableString, T61String, IA5String, VisibleString, UniversalString, BMPString)
//! re-encoded as a UTF8String with ASCII whitespace trimmed at both ends, inner runs
//! of it collapsed to one space and ASCII letters lowercased; other values kept; each
//! relative distinguished name a DER `SET` (its attributes in DER order), the sets
//! concatenated without the outer `SEQUENCE`.

use sha1::{Digest, Sha1};

/// The subject name hash of the DER certificate `der`, or `None` if it does not parse.
pub fn subject_hash(der: &[u8]) -> Option<u32> {
    let canon = canonical_subject(der)?;
    let digest = Sha1::digest(&canon);
    Some(u32::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const T61_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const VISIBLE_STRING: u8 = 0x1a;
const UNIVERSAL_STRING: u8 = 0x1c;
const BMP_STRING: u8 = 0x1e;
/// `[0] EXPLICIT`: the optional version of a `TBSCertificate`.
const VERSION: u8 = 0xa0;

/// The canonical encoding of the subject of the certificate `der`.
fn canonical_subject(der: &[u8]) -> Option<Vec<u8>> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (mut tbs, _) = element(certificate, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = any(tbs)?.2;
    }
    // serialNumber, signature, issuer, validity: skipped; then the subject.
    for _ in 0..4 {
        tbs = any(tbs)?.2;
    }
    let (mut rdns, _) = element(tbs, SEQUENCE)?;
    let mut canon = Vec::new();
    while !rdns.is_empty() {
        let (rdn, rest) = element(rdns, SET)?;
        rdns = rest;
        let mut attributes = Vec::new();
        let mut left = rdn;
        while !left.is_empty() {
            let (attribute, rest) = element(left, SEQUENCE)?;
            left = rest;
            attributes.push(canonical_attribute(attribute)?);
        }
        // DER orders a SET OF by the elements' encodings.
        attributes.sort();
        encode(SET, &attributes.concat(), &mut canon);
    }
    Some(canon)
}

/// One `AttributeTypeAndValue`'s canonical encoding (`content`: its inside).
fn canonical_attribute(content: &[u8]) -> Option<Vec<u8>> {
    let (oid_tag, oid, rest) = any(content)?;
    let (tag, value, rest) = any(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut inner = Vec::new();
    encode(oid_tag, oid, &mut inner);
    match to_utf8(tag, value) {
        Some(text) => encode(UTF8_STRING, &canonical_text(&text?), &mut inner),
        None => encode(tag, value, &mut inner),
    }
    let mut out = Vec::new();
    encode(SEQUENCE, &inner, &mut out);
    Some(out)
}

/// A string value as UTF-8: `None` when `tag` is not a string type (kept as it is),
/// `Some(None)` when it is one but does not decode.
fn to_utf8(tag: u8, value: &[u8]) -> Option<Option<String>> {
    let text = match tag {
        UTF8_STRING => String::from_utf8(value.to_vec()).ok(),
        // OpenSSL reads these byte by byte (Latin-1 above ASCII).
        PRINTABLE_STRING | T61_STRING | IA5_STRING | VISIBLE_STRING => {
            Some(value.iter().map(|&b| char::from(b)).collect())
        }
        BMP_STRING if value.len().is_multiple_of(2) => char::decode_utf16(
            value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        UNIVERSAL_STRING if value.len().is_multiple_of(4) => value
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        BMP_STRING | UNIVERSAL_STRING => None,
        _ => return None,
    };
    Some(text)
}

/// OpenSSL's `asn1_string_canon` on UTF-8 bytes: ASCII whitespace trimmed, inner
/// runs of it one space, ASCII lowercased; other bytes as they are.
fn canonical_text(text: &str) -> Vec<u8> {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| !space(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut in_space = false;
    for b in &bytes[start..end] {
        if space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_space = false;
        }
    }
    out
}

/// The content of the element at the start of `input` if its tag is `tag`, and
/// what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = any(input)?;
    (found == tag).then_some((content, rest))
}

/// The tag, content and rest of the DER element at the start of `input` (single-
/// byte tags, definite lengths: all a certificate's name uses).
fn any(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Appends the DER element `tag` with `content` to `out`.
fn encode(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

#[cfg(test)]
mod tests;
