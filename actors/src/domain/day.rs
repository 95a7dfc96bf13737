use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// China Standard Time, in which join, retirement and birth days are counted: between
/// 16:00 and 24:00 UTC it is already tomorrow there.
pub fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// The day it is now in China, which "not in the future" is measured against.
pub fn china_today() -> NaiveDate {
    Utc::now().with_timezone(&cst()).date_naive()
}

/// The instant a day begins in China, for a date given as a day.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    cst()
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_in_china_begins_at_16_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(day_start(day).to_rfc3339(), "2026-11-26T16:00:00+00:00");
        let china = china_today();
        let utc = Utc::now().date_naive();
        assert!(china == utc || china == utc.succ_opt().unwrap());
    }
}
