//! The `shakedown` binary: parse arguments, dispatch, exit with the code the command decided.

fn main() {
    std::process::exit(shakedown::cli::main());
}
