//! Hosts on one machine for tests: Linux network namespaces made by the test (`ip netns add`),
//! joined by veth pairs with private addresses (10.213.N.0/24), removed when dropped. Root
//! only; traffic never leaves the machine.

use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace of the test's own, deleted (with its interfaces) when dropped.
pub struct Namespace {
    name: String,
}

/// Runs `ip ARGS`, panicking with its error when it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unique() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether namespaces can be made here (root, `ip`), or `None` after saying why not.
pub fn available() -> Option<()> {
    if crate::find_on_path("ip").is_none() {
        crate::skip("`ip` is not installed (Debian: iproute2)");
        return None;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    if !root {
        crate::skip("network namespaces need root");
        return None;
    }
    Some(())
}

impl Namespace {
    /// A new namespace with its loopback up.
    pub fn create(tag: &str) -> Namespace {
        let name = format!("tn{}-{tag}-{}", std::process::id(), unique());
        ip(&["netns", "add", &name]);
        let ns = Namespace { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair between two hosts: `near` (a namespace, or this test's own host when `None`)
/// at 10.213.SUBNET.1, `far` at 10.213.SUBNET.2.
pub struct Link {
    /// The near end's interface.
    pub near_if: String,
    /// The far end's interface.
    pub far_if: String,
    /// The near end's address.
    pub near_addr: String,
    /// The far end's address.
    pub far_addr: String,
    near: Option<String>,
}

impl Link {
    /// Joins `near` and `far`.
    pub fn new(near: Option<&Namespace>, far: &Namespace, subnet: u8) -> Link {
        let tag = format!("{}{}", std::process::id() % 10_000, unique());
        let near_if = format!("tv{tag}a");
        let far_if = format!("tv{tag}b");
        ip(&[
            "link", "add", &near_if, "type", "veth", "peer", "name", &far_if,
        ]);
        ip(&["link", "set", &far_if, "netns", far.name()]);
        if let Some(ns) = near {
            ip(&["link", "set", &near_if, "netns", ns.name()]);
        }
        let link = Link {
            near_addr: format!("10.213.{subnet}.1"),
            far_addr: format!("10.213.{subnet}.2"),
            near_if,
            far_if,
            near: near.map(|ns| ns.name().to_owned()),
        };
        link.near_ip(&[
            "addr",
            "add",
            &format!("{}/24", link.near_addr),
            "dev",
            &link.near_if,
        ]);
        far.ip(&[
            "addr",
            "add",
            &format!("{}/24", link.far_addr),
            "dev",
            &link.far_if,
        ]);
        link.near_ip(&["link", "set", &link.near_if, "up"]);
        far.ip(&["link", "set", &link.far_if, "up"]);
        link
    }

    fn near_ip(&self, args: &[&str]) {
        let mut all = Vec::new();
        if let Some(ns) = &self.near {
            all.extend(["-n", ns.as_str()]);
        }
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Cuts the link (the near end down), or restores it.
    pub fn set_up(&self, up: bool) {
        self.near_ip(&["link", "set", &self.near_if, if up { "up" } else { "down" }]);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting one end deletes both; a namespace already gone took them with it.
        let mut all = Vec::new();
        if let Some(ns) = &self.near {
            all.extend(["-n", ns.as_str()]);
        }
        all.extend(["link", "del", self.near_if.as_str()]);
        let _ = Command::new("ip").args(&all).output();
    }
}
