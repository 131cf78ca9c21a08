//! Protobuf's JSON forms of `Timestamp` (RFC 3339) and `Duration` (`"1.5s"`) at millisecond precision.

use rivulet_core::time::{days_from_civil, UtcDateTime};

/// Epoch milliseconds as protobuf writes a Timestamp: `2026-11-27T07:44:29.933Z`, with the
/// fraction left out when it is zero.
pub fn format_timestamp_ms(ms: i64) -> String {
    let UtcDateTime { year, month, day, hour, minute, second, millis } = UtcDateTime::from_epoch_ms(ms);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if millis != 0 {
        out.push_str(&format!(".{millis:03}"));
    }
    out.push('Z');
    out
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The first three digits of a fraction as milliseconds (`"5"` → 500, `"123456"` → 123).
fn fraction_millis(fraction: &str) -> Option<i64> {
    if fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{fraction:0<3}");
    padded[..3].parse().ok()
}

/// Parses an RFC 3339 timestamp (`Z` or a `±HH:MM` offset, fraction optional) into epoch ms;
/// sub-millisecond digits are dropped.
pub fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_at_checked(10)?;
    let mut date_parts = date.split('-');
    let year = digits(date_parts.next()?)?;
    let month = u32::try_from(digits(date_parts.next()?)?).ok()?;
    let day = u32::try_from(digits(date_parts.next()?)?).ok()?;
    if date.len() != 10 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time, offset_ms) = if let Some(time) = rest.strip_suffix(['Z', 'z']) {
        (time, 0)
    } else {
        let split = rest.rfind(['+', '-'])?;
        let (time, offset) = rest.split_at(split);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':')?;
        let (hours, minutes) = (digits(hours)?, digits(minutes)?);
        if hours > 23 || minutes > 59 {
            return None;
        }
        (time, sign * (hours * 3600 + minutes * 60) * 1000)
    };
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, fraction_millis(fraction)?),
        None => (time, 0),
    };
    let mut clock_parts = clock.split(':');
    let hour = digits(clock_parts.next()?)?;
    let minute = digits(clock_parts.next()?)?;
    let second = digits(clock_parts.next()?)?;
    if clock_parts.next().is_some() || clock.len() != 8 || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days.checked_mul(86_400)?.checked_add(hour * 3600 + minute * 60 + second)?;
    seconds.checked_mul(1000)?.checked_add(fraction)?.checked_sub(offset_ms)
}

/// Milliseconds as protobuf writes a Duration: `"2s"`, `"0.111s"`, `"-1.500s"`.
pub fn format_duration_ms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    match (abs / 1000, abs % 1000) {
        (seconds, 0) => format!("{sign}{seconds}s"),
        (seconds, millis) => format!("{sign}{seconds}.{millis:03}s"),
    }
}

/// Parses a protobuf Duration (`"1.5s"`, `"-0.25s"`, `"3s"`) into ms; sub-millisecond digits are dropped.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let body = text.trim().strip_suffix('s')?;
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (digits(whole)?, fraction_millis(fraction)?),
        None => (digits(body)?, 0),
    };
    let ms = whole.checked_mul(1000)?.checked_add(fraction)?;
    Some(if negative { -ms } else { ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(format_timestamp_ms(0), "1970-01-01T00:00:00Z");
        let ms = parse_timestamp_ms("2026-11-27T07:44:29.933Z").unwrap();
        assert_eq!(format_timestamp_ms(ms), "2026-11-27T07:44:29.933Z");
        assert_eq!(parse_timestamp_ms("2024-02-29T12:00:00Z").map(format_timestamp_ms).as_deref(), Some("2024-02-29T12:00:00Z"));
        assert_eq!(parse_timestamp_ms("2026-11-27T07:44:29.933123456Z"), Some(ms));
        assert_eq!(parse_timestamp_ms("2026-11-27T09:44:29.933+02:00"), Some(ms));
        assert_eq!(parse_timestamp_ms("1969-12-31T23:59:59.5Z"), Some(-500));
        assert_eq!(format_timestamp_ms(-500), "1969-12-31T23:59:59.500Z");
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-27", "2026-11-27T07:44Z", "2026-11-27T07:44:29.Z"] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(format_duration_ms(111), "0.111s");
        assert_eq!(format_duration_ms(1500), "1.500s");
        assert_eq!(format_duration_ms(2000), "2s");
        assert_eq!(format_duration_ms(-1500), "-1.500s");
        assert_eq!(parse_duration_ms("1.5s"), Some(1500));
        assert_eq!(parse_duration_ms("0.111s"), Some(111));
        assert_eq!(parse_duration_ms("2s"), Some(2000));
        assert_eq!(parse_duration_ms("0.000999s"), Some(0));
        assert_eq!(parse_duration_ms("-0.25s"), Some(-250));
        for bad in ["", "1.5", "s", "abc s", "1.s"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }
}
