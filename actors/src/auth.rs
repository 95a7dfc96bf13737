//! Logging in: SMS codes through a gateway, argon2id passwords, the failure limit, and
//! token issue. Hashing runs on the blocking pool so a login never stalls a worker.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gonghui_protocol::dto::{LoginResponse, WeChatLoginReply};
use gonghui_protocol::ClientKind;
use rand::Rng;

use crate::domain::{Password, Phone, SmsCode};
use crate::metrics::outcome;
use crate::password::{GateSettings, PasswordGate};
use crate::store::sms::{FailureLimits, SendLimits};
use crate::store::Store;
use crate::{Error, Result};

/// Where SMS codes go.
#[derive(Clone, Debug)]
pub enum SmsGateway {
    /// Written to the log: development and tests. In production mode the code itself is
    /// logged only at DEBUG, so an INFO log never holds a working code.
    Log {
        /// Whether the code is written at INFO.
        codes_at_info: bool,
    },
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
            SmsGateway::Log { codes_at_info } => {
                if *codes_at_info {
                    tracing::info!(phone = %phone, code, purpose, "SMS code (GONGHUI_SMS=log)");
                } else {
                    tracing::info!(phone = %phone, purpose, "SMS code sent (GONGHUI_SMS=log; the code is logged at DEBUG)");
                    tracing::debug!(phone = %phone, code, purpose, "SMS code (GONGHUI_SMS=log)");
                }
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
    /// How often SMS codes may be sent, and how long they work.
    pub sends: SendLimits,
    /// When password attempts must wait.
    pub failures: FailureLimits,
    /// How many password checks run at once on a node.
    pub gate: GateSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            sends: SendLimits {
                ttl: Duration::from_secs(300),
                resend: Duration::from_secs(60),
                per_address_hour: 20,
                per_hour: 10_000,
            },
            failures: FailureLimits {
                window: Duration::from_secs(15 * 60),
                per_phone_and_address: 5,
                per_phone: 20,
                per_address: 50,
                max_wait: Duration::from_secs(15 * 60),
            },
            gate: GateSettings::default(),
        }
    }
}

/// How long a mini-program login ticket is good for, in seconds.
const TICKET_SECS: i64 = 600;

/// The secret a user logs in with, or proves themselves with again.
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
    gate: Arc<PasswordGate>,
}

/// The one message for every wrong secret, so a phone's existence does not leak.
const WRONG: &str = "wrong phone number, password or code";

impl Auth {
    /// Login against `store`, sending codes through `sms`.
    pub fn new(store: Store, sms: SmsGateway, settings: AuthSettings) -> Self {
        Auth {
            store,
            sms,
            gate: Arc::new(PasswordGate::new(settings.gate.clone())),
            settings,
        }
    }

    /// Sends a login code to `phone`, asked for from `addr`; returns its lifetime in seconds.
    ///
    /// # Errors
    /// `RateLimited` within the resend interval or past the hourly allowances;
    /// `Unavailable` when the gateway fails.
    pub async fn send_login_code(&self, phone: &Phone, addr: IpAddr) -> Result<u64> {
        let sent = self.send_code(phone, addr).await;
        self.store
            .metrics()
            .sms
            .with_label_values(&[outcome(&sent)])
            .inc();
        sent
    }

    async fn send_code(&self, phone: &Phone, addr: IpAddr) -> Result<u64> {
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let hash = self.store.secrets().code_hash(phone.as_str(), &code);
        self.store
            .record_sms_code(phone, addr, "login", &hash, &self.settings.sends)
            .await?;
        if let Err(e) = self.sms.send(phone, &code, "login").await {
            self.store.void_sms_code(phone, &hash).await?;
            return Err(e);
        }
        Ok(self.settings.sends.ttl.as_secs())
    }

