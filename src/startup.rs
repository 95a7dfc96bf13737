//! Building and running one node. `Application::build` creates the database if missing,
//! migrates, starts the registry and the bridge, binds (port 0 picks a free port, read
//! back with [`Application::port`]) and returns; `main` and the tests are its two callers.
//!
//! # Shutdown
//! One place decides it: [`Application::run_until_stopped`] waits for SIGTERM or Ctrl-C,
//! then asks the registry to close every session with 1012 (so clients reconnect,
//! possibly to another node), gives the close frames a moment to leave, and stops the
//! HTTP server gracefully (in-flight requests finish, for up to 5 s).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Arbiter};
use actix_http::HttpService;
use actix_service::{map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App, HttpResponse};
use anyhow::Context;
use gonghui_actors::auth::Auth;
use gonghui_actors::hub::messages::Shutdown;
use gonghui_actors::hub::registry::Registry;
use gonghui_actors::hub::results::ResultsPublisher;
use gonghui_actors::hub::{bridge, log_writer};
use gonghui_actors::store::{self, Store};
use gonghui_actors::wechat::WeChat;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::config::Config;
use crate::extract::{json_config, path_config, query_config};
use crate::openapi::ApiDoc;
use crate::routes;
use crate::session::anonymous::Anonymous;
use crate::state::AppState;

/// Connections waiting to be accepted; a reconnect storm arrives all at once
/// (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;

/// Open files kept back from WebSockets: for HTTP calls (`/healthz` among them), the
/// log, spreadsheets and WeChat, besides the database pool.
const FILES_IN_RESERVE: usize = 256;

/// Open files kept back from every kind of connection: past this the node stops
/// accepting rather than fail inside with EMFILE.
const FILES_FOR_THE_REST: usize = 64;

/// The largest JSON body accepted.
pub const MAX_JSON: usize = 64 * 1024;

/// A node, bound and serving.
pub struct Application {
    port: u16,
    server: Server,
    registry: Addr<Registry>,
    /// The private `/metrics` address's port and server, when there is one.
    metrics: Option<(u16, ServerHandle)>,
}

impl Application {
    /// Prepares the database and starts serving on `config.listen`.
    ///
    /// # Errors
    /// When the database is unreachable, a migration fails or the address cannot be bound.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        prepare_database(&config.database_url, config.db_connect_timeout).await?;
        let store = Store::connect(&config.database_url, config.db_pool, config.secrets.clone())?
            .with_public_url(&config.public_url)
            .with_pool_wait(config.db_pool_wait)
            .with_export_limits(config.exports.clone())
            .with_idempotency_lease(config.idempotency_lease);
        let auth = Auth::new(store.clone(), config.sms.clone(), config.auth.clone());
        let arbiters = (0..config.workers.max(1))
            .map(|_| Arbiter::new().handle())
            .collect();
        let registry = Registry::new(store.clone(), config.hub.clone(), arbiters).start();
        let bridge_listening = Arc::new(AtomicBool::new(false));
        actix::spawn(bridge::run(
            config.database_url.clone(),
            registry.clone(),
            bridge_listening.clone(),
            store.metrics().clone(),
        ));
        actix::spawn(log_writer::run(
            config.database_url.clone(),
            store.outbox_written(),
        ));
        actix::spawn(prune(store.clone(), config.event_retention));

