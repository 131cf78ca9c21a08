//! Reading MLflow requests the way MLflow's server does: JSON bodies parsed leniently, GET
//! query strings mapped onto fields, both `snake_case` and `camelCase` names, int64 as numbers
//! or strings, doubles including `"NaN"`/`"Infinity"`, and MLflow's error messages.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};
use rivulet_core::CoreError;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The fields of one request message (or of a nested message inside it).
#[derive(Debug, Clone, Default)]
pub struct Fields {
    map: Map<String, Value>,
    /// Query-string values are all strings; booleans then follow MLflow's query rules.
    from_query: bool,
    /// Prefix for error messages of nested messages, e.g. `metrics[3].`.
    path: String,
}

fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Fields {
    /// Parses a JSON body leniently: invalid JSON is `{}`, a JSON string holding JSON is
    /// decoded a second time (older clients), anything but an object is `{}`.
    pub fn from_json(body: &[u8]) -> Fields {
        let mut value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if let Value::String(inner) = &value {
            value = serde_json::from_str(inner).unwrap_or(Value::Null);
        }
        match value {
            Value::Object(map) => Fields { map, from_query: false, path: String::new() },
            _ => Fields::default(),
        }
    }

    /// Maps a query string onto fields; a repeated key becomes a list.
    pub fn from_query(query: &str) -> Fields {
        let mut map = Map::new();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = Value::String(value.into_owned());
            match map.get_mut(key.as_ref()) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    map.insert(key.into_owned(), value);
                }
            }
        }
        Fields { map, from_query: true, path: String::new() }
    }

    fn qualified(&self, name: &str) -> String {
        format!("{}{name}", self.path)
    }

    fn type_error(&self, name: &str, value: &Value) -> ApiError {
        ApiError::invalid_parameter(format!(
            "Invalid value {} for parameter '{}' supplied: Hint: Value was of type '{}'. See the API docs for more information about request parameters.",
            serde_json::to_string(value).unwrap_or_default(),
            self.qualified(name),
            python_type(value)
        ))
    }

    /// The raw value of a field under its proto or camelCase name; `null` counts as absent.
    pub fn get(&self, name: &str) -> Result<Option<&Value>, ApiError> {
        let camel = camel_case(name);
        let snake_value = self.map.get(name).filter(|v| !v.is_null());
        let camel_value = if camel != name { self.map.get(&camel).filter(|v| !v.is_null()) } else { None };
        match (snake_value, camel_value) {
            (Some(_), Some(_)) => Err(ApiError::invalid_parameter(format!(
                "Request specifies both '{name}' and '{camel}'; provide only one of them."
            ))),
            (Some(value), None) | (None, Some(value)) => Ok(Some(value)),
            (None, None) => Ok(None),
        }
    }

    /// A scalar's value: the first of a repeated query key.
    fn scalar(&self, name: &str) -> Result<Option<&Value>, ApiError> {
        Ok(match self.get(name)? {
            Some(Value::Array(items)) if self.from_query => items.first(),
            other => other,
        })
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    /// MLflow's "missing required parameter" error for a field of this message.
    pub fn missing(&self, name: &str) -> ApiError {
        CoreError::missing_parameter(&self.qualified(name)).into()
    }

    /// A string that must be present and non-empty (MLflow treats `""` as missing).
    pub fn required_string(&self, name: &str) -> Result<String, ApiError> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.missing(name)),
        }
    }

    /// The first present, non-empty string among several names (e.g. `run_id`, `run_uuid`).
    pub fn first_string(&self, names: &[&str]) -> Result<Option<String>, ApiError> {
        for name in names {
            if let Some(value) = self.string(name)?.filter(|s| !s.is_empty()) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => Ok(Some(v)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Some(f as i64)),
                    _ => Err(self.type_error(name, &Value::Number(n.clone()))),
                },
            },
            Some(Value::String(s)) => {
                s.trim().parse::<i64>().map(Some).map_err(|_| self.type_error(name, &Value::String(s.clone())))
            }
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    pub fn required_i64(&self, name: &str) -> Result<i64, ApiError> {
        self.i64(name)?.ok_or_else(|| self.missing(name))
    }

    /// A double: a JSON number, a numeric string, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => {
                let parsed = match s.trim() {
                    "NaN" | "nan" => Some(f64::NAN),
                    "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
                    "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
                    other => other.parse::<f64>().ok(),
                };
                parsed.map(Some).ok_or_else(|| self.type_error(name, &Value::String(s.clone())))
            }
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(ApiError::invalid_parameter(format!("Invalid boolean value: {s}, must be 'true' or 'false'."))),
            },
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    /// A repeated string field; a single string counts as a list of one.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.get(name)? {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(self.type_error(name, other)),
                })
                .collect(),
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    /// A repeated message field.
    pub fn messages(&self, name: &str) -> Result<Vec<Fields>, ApiError> {
        match self.get(name)? {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(idx, item)| match item {
                    Value::Object(map) => Ok(Fields {
                        map: map.clone(),
                        from_query: false,
                        path: format!("{}{name}[{idx}].", self.path),
                    }),
                    other => Err(self.type_error(name, other)),
                })
                .collect(),
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    /// A nested message field.
    pub fn message(&self, name: &str) -> Result<Option<Fields>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                map: map.clone(),
                from_query: false,
                path: format!("{}{name}.", self.path),
            })),
            Some(other) => Err(self.type_error(name, other)),
        }
    }

    /// The value of an enum field as text (its name or number), for the core's parsers.
    pub fn enum_text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(value) => Ok(Some(display_value(value))),
        }
    }
}

