//! Request bodies in each content coding an OpenTelemetry Collector can send, compressed as
//! its encoders frame them, for the tests that post or fuzz them.

use std::io::Write;

/// Every coding with a compressed form (`deflate` as the zlib stream Collectors send), and none.
pub const CODINGS: [&str; 8] = ["gzip", "deflate", "zlib", "zstd", "snappy", "x-snappy-framed", "lz4", "identity"];

/// `body` as a sender compresses it for `Content-Encoding: coding`.
pub fn encode(body: &[u8], coding: &str) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        "deflate" | "zlib" => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        "zstd" => zstd::stream::encode_all(body, 3).unwrap(),
        "snappy" => snap::raw::Encoder::new().compress_vec(body).unwrap(),
        "x-snappy-framed" => {
            let mut encoder = snap::write::FrameEncoder::new(Vec::new());
            encoder.write_all(body).unwrap();
            encoder.into_inner().unwrap()
        }
        "lz4" => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        _ => body.to_vec(),
    }
}
