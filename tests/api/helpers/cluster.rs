//! Real nodes on random ports against one fresh database, and the HTTP calls tests make
//! to them.

use std::time::Duration;

use gonghui::config::{Config, Settings};
use gonghui::startup::{Application, Stopper};
use gonghui_protocol::Codec;
use serde_json::{json, Value};

use super::{
    all_permissions, fresh_database, id_number, pg_base, spawn_sms_webhook, SmsInbox, WsClient,
};

pub const WAIT: Duration = Duration::from_secs(10);

/// The data key of every test node (and of the seeder that writes their database).
pub const TEST_DATA_KEY: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// One running node.
pub struct Node {
    pub http: String,
    pub ws: String,
    pub stopper: Stopper,
    /// The private `/metrics` address, when the node has one.
    pub metrics: Option<String>,
}

/// Nodes sharing one database.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub sms: SmsInbox,
    pub http: reqwest::Client,
    pub db: tokio_postgres::Client,
    pub root_union: i64,
    pub root_admin: i64,
    pub database_url: String,
}

/// Settings every test node uses; a test may change them before spawning.
pub fn test_settings(database_url: &str, sms_webhook: &str) -> Settings {
    Settings {
        database_url: Some(database_url.to_owned()),
        sms: Some("http".into()),
        sms_webhook: Some(sms_webhook.to_owned()),
        data_key: Some(TEST_DATA_KEY.to_owned()),
        db_pool: Some(8),
        workers: Some(2),
        log: None,
        ..Settings::default()
    }
}

/// Starts one node with `settings` on a random port.
pub async fn spawn_node(settings: &Settings) -> Node {
    let config =
        Config::resolve(settings.clone(), "127.0.0.1:0".into()).expect("test settings resolve");
    let app = Application::build(config).await.expect("the node starts");
    let port = app.port();
    let stopper = app.stopper();
    let metrics = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}/metrics"));
    actix_rt::spawn(app.run());
    Node {
        http: format!("http://127.0.0.1:{port}"),
        ws: format!("ws://127.0.0.1:{port}/ws"),
        stopper,
        metrics,
    }
}

impl Cluster {
    /// `n` nodes on a fresh database on the default server.
    pub async fn start(n: usize) -> Cluster {
        Self::start_with(n, &pg_base(), |_| {}).await
    }

