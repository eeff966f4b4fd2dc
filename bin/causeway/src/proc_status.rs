//! Memory counters of a process from Linux's `/proc/<pid>/status`, for the benchmarks'
//! reports. `None` where there is no procfs (or no such field): the reports then say
//! "unknown" rather than failing.

/// Which process to read.
#[derive(Debug, Clone, Copy)]
pub enum Process {
    This,
    Pid(u32),
}

/// A `kB` field of the process's status, e.g. `"VmHWM:"` (peak resident set) or `"VmRSS:"`.
pub fn status_kb(process: Process, field: &str) -> Option<u64> {
    let path = match process {
        Process::This => "/proc/self/status".to_owned(),
        Process::Pid(pid) => format!("/proc/{pid}/status"),
    };
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The peak resident set (`VmHWM`) in kB.
pub fn peak_rss_kb(process: Process) -> Option<u64> {
    status_kb(process, "VmHWM:")
}

/// Resets this process's peak-RSS mark to its current RSS (writing 5 to `clear_refs`), so that
/// a later [`peak_rss_kb`] covers only what ran after; `false` where that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
