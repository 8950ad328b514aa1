//! Staff log-ins to the console: the county administrator sets each staff member's log-in name
//! and password (stored as an Argon2id hash); a log-in opens a session whose token travels only
//! in an HttpOnly, SameSite=Strict cookie, with a CSRF token that every request changing
//! something must repeat in a header. A session ends after [`SESSION_IDLE_MS`] unused, after
//! [`SESSION_LIFE_MS`] in any case, at log-out, or when the password is reset. Attempts are
//! limited per log-in name and per address; every log-in, and every refused one of a known
//! name, is in the audit log. The caller a session yields is the account's, with the session
//! standing for its device, so every rule of the API holds as for a handheld.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use sync_protocol::Code;
use sync_protocol::api::{
    LogIn, ReadKind, SESSION_IDLE_MS, SESSION_LIFE_MS, SecondFactorState, SessionView, SetPassword,
};
use sync_protocol::org::{Account, Device};
use uuid::Uuid;

use super::County;
use super::audit::Read;
use super::auth::{self, Caller};
use super::enrolment::address_key;
use crate::error::{Error, Result};
use crate::storage::StoredSession;

/// Log-in attempts within [`ATTEMPT_WINDOW_MS`]: of one name from one address (a guesser at one
/// machine), from one address (a township centre's staff behind one address), failed ones of
/// one name from anywhere (a guesser with many addresses: the name waits, which is the price
/// of not being guessed), and failed ones county-wide (a flood of names and addresses, which
/// would otherwise keep the server hashing).
const PER_LOGIN_AND_ADDRESS: u64 = 10;
const PER_ADDRESS: u64 = 50;
const FAILED_PER_LOGIN: u64 = 100;
const FAILED_COUNTY: u64 = 2_000;
/// Wrong second-factor codes of one log-in name from anywhere: whoever gives them has the
/// password, and each guess has about 3 chances in a million (a step either side is taken), so
/// the name waits after a few (5 per 15 minutes: under 0.15 % a day for a guesser who never
/// stops, each attempt in the audit log).
const WRONG_CODES_PER_LOGIN: u64 = 5;
const ATTEMPT_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Password hashes computed at once (each takes about 19 MiB and a core for tens of ms).
const HASHING_AT_ONCE: usize = 2;
/// A session's last use is written at most this often.
const TOUCH_EVERY_MS: i64 = 60 * 1000;
/// The longest log-in name and password taken (Argon2 works on any length; a bound keeps the
/// request small).
const MAX_LOGIN: usize = 64;
const MAX_PASSWORD: usize = 256;

/// A refused log-in says no more than that: the name or the password is wrong.
fn refused() -> Error {
    Error::LogInRefused
}

/// Log-in names are compared without case (no two accounts named `Wang` and `wang`).
fn normalize_login(login: &str) -> String {
    login.trim().to_lowercase()
}

/// The attempts of console log-ins, and the password hashing they may run at once: apart from
/// enrolment's, so a flood of one never refuses the other.
pub struct LogInLimits {
    attempts: super::enrolment::Attempts,
    hashing: tokio::sync::Semaphore,
}

impl Default for LogInLimits {
    fn default() -> Self {
        LogInLimits { attempts: Default::default(), hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE) }
    }
}

