//! Page tokens: MLflow's `base64(json({"offset": N}))`, decoded with MLflow's error messages.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::{CoreError, Result};

/// One page of results and the token of the next page, if more rows exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// Encodes an offset the way MLflow's SQL store does, so tokens are interchangeable.
pub fn encode_offset_token(offset: u64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a page token into a row offset; an absent or empty token is offset 0.
pub fn decode_offset_token(token: Option<&str>) -> Result<u64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let decoded = STANDARD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| CoreError::invalid_parameter("Invalid page token, could not base64-decode"))?;
    let parsed: serde_json::Value = serde_json::from_str(&decoded).map_err(|_| {
        CoreError::invalid_parameter(format!("Invalid page token, decoded value={decoded}"))
    })?;
    parsed
        .get("offset")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            CoreError::invalid_parameter(format!("Invalid page token, parsed value={parsed}"))
        })
}

/// Splits a result of `limit + 1` rows into a page and a token that always advances.
pub fn paginate<T>(mut rows: Vec<T>, offset: u64, limit: usize) -> Page<T> {
    let next_page_token = if rows.len() > limit {
        rows.truncate(limit);
        Some(encode_offset_token(offset + limit as u64))
    } else {
        None
    };
    Page { items: rows, next_page_token }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_mlflow_encoding() {
        assert_eq!(encode_offset_token(1000), "eyJvZmZzZXQiOiAxMDAwfQ==");
        assert_eq!(decode_offset_token(Some("eyJvZmZzZXQiOiAxMDAwfQ==")).unwrap(), 1000);
    }

    #[test]
    fn bad_tokens_are_invalid_parameter() {
        for token in ["%%%", "bm90IGpzb24=", "eyJmb28iOiAxfQ=="] {
            let err = decode_offset_token(Some(token)).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::InvalidParameterValue, "{token}");
            assert!(err.message.starts_with("Invalid page token"), "{}", err.message);
        }
    }

    #[test]
    fn paginate_issues_token_only_when_more_rows_exist() {
        let page = paginate(vec![1, 2, 3], 10, 2);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(decode_offset_token(page.next_page_token.as_deref()).unwrap(), 12);
        assert_eq!(paginate(vec![1, 2], 0, 2).next_page_token, None);
    }
}
