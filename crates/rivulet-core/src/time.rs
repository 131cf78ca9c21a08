//! UTC calendar arithmetic on epoch milliseconds, shared by the API's wire formats and the UI's display formats.
//
// Written by hand rather than pulling a date crate: only UTC civil dates are needed, and the
// day-count conversions below are the standard proleptic-Gregorian formulas. Each caller keeps
// its own text format and parsing rules, because those differ on purpose (protobuf's exact
// JSON forms on the wire, readable and lenient forms in the UI).

/// Days since 1970-01-01 → (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01; `month` must be 1 to 12.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An instant in UTC split into the fields a formatter prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl UtcDateTime {
    /// Splits epoch milliseconds; instants before 1970 count backwards from it, so
    /// `-500` is `1969-12-31 23:59:59.500`.
    pub fn from_epoch_ms(ms: i64) -> UtcDateTime {
        let secs = ms.div_euclid(1000);
        let second_of_day = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        UtcDateTime {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            millis: ms.rem_euclid(1000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_convert_both_ways() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(days_from_civil(2023, 3, 1) - days_from_civil(2023, 2, 28), 1);
        // Four centuries either side of the epoch cover every leap-year rule.
        for days in -146_097..146_097 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
        }
    }

    #[test]
    fn epoch_ms_splits_into_fields() {
        let at = |year, month, day, hour, minute, second, millis| UtcDateTime { year, month, day, hour, minute, second, millis };
        assert_eq!(UtcDateTime::from_epoch_ms(0), at(1970, 1, 1, 0, 0, 0, 0));
        assert_eq!(UtcDateTime::from_epoch_ms(1_700_000_000_000), at(2023, 11, 14, 22, 13, 20, 0));
        assert_eq!(UtcDateTime::from_epoch_ms(-500), at(1969, 12, 31, 23, 59, 59, 500));
        assert_eq!(UtcDateTime::from_epoch_ms(1_795_765_469_933), at(2026, 11, 27, 7, 44, 29, 933));
    }
}
