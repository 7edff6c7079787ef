//! Process descriptors (`pidfd_open(2)`, Linux ≥ 5.3): a signal sent through one reaches the
//! process it was opened for or nobody — never a process that later got the same PID.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// An open process descriptor.
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: u32,
}

impl PidFd {
    /// Opens a descriptor for the process with this PID now.
    pub fn open(pid: u32) -> std::io::Result<Self> {
        let pid_t = libc::pid_t::try_from(pid)
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a plain system call; on success it returns a new descriptor that we own.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid_t, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(PidFd { fd, pid })
    }

    /// The PID it was opened for.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` (0 only checks) to exactly this process.
    pub fn signal(&self, signal: i32) -> std::io::Result<()> {
        // SAFETY: a plain system call on a descriptor we own; no siginfo is passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Whether the process has not exited yet (a zombie counts as exited).
    pub fn is_alive(&self) -> bool {
        self.signal(0).is_ok() && super::proc::alive(self.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_outlives_its_process_but_signals_nobody_else() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = PidFd::open(child.id()).unwrap();
        assert!(fd.is_alive());
        fd.signal(libc::SIGKILL).unwrap();
        child.wait().unwrap();
        // Reaped: the descriptor now refers to no process, and a signal reaches nobody.
        assert!(!fd.is_alive());
        assert_eq!(
            fd.signal(libc::SIGKILL).unwrap_err().raw_os_error(),
            Some(libc::ESRCH)
        );
    }
}
