//! `aws-chunked` request bodies: how the SDKs send a payload with a trailing checksum.
//!
//! `SIZE-HEX[;chunk-signature=…]\r\nDATA\r\n … 0\r\nx-amz-checksum-crc32:VALUE\r\n\r\n`; the
//! decoded bytes and the trailer headers come out.

/// A body in the `aws-chunked` encoding, decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub data: Vec<u8>,
    /// Trailer headers, names lower-cased (`x-amz-checksum-crc32`).
    pub trailers: Vec<(String, String)>,
}

/// Decodes `body`; `None` when it is not well-formed `aws-chunked`.
pub(crate) fn decode(body: &[u8]) -> Option<Decoded> {
    let mut out = Decoded::default();
    let mut rest = body;
    loop {
        let (line, after) = split_line(rest)?;
        let size_hex = line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        if size == 0 {
            rest = after;
            break;
        }
        let data = after.get(..size)?;
        out.data.extend_from_slice(data);
        rest = after.get(size..)?.strip_prefix(b"\r\n")?;
    }
    while let Some((line, after)) = split_line(rest) {
        rest = after;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        out.trailers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some(out)
}

/// The text up to the next CRLF and what follows it.
fn split_line(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&bytes[..end]).ok()?;
    Some((line, &bytes[end + 2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_trailers_are_decoded() {
        let body = b"5\r\nhello\r\n6;chunk-signature=abc\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let d = decode(body).expect("well-formed");
        assert_eq!(d.data, b"hello world");
        assert_eq!(
            d.trailers,
            vec![("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]
        );
        assert_eq!(decode(b"5\r\nhel"), None);
        assert_eq!(decode(b"zz\r\n"), None);
    }
}
