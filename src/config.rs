//! Configuration: every setting comes from a flag, a `GONGHUI_*` environment variable
//! (`DATABASE_URL` for the database) or the optional TOML file, in that order of
//! precedence; `gonghui --help` lists them all.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use gonghui_actors::auth::{AuthSettings, SmsGateway};
use gonghui_actors::crypto::Secrets;
use gonghui_actors::hub::HubSettings;
use gonghui_actors::store::export::ExportLimits;
use gonghui_actors::wechat::WeChatSettings;
use serde::Deserialize;

use crate::state::WsSettings;

/// The default database.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/gonghui";

/// The default public address of the clients.
pub const DEFAULT_PUBLIC_URL: &str = "https://gonghui.example.com";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one readable line per event.
    Text,
    /// For log shippers: one JSON object per line.
    Json,
}

/// Settings as given; any may be missing. The same names work as TOML keys.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Postgres URL; the database is created if missing [default: postgres://postgres@127.0.0.1:5432/gonghui]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// 64 hex digits: the key for ID numbers at rest (without it, a development key and a loud warning)
    #[arg(long, env = "GONGHUI_DATA_KEY", global = true, hide_env_values = true)]
    pub data_key: Option<String>,
    /// Where SMS codes go: `log` or `http` [default: log]
    #[arg(long, env = "GONGHUI_SMS", global = true)]
    pub sms: Option<String>,
    /// The webhook POSTed `{"phone","code","purpose"}` when GONGHUI_SMS=http
    #[arg(long, env = "GONGHUI_SMS_WEBHOOK", global = true)]
    pub sms_webhook: Option<String>,
    /// Database connections per node [default: 16]
    #[arg(long, env = "GONGHUI_DB_POOL", global = true)]
    pub db_pool: Option<usize>,
    /// Milliseconds a call waits for a free database connection before it is answered 503 with Retry-After [default: 5000]
    #[arg(long, env = "GONGHUI_DB_POOL_WAIT_MS", global = true)]
    pub db_pool_wait_ms: Option<u64>,
    /// HTTP worker threads [default: number of cores]
    #[arg(long, env = "GONGHUI_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Session token lifetime in seconds [default: 2592000, 30 days]
    #[arg(long, env = "GONGHUI_TOKEN_TTL_SECS", global = true)]
    pub token_ttl_secs: Option<u64>,
    /// Messages queued per WebSocket before a slow reader is closed with 4008 [default: 256]
    #[arg(long, env = "GONGHUI_SESSION_QUEUE", global = true)]
    pub session_queue: Option<usize>,
    /// Seconds a new WebSocket has to say hello [default: 10]
    #[arg(long, env = "GONGHUI_HELLO_TIMEOUT_SECS", global = true)]
    pub hello_timeout_secs: Option<u64>,
    /// WebSockets one client address may hold before their hello; more are refused with 429 [default: 128]
    #[arg(long, env = "GONGHUI_ANONYMOUS_SOCKETS_PER_ADDRESS", global = true)]
    pub anonymous_sockets_per_address: Option<usize>,
    /// Seconds events stay in the log for resumes [default: 604800, 7 days]
    #[arg(long, env = "GONGHUI_EVENT_RETENTION_SECS", global = true)]
    pub event_retention_secs: Option<u64>,
    /// The longest gap a resume replays before answering reset [default: 10000]
    #[arg(long, env = "GONGHUI_MAX_REPLAY", global = true)]
    pub max_replay: Option<u64>,
    /// Seconds a union's or member's owner actor lives on with no subscriber [default: 60]
    #[arg(long, env = "GONGHUI_OWNER_IDLE_SECS", global = true)]
    pub owner_idle_secs: Option<u64>,
    /// Kernel send buffer per connection in bytes; bounds what a stalled client pins in the kernel [default: the kernel's autotuning]
    #[arg(long, env = "GONGHUI_SOCKET_SEND_BUFFER", global = true)]
    pub socket_send_buffer: Option<usize>,
    /// The public address the clients open, for the links in activity codes [default: https://gonghui.example.com]
    #[arg(long, env = "GONGHUI_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// The other nodes' public base URLs, comma-separated (`https://gh2.example.cn`): the console fails over to them [default: none]
    #[arg(long, env = "GONGHUI_CONSOLE_NODES", global = true)]
    pub console_nodes: Option<String>,
    /// A map tile URL template for the console's union map (`https://{s}.tile.example.cn/{z}/{x}/{y}.png`) [default: none: markers on a plain grid]
    #[arg(long, env = "GONGHUI_CONSOLE_MAP_TILES", global = true)]
    pub console_map_tiles: Option<String>,
    /// Hosts official-account article links may point to, comma-separated (`host` or `host:port`) [default: mp.weixin.qq.com]
    #[arg(long, env = "GONGHUI_WECHAT_ALLOWED_HOSTS", global = true)]
    pub wechat_allowed_hosts: Option<String>,
    /// Seconds a fetch from WeChat may take, start to end [default: 10]
    #[arg(long, env = "GONGHUI_WECHAT_TIMEOUT_SECS", global = true)]
    pub wechat_timeout_secs: Option<f64>,
    /// The largest article page fetched, in bytes [default: 5242880]
    #[arg(long, env = "GONGHUI_WECHAT_MAX_PAGE_BYTES", global = true)]
    pub wechat_max_page_bytes: Option<usize>,
    /// A PEM root certificate the WeChat adapter trusts besides the public ones (a private proxy)
    #[arg(long, env = "GONGHUI_WECHAT_CA_FILE", global = true)]
    pub wechat_ca_file: Option<PathBuf>,
    /// The WeChat API's base address [default: https://api.weixin.qq.com]
    #[arg(long, env = "GONGHUI_WECHAT_API", global = true)]
    pub wechat_api: Option<String>,
    /// Seconds between polls of a bound official account; 0 polls only when an admin asks [default: 600]
    #[arg(long, env = "GONGHUI_WECHAT_POLL_SECS", global = true)]
    pub wechat_poll_secs: Option<u64>,
    /// The mini-program's app id (with its secret: mini-program login and activity codes)
    #[arg(long, env = "GONGHUI_WECHAT_MINIPROGRAM_APPID", global = true)]
    pub wechat_miniprogram_appid: Option<String>,
    /// The mini-program page an activity's code opens, with scene `a={id}` [default: pages/activity/index]
    #[arg(long, env = "GONGHUI_WECHAT_MINIPROGRAM_PAGE", global = true)]
    pub wechat_miniprogram_page: Option<String>,
    /// The mini-program's app secret
    #[arg(
        long,
        env = "GONGHUI_WECHAT_MINIPROGRAM_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub wechat_miniprogram_secret: Option<String>,
    /// `development` or `production`; production refuses to start without GONGHUI_DATA_KEY and never logs SMS codes at INFO [default: development]
    #[arg(long, env = "GONGHUI_ENV", global = true)]
    pub env: Option<String>,
    /// Where a node keeps its generated key when GONGHUI_DATA_KEY is not set (development only) [default: ./gonghui-data]
    #[arg(long, env = "GONGHUI_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Take the client's address from the last X-Forwarded-For entry: only behind a proxy that sets it [default: false]
    #[arg(long, env = "GONGHUI_TRUST_FORWARDED_FOR", global = true)]
    pub trust_forwarded_for: Option<bool>,
    /// Password checks run at once per node (argon2id, 19 MiB each) [default: number of cores]
    #[arg(long, env = "GONGHUI_LOGIN_CHECKS", global = true)]
    pub login_checks: Option<usize>,
    /// Password checks waiting per node before logins get 503 [default: 64]
    #[arg(long, env = "GONGHUI_LOGIN_QUEUE", global = true)]
    pub login_queue: Option<usize>,
    /// SMS codes one client address may ask for per hour [default: 20]
    #[arg(long, env = "GONGHUI_SMS_PER_ADDRESS_HOUR", global = true)]
    pub sms_per_address_hour: Option<i64>,
    /// SMS codes the whole cluster sends per hour [default: 10000]
    #[arg(long, env = "GONGHUI_SMS_PER_HOUR", global = true)]
    pub sms_per_hour: Option<i64>,
    /// WebSockets one user may hold per client kind on a node; more are closed with 4029 [default: 10]
    #[arg(long, env = "GONGHUI_SOCKETS_PER_USER", global = true)]
    pub sockets_per_user: Option<usize>,
    /// WebSockets a node holds before refusing new ones with 503 [default: the open-file limit less 256]
    #[arg(long, env = "GONGHUI_MAX_SOCKETS", global = true)]
    pub max_sockets: Option<usize>,
    /// Seconds a request body has to arrive in full (408 after) [default: 30]
    #[arg(long, env = "GONGHUI_BODY_TIMEOUT_SECS", global = true)]
    pub body_timeout_secs: Option<u64>,
    /// Roster and activity downloads streaming at once per node (each holds a database connection) [default: a quarter of GONGHUI_DB_POOL]
    #[arg(long, env = "GONGHUI_EXPORTS_AT_ONCE", global = true)]
    pub exports_at_once: Option<usize>,
    /// Uploaded spreadsheets read at once per node; more are answered 503 [default: 2]
    #[arg(long, env = "GONGHUI_SHEETS_AT_ONCE", global = true)]
    pub sheets_at_once: Option<usize>,
    /// Seconds a download may go unread before it is cut off and its connection freed [default: 30]
    #[arg(long, env = "GONGHUI_EXPORT_STALL_SECS", global = true)]
    pub export_stall_secs: Option<u64>,
    /// Seconds to wait for Postgres to connect and answer before retrying [default: 5]
    #[arg(long, env = "GONGHUI_DB_CONNECT_TIMEOUT_SECS", global = true)]
    pub db_connect_timeout_secs: Option<u64>,
    /// Log filter, as RUST_LOG [default: info]
    #[arg(long, env = "GONGHUI_LOG", global = true)]
    pub log: Option<String>,
    /// `text` or `json` (a line of JSON per event, for log shippers) [default: text]
    #[arg(long, env = "GONGHUI_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Seconds a request with an Idempotency-Key holds its key; a retry after that (the first was cut off: its node died, or Postgres went away before its answer was kept) runs the call again [default: 120]
    #[arg(long, env = "GONGHUI_IDEMPOTENCY_LEASE_SECS", global = true)]
    pub idempotency_lease_secs: Option<u64>,
    /// A token of at least 16 characters: `/metrics` on the public port answers only `Authorization: Bearer` with it [default: none: not served there]
    #[arg(
        long,
        env = "GONGHUI_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// A second address serving only `/metrics`, without a token, for a private network (`10.0.0.5:9464`) [default: none]
    #[arg(long, env = "GONGHUI_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<String>,
}

