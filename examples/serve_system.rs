//! The BFF with the system allocator (glibc), counted: for heaptrack and to compare with
//! mimalloc.
#[path = "probe/mod.rs"]
mod probe;

#[global_allocator]
static ALLOCATOR: probe::Counting<std::alloc::System> = probe::Counting(std::alloc::System);

fn main() -> std::process::ExitCode {
    use clap::Parser;
    probe::report();
    belvo_bff::cli::Cli::parse().run()
}