/// An MLflow API request: its fields, read from the JSON body or the query string.
///
/// POST, PUT and PATCH bodies must be `application/json` (a cross-site form post cannot send
/// that type, CVE-2023-43472); a GET without a query string falls back to a JSON body.
pub struct MlflowRequest(pub Fields);

fn content_type_error(message: &str) -> ApiError {
    ApiError::invalid_parameter(message.to_string())
}

impl<S: Send + Sync> FromRequest<S> for MlflowRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let query = request.uri().query().map(str::to_string);
        if matches!(method, Method::POST | Method::PUT) {
            let content_type = request.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or_default().to_string());
            match content_type {
                None => return Err(content_type_error("Bad Request. Content-Type header is missing.")),
                Some(value) => {
                    let mime = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
                    if mime != "application/json" {
                        return Err(content_type_error("Bad Request. Content-Type must be one of ['application/json']."));
                    }
                }
            }
        }
        if method == Method::GET || method == Method::DELETE {
            if let Some(query) = query.filter(|q| !q.is_empty()) {
                return Ok(MlflowRequest(Fields::from_query(&query)));
            }
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            ApiError(CoreError::new(
                if rejection.status().as_u16() == 413 { rivulet_core::ErrorCode::ResourceExhausted } else { rivulet_core::ErrorCode::BadRequest },
                rejection.body_text(),
            ))
        })?;
        Ok(MlflowRequest(Fields::from_json(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_json() {
        assert!(Fields::from_json(b"not json").get("name").unwrap().is_none());
        let double = Fields::from_json(br#""{\"name\": \"x\"}""#);
        assert_eq!(double.string("name").unwrap().as_deref(), Some("x"));
    }

    #[test]
    fn both_spellings_are_rejected() {
        let fields = Fields::from_json(br#"{"run_id": "a", "runId": "b"}"#);
        assert!(fields.string("run_id").is_err());
        let camel = Fields::from_json(br#"{"runId": "b"}"#);
        assert_eq!(camel.string("run_id").unwrap().as_deref(), Some("b"));
    }

    #[test]
    fn numbers_and_special_doubles() {
        let fields = Fields::from_json(br#"{"timestamp": "12", "value": "NaN", "inf": "-Infinity", "bad": "abc"}"#);
        assert_eq!(fields.i64("timestamp").unwrap(), Some(12));
        assert!(fields.f64("value").unwrap().unwrap().is_nan());
        assert_eq!(fields.f64("inf").unwrap(), Some(f64::NEG_INFINITY));
        let err = fields.f64("bad").unwrap_err();
        assert!(err.0.message.starts_with("Invalid value \"abc\" for parameter 'bad' supplied"), "{}", err.0.message);
    }

    #[test]
    fn query_strings() {
        let fields = Fields::from_query("run_ids=a&run_ids=b&flag=TRUE&bad=yes");
        assert_eq!(fields.strings("run_ids").unwrap(), vec!["a", "b"]);
        assert_eq!(fields.bool("flag").unwrap(), Some(true));
        assert!(fields.bool("bad").unwrap_err().0.message.contains("Invalid boolean value: yes"));
    }

    #[test]
    fn nested_messages_name_their_path() {
        let fields = Fields::from_json(br#"{"metrics": [{"key": "a"}]}"#);
        let metrics = fields.messages("metrics").unwrap();
        let err = metrics[0].required_i64("timestamp").unwrap_err();
        assert!(err.0.message.contains("'metrics[0].timestamp'"), "{}", err.0.message);
    }
}
