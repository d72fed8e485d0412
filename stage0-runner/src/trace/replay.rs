//! Replaying one program image under the real kernel, watched instruction by instruction.
//!
//! The program runs as in the chain (the same kernel, syscalls and process model) in a
//! scratch sandbox on its tree ([`vm::vfs::Vfs::new_scratch`]): it reads the tree, and what
//! it writes stays in memory, so a replay never changes the tree. Its first image runs on
//! [`Tracer`], the interpreter wrapped to report what it does; the processes it forks and
//! the images they start run on the plain interpreter, unwatched.

use std::cell::RefCell;
use std::ops::{ControlFlow, Range};
use std::path::Path;

use vm::cpu::{reg, Cpu, Stop};
use vm::engine::{registry, EngineError, State};
use vm::{AnyEngine, Config, Engine, EngineFactory, ExitStatus, GuestMemory, Kernel, RunError};

use super::Image;

/// What the replay sees of its program's first image.
pub(crate) enum Event<'a> {
    /// Instruction `index` (counted from 0 at the entry) is about to run; only for the
    /// instructions in the replay's `shown` range.
    Before {
        index: u64,
        cpu: &'a Cpu,
        mem: &'a GuestMemory,
    },
    /// The instruction of the last `Before` ran, or faulted and changed nothing; `cpu` is
    /// after it.
    After { cpu: &'a Cpu },
    /// The syscall instruction `index` made returned `ret`; `call` holds eax, ebx, ecx and
    /// edx as they were at the call, `mem` is after it.
    Returned {
        index: u64,
        call: [u32; 4],
        ret: u32,
        mem: &'a GuestMemory,
    },
}

/// The replay's observer: `Break` ends the run at once.
pub(crate) type Observer = dyn FnMut(Event<'_>) -> ControlFlow<()>;

const WINDOW_END: &str = "the replay reached the end of its window";

/// Instructions the programs the traced one starts may run beyond its own `end` (a kaem
/// runs whole steps as children); past them the replay stops with a note.
const CHILD_BUDGET: u64 = 200_000_000;

/// The interpreter, reporting each instruction of `shown` and every syscall's return.
struct Tracer {
    cpu: Cpu,
    shown: Range<u64>,
    /// The run ends when this many instructions of the image have run.
    end: u64,
    /// The syscall stop the kernel is serving: (instruction, eax, ebx, ecx, edx).
    pending: Option<(u64, [u32; 4])>,
    on: RefCell<Box<Observer>>,
}

impl Tracer {
    fn tell(&self, e: Event<'_>) -> Result<(), EngineError> {
        match (self.on.borrow_mut())(e) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(EngineError::Stopped("the trace ended".into())),
        }
    }

    fn stopped_at_syscall(&mut self, index: u64) {
        let [a, b, c, d] = [reg::EAX, reg::EBX, reg::ECX, reg::EDX].map(|r| self.cpu.regs[r]);
        self.pending = Some((index, [a, b, c, d]));
    }
}