    /// `n` nodes on a fresh database on `base`, with settings adjusted by `tweak`.
    pub async fn start_with(n: usize, base: &str, tweak: impl Fn(&mut Settings)) -> Cluster {
        init_logs();
        let database_url = fresh_database(base);
        let sms = SmsInbox::default();
        let webhook = spawn_sms_webhook(sms.clone());
        let mut settings = test_settings(&database_url, &webhook);
        tweak(&mut settings);
        let mut nodes = Vec::new();
        for _ in 0..n {
            nodes.push(spawn_node(&settings).await);
        }
        let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        actix_rt::spawn(connection);
        let row = db
            .query_one(
                "WITH u AS (INSERT INTO unions (id, name, path) SELECT id, '广东省总工会', ARRAY[id]
                            FROM (SELECT nextval('unions_id_seq') AS id) n RETURNING id),
                      a AS (INSERT INTO users (phone) VALUES ('13900000000') RETURNING id)
                 SELECT (SELECT id FROM u), (SELECT id FROM a)",
                &[],
            )
            .await
            .unwrap();
        let (root_union, root_admin) = (row.get(0), row.get(1));
        db.execute(
            "INSERT INTO union_admins (union_id, user_id, permissions) VALUES ($1, $2, $3)",
            &[&root_union, &root_admin, &all_permissions()],
        )
        .await
        .unwrap();
        Cluster {
            nodes,
            sms,
            // Idle connections are dropped before the nodes' 5 s keep-alive would close
            // them, so a request never goes out on a socket the node is closing.
            http: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(3))
                .build()
                .unwrap(),
            db,
            root_union,
            root_admin,
            database_url,
        }
    }

    /// `members` verified members of a new union under the root, with tokens, made
    /// directly in the database by the load tester's seeder.
    pub async fn seed_members(&self, members: i64) -> gonghui_loadtest::seed::Seeded {
        let store = gonghui_actors::store::Store::connect(
            &self.database_url,
            2,
            gonghui_actors::crypto::Secrets::from_hex(TEST_DATA_KEY).unwrap(),
        )
        .unwrap();
        let plan = gonghui_loadtest::seed::SeedPlan {
            members,
            applicants: 0,
            admins: 0,
            children: 0,
            token_ttl: Duration::from_secs(3600),
        };
        gonghui_loadtest::seed::seed(&store, plan).await.unwrap()
    }

    /// A child union of `parent`, made directly in the database (registration is another issue).
    pub async fn child_union(&self, parent: i64, name: &str) -> i64 {
        self.db
            .query_one(
                "INSERT INTO unions (id, parent_id, name, path)
                 SELECT n.id, p.id, $2, p.path || n.id FROM unions p, (SELECT nextval('unions_id_seq') AS id) n
                 WHERE p.id = $1 RETURNING id",
                &[&parent, &name],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Makes `user_id` an admin of `union_id` with `permissions`.
    pub async fn appoint(&self, union_id: i64, user_id: i64, permissions: &[&str]) {
        let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
        self.db
            .execute(
                "INSERT INTO union_admins (union_id, user_id, permissions) VALUES ($1, $2, $3)",
                &[&union_id, &user_id, &permissions],
            )
            .await
            .unwrap();
    }

    pub fn url(&self, node: usize, path: &str) -> String {
        format!("{}/api/v1{path}", self.nodes[node].http)
    }

    /// Asks `node`, through `client` (whose source address counts), for a code to
    /// `phone`; returns the code once it is sent.
    pub async fn sms_code_via(&self, client: &reqwest::Client, node: usize, phone: &str) -> String {
        let sent = client
            .post(self.url(node, "/auth/sms-codes"))
            .json(&json!({ "phone": phone }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());
        self.sms.code_for(phone)
    }

    /// Logs in by SMS code (registering the phone) on `node`; returns (token, user id).
    pub async fn login_sms(&self, node: usize, phone: &str, client: &str) -> (String, i64) {
        let code = self.sms_code_via(&self.http, node, phone).await;
        let body = json!({ "phone": phone, "sms_code": code, "client": client });
        let answer = json_of(self.http.post(self.url(node, "/auth/login")).json(&body)).await;
        (
            answer["token"].as_str().expect("a token").to_owned(),
            answer["user"]["id"].as_i64().unwrap(),
        )
    }

    /// Logs in with a password; returns the token.
    pub async fn login_password(
        &self,
        node: usize,
        phone: &str,
        password: &str,
        client: &str,
    ) -> String {
        let body = json!({ "phone": phone, "password": password, "client": client });
        let answer = self
            .http
            .post(self.url(node, "/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Signs the user with `phone` in on a second device: gives them a password (in the
    /// database, as setup) and logs in with it on `node` as `client`; returns that token.
    pub async fn second_device(&self, phone: &str, node: usize, client: &str) -> String {
        let password = gonghui_actors::domain::Password::parse("password", "s3cret-pass").unwrap();
        let hash = gonghui_actors::password::hash_password(&password)
            .await
            .unwrap();
        self.db
            .execute(
                "UPDATE users SET password_hash = $2 WHERE phone = $1",
                &[&phone, &hash],
            )
            .await
            .unwrap();
        self.login_password(node, phone, "s3cret-pass", client)
            .await
    }

    /// A token for the root admin, on the console.
    pub async fn root_admin_token(&self) -> String {
        self.login_sms(0, "13900000000", "console").await.0
    }

    /// A new verified user; returns (token, user id).
    pub async fn verified_user(
        &self,
        node: usize,
        phone: &str,
        client: &str,
        n: u32,
    ) -> (String, i64) {
        let (token, id) = self.login_sms(node, phone, client).await;
        let body = json!({ "name": format!("会员{n}"), "id_number": id_number(n) });
        let r = self.post(node, &token, "/me/verification", &body).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        (token, id)
    }

    pub async fn post(
        &self,
        node: usize,
        token: &str,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(node, path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a file as the raw body.
    pub async fn upload(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        file: Vec<u8>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(0, path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(file)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, node: usize, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(node, path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Files a join application (an empty note sends none); returns its id.
    pub async fn apply(&self, node: usize, token: &str, union_id: i64, note: &str) -> i64 {
        let body = if note.is_empty() {
            json!({ "kind": "join" })
        } else {
            json!({ "kind": "join", "note": note })
        };
        let r = self
            .post(
                node,
                token,
                &format!("/unions/{union_id}/applications"),
                &body,
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    /// Makes the user behind `token` a member of `union_id`: they apply, `admin` approves.
    pub async fn admit(&self, admin: &str, token: &str, union_id: i64) {
        let id = self.apply(0, token, union_id, "").await;
        let r = self
            .post(0, admin, &format!("/applications/{id}/approve"), &json!({}))
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Counts rows with a query returning one bigint.
    pub async fn count(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> i64 {
        self.db.query_one(sql, params).await.unwrap().get(0)
    }

    /// Waits until the log writers have moved every committed event into the log, for a
    /// test that reads the `events` or `topics` table itself.
    /// An event put straight into the outbox, as a node's commit leaves it for the log writer.
    pub async fn put_in_outbox(&self, topic: &str, data: Value) {
        self.db
            .execute(
                "INSERT INTO outbox (topic, kind, data) VALUES ($1, $2, $3)",
                &[
                    &topic,
                    &gonghui_protocol::events::kind::NOTIFICATION_READ,
                    &data,
                ],
            )
            .await
            .unwrap();
    }

    pub async fn logged(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.count("SELECT count(*) FROM outbox", &[]).await > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox did not empty"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn ws(&self, node: usize, codec: Codec) -> WsClient {
        WsClient::connect(&self.nodes[node].ws, codec).await
    }
}

/// Sends a request and reads its JSON answer, whatever the status.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Every access-log line the nodes of this test binary wrote (target `gonghui::access`),
/// as text; with `TEST_LOG` set, every line at INFO is printed too.
pub fn access_log() -> String {
    String::from_utf8_lossy(&ACCESS.lock().unwrap()).into_owned()
}

static ACCESS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct AccessWriter;

impl std::io::Write for AccessWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        ACCESS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{filter, fmt, Layer};
    let access = fmt::layer()
        .with_ansi(false)
        .with_writer(|| AccessWriter)
        .with_filter(filter::Targets::new().with_target("gonghui::access", tracing::Level::INFO));
    let printed = std::env::var("TEST_LOG").is_ok().then(|| {
        fmt::layer()
            .with_test_writer()
            .with_filter(filter::EnvFilter::new("info"))
    });
    let _ = tracing_subscriber::registry()
        .with(access)
        .with(printed)
        .try_init();
}
