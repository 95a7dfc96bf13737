//! The keys derived from the one data key of the configuration: AES-256-GCM for ID
//! numbers at rest, an HMAC blind index so uniqueness can be checked without decrypting,
//! and a keyed hash for SMS codes. Session tokens carry 256 random bits, so a plain
//! SHA-256 is enough to store them.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The development key used when none is configured; never for production.
const DEV_KEY: [u8; 32] = *b"gonghui-dev-key-do-not-use-in-pr";

/// Keys for data at rest, derived from one 32-byte master key.
#[derive(Clone)]
pub struct Secrets {
    cipher: Aes256Gcm,
    index_key: [u8; 32],
    code_key: [u8; 32],
}

/// A data key that is not 64 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("GONGHUI_DATA_KEY must be 64 hex digits (32 bytes)")]
pub struct BadKey;

impl Secrets {
    /// Derives the keys from a master key given as 64 hex digits.
    ///
    /// # Errors
    /// When the text is not 32 bytes of hex.
    pub fn from_hex(hex_key: &str) -> Result<Self, BadKey> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| BadKey)?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| BadKey)?;
        Ok(Self::from_master(&master))
    }

    /// The fixed development keys; the caller warns loudly.
    pub fn development() -> Self {
        Self::from_master(&DEV_KEY)
    }

    fn from_master(master: &[u8; 32]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac =
                <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes any key length");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        Secrets {
            cipher: Aes256Gcm::new(&derive(b"gonghui id-number encryption v1").into()),
            index_key: derive(b"gonghui id-number index v1"),
            code_key: derive(b"gonghui sms-code hash v1"),
        }
    }

    /// Encrypts with a fresh random nonce; the nonce is the first 12 bytes of the result.
    pub fn encrypt(&self, plain: &str) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM encryption of a short string cannot fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// Decrypts what [`Secrets::encrypt`] made; `None` if it was made with another key or altered.
    pub fn decrypt(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < 12 {
            return None;
        }
        let (nonce, body) = sealed.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }

    /// The blind index of an ID number: equal numbers give equal indexes.
    pub fn blind_index(&self, value: &str) -> Vec<u8> {
        keyed(&self.index_key, value.as_bytes())
    }

    /// The stored form of an SMS code, bound to its phone.
    pub fn code_hash(&self, phone: &str, code: &str) -> Vec<u8> {
        keyed(&self.code_key, format!("{phone}:{code}").as_bytes())
    }
}

fn keyed(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// A new session token: 32 random bytes, URL-safe base64.
pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_differs_each_time() {
        let s = Secrets::development();
        let a = s.encrypt("44010119900307001X");
        let b = s.encrypt("44010119900307001X");
        assert_ne!(a, b);
        assert_eq!(s.decrypt(&a).as_deref(), Some("44010119900307001X"));
    }

    #[test]
    fn another_key_cannot_decrypt_and_indexes_differ() {
        let dev = Secrets::development();
        let other = Secrets::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(other.decrypt(&dev.encrypt("x")), None);
        assert_ne!(dev.blind_index("x"), other.blind_index("x"));
        assert_eq!(dev.blind_index("x"), dev.blind_index("x"));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Secrets::from_hex("abcd").is_err());
        assert!(Secrets::from_hex(&"zz".repeat(32)).is_err());
    }
}
