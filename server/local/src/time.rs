//! Wall-clock timestamps in the formats the Lambda and CloudWatch Logs APIs use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the unit of CloudWatch timestamps.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
}

fn civil(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant): exact for the proleptic Gregorian calendar, no table.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        milli,
    }
}

/// `2024-01-02T03:04:05.000+0000`, Lambda's LastModified and CreatedDate format.
pub(crate) fn lambda_timestamp(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
    )
}

/// `2024-01-02T03:04:05.123Z`, the prefix of Lambda's timeout message.
pub(crate) fn rfc3339_millis(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
    )
}

/// `2024-01-02T03:04:05.123000Z`, the microsecond style of function URL timestamps.
pub(crate) fn iso_micros(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}000Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
    )
}

/// `02/Jan/2024:03:04:05 +0000`, the `requestContext.time` of function URL events.
pub(crate) fn clf_timestamp(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(ms);
    let month = MONTHS[(c.month - 1).clamp(0, 11) as usize];
    format!(
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

/// `2024/01/02`, the date prefix of Lambda log stream names.
pub(crate) fn date_path(ms: i64) -> String {
    let c = civil(ms);
    format!("{:04}/{:02}/{:02}", c.year, c.month, c.day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let ms = 1_709_251_200_123; // 2024-03-01T00:00:00.123Z, just after a leap day
        assert_eq!(lambda_timestamp(ms), "2024-03-01T00:00:00.123+0000");
        assert_eq!(rfc3339_millis(ms), "2024-03-01T00:00:00.123Z");
        assert_eq!(iso_micros(ms), "2024-03-01T00:00:00.123000Z");
        assert_eq!(date_path(ms - 1000), "2024/02/29");
        assert_eq!(clf_timestamp(ms), "01/Mar/2024:00:00:00 +0000");
        assert_eq!(lambda_timestamp(0), "1970-01-01T00:00:00.000+0000");
    }
}