impl Settings {
    /// Fills what is missing here from `file`.
    pub fn or(self, file: Settings) -> Settings {
        Settings {
            database_url: self.database_url.or(file.database_url),
            data_key: self.data_key.or(file.data_key),
            sms: self.sms.or(file.sms),
            sms_webhook: self.sms_webhook.or(file.sms_webhook),
            db_pool: self.db_pool.or(file.db_pool),
            db_pool_wait_ms: self.db_pool_wait_ms.or(file.db_pool_wait_ms),
            workers: self.workers.or(file.workers),
            token_ttl_secs: self.token_ttl_secs.or(file.token_ttl_secs),
            session_queue: self.session_queue.or(file.session_queue),
            hello_timeout_secs: self.hello_timeout_secs.or(file.hello_timeout_secs),
            anonymous_sockets_per_address: self
                .anonymous_sockets_per_address
                .or(file.anonymous_sockets_per_address),
            event_retention_secs: self.event_retention_secs.or(file.event_retention_secs),
            max_replay: self.max_replay.or(file.max_replay),
            socket_send_buffer: self.socket_send_buffer.or(file.socket_send_buffer),
            owner_idle_secs: self.owner_idle_secs.or(file.owner_idle_secs),
            public_url: self.public_url.or(file.public_url),
            console_nodes: self.console_nodes.or(file.console_nodes),
            console_map_tiles: self.console_map_tiles.or(file.console_map_tiles),
            wechat_allowed_hosts: self.wechat_allowed_hosts.or(file.wechat_allowed_hosts),
            wechat_timeout_secs: self.wechat_timeout_secs.or(file.wechat_timeout_secs),
            wechat_max_page_bytes: self.wechat_max_page_bytes.or(file.wechat_max_page_bytes),
            wechat_ca_file: self.wechat_ca_file.or(file.wechat_ca_file),
            wechat_api: self.wechat_api.or(file.wechat_api),
            wechat_poll_secs: self.wechat_poll_secs.or(file.wechat_poll_secs),
            wechat_miniprogram_appid: self
                .wechat_miniprogram_appid
                .or(file.wechat_miniprogram_appid),
            wechat_miniprogram_page: self
                .wechat_miniprogram_page
                .or(file.wechat_miniprogram_page),
            wechat_miniprogram_secret: self
                .wechat_miniprogram_secret
                .or(file.wechat_miniprogram_secret),
            env: self.env.or(file.env),
            data_dir: self.data_dir.or(file.data_dir),
            trust_forwarded_for: self.trust_forwarded_for.or(file.trust_forwarded_for),
            login_checks: self.login_checks.or(file.login_checks),
            login_queue: self.login_queue.or(file.login_queue),
            sms_per_address_hour: self.sms_per_address_hour.or(file.sms_per_address_hour),
            sms_per_hour: self.sms_per_hour.or(file.sms_per_hour),
            sockets_per_user: self.sockets_per_user.or(file.sockets_per_user),
            max_sockets: self.max_sockets.or(file.max_sockets),
            body_timeout_secs: self.body_timeout_secs.or(file.body_timeout_secs),
            exports_at_once: self.exports_at_once.or(file.exports_at_once),
            sheets_at_once: self.sheets_at_once.or(file.sheets_at_once),
            export_stall_secs: self.export_stall_secs.or(file.export_stall_secs),
            db_connect_timeout_secs: self
                .db_connect_timeout_secs
                .or(file.db_connect_timeout_secs),
            log: self.log.or(file.log),
            log_format: self.log_format.or(file.log_format),
            idempotency_lease_secs: self.idempotency_lease_secs.or(file.idempotency_lease_secs),
            metrics_token: self.metrics_token.or(file.metrics_token),
            metrics_listen: self.metrics_listen.or(file.metrics_listen),
        }
    }

