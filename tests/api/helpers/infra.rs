//! What the nodes under test stand on: a fresh database and a fake SMS webhook.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::Value;

/// The Postgres server tests create their databases on.
pub fn pg_base() -> String {
    std::env::var("TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh database URL on `base`.
pub fn fresh_database(base: &str) -> String {
    format!("{base}/gonghui_test_{}", uuid::Uuid::new_v4().simple())
}

/// Codes the fake SMS webhook received, by phone.
#[derive(Clone, Default)]
pub struct SmsInbox(Arc<Mutex<HashMap<String, String>>>);

impl SmsInbox {
    pub fn code_for(&self, phone: &str) -> String {
        self.0
            .lock()
            .unwrap()
            .get(phone)
            .cloned()
            .expect("an SMS code was sent")
    }
}

/// Starts the fake SMS webhook; returns its URL.
pub fn spawn_sms_webhook(inbox: SmsInbox) -> String {
    let server = HttpServer::new(move || {
        let inbox = inbox.clone();
        App::new().route(
            "/sms",
            web::post().to(move |body: web::Json<Value>| {
                let inbox = inbox.clone();
                async move {
                    let phone = body["phone"].as_str().unwrap_or_default().to_owned();
                    let code = body["code"].as_str().unwrap_or_default().to_owned();
                    inbox.0.lock().unwrap().insert(phone, code);
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());
    format!("http://127.0.0.1:{port}/sms")
}
