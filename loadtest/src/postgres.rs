//! A Postgres server of a run's own, on a free port, made with the installed server's
//! `initdb` and `pg_ctl` (run as the `postgres` user when the caller is root): what the
//! chaos scenario restarts, the database-restart test takes down and the restore drill
//! backs up and restores to an earlier point — never the machine's shared server.
//!
//! Its directory holds `data/` (the cluster, with its `log`) and, for a server made with
//! [`Throwaway::archiving`], `wal/` (archived WAL) and `backup/` (a base backup, once taken).

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
        Self::make(false)
    }

    /// [`Throwaway::start`], keeping every finished WAL segment in `wal/`, so a base
    /// backup can be rolled forward to any later point ([`Throwaway::restore_to`]).
    ///
    /// # Errors
    /// As [`Throwaway::start`].
    pub fn archiving() -> anyhow::Result<Self> {
        Self::make(true)
    }

    fn make(archive: bool) -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("a PostgreSQL server is installed under /usr/lib/postgresql")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .context("initdb is installed")?;
        let dir = std::env::temp_dir().join(format!(
            "gonghui-pg-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        std::fs::create_dir_all(dir.join("wal"))?;
        let pg = Throwaway { bin, dir, port };
        pg.own("")?;
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        if archive {
            pg.configure(&format!(
                "wal_level = replica\narchive_mode = on\narchive_command = 'cp %p {}/%f'\n",
                pg.path("wal")
            ))?;
        }
        pg.up()?;
        Ok(pg)
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .join(name)
            .to_str()
            .expect("a UTF-8 temp dir")
            .to_owned()
    }

    fn data(&self) -> String {
        self.path("data")
    }

    /// Gives `name` (under the directory; "" for all of it) to the `postgres` user when
    /// running as root.
    fn own(&self, name: &str) -> anyhow::Result<()> {
        if is_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres", &self.path(name)])
                .status()?;
            anyhow::ensure!(owned.success(), "chown of {} failed", self.path(name));
        }
        Ok(())
    }

    /// Adds `lines` to the cluster's `postgresql.auto.conf`.
    fn configure(&self, lines: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("data/postgresql.auto.conf"))?;
        conf.write_all(lines.as_bytes())?;
        Ok(())
    }

    /// Takes a base backup into `backup/` (`pg_basebackup`, the WAL it needs streamed).
    ///
    /// # Errors
    /// When `pg_basebackup` fails.
    pub fn base_backup(&self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let backup = self.path("backup");
        self.run(
            "pg_basebackup",
            &[
                "-D",
                &backup,
                "-X",
                "stream",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "--no-sync",
                "--checkpoint=fast",
            ],
        )
    }

    /// Restores the base backup and replays the archived WAL up to the restore point
    /// `name` (made with `pg_create_restore_point`), then opens the database for writes:
    /// everything committed after that point is gone.
    ///
    /// # Errors
    /// When a step fails.
    pub fn restore_to(&self, name: &str) -> anyhow::Result<()> {
        self.down(Stop::Fast)?;
        std::fs::rename(self.dir.join("data"), self.dir.join("data.before-restore"))?;
        let copied = Command::new("cp")
            .args(["-a", &self.path("backup"), &self.data()])
            .status()?;
        anyhow::ensure!(copied.success(), "copying the base backup failed");
        std::fs::write(self.dir.join("data/recovery.signal"), "")?;
        self.configure(&format!(
            "restore_command = 'cp {}/%f %p'\nrecovery_target_name = '{name}'\nrecovery_target_action = 'promote'\n",
            self.path("wal")
        ))?;
        self.own("data")?;
        self.up()?;
        // Open for writes once the WAL is replayed up to the point and the server promoted.
        let since = std::time::Instant::now();
        while self.sql("SELECT pg_is_in_recovery()")? != "f" {
            anyhow::ensure!(
                since.elapsed() < std::time::Duration::from_secs(60),
                "the restored server did not leave recovery within a minute"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// Runs `sql` with `psql` and returns its one value.
    fn sql(&self, sql: &str) -> anyhow::Result<String> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-Atc", sql])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
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
        // The socket lives beside the cluster, not in it, so a base backup does not copy its lock.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = format!("{}/log", self.data());
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
        .with_context(|| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(12).collect();
            format!(
                "the server's log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
    }

    /// Stops the server.
    ///
    /// # Errors
    /// When `pg_ctl stop` fails.
    pub fn down(&self, how: Stop) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", how.mode(), "-w", "stop"],
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

fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}
