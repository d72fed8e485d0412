//! Stopping a run cleanly on SIGINT and SIGTERM.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The flag SIGINT and SIGTERM set (to the signal's number), installed once per process:
/// a running kernel given it ([`crate::Options::interrupt`]) stops cleanly, writing every
/// file back. A second signal while the first is being handled ends the process at once.
pub fn flag() -> Arc<AtomicUsize> {
    static FLAG: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicUsize::new(0));
        #[cfg(unix)]
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            // Order matters: the second signal exits because the first armed it.
            let _ = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, armed.clone());
            let _ = signal_hook::flag::register(sig, armed);
            let _ = signal_hook::flag::register_usize(sig, flag.clone(), sig as usize);
        }
        flag
    })
    .clone()
}

/// The signal that asked the process to stop, if one did.
pub fn interrupted() -> Option<i32> {
    match flag().load(Ordering::Relaxed) {
        0 => None,
        s => Some(s as i32),
    }
}
