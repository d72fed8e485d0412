//! `stage0_chain::execute` on a chain the test builds itself: hooks hear every program in
//! order, answers are checked on the host, a failing step is reported typed, and a hook can
//! stop the run between steps.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use stage0_chain::plan::upstream::plan_script;
use stage0_chain::{execute, Flow, Hooks, Options, Sink, Step, StepFailureKind};
use stage0_testkit::programs::{copy, fork_exec_wait_plus, hello};
use stage0_testkit::Sandbox;
use vm::ProcessRecord;

/// /bin/copy1 copies /src/input to /out/a; /bin/parent forks and execs /bin/copy2, which
/// copies /out/a to /out/b; /bin/fail prints and exits 3.
fn tree(name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.put("src/input", b"input bytes\n");
    sb.put("out/.keep", b"");
    sb.put("bin/copy1", &copy("/src/input", "/out/a"));
    sb.put("bin/copy2", &copy("/out/a", "/out/b"));
    sb.put("bin/parent", &fork_exec_wait_plus("/bin/copy2", "x", 0));
    sb.put("bin/fail", &hello(b"failing\n", 3));
    sb
}

#[derive(Default)]
struct Log {
    events: Vec<String>,
    stop_after: Option<usize>,
}

impl Hooks for Log {
    fn process_started(&mut self, i: usize, r: &ProcessRecord) {
        self.events.push(format!("start {i} {}", r.exe));
    }
    fn process_ended(&mut self, i: usize, r: &ProcessRecord, _wall: Duration) {
        self.events.push(format!("end {i} {}", r.exe));
    }
    fn step_ended(&mut self, i: usize, step: &Step) -> Flow {
        self.events.push(format!("step {i} {}", step.argv[0]));
        if self.stop_after == Some(i) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
    fn finished(&mut self) {
        self.events.push("finished".into());
    }
}

#[test]
fn hooks_hear_every_program_and_the_answers_are_checked() {
    let sb = tree("chain-execute-ok");
    sb.put("chain.kaem", b"/bin/copy1\n/bin/parent\n");
    let h = vm::record::sha256_hex(b"input bytes\n");
    sb.put("answers", format!("{h}  out/a\n{h}  out/b\n").as_bytes());
    let plan = plan_script(&sb.root.join("chain.kaem")).unwrap();
    let output: Rc<RefCell<Vec<u8>>> = Rc::default();
    let options = Options {
        answers: Some(sb.root.join("answers")),
        guest_output: Some(Sink::Writer(Box::new(Shared(output.clone())))),
        ..Options::default()
    };
    let log = Rc::new(RefCell::new(Log::default()));
    let o = execute(&sb.root, &plan, options, log.clone()).unwrap();
    assert!(o.failure.is_none());
    assert!(o.verified(), "{:?}", o.checked);
    assert_eq!(o.checked.len(), 2);
    assert_eq!(
        o.records.len(),
        3,
        "copy1, parent, copy2 (exec'd by the fork)"
    );
    assert_eq!(o.walls.len(), 3);
    assert_eq!(
        log.borrow().events.first().map(String::as_str),
        Some("start 0 /bin/copy1")
    );
    assert_eq!(
        log.borrow().events.last().map(String::as_str),
        Some("finished")
    );
    let steps: Vec<_> = log
        .borrow()
        .events
        .iter()
        .filter(|e| e.starts_with("step"))
        .cloned()
        .collect();
    assert_eq!(steps, ["step 0 /bin/copy1", "step 1 /bin/parent"]);
    assert_eq!(sb.get("out/b"), b"input bytes\n");
}

#[test]
fn a_failing_step_ends_the_run_with_a_typed_failure() {
    let sb = tree("chain-execute-fail");
    sb.put("chain.kaem", b"/bin/fail\n/bin/copy1\n");
    let plan = plan_script(&sb.root.join("chain.kaem")).unwrap();
    let output: Rc<RefCell<Vec<u8>>> = Rc::default();
    let options = Options {
        guest_output: Some(Sink::Writer(Box::new(Shared(output.clone())))),
        ..Options::default()
    };
    let o = execute(
        &sb.root,
        &plan,
        options,
        Rc::new(RefCell::new(Log::default())),
    )
    .unwrap();
    let f = o.failure.expect("the first step fails");
    assert!(matches!(f.kind, StepFailureKind::Status(3)), "{f}");
    assert_eq!(f.to_string(), "step `/bin/fail` failed with status 3");
    assert_eq!(o.records.len(), 1, "the second step never started");
    assert_eq!(output.borrow().as_slice(), b"failing\n");
}

#[test]
fn a_hook_can_stop_the_run_between_steps() {
    let sb = tree("chain-execute-stop");
    sb.put("chain.kaem", b"/bin/copy1\n/bin/parent\n");
    let plan = plan_script(&sb.root.join("chain.kaem")).unwrap();
    let log = Rc::new(RefCell::new(Log {
        stop_after: Some(0),
        ..Log::default()
    }));
    let o = execute(&sb.root, &plan, Options::default(), log.clone()).unwrap();
    assert!(o.failure.is_none(), "a stop is not a failure");
    assert_eq!(o.records.len(), 1);
    assert!(!sb.root.join("out/b").exists());
}

#[test]
fn an_unwritable_sink_is_named() {
    let sb = tree("chain-execute-sink");
    sb.put("chain.kaem", b"/bin/copy1\n");
    let plan = plan_script(&sb.root.join("chain.kaem")).unwrap();
    let options = Options {
        strace: Some(Sink::File(sb.root.join("no/such/dir/strace.log"))),
        ..Options::default()
    };
    let e = match execute(
        &sb.root,
        &plan,
        options,
        Rc::new(RefCell::new(Log::default())),
    ) {
        Err(e) => e,
        Ok(_) => panic!("the strace file cannot be created"),
    };
    assert!(
        matches!(
            e,
            stage0_chain::ChainError::Sink {
                kind: stage0_chain::SinkKind::Strace,
                ..
            }
        ),
        "{e}"
    );
}

struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
