//! The engine commands' rendering for the CLI: `doctor`, `build --engine docker`, `verify`.

use crate::doctor::{doctor, Status};
use crate::error::{Error, Result};

/// `stagex-pipeline doctor`: one line per check, the fix under each miss; an error when a
/// check failed.
pub fn doctor_cmd(client: &str) -> Result<()> {
    let checks = doctor(client);
    let mut failed = 0;
    for c in &checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => {
                failed += 1;
                "FAIL"
            }
        };
        println!("{mark} {:<13} {}", c.what, c.found);
        if !c.fix.is_empty() {
            println!("     {:<13} fix: {}", "", c.fix);
        }
    }
    if failed > 0 {
        return Err(Error::Engine(format!(
            "{failed} check(s) failed; builds need every check ok or warn"
        )));
    }
    println!("engine ready for StageX builds");
    Ok(())
}
