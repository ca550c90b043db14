use clap::Parser;

/// mimalloc instead of the system allocator: on the hot paths the system one spent about a
/// tenth of the CPU in malloc/free and their arena locks (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    belvo_bff::cli::Cli::parse().run()
}
