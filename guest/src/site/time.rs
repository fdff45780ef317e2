//! Unix seconds as UTC dates, for messages people read: a site rule's ("frozen until
//! ...") and the CLI's tables (`forge_authz_host`'s `cli::table`). No clock: the time is
//! an input.
#[allow(unused_imports)]
use crate::prelude::*;

/// Unix seconds as a UTC date and time in ISO 8601: `2026-01-01T00:00:00Z`.
///
/// Total over `i64`: years before 0 or after 9999 (far outside any real token) are
/// written with as many digits as they need and a `-` sign before year 0, never a panic.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).
///
/// No overflow for any input `i64::MIN / 86_400 ..= i64::MAX / 86_400` (every day a
/// Unix second can fall on): the shift and the era arithmetic stay far inside `i64`.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift the epoch to 0000-03-01, so that a leap day is the last day of its year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, utc};

    #[test]
    fn the_epoch_and_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(86_399), "1970-01-01T23:59:59Z");
        assert_eq!(utc(2_147_483_647), "2038-01-19T03:14:07Z");
        assert_eq!(utc(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn leap_years() {
        // 2024 is a leap year, 2100 is not (divisible by 100), 2000 is (by 400).
        let feb29_2024 = 19_782 * 86_400;
        assert_eq!(utc(feb29_2024), "2024-02-29T00:00:00Z");
        assert_eq!(utc(feb29_2024 + 86_400), "2024-03-01T00:00:00Z");
        assert_eq!(utc(feb29_2024 - 86_400), "2024-02-28T00:00:00Z");
        assert_eq!(civil_from_days(47_482 + 58), (2100, 2, 28));
        assert_eq!(civil_from_days(47_482 + 59), (2100, 3, 1));
        assert_eq!(civil_from_days(10_957 + 59), (2000, 2, 29));
        assert_eq!(civil_from_days(10_957 + 60), (2000, 3, 1));
        assert_eq!(
            civil_from_days(-25_567 + 59),
            (1900, 3, 1),
            "1900 has no Feb 29"
        );
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // 1600-01-01 to 2400-12-31: days, months and years roll over correctly.
        let month_days = |y: i64, m: i64| match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut prev = civil_from_days(-135_140);
        assert_eq!(prev, (1600, 1, 1));
        for n in -135_139..=157_419 {
            let (y, m, d) = civil_from_days(n);
            let (py, pm, pd) = prev;
            if pd < month_days(py, pm) {
                assert_eq!((y, m, d), (py, pm, pd + 1));
            } else if pm < 12 {
                assert_eq!((y, m, d), (py, pm + 1, 1));
            } else {
                assert_eq!((y, m, d), (py + 1, 1, 1));
            }
            prev = (y, m, d);
        }
        assert_eq!(prev, (2400, 12, 31));
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(utc(-86_400), "1969-12-31T00:00:00Z");
        assert_eq!(utc(-86_401), "1969-12-30T23:59:59Z");
        assert_eq!(utc(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(utc(-62_167_219_201), "-001-12-31T23:59:59Z");
    }

    #[test]
    fn extremes_do_not_panic() {
        assert_eq!(utc(i64::MAX), "292277026596-12-04T15:30:07Z");
        assert_eq!(utc(i64::MIN), "-292277022657-01-27T08:29:52Z");
        for s in [i64::MAX - 1, i64::MIN + 1, i64::MAX / 2, i64::MIN / 2] {
            let out = utc(s);
            assert!(out.ends_with('Z'), "{out}");
        }
    }
}