impl LogInLimits {
    /// Runs one password hash or check on the blocking pool, a few at a time.
    async fn hash<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _turn = self.hashing.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(Error::internal)
    }
}

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(Error::internal)
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A password of at least 10 characters, of at least two kinds (letters, digits, others).
fn check_password(password: &str) -> Result<()> {
    let kinds = [
        password.chars().any(|c| c.is_alphabetic()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if password.chars().count() < 10 || kinds.iter().filter(|k| **k).count() < 2 {
        return Err(Error::bad(Code::WeakPassword, "密码至少10位，含两类字符 at least 10 characters, of two kinds"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(Error::bad(Code::WeakPassword, format!("at most {MAX_PASSWORD} bytes")));
    }
    Ok(())
}

/// The device a console session stands for in a [`Caller`] (audit entries name it).
fn session_device(id: Uuid, account: Uuid, created_at: i64) -> Device {
    Device { id, account, name: "console".into(), created_at, revoked_at: None }
}

/// A new session: its token (for the cookie) and the session as stored.
pub struct Opened {
    pub token: String,
    pub view: SessionView,
}

impl County {
    /// Sets an account's log-in name and password (the county administrator); the account's open
    /// sessions end. Staff only: a handheld's worker logs in with the handheld.
    pub async fn set_password(&self, caller: &Caller, account: Uuid, new: &SetPassword) -> Result<()> {
        caller.require_admin()?;
        let login = normalize_login(&new.login);
        let login = login.as_str();
        if login.is_empty()
            || login.chars().count() > MAX_LOGIN
            || login.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::bad(
                Code::MalformedBody,
                format!("a log-in name is 1 to {MAX_LOGIN} characters, no spaces"),
            ));
        }
        check_password(&new.password)?;
        let target = self
            .storage()
            .account(account)
            .await?
            .ok_or_else(|| Error::bad(Code::UnknownAccount, "no such account"))?;
        if target.role.edits_base_records() {
            return Err(Error::bad(Code::RoleNodeMismatch, "a grid's team works on handhelds, not in the console"));
        }
        let password = new.password.clone();
        let hash = self.log_ins.hash(move || hash_password(&password)).await??;
        let now = chrono::Utc::now().timestamp_millis();
        if !self.storage().set_login(account, login, &hash, now).await? {
            return Err(Error::bad(Code::LoginTaken, "another account has this log-in name"));
        }
        let ended = self.storage().end_sessions_of(account, now).await?;
        tracing::info!(admin = %caller.account.id, %account, ended, "console password set");
        Ok(())
    }

    /// Logs a staff member in from `client`; refused alike for an unknown name and a wrong
    /// password, and slowed per name and per address.
    pub async fn log_in(&self, req: &LogIn, client: Option<std::net::IpAddr>) -> Result<Opened> {
        let now = chrono::Utc::now().timestamp_millis();
        let login = normalize_login(&req.login);
        if login.chars().count() > MAX_LOGIN || req.password.len() > MAX_PASSWORD {
            return Err(refused());
        }
        let slow = || Error::TooManyAttempts { retry_after_secs: (ATTEMPT_WINDOW_MS / 1000) as u64 };
        let limits = &self.log_ins.attempts;
        let address = client.map(address_key).unwrap_or_default();
        if limits.over(&format!("addr:{address}"), now, ATTEMPT_WINDOW_MS, PER_ADDRESS)
            || limits.over(&format!("login:{login}:{address}"), now, ATTEMPT_WINDOW_MS, PER_LOGIN_AND_ADDRESS)
            || limits.count(&format!("failed:{login}"), now, ATTEMPT_WINDOW_MS) >= FAILED_PER_LOGIN
            || limits.count("failed", now, ATTEMPT_WINDOW_MS) >= FAILED_COUNTY
        {
            return Err(slow());
        }
        let failed = || {
            limits.over(&format!("failed:{login}"), now, ATTEMPT_WINDOW_MS, FAILED_PER_LOGIN);
            limits.over("failed", now, ATTEMPT_WINDOW_MS, FAILED_COUNTY);
            refused()
        };
        // An unknown name costs the same reads and the same hash as a known one: neither the
        // answer nor its time says which names exist.
        let (account_id, hash) = match self.storage().login(&login).await? {
            Some((a, h)) => (a, Some(h)),
            None => (Uuid::nil(), None),
        };
        let account = self.storage().account(account_id).await?;
        let node = match &account {
            Some(a) => self.storage().node(a.node).await?,
            None => self.storage().node(Uuid::nil()).await?,
        };
        let password = req.password.clone();
        let ok = self
            .log_ins
            .hash(move || match hash {
                Some(h) => verify_password(&password, &h),
                None => verify_password(&password, dummy_hash()),
            })
            .await?;
        let Some(account) = account else { return Err(failed()) };
        let session_id = Uuid::now_v7();
        let caller = Caller {
            device: session_device(session_id, account.id, now),
            account: account.clone(),
            node,
            from: client,
            needs_second_factor: false,
        };
        if !ok {
            self.audit_read(&caller, Read::new(ReadKind::LogIn, None).detail("refused: wrong password")).await?;
            return Err(failed());
        }
        // A person moved into a grid's team since the password was set works on a handheld.
        if account.role.edits_base_records() {
            return Err(Error::Forbidden("a grid's team works on handhelds".into()));
        }
        // With a second factor in force, the password alone opens nothing: its code is asked
        // for (an attempt without one is not a failure), and a wrong or used one is refused as
        // a wrong password is.
        let factor = self.storage().second_factor(account.id).await?.filter(|f| f.confirmed);
        if let Some(f) = &factor {
            let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) else {
                return Err(Error::SecondFactorRequired);
            };
            let wrong_codes = format!("code:{login}");
            if limits.count(&wrong_codes, now, ATTEMPT_WINDOW_MS) >= WRONG_CODES_PER_LOGIN {
                return Err(slow());
            }
            let step = super::second_factor::check_code(&f.secret, code, now)?;
            let taken = match step {
                Some(step) => self.storage().take_second_factor_step(account.id, step).await?,
                None => false,
            };
            if !taken {
                limits.over(&wrong_codes, now, ATTEMPT_WINDOW_MS, WRONG_CODES_PER_LOGIN);
                let read = Read::new(ReadKind::LogIn, None).detail("refused: wrong second factor");
                self.audit_read(&caller, read).await?;
                return Err(failed());
            }
        }
        let second_factor = self.second_factor_state(&account, factor.is_some()).await?;
        let token = auth::new_device_token();
        let csrf = auth::new_device_token();
        let session = StoredSession {
            id: session_id,
            account: account.id,
            csrf: csrf.clone(),
            created_at: now,
            seen_at: now,
            ended_at: None,
            client: client.map(|c| c.to_string()),
        };
        self.storage().start_session(&session, &auth::hash_secret(&token)).await?;
        self.audit_read(&caller, Read::new(ReadKind::LogIn, None).detail("accepted")).await?;
        let place = caller.node.map(|n| n.name).unwrap_or_default();
        let view = SessionView { account, place, second_factor, csrf_token: csrf, expires_at: now + SESSION_LIFE_MS };
        Ok(Opened { token, view })
    }

    /// The caller holding a console session's token. A request that changes something
    /// (`changes`) must carry the session's CSRF token. A request the page makes by itself
    /// (`touch` false: the live stream reconnecting) does not count as use, so an unattended
    /// console still ends after [`SESSION_IDLE_MS`].
    pub async fn authenticate_session(
        &self,
        token: &str,
        csrf: Option<&str>,
        changes: bool,
        touch: bool,
    ) -> Result<(Caller, SessionView)> {
        let now = chrono::Utc::now().timestamp_millis();
        let s = self.storage().session(&auth::hash_secret(token)).await?.ok_or(Error::Unauthorized)?;
        if s.ended_at.is_some() || now - s.seen_at > SESSION_IDLE_MS || now - s.created_at > SESSION_LIFE_MS {
            return Err(Error::Unauthorized);
        }
        if changes && csrf.is_none_or(|c| auth::hash_secret(c) != auth::hash_secret(&s.csrf)) {
            return Err(Error::bad(Code::BadCsrfToken, "this request needs the session's X-CSRF-Token"));
        }
        let account = self.storage().account(s.account).await?.ok_or(Error::Unauthorized)?;
        // Moved into a grid's team since the log-in: the console is no longer theirs.
        if account.role.edits_base_records() {
            return Err(Error::Unauthorized);
        }
        let node = self.storage().node(account.node).await?;
        if touch && now - s.seen_at > TOUCH_EVERY_MS {
            self.storage().touch_session(s.id, now).await?;
        }
        let has_factor = self.storage().second_factor(account.id).await?.is_some_and(|f| f.confirmed);
        let second_factor = self.second_factor_state(&account, has_factor).await?;
        let view = SessionView {
            account: account.clone(),
            place: node.as_ref().map(|n| n.name.clone()).unwrap_or_default(),
            second_factor,
            csrf_token: s.csrf.clone(),
            expires_at: s.created_at + SESSION_LIFE_MS,
        };
        let device = session_device(s.id, account.id, s.created_at);
        let needs_second_factor = second_factor == SecondFactorState::SetupRequired;
        Ok((Caller { device, account, node, from: None, needs_second_factor }, view))
    }

    /// Where an account stands with its second factor, under the county's roles that need one.
    async fn second_factor_state(&self, account: &Account, has_one: bool) -> Result<SecondFactorState> {
        Ok(if has_one {
            SecondFactorState::On
        } else if self.storage().second_factor_roles().await?.contains(&account.role) {
            SecondFactorState::SetupRequired
        } else {
            SecondFactorState::Off
        })
    }

    /// Ends the caller's console session.
    pub async fn log_out(&self, caller: &Caller) -> Result<()> {
        Ok(self.storage().end_session(caller.device.id, chrono::Utc::now().timestamp_millis()).await?)
    }
}

/// The Argon2id hash of a password nobody has (made once per process), verified for an
/// unknown log-in name.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&auth::new_device_token()).expect("Argon2 hashes a fresh token"))
}
