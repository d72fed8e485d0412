//! The host-compiled toolchain: built from the tree's C sources with `cc`, and run as a
//! substitute at execve it writes what the Rust tools write. Needs STAGE0_POSIX_TREE and
//! a C compiler.

mod ddc_common;

use stage0_runner::cmd::ddc::hook::Substitutes;
use stage0_runner::cmd::ddc::hostcc;
use stage0_testkit::programs::hello;
use stage0_testkit::Sandbox;
use vm::ExitStatus;

const MACROS: &[u8] =
    b"DEFINE NOP 90\nDEFINE RET C3\n:start\nNOP\n%42 !-1 @300\nRET \"Hi\" ; comment\n";
const M1_ARGS: [&str; 6] = [
    "--architecture",
    "x86",
    "--little-endian",
    "-f",
    "in.M1",
    "-o",
];

/// Runs `/x86/bin/M1 ... -o out` under the hook; returns the output and the substitute.
fn run_m1(host: Option<hostcc::HostToolchain>, rust: bool) -> (Vec<u8>, Option<String>) {
    let sb = Sandbox::new("ddc-hostcc");
    let mut args = M1_ARGS.to_vec();
    args.push("out");
    sb.put("/parent", &ddc_common::fork_exec("/x86/bin/M1", &args));
    sb.put("/x86/bin/M1", &hello(b"emulated\n", 7));
    sb.put("/in.M1", MACROS);
    let mut k = vm::Kernel::new(vm::Config::new(&sb.root), vm::Stdio::inherit()).unwrap();
    k.set_exec_hook(Box::new(Substitutes { rust, host }));
    k.spawn("/", "/parent", &["/parent".to_string()]).unwrap();
    assert_eq!(
        k.run().unwrap(),
        ExitStatus::Code(1),
        "M1 exits 0, parent adds 1"
    );
    let rec = k.records().iter().find(|r| r.substitute.is_some()).unwrap();
    assert_eq!(rec.writes.len(), 1, "{rec:?}");
    assert_eq!(rec.writes[0].path, "/out");
    (sb.get("/out"), rec.substitute.clone())
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout) and cc"]
fn host_compiled_m1_writes_what_rust_m1_writes() {
    let Some(tree) = std::env::var_os("STAGE0_POSIX_TREE") else {
        panic!("missing input: host_compiled_m1_writes_what_rust_m1_writes needs $STAGE0_POSIX_TREE (a stage0-posix checkout) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    if hostcc::find_cc().is_none() {
        panic!("missing input: host_compiled_m1_writes_what_rust_m1_writes needs a C compiler (`cc` on PATH) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    let out = Sandbox::new("ddc-hostcc-tools");
    let tc = hostcc::build(std::path::Path::new(&tree), &out.root, hostcc::Dialect::M2)
        .expect("host tools build");
    for t in &hostcc::TOOLS {
        assert!(tc.tools[t.name].is_file(), "{} not built", t.name);
    }
    let (host_bytes, host_sub) = run_m1(Some(tc), false);
    let (rust_bytes, rust_sub) = run_m1(None, true);
    assert_eq!(host_sub.as_deref(), Some("host-cc M1"));
    assert_eq!(rust_sub.as_deref(), Some("rust M1"));
    assert!(!host_bytes.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&host_bytes),
        String::from_utf8_lossy(&rust_bytes)
    );
}

#[test]
fn a_missing_compiler_is_named() {
    let e = hostcc::HostCcError::NoCompiler.to_string();
    assert!(e.contains("`cc`"), "{e}");
}

/// Runs a host-compiled M2-Planet on a function with one local; returns the M1 it writes.
fn host_m2_planet_on_a_local(tc: &hostcc::HostToolchain, dir: &std::path::Path) -> String {
    let src = dir.join("local.c");
    std::fs::write(&src, "int main()\n{\n\tint a = 1;\n\treturn a;\n}\n").unwrap();
    let out = dir.join("local.M1");
    let st = std::process::Command::new(&tc.tools["M2-Planet"])
        .args(["--architecture", "x86", "-f"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("host M2-Planet runs");
    assert!(st.success(), "{st}");
    std::fs::read_to_string(&out).unwrap()
}

/// The chain's M2-Planet treats `&&` as a bitwise AND, so in cc_emit.c's
/// `(Architecture & ARCH_FAMILY_X86) && (reg == REGISTER_STACK ...)` (4 & 1 == 0) it
/// never takes the imm8 form; a host build with that meaning must not either, while the
/// sources compiled as ISO C do.
#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout) and cc"]
fn host_m2_planet_reserves_stack_as_the_chains_m2_planet_does() {
    let test = "host_m2_planet_reserves_stack_as_the_chains_m2_planet_does";
    let Some(tree) = std::env::var_os("STAGE0_POSIX_TREE") else {
        panic!("missing input: {test} needs $STAGE0_POSIX_TREE (a stage0-posix checkout) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    if hostcc::find_cc().is_none() {
        panic!("missing input: {test} needs a C compiler (`cc` on PATH) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    let tree = std::path::Path::new(&tree);
    let m2 = Sandbox::new("ddc-hostcc-m2");
    let iso = Sandbox::new("ddc-hostcc-iso");
    let m2_tc = hostcc::build(tree, &m2.root, hostcc::Dialect::M2).expect("M2 dialect builds");
    let iso_tc = hostcc::build(tree, &iso.root, hostcc::Dialect::Iso).expect("ISO C builds");
    // The translated copies live in the output directory, not in the tree.
    assert!(m2.root.join("src/M2-Planet/cc_emit.c").is_file());
    assert!(!iso.root.join("src").exists());

    let chain_like = host_m2_planet_on_a_local(&m2_tc, &m2.root);
    assert!(
        chain_like.contains("mov_ecx, %4 # Reserve stack\nsub_esp,ecx\n"),
        "{chain_like}"
    );
    assert!(!chain_like.contains("BYTE"), "{chain_like}");
    let iso_c = host_m2_planet_on_a_local(&iso_tc, &iso.root);
    assert!(
        iso_c.contains("sub_esp,BYTE '04'  # Reserve stack\n"),
        "{iso_c}"
    );
}