        let results = ResultsPublisher::new(store.clone()).start();
        let wechat = WeChat::new(config.wechat.clone(), store.clone())?.start();
        let files = open_file_limit();
        let mut ws = config.ws.clone();
        let max_sockets = *ws.max_sockets.get_or_insert_with(|| {
            files
                .saturating_sub(FILES_IN_RESERVE + config.db_pool)
                .max(1)
        });
        let workers = config.workers.max(1);
        let connections_per_worker =
            (files.saturating_sub(FILES_FOR_THE_REST + config.db_pool) / workers).max(1);
        tracing::info!(open_files = files, max_sockets, "connection limits");
        let state = web::Data::new(AppState {
            store,
            auth,
            registry: registry.clone(),
            results,
            wechat,
            bridge_listening,
            ws: ws.clone(),
            trust_forwarded_for: config.trust_forwarded_for,
            body_timeout: config.body_timeout,
            sheets: Arc::new(tokio::sync::Semaphore::new(config.sheets_at_once)),
            open_sockets: AtomicUsize::new(0),
            anonymous: Anonymous::new(ws.anonymous_per_address),
            metrics_token: config.metrics.token.clone(),
        });
        let metrics = match &config.metrics.listen {
            Some(address) => Some(serve_metrics(address, state.clone())?),
            None => None,
        };
        let listener =
            listen(&config.listen).with_context(|| format!("binding {}", config.listen))?;
        let local = listener.local_addr()?;
        let port = local.port();
        let send_buffer = config.socket_send_buffer;
        let apps = web::Data::new(crate::webapps::WebApps::new(
            &config.console_nodes,
            config.console_map_tiles.as_deref(),
        ));
        let server = serve(listener, workers, connections_per_worker, move || {
            let state = state.clone();
            let service = HttpService::build()
                .client_disconnect_timeout(Duration::from_secs(1))
                // Events are small writes that must leave at once, not wait on Nagle for an ACK.
                .tcp_nodelay(true)
                .local_addr(local)
                .on_connect_ext(move |io: &TcpStream, _| {
                    if let Some(size) = send_buffer {
                        if let Err(e) = socket2::SockRef::from(io).set_send_buffer_size(size) {
                            tracing::warn!(error = %e, "setting SO_SNDBUF failed");
                        }
                    }
                })
                .upgrade(crate::upgrade::service(state.clone()));
            let app = app(state, apps.clone())
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            service
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?;
        tracing::info!(port, "serving");
        Ok(Application {
            port,
            server,
            registry,
            metrics,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The private `/metrics` address's bound port, when one was configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// What stops this node the way SIGTERM does, for tests that take a node down.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            handle: self.server.handle(),
            metrics: self.metrics.as_ref().map(|(_, handle)| handle.clone()),
            registry: self.registry.clone(),
        }
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down as the module doc describes.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopper = self.stopper();
        actix::spawn(async move {
            wait_for_signal().await;
            stopper.stop().await;
        });
        self.server.await
    }

    /// Serves until stopped by a [`Stopper`]; for tests, which send no signals.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Stops a node: sessions closed with 1012, then a graceful HTTP stop.
#[derive(Clone)]
pub struct Stopper {
    handle: ServerHandle,
    metrics: Option<ServerHandle>,
    registry: Addr<Registry>,
}

impl Stopper {
    /// Runs the shutdown sequence of the module doc.
    pub async fn stop(&self) {
        let sessions = self.registry.send(Shutdown).await.unwrap_or(0);
        tracing::info!(sessions, "shutting down: closing sessions with 1012");
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(metrics) = &self.metrics {
            metrics.stop(true).await;
        }
        self.handle.stop(true).await;
    }
}

/// The routes of one worker.
fn app(
    state: web::Data<AppState>,
    apps: web::Data<crate::webapps::WebApps>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(json_config(MAX_JSON))
        .app_data(path_config())
        .app_data(query_config())
        .route("/api/v1/openapi.json", web::get().to(crate::openapi::serve))
        .route(
            "/api/v1/asyncapi.json",
            web::get().to(crate::asyncapi::serve),
        )
        .service(
            utoipa_actix_web::scope("/api/v1")
                .wrap(from_fn(crate::idempotency::middleware))
                .wrap(from_fn(crate::body::middleware))
                .wrap(from_fn(crate::webapps::cors))
                .configure(routes::api),
        )
        .split_for_parts();
    let mut api = api;
    crate::openapi::declare_common_errors(&mut api);
    crate::openapi::describe_files(&mut api);
    let api = web::Data::new(crate::openapi::served(&api));
    app.app_data(api)
        .app_data(apps)
        .wrap(from_fn(crate::access::middleware))
        .route("/", web::get().to(crate::webapps::to_console))
        // Gzipped on the way out: the apps' scripts shrink to a third.
        .service(
            web::scope("/console")
                .wrap(actix_web::middleware::Compress::default())
                .route("", web::get().to(crate::webapps::to_console))
                .route("/config.json", web::get().to(crate::webapps::config))
                .route(
                    "/{path:.*}",
                    web::get().to(crate::webapps::asset::<crate::webapps::Console>),
                ),
        )
        .service(
            web::scope("/h5")
                .wrap(actix_web::middleware::Compress::default())
                .route("", web::get().to(crate::webapps::to_h5))
                .route("/config.json", web::get().to(crate::webapps::config))
                .route(
                    "/{path:.*}",
                    web::get().to(crate::webapps::asset::<crate::webapps::H5>),
                ),
        )
        .route(
            "/activities/{id}",
            web::get().to(crate::webapps::activity_link),
        )
        .route(crate::upgrade::PATH, web::get().to(routes::ws::ws))
        .route("/healthz", web::get().to(routes::health::healthz))
        .route("/readyz", web::get().to(routes::health::readyz))
        .route("/metrics", web::get().to(routes::metrics::public))
        .default_service(web::to(|| async {
            HttpResponse::NotFound().json(gonghui_protocol::dto::ErrorResponse {
                error: gonghui_protocol::ErrorBody::new("not_found", "no such route"),
            })
        }))
}

/// Runs the HTTP server on `listener`: actix-web's routes, with WebSocket upgrades taken
/// off the HTTP dispatcher first ([`crate::upgrade`]) — which actix-web's own `HttpServer`
/// cannot do. Its settings are `HttpServer`'s defaults; the app's host and address are
/// the defaults too, as nothing builds URLs from them.
fn serve<F, S>(
    listener: TcpListener,
    workers: usize,
    connections_per_worker: usize,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> S + Send + Clone + 'static,
    S: ServiceFactory<TcpStream, Config = ()> + 'static,
    S::Error: std::fmt::Debug,
    S::InitError: std::fmt::Debug,
    S::Response: Into<()>,
{
    Ok(actix_server::Server::build()
        .listen("gonghui", listener, factory)?
        .workers(workers)
        .max_concurrent_connections(connections_per_worker)
        .disable_signals()
        .shutdown_timeout(5)
        .run())
}

/// Serves `/metrics` alone on `address`, without a token: for a private network a
/// scraper reaches and clients do not. One worker: a scraper calls every few seconds.
fn serve_metrics(address: &str, state: web::Data<AppState>) -> anyhow::Result<(u16, ServerHandle)> {
    let listener = listen(address).with_context(|| format!("binding {address} for /metrics"))?;
    let port = listener.local_addr()?.port();
    let server = actix_web::HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(routes::metrics::private))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the /metrics server failed");
        }
    });
    tracing::info!(port, "serving /metrics privately");
    Ok((port, handle))
}