    /// Reads a TOML file of settings.
    ///
    /// # Errors
    /// When the file cannot be read or has unknown or mistyped keys.
    pub fn from_file(path: &PathBuf) -> anyhow::Result<Settings> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Settings resolved, defaulted and checked: what a node runs with.
#[derive(Clone)]
pub struct Config {
    /// The database.
    pub database_url: String,
    /// The address to serve on; port 0 picks a free one.
    pub listen: String,
    /// Keys for data at rest.
    pub secrets: Secrets,
    /// Where SMS codes go.
    pub sms: SmsGateway,
    /// Database connections.
    pub db_pool: usize,
    /// How long a call waits for a database connection.
    pub db_pool_wait: Duration,
    /// HTTP workers.
    pub workers: usize,
    /// Login limits.
    pub auth: AuthSettings,
    /// Delivery knobs.
    pub hub: HubSettings,
    /// WebSocket limits.
    pub ws: WsSettings,
    /// How long events are kept.
    pub event_retention: Duration,
    /// SO_SNDBUF for accepted connections, if set.
    pub socket_send_buffer: Option<usize>,
    /// The clients' public address, without a trailing slash.
    pub public_url: String,
    /// The other nodes the console may fail over to.
    pub console_nodes: Vec<String>,
    /// The console map's tile URL template, if any.
    pub console_map_tiles: Option<String>,
    /// What the WeChat adapter may fetch.
    pub wechat: WeChatSettings,
    /// Whether `X-Forwarded-For` names the client.
    pub trust_forwarded_for: bool,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Uploaded spreadsheets read at once per node.
    pub sheets_at_once: usize,
    /// How many downloads stream at once, and how long one may stall.
    pub exports: ExportLimits,
    /// How long a connection to Postgres may take at start before it is retried.
    pub db_connect_timeout: Duration,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
    /// How long a request holds its idempotency key.
    pub idempotency_lease: Duration,
}

/// Where `/metrics` is served: on the public port to holders of the token, and on a
/// private address to anyone who reaches it; neither by default.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// The bearer token the public port asks for.
    pub token: Option<String>,
    /// The private address.
    pub listen: Option<String>,
}

