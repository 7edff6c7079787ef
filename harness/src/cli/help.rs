//! The text `--help` ends with, and the manual page with it: examples, exit codes and the
//! environment variables the harness reads. One definition: clap prints it, `shakedown man`
//! renders it.

/// The exit codes, as `--help` and the README list them (decided in `model::error`).
pub const EXIT_CODES: &str = "\
Exit codes:
  0    every scenario passed or was skipped (qualify: the candidate qualifies)
  1    a scenario failed or is unknown (qualify: a regression, broken, unknown or one-sided)
  2    bad input: a scenario file, a path, a flag
  3    the environment or a target could not be used: no engine, an unreachable host, a missing
       tool, a daemon that does not answer, a full state directory
  130  interrupted by Ctrl-C (SIGINT), after undoing the run's changes
  143  terminated by SIGTERM, after undoing the run's changes";

/// The environment variables the harness reads.
pub const ENVIRONMENT: &str = "\
Environment:
  SHAKEDOWN_STATE_DIR      state directory: runs, journals, engines, VM images
                           (default /var/lib/shakedown)
  SHAKEDOWN_VM_ACCEL       kvm or tcg: force qemu's accelerator for vm: targets (default: KVM
                           when it works)
  SHAKEDOWN_REMOTE_BINARY  the binary to copy to SSH, Vagrant and VM targets (--remote-binary)
  DOCKER_HOST              the daemon of --target docker: unix://, tcp:// (TLS with the two
                           below) or ssh:// (the run goes there); default: the Docker context,
                           else unix:///var/run/docker.sock
  DOCKER_TLS_VERIFY        set: TLS to a tcp:// DOCKER_HOST, the daemon verified
  DOCKER_CERT_PATH         ca.pem, cert.pem and key.pem for it (default ~/.docker)
  DOCKER_TLS               TLS without verifying the daemon: refused
  DOCKER_CONTEXT           the Docker context to use (default: config.json's currentContext)
  DOCKER_CONFIG            the Docker CLI's configuration directory, with its contexts
                           (default ~/.docker)
  HOME                     where ~/.docker is
  PATH                     where dockerd, containerd, runc and docker-init are found for the
                           managed target (without --engine or --engine-dir), and ip, tc,
                           iptables, ssh, apt-get, qemu-system-x86_64
  RUST_LOG                 log filter (tracing's EnvFilter syntax); overrides -v
  NO_COLOR                 no colours in log output";

/// Examples for the top level.
pub const EXAMPLES: &str = "\
Examples:
  shakedown run                              the built-in suite on a private daemon
  shakedown run scenarios/cgroup-oom.yaml --json r.json --junit r.xml
  shakedown run --target docker --allow-disruptive
  shakedown run --json - --progress none     the JSON report on standard output
  shakedown validate my-scenario.yaml        errors name file:line:col (exit 2)
  shakedown list --format json
  shakedown judge run.jsonl --html run.html  a saved journal judged again
  shakedown qualify --baseline engine=20.10.24 --candidate engine=28.5.2 --html q.html
  shakedown schema report                    the JSON report's schema
  shakedown man | man -l -";

/// Examples for `run`.
pub const RUN_EXAMPLES: &str = "\
Examples:
  shakedown run                                  the built-in suite, managed daemons, 3 at once
  shakedown run my.yaml --filter oom --repeat 5  statistics per measure
  shakedown run --target ssh://root@10.0.0.5 --json r.json
  shakedown run --engine 28.5.2 --junit r.xml    Debian's docker.io 28.5.2, fetched on demand
  shakedown run --progress lines 2> run.log      a line per finished scenario, a heartbeat";

/// Examples for `qualify`.
pub const QUALIFY_EXAMPLES: &str = "\
Examples:
  shakedown qualify --baseline engine=20.10.24 --candidate engine=28.5.2 --html q.html
  shakedown qualify --baseline vm:b12 --candidate vm:b13 --repeat 3
  shakedown qualify --baseline journal=a.jsonl --candidate journal=b.jsonl --json -";

/// `-h`'s ending: the exit codes, and where the rest is.
pub fn short() -> String {
    format!("{EXIT_CODES}\n\n`--help` has examples and the environment variables; `shakedown man` prints the manual page.")
}

/// `--help`'s ending: examples, exit codes, environment.
pub fn long() -> String {
    format!("{EXAMPLES}\n\n{EXIT_CODES}\n\n{ENVIRONMENT}")
}

/// A subcommand's `--help` ending: its examples, then the exit codes.
pub fn with_examples(examples: &str) -> String {
    format!("{examples}\n\n{EXIT_CODES}")
}
