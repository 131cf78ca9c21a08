//! Bounded decompression of every content coding a Collector can send: each is undone whole,
//! a byte over the limit is a 413 whatever the ratio, a cut-off body is never decoded short,
//! and an unknown coding is a 415 naming the accepted ones.

use std::io::Write;

use rivulet_api::otlp::decode::{decompress, ACCEPTED_CONTENT_ENCODINGS};

mod codings;
use codings::{encode, CODINGS};

/// `body` in each content coding a Collector can send, and in the raw deflate MLflow also reads.
fn encoded_in_every_coding(body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut raw_deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw_deflate.write_all(body).unwrap();
    let mut encoded: Vec<_> = CODINGS.into_iter().filter(|coding| *coding != "identity").map(|coding| (coding, encode(body, coding))).collect();
    // Collectors before the block format sent framed snappy under `snappy`.
    encoded.push(("snappy", encode(body, "x-snappy-framed")));
    encoded.push(("deflate", raw_deflate.finish().unwrap()));
    encoded
}

#[test]
fn every_collector_content_coding_is_undone() {
    let body = b"the refund policy covers orders placed within thirty days ".repeat(400);
    for (coding, encoded) in encoded_in_every_coding(&body) {
        assert!(encoded.len() < body.len() / 4, "{coding} compressed");
        assert!(decompress(&encoded, Some(coding), 1 << 20).unwrap() == body, "{coding}");
        assert!(decompress(&encoded, Some(&coding.to_uppercase()), 1 << 20).unwrap() == body, "{coding} in capitals");
        // Exactly at the limit passes; a byte under it is a 413, not a truncated body.
        assert_eq!(decompress(&encoded, Some(coding), body.len()).unwrap().len(), body.len(), "{coding}");
        assert_eq!(decompress(&encoded, Some(coding), body.len() - 1).unwrap_err().status, 413, "{coding}");
        // A cut-off body is a bad request. Without its last byte it is refused too, or
        // decoded whole where that byte only ended the stream (lz4's end mark): never short.
        for cut in [1, encoded.len() / 2] {
            let outcome = decompress(&encoded[..cut], Some(coding), 1 << 20).map(|bytes| bytes.len());
            assert_eq!(outcome.map_err(|error| error.status), Err(400), "{coding} cut at {cut} of {}", encoded.len());
        }
        match decompress(&encoded[..encoded.len() - 1], Some(coding), 1 << 20) {
            Ok(bytes) => assert_eq!(bytes.len(), body.len(), "{coding} without its last byte"),
            Err(error) => assert_eq!(error.status, 400, "{coding} without its last byte"),
        }
    }
}

#[test]
fn every_gzip_member_and_frame_is_read_and_nothing_after_a_stream_is_ignored() {
    let (first, second) = (b"the first member ".repeat(100), b"and the second ".repeat(100));
    let mut members = encode(&first, "gzip");
    members.extend(encode(&second, "gzip"));
    assert!(decompress(&members, Some("gzip"), 1 << 20).unwrap() == [first.clone(), second.clone()].concat(), "both members");
    // zstd and lz4 bodies may hold several frames.
    for coding in ["zstd", "lz4"] {
        let mut frames = encode(&first, coding);
        frames.extend(encode(&second, coding));
        assert!(decompress(&frames, Some(coding), 1 << 20).unwrap() == [first.clone(), second.clone()].concat(), "{coding}: both frames");
    }
    for (coding, mut encoded) in encoded_in_every_coding(&first) {
        encoded.extend_from_slice(b"stray bytes after the stream");
        let outcome = decompress(&encoded, Some(coding), 1 << 20).map(|bytes| bytes.len());
        assert_eq!(outcome.map_err(|error| error.status), Err(400), "{coding} followed by stray bytes");
    }
}

#[test]
fn a_bomb_in_any_coding_is_stopped_at_the_limit() {
    let zeros = vec![0u8; 50 * 1024 * 1024];
    for (coding, bomb) in encoded_in_every_coding(&zeros) {
        // Snappy cannot compress better than about 21:1, so its bomb is not small; it is
        // still refused before 50 MiB are produced.
        assert!(bomb.len() < 3 * 1024 * 1024, "{coding}: {} bytes", bomb.len());
        let error = decompress(&bomb, Some(coding), 1024 * 1024).unwrap_err();
        assert_eq!(error.status, 413, "{coding}: {}", error.message);
    }
    // A zstd frame asking for a 64 MiB window is refused before the decoder makes room for it.
    let mut wide = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    wide.window_log(26).unwrap();
    wide.write_all(b"a small body in a frame with a wide window").unwrap();
    let error = decompress(&wide.finish().unwrap(), Some("zstd"), 1 << 20).unwrap_err();
    assert_eq!(error.status, 400, "{}", error.message);
    assert!(error.message.contains("zstd"), "{}", error.message);
    let mut usual = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    usual.window_log(25).unwrap();
    usual.write_all(b"the 32 MiB window of a Collector's best zstd level").unwrap();
    assert_eq!(decompress(&usual.finish().unwrap(), Some("zstd"), 1 << 20).unwrap(), b"the 32 MiB window of a Collector's best zstd level");
    // A snappy block whose header states more than the limit is refused from the header.
    let mut lying = Vec::new();
    let mut stated = 1u64 << 30;
    while stated >= 0x80 {
        lying.push((stated as u8) | 0x80);
        stated >>= 7;
    }
    lying.push(stated as u8);
    lying.extend_from_slice(b"\x00abc");
    assert_eq!(decompress(&lying, Some("snappy"), 1 << 20).unwrap_err().status, 413);
}

#[test]
fn an_unsupported_coding_is_415_naming_the_accepted_ones() {
    let error = decompress(b"abc", Some("br"), 1024).unwrap_err();
    assert_eq!(error.status, 415);
    assert!(error.message.contains("'br'") && error.message.contains(ACCEPTED_CONTENT_ENCODINGS), "{}", error.message);
    for coding in CODINGS {
        assert!(ACCEPTED_CONTENT_ENCODINGS.split(", ").any(|accepted| accepted == coding), "{coding} is listed");
    }
}
