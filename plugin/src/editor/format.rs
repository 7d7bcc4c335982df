//! Text for the editor's numbers: clock times, durations, levels and loads.

/// A position in a file as `mm:ss.s` (minutes may exceed 59), or `--:--.-` when it is not a
/// finite, non-negative number.
pub fn clock(seconds: f32) -> String {
    if !(seconds.is_finite() && seconds >= 0.0) {
        return "--:--.-".to_string();
    }
    // Round to tenths first, so 59.96 s reads 01:00.0 and not 00:60.0.
    let tenths = (f64::from(seconds) * 10.0).round() as u64;
    let minutes = tenths / 600;
    let seconds = (tenths % 600) / 10;
    let tenth = tenths % 10;
    format!("{minutes:02}:{seconds:02}.{tenth}")
}

/// A length of audio for people: `42.5 s`, `12 min 05 s` or `1 h 02 min`.
pub fn duration(seconds: f64) -> String {
    if !(seconds.is_finite() && seconds >= 0.0) {
        return "unknown".to_string();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, (whole % 3600) / 60)
    }
}

/// A level in dBFS with one decimal, or `-inf` at or below `floor_db`.
pub fn dbfs(db: f32, floor_db: f32) -> String {
    if db.is_finite() && db > floor_db {
        format!("{db:.1} dBFS")
    } else {
        "-inf dBFS".to_string()
    }
}

/// A load (time spent over time available) as a percentage of real time.
pub fn percent_of_real_time(load: f32) -> String {
    if load.is_finite() && load >= 0.0 {
        format!("{:.0} %", load * 100.0)
    } else {
        "–".to_string()
    }
}

/// A latency in samples as milliseconds at `sample_rate`, or in samples when the rate is
/// unknown.
pub fn latency_ms(samples: u32, sample_rate: Option<f32>) -> String {
    match sample_rate.filter(|rate| rate.is_finite() && *rate > 0.0) {
        Some(rate) => format!("{:.0} ms", samples as f32 * 1000.0 / rate),
        None => format!("{samples} smp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_minutes_seconds_and_tenths() {
        assert_eq!(clock(0.0), "00:00.0");
        assert_eq!(clock(83.24), "01:23.2");
        assert_eq!(clock(754.04), "12:34.0");
        assert_eq!(clock(6000.0), "100:00.0");
    }

    #[test]
    fn clock_rounds_into_the_next_minute() {
        assert_eq!(clock(59.96), "01:00.0");
        assert_eq!(clock(119.97), "02:00.0");
    }

    #[test]
    fn clock_marks_impossible_positions() {
        assert_eq!(clock(f32::NAN), "--:--.-");
        assert_eq!(clock(-1.0), "--:--.-");
        assert_eq!(clock(f32::INFINITY), "--:--.-");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(42.54), "42.5 s");
        assert_eq!(duration(725.0), "12 min 05 s");
        assert_eq!(duration(3720.0), "1 h 02 min");
        assert_eq!(duration(f64::NAN), "unknown");
    }

    #[test]
    fn levels_below_the_floor_read_minus_infinity() {
        assert_eq!(dbfs(-6.02, -60.0), "-6.0 dBFS");
        assert_eq!(dbfs(-60.0, -60.0), "-inf dBFS");
        assert_eq!(dbfs(f32::NEG_INFINITY, -60.0), "-inf dBFS");
    }

    #[test]
    fn loads_and_latencies_read_in_their_units() {
        assert_eq!(percent_of_real_time(0.126), "13 %");
        assert_eq!(percent_of_real_time(f32::NAN), "–");
        assert_eq!(latency_ms(29_760, Some(48_000.0)), "620 ms");
        assert_eq!(latency_ms(512, None), "512 smp");
    }
}
