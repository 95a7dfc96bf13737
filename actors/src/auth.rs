//! Logging in: SMS codes through a gateway, argon2id passwords, the failure limit, and
//! token issue. Hashing runs on the blocking pool so a login never stalls a worker.

use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use gonghui_protocol::dto::{LoginResponse, WeChatLoginReply};
use gonghui_protocol::ClientKind;
use rand::Rng;

use crate::domain::{Password, Phone, SmsCode};
use crate::store::Store;
use crate::{Error, Result};

/// Where SMS codes go.
#[derive(Clone, Debug)]
pub enum SmsGateway {
    /// Written to the log: development and tests.
    Log,
    /// POSTed as `{"phone", "code", "purpose"}` to a webhook.
    Http {
        /// The webhook.
        url: String,
        /// A client with a timeout.
        client: reqwest::Client,
    },
}

impl SmsGateway {
    async fn send(&self, phone: &Phone, code: &str, purpose: &str) -> Result<()> {
        match self {
            SmsGateway::Log => {
                tracing::info!(phone = %phone, code, purpose, "SMS code (GONGHUI_SMS=log)");
                Ok(())
            }
            SmsGateway::Http { url, client } => {
                let body = serde_json::json!({ "phone": phone.as_str(), "code": code, "purpose": purpose });
                let answer = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                answer.map(drop).map_err(|e| {
                    tracing::warn!(error = %e, "the SMS webhook failed");
                    Error::Unavailable("the SMS gateway failed; try again".into())
                })
            }
        }
    }
}

/// The limits of login.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// How long a session token lives.
    pub token_ttl: Duration,
    /// How long an SMS code works.
    pub code_ttl: Duration,
    /// How soon another code may be sent to the same phone.
    pub code_resend: Duration,
    /// The window over which failed logins count.
    pub failure_window: Duration,
    /// Failures within the window after which logins are refused.
    pub max_failures: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(300),
            code_resend: Duration::from_secs(60),
            failure_window: Duration::from_secs(15 * 60),
            max_failures: 5,
        }
    }
}

/// The secret a user logs in with.
/// How long a mini-program login ticket is good for, in seconds.
const TICKET_SECS: i64 = 600;

pub enum Credential {
    /// Their password, as typed (not length-checked: old passwords may not meet today's rule).
    Password(String),
    /// A code from an SMS.
    SmsCode(SmsCode),
}

/// Login and password operations.
#[derive(Clone)]
pub struct Auth {
    store: Store,
    sms: SmsGateway,
    settings: AuthSettings,
}

/// The one message for every wrong secret, so a phone's existence does not leak.
const WRONG: &str = "wrong phone number, password or code";

impl Auth {
    /// Login against `store`, sending codes through `sms`.
    pub fn new(store: Store, sms: SmsGateway, settings: AuthSettings) -> Self {
        Auth {
            store,
            sms,
            settings,
        }
    }

    /// Sends a login code; returns its lifetime in seconds.
    ///
    /// # Errors
    /// `RateLimited` within the resend interval; `Unavailable` when the gateway fails.
    pub async fn send_login_code(&self, phone: &Phone) -> Result<u64> {
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let hash = self.store.secrets().code_hash(phone.as_str(), &code);
        self.store
            .record_sms_code(
                phone,
                "login",
                &hash,
                self.settings.code_ttl,
                self.settings.code_resend,
            )
            .await?;
        if let Err(e) = self.sms.send(phone, &code, "login").await {
            self.store.void_sms_code(phone, &hash).await?;
            return Err(e);
        }
        Ok(self.settings.code_ttl.as_secs())
    }

