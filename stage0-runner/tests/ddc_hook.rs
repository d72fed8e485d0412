//! The execve hook: a substituted program runs natively against the sandbox, its record is
//! marked, its files are recorded, and the parent sees its exit status. No tree needed.

mod ddc_common;

use stage0_runner::cmd::ddc::hook::Substitutes;
use stage0_testkit::programs::hello;
use stage0_testkit::{run_guest, Sandbox};
use vm::record::sha256_hex;
use vm::ExitStatus;

const HEX0: &[u8] = b"# exit(0)\nB8 01 00 00 00 ; mov eax, 1\n31DB\nCD 80\n";
const BYTES: [u8; 9] = [0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80];

fn sandbox_with(program: &str) -> Sandbox {
    let sb = Sandbox::new("ddc-hook");
    sb.put(
        "/parent",
        &ddc_common::fork_exec(program, &["in.hex0", "out"]),
    );
    // The program file exists but, run emulated, only says "emulated" and exits 7.
    sb.put(program, &hello(b"emulated\n", 7));
    sb.put("/in.hex0", HEX0);
    sb
}

#[test]
fn substituted_hex0_runs_in_rust_and_is_recorded() {
    let sb = sandbox_with("/x86/artifact/hex0");
    let (k, r, out) = run_guest(&sb, "/parent", &["/parent"], |_| {});
    // Without a hook installed, the emulated stand-in runs: 7 + 1.
    assert_eq!(r.unwrap(), ExitStatus::Code(8));
    assert_eq!(out, b"emulated\n");
    assert!(k.records().iter().all(|rec| rec.substitute.is_none()));

    let sb = sandbox_with("/x86/artifact/hex0");
    let mut cfg = vm::Config::new(&sb.root);
    cfg.record_files = true;
    let mut k = vm::Kernel::new(cfg, vm::Stdio::inherit()).unwrap();
    k.set_exec_hook(Box::new(Substitutes {
        rust: true,
        host: None,
    }));
    k.spawn("/", "/parent", &["/parent".to_string()]).unwrap();
    assert_eq!(
        k.run().unwrap(),
        ExitStatus::Code(1),
        "hex0 exits 0, parent adds 1"
    );
    assert_eq!(sb.get("/out"), BYTES);
    let recs = k.records();
    let sub: Vec<_> = recs.iter().filter(|r| r.substitute.is_some()).collect();
    assert_eq!(sub.len(), 1, "{recs:#?}");
    let rec = sub[0];
    assert_eq!(rec.substitute.as_deref(), Some("rust hex0"));
    assert_eq!(rec.exe, "/x86/artifact/hex0");
    assert_eq!(rec.argv, ["/x86/artifact/hex0", "in.hex0", "out"]);
    assert_eq!(rec.writes.len(), 1);
    assert_eq!(rec.writes[0].path, "/out");
    assert_eq!(rec.writes[0].sha256, sha256_hex(&BYTES));
    assert_eq!(rec.reads[0].path, "/in.hex0");
    assert_eq!(rec.reads[0].sha256, sha256_hex(HEX0));
    // hex0 creates its output with mode 0700 (minus the umask).
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sb.root.join("out"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn programs_without_a_substitute_run_emulated() {
    let sb = sandbox_with("/tools/hex0");
    let mut k = vm::Kernel::new(vm::Config::new(&sb.root), vm::Stdio::inherit()).unwrap();
    k.set_exec_hook(Box::new(Substitutes {
        rust: true,
        host: None,
    }));
    k.spawn("/", "/parent", &["/parent".to_string()]).unwrap();
    assert_eq!(k.run().unwrap(), ExitStatus::Code(8));
    assert!(k.records().iter().all(|r| r.substitute.is_none()));
    assert!(!sb.root.join("out").exists());
}

#[test]
fn a_failing_substitute_reports_its_status_to_the_parent() {
    let sb = sandbox_with("/x86/artifact/hex0");
    std::fs::remove_file(sb.root.join("in.hex0")).unwrap();
    let mut k = vm::Kernel::new(vm::Config::new(&sb.root), vm::Stdio::inherit()).unwrap();
    k.set_exec_hook(Box::new(Substitutes {
        rust: true,
        host: None,
    }));
    k.spawn("/", "/parent", &["/parent".to_string()]).unwrap();
    assert_eq!(
        k.run().unwrap(),
        ExitStatus::Code(2),
        "tool exits 1, parent adds 1"
    );
    let rec = k.records().iter().find(|r| r.substitute.is_some()).unwrap();
    assert_eq!(rec.end, vm::RecordEnd::Exited(ExitStatus::Code(1)));
}