impl Config {
    /// Resolves settings, applying defaults.
    ///
    /// # Errors
    /// On a malformed data key, an unknown SMS mode or `http` without a webhook.
    pub fn resolve(s: Settings, listen: String) -> anyhow::Result<Config> {
        let production = match s.env.as_deref().unwrap_or("development") {
            "development" => false,
            "production" => true,
            other => anyhow::bail!("GONGHUI_ENV must be development or production, not {other:?}"),
        };
        let sms = match s.sms.as_deref().unwrap_or("log") {
            "log" => SmsGateway::Log {
                codes_at_info: !production,
            },
            "http" => SmsGateway::Http {
                url: s
                    .sms_webhook
                    .clone()
                    .context("GONGHUI_SMS=http needs GONGHUI_SMS_WEBHOOK")?,
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()?,
            },
            other => anyhow::bail!("GONGHUI_SMS must be log or http, not {other:?}"),
        };
        let secrets = match &s.data_key {
            Some(key) => Secrets::from_hex(key)?,
            None if production => anyhow::bail!(
                "GONGHUI_ENV=production needs GONGHUI_DATA_KEY (64 hex digits, e.g. `openssl rand -hex 32`)"
            ),
            None => {
                let dir = s
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(gonghui_actors::crypto::DEFAULT_DATA_DIR));
                let (secrets, path, created) = Secrets::in_dir(&dir)?;
                tracing::warn!(
                    key_file = %path.display(),
                    created,
                    "GONGHUI_DATA_KEY is not set: using the generated key in this file. Back it up with the database, and set GONGHUI_DATA_KEY in production."
                );
                secrets
            }
        };
        let mut hub = HubSettings::default();
        if let Some(queue) = s.session_queue {
            hub.session_queue = queue.max(1);
        }
        if let Some(n) = s.sockets_per_user {
            hub.sockets_per_user = n.max(1);
        }
        if let Some(max) = s.max_replay {
            hub.max_replay = max;
        }
        if let Some(secs) = s.owner_idle_secs {
            hub.idle_after = Duration::from_secs(secs.max(1));
        }
        let mut auth = AuthSettings {
            token_ttl: Duration::from_secs(s.token_ttl_secs.unwrap_or(30 * 24 * 3600)),
            ..AuthSettings::default()
        };
        if let Some(n) = s.login_checks {
            auth.gate.at_once = n.max(1);
        }
        if let Some(n) = s.login_queue {
            auth.gate.queue = n;
        }
        if let Some(n) = s.sms_per_address_hour {
            auth.sends.per_address_hour = n;
        }
        if let Some(n) = s.sms_per_hour {
            auth.sends.per_hour = n;
        }
        let mut wechat = WeChatSettings::default();
        if let Some(hosts) = &s.wechat_allowed_hosts {
            wechat.allowed_hosts = hosts
                .split(',')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect();
        }
        if let Some(secs) = s.wechat_timeout_secs {
            anyhow::ensure!(
                secs > 0.0 && secs.is_finite(),
                "GONGHUI_WECHAT_TIMEOUT_SECS must be positive"
            );
            wechat.timeout = Duration::from_secs_f64(secs);
        }
        if let Some(bytes) = s.wechat_max_page_bytes {
            wechat.max_page = bytes;
        }
        if let Some(api) = &s.wechat_api {
            wechat.api_base = api.trim_end_matches('/').to_owned();
        }
        if let Some(secs) = s.wechat_poll_secs {
            wechat.poll_every = Duration::from_secs(secs);
        }
        wechat.miniprogram = match (&s.wechat_miniprogram_appid, &s.wechat_miniprogram_secret) {
            (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
            (None, None) => None,
            _ => anyhow::bail!("set both GONGHUI_WECHAT_MINIPROGRAM_APPID and GONGHUI_WECHAT_MINIPROGRAM_SECRET, or neither"),
        };
        if let Some(page) = &s.wechat_miniprogram_page {
            let page = page.trim().trim_start_matches('/');
            anyhow::ensure!(
                !page.is_empty() && page.len() <= 128 && !page.contains(['?', ' ']),
                "GONGHUI_WECHAT_MINIPROGRAM_PAGE must be a page path like pages/activity/index"
            );
            wechat.activity_page = page.to_owned();
        }
        if let Some(path) = &s.wechat_ca_file {
            wechat.extra_root_pem =
                Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
        }
        if let Some(token) = &s.metrics_token {
            anyhow::ensure!(
                token.len() >= 16 && token.bytes().all(|b| b.is_ascii_graphic()),
                "GONGHUI_METRICS_TOKEN must be at least 16 printable characters (e.g. `openssl rand -hex 16`)"
            );
        }
        Ok(Config {
            idempotency_lease: s
                .idempotency_lease_secs
                .map_or(gonghui_actors::store::IDEMPOTENCY_LEASE, |secs| {
                    Duration::from_secs(secs.max(1))
                }),
            metrics: MetricsAccess {
                token: s.metrics_token.clone(),
                listen: s.metrics_listen.clone(),
            },
            wechat,
            trust_forwarded_for: s.trust_forwarded_for.unwrap_or(false),
            body_timeout: Duration::from_secs(s.body_timeout_secs.unwrap_or(30).max(1)),
            sheets_at_once: s.sheets_at_once.unwrap_or(2).max(1),
            exports: ExportLimits {
                at_once: s
                    .exports_at_once
                    .unwrap_or(s.db_pool.unwrap_or(16) / 4)
                    .max(1),
                stall: Duration::from_secs(s.export_stall_secs.unwrap_or(30).max(1)),
                ..ExportLimits::default()
            },
            db_connect_timeout: Duration::from_secs(s.db_connect_timeout_secs.unwrap_or(5).max(1)),
            database_url: s
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            listen,
            secrets,
            sms,
            db_pool: s.db_pool.unwrap_or(16).max(2),
            db_pool_wait: s
                .db_pool_wait_ms
                .map_or(gonghui_actors::store::POOL_WAIT, Duration::from_millis),
            workers: s
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
            auth,
            ws: WsSettings {
                hello_timeout: Duration::from_secs(s.hello_timeout_secs.unwrap_or(10)),
                queue: hub.session_queue,
                max_frame: 64 * 1024,
                max_sockets: s.max_sockets,
                anonymous_per_address: s.anonymous_sockets_per_address.unwrap_or(128).max(1),
            },
            hub,
            event_retention: Duration::from_secs(s.event_retention_secs.unwrap_or(7 * 24 * 3600)),
            socket_send_buffer: s.socket_send_buffer,
            public_url: s
                .public_url
                .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            console_nodes: console_nodes(s.console_nodes.as_deref())?,
            console_map_tiles: map_tiles(s.console_map_tiles.as_deref())?,
        })
    }
}

