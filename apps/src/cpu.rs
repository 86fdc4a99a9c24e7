//! The CPU time this process has used, for the demo's summary.
//!
//! Read from `/proc/self/stat` (fields 14 and 15, `utime` and `stime`, in
//! clock ticks of `USER_HZ`, which Linux fixes at 100 for this file).

use std::time::Duration;

/// Ticks per second of `utime`/`stime` in `/proc/<pid>/stat`.
const USER_HZ: f64 = 100.0;

/// User plus system CPU time of the whole process (every thread) so far;
/// `None` where `/proc` is not there.
pub fn process_cpu() -> Option<Duration> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name (field
/// 2) is in parentheses and may hold spaces or parentheses itself, so the
/// fields are counted from the last `)`.
fn parse_stat(line: &str) -> Option<Duration> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_a_name_with_spaces_and_parentheses() {
        let line = "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 7 0 1 2 3";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(3250)));
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spent = process_cpu().expect("/proc/self/stat on Linux");
        let mut x = 0u64;
        let until = std::time::Instant::now() + Duration::from_millis(50);
        while std::time::Instant::now() < until {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        assert!(process_cpu().unwrap() >= spent);
    }
}
