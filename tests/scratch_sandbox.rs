//! The scratch sandbox (`Config::scratch`, what instruction traces replay in): the guest
//! sees the tree and its own writes, the host tree never changes.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;

use stage0_testkit::adversary::{nr, s, script, Arg, Op};
use stage0_testkit::{run_guest, Sandbox};

const O_RDONLY: u32 = 0;
const O_WRONLY_TRUNC: u32 = 0o1001;
const O_WRONLY_CREAT_TRUNC: u32 = 0o1101;
const EROFS: u8 = 30;

fn sys(n: u32, args: Vec<Arg>) -> Op {
    Op::Sys(n, args)
}

/// A sandbox holding /in ("ORIGINAL", mode 0644) and the directory /d.
fn tree(name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.put("/in", b"ORIGINAL");
    std::fs::set_permissions(sb.root.join("in"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(sb.root.join("d")).unwrap();
    sb
}

/// Every name in the sandbox, sorted, with file contents.
fn listing(sb: &Sandbox) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = walkdir(&sb.root);
    v.sort();
    v
}

fn walkdir(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.display().to_string();
        if p.is_dir() {
            out.push((name, Vec::new()));
            out.extend(walkdir(&p));
        } else {
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn writes_and_new_files_stay_in_memory_and_are_read_back() {
    let sb = tree("scratch-writes");
    let prog = script(
        &[
            // 0-2: overwrite /in and close it (a real sandbox writes it back here).
            sys(nr::OPEN, vec![s("/in"), Arg::Imm(O_WRONLY_TRUNC)]),
            sys(nr::WRITE, vec![Arg::Ret(0), s("CHANGED"), Arg::Imm(7)]),
            sys(nr::CLOSE, vec![Arg::Ret(0)]),
            // 3-5: open it again and echo what it holds.
            sys(nr::OPEN, vec![s("/in"), Arg::Imm(O_RDONLY)]),
            sys(nr::READ, vec![Arg::Ret(3), Arg::Buf, Arg::Imm(64)]),
            sys(nr::WRITE, vec![Arg::Imm(1), Arg::Buf, Arg::Ret(4)]),
            // 6-11: create /d/new, write, close, read it back through a new descriptor.
            sys(
                nr::OPEN,
                vec![s("/d/new"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o755)],
            ),
            sys(nr::WRITE, vec![Arg::Ret(6), s("NEWFILE"), Arg::Imm(7)]),
            sys(nr::CLOSE, vec![Arg::Ret(6)]),
            sys(nr::OPEN, vec![s("/d/new"), Arg::Imm(O_RDONLY)]),
            sys(nr::READ, vec![Arg::Ret(9), Arg::Buf, Arg::Imm(64)]),
            sys(nr::WRITE, vec![Arg::Imm(1), Arg::Buf, Arg::Ret(10)]),
            // 12: chmod succeeds and changes nothing.
            sys(nr::CHMOD, vec![s("/in"), Arg::Imm(0o4777)]),
            Op::ExitWith {
                ret: 12,
                negate: false,
            },
        ],
        1,
    );
    sb.put("/p", &prog);
    let before = listing(&sb);
    let (k, r, out) = run_guest(&sb, "/p", &["/p"], |c| c.scratch = true);
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    assert_eq!(String::from_utf8_lossy(&out), "CHANGEDNEWFILE");
    assert!(k.vfs().is_scratch());
    drop(k);
    assert_eq!(listing(&sb), before, "the host tree changed");
    let mode = std::fs::metadata(sb.root.join("in"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o644);
}

#[test]
fn calls_that_change_names_fail_with_erofs() {
    let calls: [(&str, Op); 5] = [
        ("mkdir", sys(nr::MKDIR, vec![s("/m"), Arg::Imm(0o755)])),
        ("rmdir", sys(nr::RMDIR, vec![s("/d")])),
        ("unlink", sys(nr::UNLINK, vec![s("/in")])),
        ("rename", sys(nr::RENAME, vec![s("/in"), s("/d/in")])),
        ("symlink", sys(nr::SYMLINK, vec![s("/in"), s("/link")])),
    ];
    for (name, call) in calls {
        let sb = tree(&format!("scratch-{name}"));
        sb.put(
            "/p",
            &script(
                &[
                    call,
                    Op::ExitWith {
                        ret: 0,
                        negate: true,
                    },
                ],
                1,
            ),
        );
        let before = listing(&sb);
        let (_, r, _) = run_guest(&sb, "/p", &["/p"], |c| c.scratch = true);
        assert_eq!(r.unwrap(), vm::ExitStatus::Code(EROFS), "{name}");
        assert_eq!(listing(&sb), before, "{name} changed the host tree");
    }
}

/// The same guest without scratch does change the tree: the check above can fail.
#[test]
fn without_scratch_the_same_guest_writes_the_tree() {
    let sb = tree("scratch-off");
    sb.put(
        "/p",
        &script(
            &[
                sys(nr::OPEN, vec![s("/in"), Arg::Imm(O_WRONLY_TRUNC)]),
                sys(nr::WRITE, vec![Arg::Ret(0), s("CHANGED"), Arg::Imm(7)]),
                sys(nr::MKDIR, vec![s("/m"), Arg::Imm(0o755)]),
            ],
            1,
        ),
    );
    let (_, r, _) = run_guest(&sb, "/p", &["/p"], |_| {});
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    assert_eq!(std::fs::read(sb.root.join("in")).unwrap(), b"CHANGED");
    assert!(sb.root.join("m").is_dir());
}
