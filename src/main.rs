use clap::Parser;

/// mimalloc instead of the system allocator: on the hot paths the system one spent about a
/// tenth of the CPU in malloc/free and their arena locks (see BENCHMARKS.md). Built `no_thp`
/// (no `madvise(MADV_HUGEPAGE)` on its arenas): with transparent huge pages, 10,000 waiting
/// long-polls took 349 MiB of RSS instead of 247, and the idle process 45 MiB instead of 27.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    belvo_bff::cli::Cli::parse().run()
}
