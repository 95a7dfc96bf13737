//! The command line of API.md: `serve`, `migrate`, `bootstrap`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gonghui_actors::domain::{Password, Phone};
use gonghui_actors::password::{hash_password, GateSettings, PasswordGate};
use gonghui_actors::store::{self, Store};

use crate::config::{Config, Settings};
use crate::startup::Application;

/// gonghui — the real-time back end of a trade-union platform.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// A TOML file with any of the settings below (keys as the long flags, with underscores)
    #[arg(long, env = "GONGHUI_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if missing, migrate, and serve HTTP and WebSocket
    Serve {
        /// The address to listen on
        #[arg(long, env = "GONGHUI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Apply migrations and exit
    Migrate,
    /// Create the root union and its first admin (all permissions); idempotent
    Bootstrap {
        /// The root union's name
        #[arg(long)]
        union_name: String,
        /// The admin's mobile number
        #[arg(long)]
        admin_phone: String,
        /// The admin's password (8–128 characters); if the admin has another one already,
        /// running again is refused unless --reset-password is given
        #[arg(long)]
        admin_password: String,
        /// Replace the admin's existing password, ending every session of theirs
        #[arg(long)]
        reset_password: bool,
    },
    /// After the database was restored to an earlier point, with every node stopped: move
    /// each topic's seq on past anything a client may hold, so every client resumes with
    /// a fresh snapshot and no seq is given twice (docs/OPERATIONS.md "Restoring")
    Restored,
}

impl Cli {
    /// The settings with the TOML file's filled in.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        match &self.config {
            Some(path) => Ok(self.settings.clone().or(Settings::from_file(path)?)),
            None => Ok(self.settings.clone()),
        }
    }

    /// Runs the command.
    ///
    /// # Errors
    /// Whatever stops it, with context for the operator.
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = self.settings()?;
        match self.command {
            Command::Serve { listen } => {
                let config = Config::resolve(settings, listen)?;
                Application::build(config)
                    .await?
                    .run_until_stopped()
                    .await?;
            }
            Command::Migrate => {
                let config = Config::resolve(settings, String::new())?;
                store::create_database_if_missing(&config.database_url).await?;
                store::migrate(&config.database_url).await?;
            }
            Command::Restored => {
                let config = Config::resolve(settings, String::new())?;
                let store = Store::connect(&config.database_url, 2, config.secrets)?;
                let topics = store.move_seqs_past_restore().await?;
                println!("moved {topics} topics past the restore: every client will resume with a fresh snapshot");
            }
            Command::Bootstrap {
                union_name,
                admin_phone,
                admin_password,
                reset_password,
            } => {
                let config = Config::resolve(settings, String::new())?;
                let phone = Phone::parse("--admin-phone", &admin_phone)?;
                let password = Password::parse("--admin-password", &admin_password)?;
                let name = union_name.trim();
                anyhow::ensure!(!name.is_empty(), "--union-name must not be empty");
                store::create_database_if_missing(&config.database_url).await?;
                store::migrate(&config.database_url).await?;
                let store = Store::connect(&config.database_url, 2, config.secrets)?;
                let stored = store.login_record(&phone).await?.and_then(|(_, hash)| hash);
                let same = match stored {
                    Some(hash) => Some(
                        PasswordGate::new(GateSettings::default())
                            .verify(password.expose().to_owned(), Some(hash))
                            .await?,
                    ),
                    None => None,
                };
                let (hash, end_sessions) = match (same, reset_password) {
                    (Some(true), _) => (None, false),
                    (Some(false), false) => anyhow::bail!(
                        "{phone} already has another password; run with --reset-password to replace it (this ends every session of theirs)"
                    ),
                    (Some(false), true) => (Some(hash_password(&password).await?), true),
                    (None, _) => (Some(hash_password(&password).await?), false),
                };
                let made = store
                    .bootstrap(name, &phone, hash.as_deref(), end_sessions)
                    .await
                    .context("bootstrapping")?;
                println!("{}", serde_json::to_string(&made)?);
            }
        }
        Ok(())
    }
}
