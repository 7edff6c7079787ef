//! A real OpenSSH server on loopback for the tests that drive hosts over SSH: its own host key,
//! a client key authorized for root, a known_hosts file naming it, and the process killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd and the client-side files to reach it.
pub struct Sshd {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// The client's private key (authorized for root).
    pub key: PathBuf,
    /// A known_hosts file with the server's host key for `[127.0.0.1]:PORT`.
    pub known_hosts: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect(
            "ssh-keygen (openssh-client) must be installed: ci/install-test-deps.sh installs it",
        );
    assert!(out.status.success(), "{out:?}");
}

impl Sshd {
    /// Starts sshd on a free loopback port and waits until it accepts connections.
    pub fn start() -> Sshd {
        Sshd::start_hiding(&[])
    }

    /// Like [`Sshd::start`], but sshd and every session run in a mount namespace of their own where
    /// each of `hidden` (existing files) reads as a short text file, not the program it is here: a
    /// "host" without those programs.
    pub fn start_hiding(hidden: &[&Path]) -> Sshd {
        Sshd::start_with(hidden, "")
    }

    /// Like [`Sshd::start`], with every session's command given to `script` (sshd's
    /// `ForceCommand`; the command asked for is in `$SSH_ORIGINAL_COMMAND`): a host that does
    /// something other than what it was asked.
    pub fn start_forcing(script: &str) -> Sshd {
        Sshd::start_with(&[], script)
    }

    fn start_with(hidden: &[&Path], force: &str) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host"));
        keygen(&d.join("client"));
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
             AuthorizedKeysFile {auth}\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nSubsystem sftp internal-sftp\nMaxStartups 50\nMaxSessions 50\n",
            host = d.join("host").display(),
            pid = d.join("sshd.pid").display(),
            auth = d.join("authorized_keys").display(),
        );
        let config = if force.is_empty() {
            config
        } else {
            let path = d.join("force.sh");
            std::fs::write(&path, force).unwrap();
            format!("{config}ForceCommand /bin/sh {}\n", path.display())
        };
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let host_pub = std::fs::read_to_string(d.join("host.pub")).unwrap();
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {kind} {key}\n"),
        )
        .unwrap();
        // Privilege separation needs this directory; Debian's package creates it at boot only.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut cmd = if hidden.is_empty() {
            Command::new("/usr/sbin/sshd")
        } else {
            std::fs::write(d.join("hidden"), "hidden by the test's sshd\n").unwrap();
            let mut script = String::from("set -e; ");
            for f in hidden {
                script.push_str(&format!(
                    "mount --bind '{}' '{}'; ",
                    d.join("hidden").display(),
                    f.display()
                ));
            }
            // sshd's arguments follow the script: `$0` is the first, `$@` the rest.
            script.push_str("exec /usr/sbin/sshd \"$0\" \"$@\"");
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
                .arg(script);
            c
        };
        let child = cmd
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "/usr/sbin/sshd (openssh-server) must be installed: ci/install-test-deps.sh installs it",
            );
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            port,
            key: d.join("client"),
            known_hosts: d.join("known_hosts"),
            child,
            _dir: dir,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