/// The console's peers: `http(s)://host[:port]` each, nothing after.
fn console_nodes(raw: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut nodes = Vec::new();
    for node in raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let node = node.trim_end_matches('/');
        let host = node
            .strip_prefix("https://")
            .or_else(|| node.strip_prefix("http://"))
            .unwrap_or("");
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
        if host.is_empty() || !host.chars().all(plain) {
            anyhow::bail!(
                "GONGHUI_CONSOLE_NODES: {node:?} is not an http(s)://host[:port] base URL"
            );
        }
        nodes.push(node.to_owned());
    }
    Ok(nodes)
}

/// A tile URL template: http(s), a plain host (`{s}` allowed), `{z}`, `{x}` and `{y}`.
fn map_tiles(raw: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(template) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let rest = template
        .strip_prefix("https://")
        .or_else(|| template.strip_prefix("http://"))
        .unwrap_or("");
    let host = rest.split('/').next().unwrap_or("");
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '{' | '}');
    let placed = ["{z}", "{x}", "{y}"].iter().all(|p| template.contains(p));
    if host.is_empty()
        || !host.chars().all(plain)
        || !placed
        || template.contains(['"', '\'', ' ', ';'])
    {
        anyhow::bail!("GONGHUI_CONSOLE_MAP_TILES: {template:?} is not an http(s) tile URL template with {{z}}, {{x}} and {{y}}");
    }
    Ok(Some(template.to_owned()))
}

#[cfg(test)]
mod tests;