/// Binds with a deep accept queue (std's `TcpListener::bind` asks for only 128).
fn listen(address: &str) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let address = address.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    })?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Deletes events past retention and stale idempotency keys, once a minute.
async fn prune(store: Store, retention: Duration) {
    let every = retention
        .min(Duration::from_secs(60))
        .max(Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match store.prune_events(retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned events past retention"),
            Err(e) => tracing::warn!(error = %e, "pruning events failed"),
        }
        if let Err(e) = store.prune_idempotency_keys().await {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
        if let Err(e) = store.prune_login_records().await {
            tracing::warn!(error = %e, "pruning login records failed");
        }
    }
}

/// Creates the database if missing and migrates, retrying with backoff (1 s doubling
/// to 30 s, logged each time) while Postgres cannot be reached or does not answer
/// within `timeout`; a Postgres that refuses (a wrong password, say) fails at once.
async fn prepare_database(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let mut backoff = Duration::from_secs(1);
    loop {
        let why = match tokio::time::timeout(timeout, store::create_database_if_missing(url)).await
        {
            Ok(Ok(())) => break,
            Ok(Err(e)) if !store::is_unreachable(&e) => return Err(e),
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("no answer within {timeout:?}"),
        };
        tracing::warn!(error = %why, retry_in = ?backoff, "Postgres is not reachable; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    store::migrate(url).await
}

/// Raises the process's open-file limit to its hard limit and returns it.
fn open_file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
