//! The command line of API.md: `serve`, `migrate`, `bootstrap`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gonghui_actors::auth::hash_password;
use gonghui_actors::domain::{Password, Phone};
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
        /// The admin's password (8–128 characters)
        #[arg(long)]
        admin_password: String,
    },
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
            Command::Bootstrap {
                union_name,
                admin_phone,
                admin_password,
            } => {
                let config = Config::resolve(settings, String::new())?;
                let phone = Phone::parse("--admin-phone", &admin_phone)?;
                let password = Password::parse("--admin-password", &admin_password)?;
                let name = union_name.trim();
                anyhow::ensure!(!name.is_empty(), "--union-name must not be empty");
                store::create_database_if_missing(&config.database_url).await?;
                store::migrate(&config.database_url).await?;
                let store = Store::connect(&config.database_url, 2, config.secrets)?;
                let hash = hash_password(&password).await?;
                let made = store
                    .bootstrap(name, &phone, &hash)
                    .await
                    .context("bootstrapping")?;
                println!("{}", serde_json::to_string(&made)?);
            }
        }
        Ok(())
    }
}
