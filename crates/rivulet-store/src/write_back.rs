//! Starting the kernel's write-back of a file's dirty pages without waiting for it: the only
//! unsafe code in the workspace, one system call that std does not offer.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// Asks the kernel to start writing every dirty page of `file` to the device now, without
/// waiting for the writes and without flushing the device's cache (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE` over the whole file). It can block while the device's request queue
/// is full, so it belongs on a thread of its own. It makes nothing durable: a page whose write
/// fails is still reported by the next `fsync` of the file, on any of its descriptors.
#[cfg(target_os = "linux")]
pub(crate) fn start_write_back(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the call reads and writes none of this process's memory, and `file` is borrowed
    // for its whole duration, so the descriptor stays open and names the same file.
    let result = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere the kernel's own write-back timing stands.
#[cfg(not(target_os = "linux"))]
pub(crate) fn start_write_back(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn write_back_starts_on_a_file_with_dirty_pages_and_on_a_read_only_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut file = File::create(&path).unwrap();
        file.write_all(&vec![7u8; 1 << 20]).unwrap();
        start_write_back(&file).unwrap();
        // The checkpointer opens the database file read-only.
        start_write_back(&File::open(&path).unwrap()).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_call_reports_the_system_error() {
        // A character device has no pages to write back: the kernel refuses it.
        let error = start_write_back(&File::open("/dev/null").unwrap()).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ESPIPE));
    }
}