impl Engine for Tracer {
    fn name(&self) -> &'static str {
        "interp (traced)"
    }

    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        if let Some((index, call)) = self.pending.take() {
            let ret = self.cpu.regs[reg::EAX];
            self.tell(Event::Returned {
                index,
                call,
                ret,
                mem,
            })?;
        }
        let stop_at = self.cpu.insns_retired().saturating_add(max_insns);
        loop {
            let index = self.cpu.insns_retired();
            if index >= self.end {
                return Err(EngineError::Stopped(WINDOW_END.into()));
            }
            if index >= stop_at {
                return Ok(Stop::InsnLimit);
            }
            let stop = if self.shown.contains(&index) {
                self.tell(Event::Before {
                    index,
                    cpu: &self.cpu,
                    mem,
                })?;
                let stop = self.cpu.run(mem, 1);
                self.tell(Event::After { cpu: &self.cpu })?;
                stop
            } else {
                // Unwatched stretches run at full speed, up to the window or the end.
                let next = if index < self.shown.start {
                    self.shown.start
                } else {
                    self.end
                };
                self.cpu.run(mem, next.min(stop_at) - index)
            };
            match stop {
                Stop::InsnLimit => {}
                Stop::Syscall => {
                    self.stopped_at_syscall(self.cpu.insns_retired() - 1);
                    return Ok(Stop::Syscall);
                }
                Stop::Fault(_) => return Ok(stop),
            }
        }
    }

    fn regs(&self) -> [u32; 8] {
        self.cpu.regs
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        self.cpu.regs = regs;
    }
    fn eip(&self) -> u32 {
        self.cpu.eip
    }
    fn set_eip(&mut self, eip: u32) {
        self.cpu.eip = eip;
    }
    fn eflags(&self) -> u32 {
        self.cpu.eflags()
    }
    fn set_eflags(&mut self, v: u32) {
        Engine::set_eflags(&mut self.cpu, v);
    }
    fn insns_retired(&self) -> u64 {
        self.cpu.insns_retired()
    }
    fn flush_code_cache(&mut self, mem: &mut GuestMemory) {
        Engine::flush_code_cache(&mut self.cpu, mem);
    }
    /// A forked child runs unwatched.
    fn fork(&self) -> Box<dyn Engine> {
        Box::new(self.cpu.clone())
    }
    fn restore(&mut self, s: &State) {
        Engine::restore(&mut self.cpu, s);
    }
}

/// Gives the first image the [`Tracer`], every later one the interpreter.
struct TraceFactory {
    first: RefCell<Option<Tracer>>,
}

impl EngineFactory for TraceFactory {
    fn start(&self, entry: u32, esp: u32) -> Result<AnyEngine, EngineError> {
        let cpu = registry::interp(entry, esp);
        Ok(match self.first.borrow_mut().take() {
            Some(mut t) => {
                t.cpu = cpu;
                AnyEngine::Boxed(Box::new(t))
            }
            None => AnyEngine::Interp(cpu),
        })
    }
}

/// Runs `image` of `tree` in a scratch sandbox, telling `on` about the instructions in
/// `shown` and every syscall return of its first image, until that image has run `end`
/// instructions, `on` breaks, or the program ends. Returns why it ended before `end`
/// (exit, fault, a limit), or `None`.
pub(crate) fn replay(
    tree: &Path,
    image: &Image<'_>,
    shown: Range<u64>,
    end: u64,
    on: Box<Observer>,
) -> Result<Option<String>, String> {
    let mut cfg = Config::new(tree);
    cfg.scratch = true;
    cfg.record_files = false;
    cfg.limits.max_insns = end.saturating_add(CHILD_BUDGET);
    let stdio = vm::Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
    };
    let mut kernel = Kernel::new(cfg, stdio).map_err(|e| e.to_string())?;
    let on = RefCell::new(on);
    let tracer = Tracer {
        cpu: Cpu::new(),
        shown,
        end,
        pending: None,
        on,
    };
    kernel.set_engine_factory(Box::new(TraceFactory {
        first: RefCell::new(Some(tracer)),
    }));
    kernel.set_env(image.env.iter().map(|e| e.as_bytes().to_vec()).collect());
    kernel
        .spawn(image.cwd, image.exe, image.argv)
        .map_err(|e| e.to_string())?;
    let result = kernel.run();
    let fault = kernel
        .faults()
        .first()
        .map(|f| format!("the program faulted at {:#010x}: {:?}", f.eip, f.kind));
    Ok(match result {
        Ok(ExitStatus::Code(c)) => Some(format!("the program exited with status {c}")),
        Ok(ExitStatus::Signal(s)) => {
            Some(fault.unwrap_or_else(|| format!("the program was killed by signal {s}")))
        }
        Err(RunError::Engine {
            source: EngineError::Stopped(_),
            ..
        }) => None,
        Err(e) => Some(format!("the replay stopped: {e}")),
    })
}
