//! A Postgres server of a run's own, on a free port, made with the installed server's
//! `initdb` and `pg_ctl` (run as the `postgres` user when the caller is root): what the
//! chaos scenario restarts, and the database-restart test takes down — never the
//! machine's shared server.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

/// How a restart stops the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Clients are disconnected, transactions rolled back, a checkpoint written.
    Fast,
    /// As a crash: no checkpoint; the next start replays the WAL.
    Immediate,
}

impl Stop {
    fn mode(self) -> &'static str {
        match self {
            Stop::Fast => "fast",
            Stop::Immediate => "immediate",
        }
    }
}

/// A running throwaway server; stopped and deleted when dropped.
pub struct Throwaway {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Throwaway {
    /// Makes and starts a server in a new directory under the temp dir.
    ///
    /// # Errors
    /// When no PostgreSQL server is installed or `initdb`/`pg_ctl` fail.
    pub fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("a PostgreSQL server is installed under /usr/lib/postgresql")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .context("initdb is installed")?;
        let dir = std::env::temp_dir().join(format!(
            "gonghui-pg-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pg = Throwaway { bin, dir, port };
        if is_root() {
            let owned = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&pg.dir)
                .status()?;
            anyhow::ensure!(owned.success(), "chown of {} failed", pg.data());
        }
        pg.run(
            "initdb",
            &[
                "-D",
                pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        pg.up()?;
        Ok(pg)
    }

    fn data(&self) -> &str {
        self.dir.to_str().expect("a UTF-8 temp dir")
    }

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bin.join(tool);
        let output = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }?;
        anyhow::ensure!(
            output.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Starts the server (again).
    ///
    /// # Errors
    /// When `pg_ctl start` fails.
    pub fn up(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.data()
        );
        let log = format!("{}/log", self.data());
        self.run(
            "pg_ctl",
            &["-D", self.data(), "-o", &options, "-l", &log, "-w", "start"],
        )
    }

    /// Stops the server.
    ///
    /// # Errors
    /// When `pg_ctl stop` fails.
    pub fn down(&self, how: Stop) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &["-D", self.data(), "-m", how.mode(), "-w", "stop"],
        )
    }

    /// `postgres://postgres@127.0.0.1:{port}`, to which a database name is added.
    pub fn base(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.down(Stop::Immediate);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}
