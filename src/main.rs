use std::io::IsTerminal;

use clap::Parser;
use gonghui::cli::Cli;
use gonghui::config::LogFormat;
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
    let settings = cli.settings()?;
    let filter = EnvFilter::try_new(settings.log.as_deref().unwrap_or("info"))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format.unwrap_or(LogFormat::Text) {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
    cli.run().await
}
