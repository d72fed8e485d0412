//! Command lines of the seed tools, as the upstream programs accept them, and
//! the dispatcher [`run_tool`].

use crate::blood_elf::{self, BloodOptions};
use crate::fs::SeedFs;
use crate::hex2::{self, LinkOptions, HEX2_0, HEX2_0_BASE, HEX2_C};
use crate::m1::{self, M1Options};
use crate::numbers::strtoint;
use crate::source::Source;
use crate::{catm, hex0, hex1, m0, SeedError};

/// Names accepted by [`run_tool`].
pub const TOOLS: [&str; 8] = [
    "hex0",
    "hex1",
    "hex2-0",
    "hex2",
    "catm",
    "M0",
    "M1",
    "blood-elf",
];

/// Permission bits each tool gives the file it creates (upstream's open mode,
/// or the `chmod` the C hex2 does; fopen's default 0666 is taken as 0644).
fn output_mode(tool: &str) -> u32 {
    match tool {
        "hex0" | "hex1" | "hex2-0" => 0o700,
        "catm" | "M0" => 0o600,
        "hex2" => 0o750,
        _ => 0o644,
    }
}

fn usage(tool: &'static str, message: impl Into<String>) -> SeedError {
    SeedError::Usage {
        tool,
        message: message.into(),
    }
}

fn read(fs: &mut dyn SeedFs, path: &str) -> Result<Source, SeedError> {
    let data = fs.read(path).map_err(|source| SeedError::Read {
        path: path.to_string(),
        source,
    })?;
    Ok(Source::new(path, data))
}

fn write(fs: &mut dyn SeedFs, path: Option<&str>, data: &[u8], mode: u32) -> Result<(), SeedError> {
    let result = match path {
        Some(p) => fs.write(p, data, mode),
        None => fs.stdout(data),
    };
    result.map_err(|source| SeedError::Write {
        path: path.unwrap_or("<stdout>").to_string(),
        source,
    })
}

/// `TOOL INPUT OUTPUT`, the shape of the hand-written tools.
fn positional<'a>(tool: &'static str, args: &'a [String]) -> Result<(&'a str, &'a str), SeedError> {
    match args {
        [input, output, ..] => Ok((input, output)),
        _ => Err(usage(tool, "expects INPUT OUTPUT")),
    }
}

/// Options shared by the mescc-tools programs.
#[derive(Debug, Default)]
struct Options {
    files: Vec<String>,
    output: Option<String>,
    /// `Some(true)` for `--big-endian`, `Some(false)` for `--little-endian`.
    big_endian: Option<bool>,
    architecture: Option<String>,
    base_address: Option<String>,
    non_executable: bool,
    elf64: bool,
    entries: Vec<String>,
    /// `--help` or `--version` seen: upstream prints and exits 0.
    info: Option<String>,
}

/// Parses the options of `M1`, `hex2` or `blood-elf`; `accepted` lists the
/// option words this tool knows (both spellings).
fn parse_options(
    tool: &'static str,
    args: &[String],
    accepted: &[&str],
) -> Result<Options, SeedError> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_str();
        if !accepted.contains(&word) {
            return Err(usage(tool, format!("unknown option {word:?}")));
        }
        let mut value = || {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| usage(tool, format!("{word} needs a value")))
        };
        match word {
            "--big-endian" => o.big_endian = Some(true),
            "--little-endian" => o.big_endian = Some(false),
            "--non-executable" => o.non_executable = true,
            "--64" => o.elf64 = true,
            "-X" | "--hex" => {}
            "-A" | "--architecture" => o.architecture = Some(value()?),
            "-B" | "--base-address" => o.base_address = Some(value()?),
            "-f" | "--file" => o.files.push(value()?),
            "-o" | "--output" => o.output = Some(value()?),
            "--entry" => o.entries.push(value()?),
            "-h" | "--help" => {
                o.info = Some(format!("Usage: {tool} --file FILE {{-f FILE}} ...\n"))
            }
            "-V" | "--version" => o.info = Some(format!("{tool} (seed, native Rust)\n")),
            "-b" | "--binary" | "-O" | "--octal" => {
                return Err(usage(tool, format!("{word}: only hex mode is implemented")))
            }
            _ => return Err(usage(tool, format!("unknown option {word:?}"))),
        }
        i += 1;
    }
    Ok(o)
}

/// Checks an `--architecture` value; only the x86-style rules are implemented.
fn check_architecture(tool: &'static str, arch: &str, knight_ok: bool) -> Result<(), SeedError> {
    match arch {
        "x86" | "amd64" => Ok(()),
        "knight-native" | "knight-posix" if knight_ok => Ok(()),
        "knight-native" | "knight-posix" | "armv7l" | "aarch64" | "ppc64le" | "riscv32"
        | "riscv64" => Err(usage(
            tool,
            format!("architecture {arch} is not implemented here"),
        )),
        _ => Err(usage(tool, format!("Unknown architecture: {arch}"))),
    }
}

fn run_m1(args: &[String], fs: &mut dyn SeedFs) -> Result<i32, SeedError> {
    const TOOL: &str = "M1";
    let accepted = [
        "--big-endian",
        "--little-endian",
        "-A",
        "--architecture",
        "-b",
        "--binary",
        "-h",
        "--help",
        "-f",
        "--file",
        "-o",
        "--output",
        "-O",
        "--octal",
        "-V",
        "--version",
    ];
    let o = parse_options(TOOL, args, &accepted)?;
    if let Some(info) = &o.info {
        fs.stdout(info.as_bytes()).ok();
        return Ok(0);
    }
    match &o.architecture {
        Some(arch) => check_architecture(TOOL, arch, false)?,
        None => {
            return Err(usage(
                TOOL,
                "needs --architecture x86 (the knight default is not implemented)",
            ))
        }
    }
    let sources = o
        .files
        .iter()
        .map(|f| read(fs, f))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = M1Options {
        big_endian: o.big_endian.unwrap_or(true),
    };
    let text = m1::assemble(&sources, &opts)?;
    if text.is_empty() {
        return Err(usage(
            TOOL,
            "Either no input files were given or they were empty",
        ));
    }
    write(fs, o.output.as_deref(), &text, output_mode(TOOL))?;
    Ok(0)
}

