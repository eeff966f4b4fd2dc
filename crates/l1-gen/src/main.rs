//! `causeway-l1-gen`: prints or writes the generated L1 Solidity.
//!
//! ```text
//! causeway-l1-gen list                  paths of the generated files (relative to contracts/)
//! causeway-l1-gen print <path>          one file to stdout, e.g. `print src/PoseidonT5.sol`
//! causeway-l1-gen write [contracts-dir] writes every file (default dir: `contracts`)
//! ```

use causeway_l1_gen::generated_files;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: causeway-l1-gen list | print <path> | write [contracts-dir]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["list"] => {
            for file in generated_files() {
                println!("{}", file.path);
            }
            ExitCode::SUCCESS
        }
        ["print", path] => match generated_files().into_iter().find(|f| f.path == *path) {
            Some(file) => {
                print!("{}", file.contents);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("no generated file {path}; `causeway-l1-gen list` names them");
                ExitCode::FAILURE
            }
        },
        ["write"] | ["write", _] => {
            let dir = PathBuf::from(args.get(1).copied().unwrap_or("contracts"));
            for file in generated_files() {
                let path = dir.join(file.path);
                if let Err(e) =
                    std::fs::create_dir_all(path.parent().expect("file paths have a directory"))
                        .and_then(|()| std::fs::write(&path, &file.contents))
                {
                    eprintln!("writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}
