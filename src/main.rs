use std::io::IsTerminal;

use clap::Parser;
use gonghui::cli::Cli;
use tracing_subscriber::EnvFilter;

/// Allocations from this size up are mapped and unmapped on their own. glibc otherwise
/// raises the threshold after the first large free, and then each thread's arena keeps
/// the 19 MiB of every password check it ran: hundreds of MiB after a login flood.
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // SAFETY: mallopt only sets an allocator parameter (under the allocator's own lock),
    // before the server starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
    let cli = Cli::parse();
    let filter = cli.settings()?.log.unwrap_or_else(|| "info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter)?)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    cli.run().await
}