    /// Checks the credential from `addr` and issues a token. An SMS login registers a
    /// new phone.
    ///
    /// # Errors
    /// `Unauthenticated` for a wrong secret (the same for an unknown phone);
    /// `RateLimited` while password failures make this phone and address wait (never
    /// for an SMS code); `Busy` when the node has too many password checks waiting.
    pub async fn login(
        &self,
        phone: &Phone,
        credential: Credential,
        client: ClientKind,
        addr: IpAddr,
    ) -> Result<LoginResponse> {
        let method = match credential {
            Credential::Password(_) => "password",
            Credential::SmsCode(_) => "sms",
        };
        let login = self.log_in(phone, credential, client, addr).await;
        self.store
            .metrics()
            .logins
            .with_label_values(&[method, outcome(&login)])
            .inc();
        login
    }

    async fn log_in(
        &self,
        phone: &Phone,
        credential: Credential,
        client: ClientKind,
        addr: IpAddr,
    ) -> Result<LoginResponse> {
        let user_id = match credential {
            Credential::Password(password) => self.password_user(phone, password, addr).await?,
            Credential::SmsCode(code) => self.sms_code_user(phone, &code).await?,
        };
        let user_id = user_id.ok_or_else(|| Error::Unauthenticated(WRONG.into()))?;
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

    /// The user with this phone if `password` is theirs, counted against the failure
    /// limits of `phone` from `addr` before it is checked (a right one clears them).
    async fn password_user(
        &self,
        phone: &Phone,
        password: String,
        addr: IpAddr,
    ) -> Result<Option<i64>> {
        self.store
            .reserve_password_attempt(phone, addr, &self.settings.failures)
            .await?;
        let (user_id, hash) = match self.store.login_record(phone).await? {
            Some((id, hash)) => (Some(id), hash),
            None => (None, None),
        };
        let right = self.gate.verify(password, hash).await?;
        let user_id = user_id.filter(|_| right);
        if user_id.is_some() {
            self.store.clear_login_failures(phone, addr).await?;
        }
        Ok(user_id)
    }

    /// The user whose phone this right code was sent to (registering a new phone).
    async fn sms_code_user(&self, phone: &Phone, code: &SmsCode) -> Result<Option<i64>> {
        let hash = self
            .store
            .secrets()
            .code_hash(phone.as_str(), code.expose());
        if self.store.consume_sms_code(phone, &hash).await? {
            Ok(Some(self.store.user_for_phone(phone).await?))
        } else {
            Ok(None)
        }
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
                    .ticket_signature(&format!("wx-ticket|{openid}|{expires}")),
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
        addr: IpAddr,
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
                .ticket_signature(&format!("wx-ticket|{openid}|{expires}")),
        );
        let fresh = expires
            .parse::<i64>()
            .is_ok_and(|e| e >= chrono::Utc::now().timestamp());
        if !fresh || !crate::crypto::same(expected.as_bytes(), signature.as_bytes()) {
            return Err(refused());
        }
        let login = self
            .login(
                phone,
                Credential::SmsCode(code),
                ClientKind::Miniprogram,
                addr,
            )
            .await?;
        self.store.link_openid(login.user.id, openid).await?;
        Ok(WeChatLoginReply {
            token: Some(login.token),
            user: Some(login.user),
            needs_phone: false,
            ticket: None,
        })
    }

    /// Replaces the password of the user behind `token_id` once `proof` (their current
    /// password, or a fresh SMS code to their phone) is right, and ends every other
    /// session of theirs on every node.
    ///
    /// # Errors
    /// `Unauthenticated` for a wrong proof; `RateLimited` as for a password login.
    pub async fn change_password(
        &self,
        user_id: i64,
        token_id: i64,
        proof: Credential,
        password: &Password,
        addr: IpAddr,
    ) -> Result<()> {
        let phone = self.store.user_phone(user_id).await?;
        let proven = match proof {
            Credential::Password(current) => self.password_user(&phone, current, addr).await?,
            Credential::SmsCode(code) => self.sms_code_user(&phone, &code).await?,
        };
        if proven != Some(user_id) {
            return Err(Error::Unauthenticated(
                "the current password or SMS code is wrong".into(),
            ));
        }
        let hash = self.gate.hash(password).await?;
        self.store.set_password_hash(user_id, &hash).await?;
        self.store.revoke_user_tokens(user_id, Some(token_id)).await
    }
}
