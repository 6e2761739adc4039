//! The `airlock` command. All logic lives in the library; see [`airlock::cli`].

// Rows are built on a connector's thread and freed on its destination's
// thread; glibc's malloc serialises such frees on the allocating arena's lock
// (measured: 8% of the connector's thread in `pthread_mutex_lock`), mimalloc
// hands them back without contention. See BENCHMARKS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(airlock::cli::main());
}
