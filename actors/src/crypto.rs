//! The keys derived (HKDF-SHA256, one label per purpose) from the one data key of the
//! configuration: AES-256-GCM for ID numbers at rest, an HMAC blind index so uniqueness
//! can be checked without decrypting, a keyed hash for SMS codes, and the signing key of
//! mini-program login tickets. No key is ever in the source: without a configured key a
//! development node makes a random one in its data directory. Session tokens carry 256
//! random bits, so a plain SHA-256 is enough to store them.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

type HmacSha256 = Hmac<Sha256>;

/// The file, in the data directory, holding a generated key.
pub const KEY_FILE: &str = "data.key";

/// Where a development node keeps the key it generated, unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "gonghui-data";

/// Keys for data at rest, derived from one 32-byte master key.
#[derive(Clone)]
pub struct Secrets {
    cipher: Aes256Gcm,
    index_key: [u8; 32],
    code_key: [u8; 32],
    ticket_key: [u8; 32],
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

    /// The key in `dir`'s key file, made (random, mode 0600) if there is none yet.
    /// Returns the keys, the file, and whether it was just made.
    ///
    /// # Errors
    /// When the directory or file cannot be made or read, or holds no key.
    pub fn in_dir(dir: &Path) -> anyhow::Result<(Self, PathBuf, bool)> {
        let path = dir.join(KEY_FILE);
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let made = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let created = match made {
            Ok(mut file) => {
                file.write_all(format!("{}\n", hex::encode(raw)).as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(e).with_context(|| format!("making {}", path.display())),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let secrets =
            Self::from_hex(&text).with_context(|| format!("the key in {}", path.display()))?;
        Ok((secrets, path, created))
    }

    /// The keys a node started with the same environment uses: `GONGHUI_DATA_KEY`, else
    /// the key file in `GONGHUI_DATA_DIR`. For tools that write a node's database.
    ///
    /// # Errors
    /// As [`Secrets::in_dir`], or for a malformed key.
    pub fn like_a_node() -> anyhow::Result<Self> {
        if let Ok(key) = std::env::var("GONGHUI_DATA_KEY") {
            return Ok(Self::from_hex(&key)?);
        }
        let dir = std::env::var_os("GONGHUI_DATA_DIR")
            .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
        Ok(Self::in_dir(&dir)?.0)
    }

    fn from_master(master: &[u8; 32]) -> Self {
        let kdf = hkdf::Hkdf::<Sha256>::new(None, master);
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut key = [0u8; 32];
            kdf.expand(label, &mut key)
                .expect("32 bytes is a valid HKDF-SHA256 length");
            key
        };
        Secrets {
            cipher: Aes256Gcm::new(&derive(b"gonghui id-number encryption v1").into()),
            index_key: derive(b"gonghui id-number index v1"),
            code_key: derive(b"gonghui sms-code hash v1"),
            ticket_key: derive(b"gonghui wechat login ticket v1"),
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

    /// The signature of a mini-program login ticket's contents.
    pub fn ticket_signature(&self, contents: &str) -> Vec<u8> {
        keyed(&self.ticket_key, contents.as_bytes())
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

/// A hex SHA-256 of some bytes: what a request body is recognised by.
pub fn fingerprint(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
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
        let s = Secrets::from_hex(&"11".repeat(32)).unwrap();
        let a = s.encrypt("44010119900307001X");
        let b = s.encrypt("44010119900307001X");
        assert_ne!(a, b);
        assert_eq!(s.decrypt(&a).as_deref(), Some("44010119900307001X"));
    }

    #[test]
    fn another_key_cannot_decrypt_and_indexes_differ() {
        let dev = Secrets::from_hex(&"11".repeat(32)).unwrap();
        let other = Secrets::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(other.decrypt(&dev.encrypt("x")), None);
        assert_ne!(dev.blind_index("x"), other.blind_index("x"));
        assert_eq!(dev.blind_index("x"), dev.blind_index("x"));
    }

    #[test]
    fn a_generated_key_is_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gonghui-key-{}", std::process::id()));
        let (first, path, created) = Secrets::in_dir(&dir).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, _, created) = Secrets::in_dir(&dir).unwrap();
        assert!(!created);
        assert_eq!(first.blind_index("x"), again.blind_index("x"));
        assert_ne!(first.blind_index("x"), first.ticket_signature("x"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Secrets::from_hex("abcd").is_err());
        assert!(Secrets::from_hex(&"zz".repeat(32)).is_err());
    }
}
