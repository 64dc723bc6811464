//! Wall-clock timestamps in the formats the Lambda and CloudWatch Logs APIs use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the unit of CloudWatch timestamps.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2024-01-02T03:04:05.123000Z` for the instant `ms` milliseconds after the epoch (never
/// before it: the local Lambda has no earlier times); the other formats are cut from it.
fn micros_utc(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_micros(at).to_string()
}

/// `2024-01-02T03:04:05.000+0000`, Lambda's LastModified and CreatedDate format.
pub(crate) fn lambda_timestamp(ms: i64) -> String {
    format!("{}+0000", &micros_utc(ms)[..23])
}

/// `2024-01-02T03:04:05.123Z`, the prefix of Lambda's timeout message.
pub(crate) fn rfc3339_millis(ms: i64) -> String {
    format!("{}Z", &micros_utc(ms)[..23])
}

/// `2024-01-02T03:04:05.123000Z`, the microsecond style of function URL timestamps.
pub(crate) fn iso_micros(ms: i64) -> String {
    micros_utc(ms)
}

/// `02/Jan/2024:03:04:05 +0000`, the `requestContext.time` of function URL events.
pub(crate) fn clf_timestamp(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = micros_utc(ms);
    let month: usize = t[5..7].parse().unwrap_or(1);
    let month = MONTHS[month.clamp(1, 12) - 1];
    format!("{}/{month}/{}:{} +0000", &t[8..10], &t[..4], &t[11..19])
}

/// `2024/01/02`, the date prefix of Lambda log stream names.
pub(crate) fn date_path(ms: i64) -> String {
    micros_utc(ms)[..10].replace('-', "/")
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
