//! The `airlock` command. All logic lives in the library; see [`airlock::cli`].

fn main() {
    std::process::exit(airlock::cli::main());
}
