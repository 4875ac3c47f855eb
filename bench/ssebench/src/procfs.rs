//! What `/proc` says about a process: resident memory and CPU time, for the server (`--server-pid`) and for the
//! tool itself.

/// `VmRSS` in KiB from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

/// User + system CPU time in clock ticks from the text of `/proc/<pid>/stat` (fields 14 and 15, counted after the
/// command name, which may itself contain spaces and parentheses).
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th and stime (15) the 13th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total CPU ticks of the whole machine, all cores summed, from the text of `/proc/stat`. Busy is
/// everything but idle and iowait. Compared with a process's own ticks this shows how much of the machine other
/// processes took during a measurement (the machine is shared).
pub fn parse_machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 5 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    let total: u64 = values.iter().take(8).sum();
    Some((total - values[3] - values[4], total))
}

/// The machine's (busy, total) CPU seconds, all cores summed.
pub fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let (busy, total) = parse_machine_ticks(&std::fs::read_to_string("/proc/stat").ok()?)?;
    Some((
        busy as f64 / TICKS_PER_SECOND,
        total as f64 / TICKS_PER_SECOND,
    ))
}

/// `USER_HZ`: the unit of `/proc/<pid>/stat` times, 100 on every Linux architecture Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;

/// `read` (e.g. [`rss_kib`], [`cpu_seconds`]) summed over a server of several processes, such as nginx's master and
/// workers. `None` without pids or when any one of them cannot be read: a partial sum would pass for a drop in
/// memory or CPU (a worker that died and was replaced has a new pid, so the whole figure is unknown).
pub fn sum_over<T: std::iter::Sum<T>>(pids: &[u32], read: impl Fn(&str) -> Option<T>) -> Option<T> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|pid| read(&pid.to_string())).sum()
}

/// `pid` or `self`.
pub fn rss_kib(pid: &str) -> Option<u64> {
    parse_vm_rss_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// CPU seconds (user + system) used by `pid` or `self` so far.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let ticks = parse_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_from_status_text() {
        let status = "Name:\tserver\nVmPeak:\t  100 kB\nVmRSS:\t   23456 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(parse_vm_rss_kib(status), Some(23456));
        assert_eq!(
            parse_vm_rss_kib("Name:\tkthreadd\n"),
            None,
            "kernel threads have no VmRSS"
        );
        assert_eq!(
            parse_vm_rss_kib("VmRSS:\t12 MB\n"),
            None,
            "an unknown unit is not guessed at"
        );
    }

    #[test]
    fn sums_over_every_pid_or_gives_none() {
        let fake = |pid: &str| pid.parse::<u64>().ok().filter(|&p| p < 100).map(|p| p * 10);
        assert_eq!(sum_over(&[1, 2, 30], fake), Some(330));
        assert_eq!(
            sum_over(&[7], fake),
            Some(70),
            "one pid is that pid's figure"
        );
        assert_eq!(sum_over(&[1, 200], fake), None, "one pid unreadable");
        assert_eq!(sum_over(&[], fake), None, "no server given");
        let me = std::process::id();
        let once = sum_over(&[me], rss_kib).unwrap();
        let twice = sum_over(&[me, me], rss_kib).unwrap();
        assert!(twice >= once && twice > 0, "{once} KiB, twice {twice} KiB");
        assert!(sum_over(&[me, me], cpu_seconds).is_some());
    }

    #[test]
    fn reads_machine_ticks_without_idle_and_iowait() {
        let stat = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1 2 3\n";
        assert_eq!(parse_machine_ticks(stat), Some((160, 1000)));
        assert_eq!(parse_machine_ticks("cpu  1 2\n"), None);
        assert!(machine_cpu_seconds().is_some_and(|(busy, total)| busy <= total));
    }

    #[test]
    fn reads_cpu_ticks_even_with_odd_command_names() {
        let stat = "1234 (tokio (rt) 1) S 1 1234 1234 0 -1 4194304 500 0 0 0 250 75 0 0 20 0 3 0 100 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("1234 (x) S 1"), None);
        assert!(cpu_seconds("self").is_some() && rss_kib("self").is_some_and(|k| k > 0));
    }
}
