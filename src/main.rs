use clap::Parser;

fn main() -> std::process::ExitCode {
    belvo_bff::cli::Cli::parse().run()
}