    /// Checks the credential and issues a token. An SMS login registers a new phone.
    ///
    /// # Errors
    /// `Unauthenticated` for a wrong secret (the same for an unknown phone);
    /// `RateLimited` after too many failures.
    pub async fn login(
        &self,
        phone: &Phone,
        credential: Credential,
        client: ClientKind,
    ) -> Result<LoginResponse> {
        if self
            .store
            .recent_login_failures(phone, self.settings.failure_window)
            .await?
            >= self.settings.max_failures
        {
            return Err(Error::RateLimited(
                "too many failed logins; try again in 15 minutes".into(),
            ));
        }
        let user_id = match credential {
            Credential::Password(password) => {
                let record = self.store.login_record(phone).await?;
                let (user_id, hash) = match record {
                    Some((id, hash)) => (Some(id), hash),
                    None => (None, None),
                };
                let right = verify_password(password, hash).await?;
                user_id.filter(|_| right)
            }
            Credential::SmsCode(code) => {
                let hash = self
                    .store
                    .secrets()
                    .code_hash(phone.as_str(), code.expose());
                if self.store.consume_sms_code(phone, &hash).await? {
                    Some(self.store.user_for_phone(phone).await?)
                } else {
                    None
                }
            }
        };
        let Some(user_id) = user_id else {
            self.store.record_login_failure(phone).await?;
            return Err(Error::Unauthenticated(WRONG.into()));
        };
        self.store.clear_login_failures(phone).await?;
        let (token, expires_at) = self
            .store
            .issue_token(user_id, client, self.settings.token_ttl)
            .await?;
        let user = self.store.user(user_id).await?;
        Ok(LoginResponse {
            token,
            expires_at,
            user,
        })
    }

    /// A mini-program login by the openid WeChat gave for a `wx.login` code: a session
    /// when the openid is linked to an account, else a ticket (valid 10 minutes) to
    /// send back with the phone and its SMS code.
    pub async fn wechat_login(&self, openid: &str) -> Result<WeChatLoginReply> {
        let Some(user_id) = self.store.user_for_openid(openid).await? else {
            let expires = chrono::Utc::now().timestamp() + TICKET_SECS;
            let signature = hex::encode(
                self.store
                    .secrets()
                    .blind_index(&format!("wx-ticket|{openid}|{expires}")),
            );
            return Ok(WeChatLoginReply {
                token: None,
                user: None,
                needs_phone: true,
                ticket: Some(format!("{openid}.{expires}.{signature}")),
            });
        };
        let (token, _) = self
            .store
            .issue_token(user_id, ClientKind::Miniprogram, self.settings.token_ttl)
            .await?;
        Ok(WeChatLoginReply {
            token: Some(token),
            user: Some(self.store.user(user_id).await?),
            needs_phone: false,
            ticket: None,
        })
    }

    /// Completes a first mini-program login: the SMS code proves the phone (registering
    /// it if new, as an SMS login does) and the ticket's openid is linked to that account.
    ///
    /// # Errors
    /// `Unauthenticated` for a forged or expired ticket or a wrong code; `Conflict` if the
    /// account is linked to another WeChat user.
    pub async fn wechat_link(
        &self,
        ticket: &str,
        phone: &Phone,
        code: SmsCode,
    ) -> Result<WeChatLoginReply> {
        let refused =
            || Error::Unauthenticated("the ticket is not valid; log in with wx.login again".into());
        let mut parts = ticket.splitn(3, '.');
        let (Some(openid), Some(expires), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(refused());
        };
        let expected = hex::encode(
            self.store
                .secrets()
                .blind_index(&format!("wx-ticket|{openid}|{expires}")),
        );
        let fresh = expires
            .parse::<i64>()
            .is_ok_and(|e| e >= chrono::Utc::now().timestamp());
        if !fresh || !crate::crypto::same(expected.as_bytes(), signature.as_bytes()) {
            return Err(refused());
        }
        let login = self
            .login(phone, Credential::SmsCode(code), ClientKind::Miniprogram)
            .await?;
        self.store.link_openid(login.user.id, openid).await?;
        Ok(WeChatLoginReply {
            token: Some(login.token),
            user: Some(login.user),
            needs_phone: false,
            ticket: None,
        })
    }

    /// Replaces a user's password.
    pub async fn set_password(&self, user_id: i64, password: &Password) -> Result<()> {
        let hash = hash_password(password).await?;
        self.store.set_password_hash(user_id, &hash).await
    }
}

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(password: &Password) -> Result<String> {
    let plain = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| Error::Unavailable("password hashing was interrupted".into()))?
    .map_err(|e| Error::Unavailable(format!("password hashing failed: {e}")))
}

/// Verifies on the blocking pool; without a stored hash it still spends the same work,
/// so an unknown phone answers as slowly as a wrong password.
async fn verify_password(password: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let argon = Argon2::default();
        match stored.as_deref().map(PasswordHash::new) {
            Some(Ok(hash)) => argon.verify_password(password.as_bytes(), &hash).is_ok(),
            _ => {
                let salt = SaltString::generate(&mut OsRng);
                let _ = argon.hash_password(password.as_bytes(), &salt);
                false
            }
        }
    })
    .await
    .map_err(|_| Error::Unavailable("password check was interrupted".into()))
}
