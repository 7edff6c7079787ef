//! Filesystems the harness makes on loop devices: an image file, `mkfs`, `losetup`, `mount` —
//! and taking them apart again from their handles alone (the image's path, the mount point), so
//! that a dead run's are found exactly: a loop device by its backing file, a mount by its point.
//! Every command has a deadline; every blocking call runs through [`super::blocking`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{blocking, Cmd, HostError};

/// Deadline of `mkfs` on an image of at most a few GiB.
pub const MKFS_DEADLINE: Duration = Duration::from_secs(120);
/// Deadline of one `losetup`, `mount` or unmount.
pub const LOOP_DEADLINE: Duration = Duration::from_secs(30);

/// Creates a sparse image file of `size` bytes (blocking: call through [`blocking`]).
pub fn create_image(path: &Path, size: u64) -> std::io::Result<()> {
    let f = super::private::create(path)?;
    f.set_len(size)
}

/// `mkfs.FS` on the image, quietly: ext4 without blocks reserved for root (root's writes fill it
/// too), xfs as it comes.
pub async fn mkfs(image: &Path, fs: &str) -> Result<(), HostError> {
    let image = image.display().to_string();
    let args: Vec<&str> = match fs {
        "ext4" => vec!["-q", "-F", "-m", "0", "-L", "shakedown", &image],
        _ => vec!["-q", "-f", "-L", "shakedown", &image],
    };
    Cmd::new(&format!("mkfs.{fs}"), &args)
        .deadline(MKFS_DEADLINE)
        .run()
        .await
        .map(|_| ())
}

/// Attaches the image to a free loop device; returns it (`/dev/loopN`).
pub async fn attach(image: &Path) -> Result<String, HostError> {
    let image = image.display().to_string();
    let out = Cmd::new("losetup", &["--find", "--show", &image])
        .deadline(LOOP_DEADLINE)
        .run()
        .await?;
    Ok(out.trim().to_string())
}

/// Mounts `device` (a filesystem of type `fs`) at `point`.
pub async fn mount(device: &str, point: &Path, fs: &str) -> Result<(), HostError> {
    let point = point.display().to_string();
    Cmd::new("mount", &["-t", fs, device, &point])
        .deadline(LOOP_DEADLINE)
        .run()
        .await
        .map(|_| ())
}

/// The loop devices whose backing file is `image` (as the kernel names it in
/// `/sys/block/loopN/loop/backing_file`, with ` (deleted)` once the file is gone). Blocking.
pub fn devices_backed_by(image: &Path) -> std::io::Result<Vec<String>> {
    let want = image.as_os_str().to_string_lossy().into_owned();
    let deleted = format!("{want} (deleted)");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/sys/block")? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let file = Path::new("/sys/block")
            .join(&name)
            .join("loop")
            .join("backing_file");
        if let Ok(text) = std::fs::read_to_string(file) {
            let text = text.trim_end_matches('\n');
            if text == want || text == deleted {
                found.push(format!("/dev/{name}"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Detaches every loop device backed by `image`; says what it did. A device still open (a
/// filesystem on it not yet released) is detached by the kernel once it is released
/// (`losetup -d` sets autoclear on it).
pub async fn detach_image(image: &Path) -> Result<String, String> {
    let path = image.to_path_buf();
    let devices = blocking("listing loop devices", LOOP_DEADLINE, move || {
        devices_backed_by(&path)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("reading /sys/block: {e}"))?;
    if devices.is_empty() {
        return Ok(format!("no loop device on {}", image.display()));
    }
    for d in &devices {
        Cmd::new("losetup", &["-d", d])
            .deadline(LOOP_DEADLINE)
            .run()
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(format!("detached {}", devices.join(", ")))
}

/// Detaches everything mounted at `point` (stacked mounts included, and with them whatever is
/// mounted below), lazily: a process still using the filesystem keeps it until it lets go.
/// Blocking (call through [`blocking`]).
pub fn unmount_all(point: &Path) -> Result<usize, String> {
    let mut n = 0;
    loop {
        let table = super::mounts::read().map_err(|e| format!("reading mountinfo: {e}"))?;
        if !table.iter().any(|m| m.point == point) {
            return Ok(n);
        }
        if n >= 64 {
            return Err(format!(
                "{} is still mounted after {n} unmounts",
                point.display()
            ));
        }
        nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| format!("unmounting {}: {e}", point.display()))?;
        n += 1;
    }
}

/// The mount point and image file of the `index`-th filesystem made in a run's directory.
pub fn layout(run_dir: &Path, index: usize) -> (PathBuf, PathBuf) {
    let dir = run_dir.join(format!("fs-{index}"));
    (dir.join("mnt"), dir.join("image"))
}

/// What a filesystem has left for root: (bytes, inodes). Blocking.
pub fn space(point: &Path) -> std::io::Result<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(point).map_err(std::io::Error::from)?;
    Ok((
        (st.blocks_free() as u64).saturating_mul(st.fragment_size() as u64),
        st.files_free() as u64,
    ))
}

/// Creates `path` (which must not exist) holding `bytes` of allocated space with `fallocate`
/// (no data written, so the image beneath stays sparse), or with zeros written until `bytes` or
/// ENOSPC where the filesystem cannot allocate. Returns what it allocated; a filesystem without
/// room for all of it is ENOSPC (the file is left empty). Blocking.
pub fn fill_file(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    match nix::fcntl::fallocate(
        &f,
        nix::fcntl::FallocateFlags::empty(),
        0,
        bytes.min(i64::MAX as u64) as i64,
    ) {
        Ok(()) => Ok(bytes),
        Err(nix::errno::Errno::EOPNOTSUPP) => write_zeros(f, bytes),
        Err(e) => Err(e.into()),
    }
}

/// Creates `path` (which must not exist) and writes zeros into it until the filesystem refuses
/// (ENOSPC) or `bytes` are written: the last blocks `fallocate` leaves. Blocking.
pub fn top_up(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    write_zeros(f, bytes)
}

fn write_zeros(mut f: std::fs::File, bytes: u64) -> std::io::Result<u64> {
    use std::io::Write;
    let zeros = vec![0u8; 64 << 10];
    let mut written = 0u64;
    while written < bytes {
        let n = zeros.len().min((bytes - written) as usize);
        match f.write(&zeros[..n]) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => return Err(e),
        }
    }
    // Delayed allocation: the filesystem may refuse the blocks only when they are written back.
    match f.sync_all() {
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => Ok(written),
        r => r.map(|()| written),
    }
}

/// Creates empty files in the directory `dir` (made here) until the filesystem at `point` has at
/// most `free` inodes left, or refuses another (ENOSPC). Returns how many it made. Blocking.
pub fn fill_inodes(dir: &Path, point: &Path, free: u64) -> std::io::Result<u64> {
    std::fs::create_dir(dir)?;
    let mut made = 0u64;
    loop {
        let (_, inodes) = space(point)?;
        if inodes <= free {
            return Ok(made);
        }
        // Between two looks at the filesystem, at most what is left above `free`.
        for _ in 0..(inodes - free).min(4096) {
            match std::fs::File::create_new(dir.join(made.to_string())) {
                Ok(_) => made += 1,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Ok(made),
                Err(e) => return Err(e),
            }
        }
    }
}
