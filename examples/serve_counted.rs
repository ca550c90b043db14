//! The BFF (`belvo-bff`'s own command line) with its live heap counted around mimalloc:
//! prints `probe: live_kib … blocks … rss_kib …` to stderr as they change.
#[path = "probe/mod.rs"]
mod probe;

#[global_allocator]
static ALLOCATOR: probe::Counting<mimalloc::MiMalloc> = probe::Counting(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    use clap::Parser;
    probe::report();
    belvo_bff::cli::Cli::parse().run()
}