fn run_hex2(args: &[String], fs: &mut dyn SeedFs) -> Result<i32, SeedError> {
    const TOOL: &str = "hex2";
    let accepted = [
        "--big-endian",
        "--little-endian",
        "--non-executable",
        "-A",
        "--architecture",
        "-b",
        "--binary",
        "-B",
        "--base-address",
        "-h",
        "--help",
        "-f",
        "--file",
        "-o",
        "--output",
        "-O",
        "--octal",
        "-V",
        "--version",
    ];
    let o = parse_options(TOOL, args, &accepted)?;
    if let Some(info) = &o.info {
        fs.stdout(info.as_bytes()).ok();
        return Ok(0);
    }
    let arch = o.architecture.as_deref().unwrap_or("knight-native");
    check_architecture(TOOL, arch, true)?;
    let base_address = match &o.base_address {
        None => 0,
        Some(text) => strtoint(text.as_bytes())
            .ok_or_else(|| usage(TOOL, format!("base address {text:?} is not a number")))?
            as u32,
    };
    let big_endian = o.big_endian.unwrap_or(true);
    let knight = arch.starts_with("knight");
    // The same warnings upstream prints; they do not stop the link.
    if !knight && base_address == 0 {
        fs.stderr(b">> WARNING <<\n>> WARNING <<\n>> WARNING <<\nIf you are not generating a ROM image this binary will likely not work\n").ok();
    }
    if !knight && big_endian {
        fs.stderr(b">> WARNING <<\n>> WARNING <<\n>> WARNING <<\nYou have specified big endian output on likely a little endian processor\nif this is a mistake please pass --little-endian next time\n").ok();
    }
    if o.files.is_empty() {
        return Err(usage(TOOL, "no input files (--file FILE)"));
    }
    let sources = o
        .files
        .iter()
        .map(|f| read(fs, f))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = LinkOptions {
        base_address,
        big_endian,
        dialect: HEX2_C,
    };
    let image = hex2::link(&sources, &opts)?;
    let mode = if o.non_executable {
        0o644
    } else {
        output_mode(TOOL)
    };
    write(fs, o.output.as_deref(), &image, mode)?;
    Ok(0)
}

fn run_blood_elf(args: &[String], fs: &mut dyn SeedFs) -> Result<i32, SeedError> {
    const TOOL: &str = "blood-elf";
    let accepted = [
        "-h",
        "--help",
        "--64",
        "-f",
        "--file",
        "-o",
        "--output",
        "-b",
        "--binary",
        "-O",
        "--octal",
        "-X",
        "--hex",
        "--big-endian",
        "--little-endian",
        "-V",
        "--version",
        "--entry",
    ];
    let o = parse_options(TOOL, args, &accepted)?;
    if let Some(info) = &o.info {
        fs.stdout(info.as_bytes()).ok();
        return Ok(0);
    }
    if o.files.is_empty() {
        return Err(usage(TOOL, "no input files (--file FILE)"));
    }
    let Some(big_endian) = o.big_endian else {
        return Err(usage(
            TOOL,
            "either --little-endian or --big-endian MUST be set",
        ));
    };
    let sources = o
        .files
        .iter()
        .map(|f| read(fs, f))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = BloodOptions {
        big_endian,
        elf64: o.elf64,
        entries: o.entries.clone(),
    };
    let text = blood_elf::footer(&sources, &opts)?;
    write(fs, o.output.as_deref(), &text, output_mode(TOOL))?;
    Ok(0)
}

/// Runs seed tool `name` with command-line arguments `args` (without the
/// program name), reading and writing files through `fs`.
///
/// Returns the exit status on success (0); every failure is an error naming
/// the file, line and column where the input is at fault.
pub fn run_tool(name: &str, args: &[String], fs: &mut dyn SeedFs) -> Result<i32, SeedError> {
    match name {
        "hex0" | "hex1" | "hex2-0" | "M0" => {
            let tool = TOOLS.iter().copied().find(|t| *t == name).unwrap_or("hex0");
            let (input, output) = positional(tool, args)?;
            let src = read(fs, input)?;
            let bytes = match name {
                "hex0" => hex0::assemble(&src)?,
                "hex1" => hex1::assemble(&src)?,
                "M0" => m0::assemble(&src)?,
                _ => hex2::link(
                    std::slice::from_ref(&src),
                    &LinkOptions {
                        base_address: HEX2_0_BASE,
                        big_endian: false,
                        dialect: HEX2_0,
                    },
                )?,
            };
            write(fs, Some(output), &bytes, output_mode(name))?;
            Ok(0)
        }
        "catm" => match args {
            [output, inputs @ ..] => {
                catm::run(output, inputs, fs)?;
                Ok(0)
            }
            [] => Err(usage("catm", "expects OUTPUT INPUT...")),
        },
        "M1" => run_m1(args, fs),
        "hex2" => run_hex2(args, fs),
        "blood-elf" => run_blood_elf(args, fs),
        _ => Err(SeedError::UnknownTool(name.to_string())),
    }
}
