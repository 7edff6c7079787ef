//! The harness's own files, root-only. Everything under the state directory (journals hold
//! container output and the scenarios' environment values, VM images hold SSH keys) is created
//! 0700 (directories) and 0600 (files), as Docker keeps its data-root, whatever the umask; what is
//! written where the user asks (reports, `--journal FILE`, `--artifacts DIR`) follows the umask.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of the harness's directories.
pub const DIR_MODE: u32 = 0o700;
/// The mode of the harness's files.
pub const FILE_MODE: u32 = 0o600;

/// The harness's state directory: `$SHAKEDOWN_STATE_DIR`, else `/var/lib/shakedown`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("SHAKEDOWN_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/shakedown"))
}

/// Creates `path` and its missing parents, each new one 0700 (existing ones are left as they are).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Creates the directory `path` (its parent must exist) 0700; fails if it exists.
pub fn create_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(path)
}

/// Options that create a file 0600 (an existing file keeps its mode).
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates (truncates) the file `path` 0600, and its missing parents 0700.
pub fn create(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir_all(dir)?;
    }
    let f = options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}

/// Writes `contents` to the file `path` (0600, replacing what it held).
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    io::Write::write_all(&mut create(path)?, contents.as_ref())
}

/// Sets `path` (a file or a directory another program made) to 0600 or 0700.
pub fn restrict(path: &Path) -> io::Result<()> {
    let mode = match std::fs::symlink_metadata(path)?.is_dir() {
        true => DIR_MODE,
        false => FILE_MODE,
    };
    std::fs::set_permissions(path, Permissions::from_mode(mode))
}

/// Creates the directory `path` 0700, or takes group's and others' access away from it when it
/// exists with a looser mode (a state directory made before, or by hand). A directory with the
/// sticky bit (`/tmp` named as the state directory) is shared by design and left alone: what the
/// harness makes in it is 0700 itself.
pub fn ensure_dir(path: &Path) -> io::Result<()> {
    create_dir_all(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o1000 == 0 && mode & 0o077 != 0 {
        std::fs::set_permissions(path, Permissions::from_mode(mode & 0o7700))?;
    }
    Ok(())
}

/// Whether `path` lies in the directory `state` (both made absolute, not resolved).
pub fn is_under(path: &Path, state: &Path) -> bool {
    match (std::path::absolute(path), std::path::absolute(state)) {
        (Ok(p), Ok(s)) => p.starts_with(s),
        _ => false,
    }
}

/// Creates (truncates) the file `path` and its missing parents: root-only under the state
/// directory `state` (which is made root-only too, see [`ensure_dir`]), with the umask anywhere
/// else (where the user asked for it).
pub fn create_in(state: &Path, path: &Path) -> io::Result<File> {
    if is_under(path, state) {
        ensure_dir(state)?;
        return create(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    File::create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The umask is the process's: tests that set it take turns.
    static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn modes_do_not_depend_on_the_umask() {
        let _turn = UMASK.lock().unwrap();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0));
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a/b/c.txt");
        write(&f, "x").unwrap();
        nix::sys::stat::umask(old);
        assert_eq!(mode(&d.path().join("a")), 0o700);
        assert_eq!(mode(&d.path().join("a/b")), 0o700);
        assert_eq!(mode(&f), 0o600);
    }

    #[test]
    fn a_loose_directory_is_tightened_and_a_sticky_one_left() {
        let d = tempfile::tempdir().unwrap();
        let loose = d.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o700);
        let sticky = d.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, Permissions::from_mode(0o1777)).unwrap();
        ensure_dir(&sticky).unwrap();
        assert_eq!(mode(&sticky), 0o1777);
    }

    #[test]
    fn files_elsewhere_follow_the_umask() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state");
        assert!(is_under(&state.join("runs/x/journal.jsonl"), &state));
        assert!(!is_under(&d.path().join("statefile"), &state));
        let _turn = UMASK.lock().unwrap();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        create_in(&state, &d.path().join("out/j.jsonl")).unwrap();
        create_in(&state, &state.join("runs/j.jsonl")).unwrap();
        nix::sys::stat::umask(old);
        assert_eq!(mode(&d.path().join("out/j.jsonl")), 0o644);
        assert_eq!(mode(&d.path().join("out")), 0o755);
        assert_eq!(mode(&state.join("runs/j.jsonl")), 0o600);
        assert_eq!(mode(&state.join("runs")), 0o700);
    }
}
