//! Every example under examples/ runs end to end as its README says: the application image is
//! built from Debian's packages (debootstrap from deb.debian.org), the scenario builds it on the
//! managed daemon itself, and the broken variant fails the way the incident did while the fixed
//! one passes — checked against what the client itself printed.

mod common;

use std::process::Command;

#[test]
fn asyncio_hang_reproduces_and_the_fix_holds() {
    let dir = common::repo().join("examples/asyncio-hang");
    let build = Command::new(dir.join("build-rootfs.sh"))
        .output()
        .expect("build-rootfs.sh");
    assert!(build.status.success(), "{}", common::text(&build));
    assert!(dir.join("image/rootfs.tar").is_file());

    let state = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let (out, report) = common::run_json(
        state.path(),
        out_dir.path(),
        &[dir.join("scenario.yaml").as_path()],
        &[],
    );
    // One variant fails: the incident is reproduced.
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let broken = common::verdict(&report, "asyncio-hang[broken]");
    let fixed = common::verdict(&report, "asyncio-hang[fixed]");
    assert_eq!(broken["outcome"], "fail", "{broken}");
    assert_eq!(fixed["outcome"], "pass", "{fixed}");
    let check = common::check_of(
        &report,
        "asyncio-hang[broken]",
        "replies resume after the blip",
        "probe",
    );
    assert_eq!(check["outcome"], "fail", "{check}");
    // What the clients printed (their own stdout, from the daemon's log).
    let client = |name: &str| -> String {
        let s = report["targets"][0]["run"]["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        s["iterations"][0]["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["container"] == "client")
            .unwrap_or_else(|| panic!("no client output in {s}"))["stdout"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let b = client("asyncio-hang[broken]");
    assert!(b.contains("reply 2") && !b.contains("reconnecting"), "{b}");
    let f = client("asyncio-hang[fixed]");
    let after = f
        .split("reconnecting: TimeoutError")
        .nth(1)
        .unwrap_or_else(|| panic!("the fixed client never timed out: {f}"));
    assert!(
        after.contains("connected to server:9000") && after.contains("reply"),
        "{f}"
    );
    // The failure text a user sees names the step and shows the client's last output.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("probe: expected up, observed down"),
        "{stdout}"
    );
}
