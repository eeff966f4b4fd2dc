//! Durable, all-or-nothing file writes: what every file the prover leaves for another
//! process (keys, jobs, proofs) is written with.
//!
//! A reader sees either no file or the whole file: the bytes go to a temporary file in the
//! same directory (so the rename cannot cross filesystems), are fsynced, and the temporary
//! file is renamed over the target; the directory is then fsynced so the rename itself
//! survives a crash. Temporary files start with `.` and end in `.tmp`, so directory scans
//! that look for `*.job` or `*.pk` never see one.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `path` atomically and durably with what `fill` writes.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temporary_beside(path)?;
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(&file);
        fill(&mut w)?;
        w.flush()?;
        drop(w);
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `bytes` to `path` atomically, failing with `AlreadyExists` (and leaving the old
/// file) if `path` exists: a hard link never replaces its target.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temporary_beside(path)?;
    let result = (|| {
        let file = File::create(&tmp)?;
        (&file).write_all(bytes)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)?;
        sync_parent(path)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Makes a rename into (or a removal from) `path`'s directory durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Makes the renames into and removals from `dir` so far durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing on every platform; Unix is where it matters.
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `dir/.name.<pid>.<n>.tmp`: unique among this process's writers and other processes'.
fn temporary_beside(path: &Path) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a file path has a name"))?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write(&p, b"first").unwrap();
        write(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let e = write_new(&p, b"third").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"second");
        write_new(&dir.path().join("b.bin"), b"b").unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
