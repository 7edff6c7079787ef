//! The busybox initramfs, written here as a newc cpio: busybox, the modules that reach the root
//! disk (unpacked from the kernel's, dependencies first) and an init that switches to the root.

use std::path::Path;

use anyhow::{bail, Context};

/// Modules the initramfs loads (with what they depend on) to reach the root disk.
/// (ext4 asks for crc32c by a soft dependency, which modules.dep does not list; built in in the
/// cloud kernels, a module in `linux-image-amd64`.)
const BOOT_MODULES: [&str; 4] = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/// Modules to load, in order (dependencies first), from `modules.dep`; built-in ones are skipped.
fn module_order(dep: &str, wanted: &[&str]) -> anyhow::Result<Vec<String>> {
    let norm = |s: &str| s.replace('-', "_");
    let mut deps = std::collections::HashMap::new();
    for l in dep.lines() {
        let Some((m, rest)) = l.split_once(':') else {
            continue;
        };
        deps.insert(
            module_name(m),
            (
                m.to_string(),
                rest.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
        );
    }
    fn visit(
        m: &str,
        deps: &std::collections::HashMap<String, (String, Vec<String>)>,
        out: &mut Vec<String>,
    ) {
        let Some((path, ds)) = deps.get(m) else {
            return;
        };
        if out.contains(path) {
            return;
        }
        for d in ds {
            visit(&module_name(d), deps, out);
        }
        if !out.contains(path) {
            out.push(path.clone());
        }
    }
    let mut out = vec![];
    for w in wanted {
        visit(&norm(w), &deps, &mut out);
    }
    Ok(out)
}

/// `kernel/fs/ext4/ext4.ko.xz` → `ext4`.
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// The busybox initramfs (a newc cpio): busybox, the boot modules, and an init that mounts
/// /dev/vda and switches to its `/sbin/shakedown-init`.
pub(super) fn initramfs(root: &Path, kernel: &str, out: &Path) -> anyhow::Result<()> {
    let mdir = root.join("usr/lib/modules").join(kernel);
    let dep = std::fs::read_to_string(mdir.join("modules.dep")).context("modules.dep")?;
    let order = module_order(&dep, &BOOT_MODULES)?;
    let mut files: Vec<(String, u32, Vec<u8>)> = vec![];
    let busybox = std::fs::read(root.join("usr/bin/busybox"))
        .or_else(|_| std::fs::read(root.join("bin/busybox")))
        .context("busybox-static's /bin/busybox")?;
    files.push(("bin/busybox".into(), 0o100755, busybox));
    let mut names = vec![];
    for m in &order {
        let data = std::fs::read(mdir.join(m)).with_context(|| format!("module {m}"))?;
        let data = decompress(m, data)?;
        let name = module_name(m);
        files.push((format!("lib/{name}.ko"), 0o100644, data));
        names.push(name);
    }
    let init = format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in {mods}; do insmod /lib/$m.ko || echo "initramfs: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "initramfs: cannot mount /dev/vda"
  poweroff -f
fi
umount /proc /sys /dev
exec switch_root /newroot /sbin/shakedown-init
"#,
        mods = names.join(" ")
    );
    files.push(("init".into(), 0o100755, init.into_bytes()));
    let mut cpio = Vec::new();
    let mut ino = 1;
    for d in ["bin", "lib", "proc", "sys", "dev", "newroot"] {
        cpio_entry(&mut cpio, ino, d, 0o040755, &[]);
        ino += 1;
    }
    for (name, mode, data) in &files {
        cpio_entry(&mut cpio, ino, name, *mode, data);
        ino += 1;
    }
    cpio_entry(&mut cpio, 0, "TRAILER!!!", 0, &[]);
    ::host::private::write(out, cpio).with_context(|| format!("{}", out.display()))
}

fn decompress(path: &str, data: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let tool = if path.ends_with(".xz") {
        "xz"
    } else if path.ends_with(".zst") {
        "zstd"
    } else if path.ends_with(".gz") {
        "gzip"
    } else {
        return Ok(data);
    };
    use std::io::Write;
    let mut child = std::process::Command::new(tool)
        .args(["-dc"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("{tool} (to unpack {path})"))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output()?;
    let _ = feeder.join();
    if !out.status.success() {
        bail!("{tool} -dc {path} failed");
    }
    Ok(out.stdout)
}

/// One entry of a newc cpio archive.
fn cpio_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_load_dependencies_first_and_skip_builtins() {
        let dep = "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio_ring.ko:\nkernel/drivers/virtio/virtio_pci_modern_dev.ko:\nkernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n";
        let o = module_order(dep, &["virtio_pci", "virtio_blk", "ext4"]).unwrap();
        let names: Vec<String> = o.iter().map(|p| module_name(p)).collect();
        assert_eq!(
            names,
            [
                "virtio_pci_modern_dev",
                "virtio_ring",
                "virtio",
                "virtio_pci",
                "virtio_blk"
            ]
        );
    }

    #[test]
    fn cpio_entries_are_aligned() {
        let mut v = vec![];
        cpio_entry(&mut v, 1, "init", 0o100755, b"abcde");
        assert!(v.len().is_multiple_of(4));
        assert!(v.starts_with(b"070701"));
    }
}
