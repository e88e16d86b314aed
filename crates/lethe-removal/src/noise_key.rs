//! Secret noise keys: b drawn from a 256-bit key that lives only in a key file.
//!
//! The certificate of Guo et al. (2020) holds only if the perturbation b is a *secret* random
//! draw. A model trained from the experiment `seed` (the default) has a b that anyone holding
//! the result can re-derive — the seed is in every result and b itself in every ledger header —
//! so its certificates describe the mechanism but protect nothing in a deployment. A
//! [`NoiseKey`] is the deployment option: 32 bytes from the operating system's entropy, kept in a
//! key file (hex, mode 0600 on Unix), used instead of the seed for every noise stream of a model
//! (training and every retrain, see [`lethe_models::keyed_stream_rng`]). Results never contain
//! the key or b; a ledger holds only a SHA-256 commitment to the initial b
//! ([`crate::ledger::noise_commitment`]), and replaying it needs the key file.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::error::{RemovalError, Result};

/// A 256-bit secret that seeds the noise streams of a certified model.
///
/// `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoiseKey([u8; 32]);

impl fmt::Debug for NoiseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoiseKey(<secret>)")
    }
}

fn key_err(path: &Path, what: impl Into<String>) -> RemovalError {
    RemovalError::NoiseKey {
        path: path.display().to_string(),
        what: what.into(),
    }
}

impl NoiseKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the operating system's entropy source.
    ///
    /// # Errors
    /// [`RemovalError::NoiseKey`] if the OS cannot provide entropy.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| key_err(Path::new("<os entropy>"), format!("no entropy: {e}")))?;
        Ok(Self(bytes))
    }

    /// The key's bytes (the seed of [`lethe_models::keyed_stream_rng`]).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal digits (surrounding whitespace allowed).
    ///
    /// # Errors
    /// A message saying what is wrong (never the text itself: it may be a key).
    pub fn from_hex(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim();
        if !t.is_ascii() || t.len() != 64 {
            return Err(format!(
                "expected 64 hexadecimal digits, found {} characters",
                t.chars().count()
            ));
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&t[2 * i..2 * i + 2], 16)
                .map_err(|_| "expected 64 hexadecimal digits".to_string())?;
        }
        Ok(Self(bytes))
    }

    /// The key as 64 lower-case hexadecimal digits.
    pub fn to_hex(&self) -> String {
        lethe_data::digest::hex(&self.0)
    }

    /// Reads a key file (64 hex digits and optional whitespace). Never creates one.
    ///
    /// # Errors
    /// [`RemovalError::NoiseKey`] if the file cannot be read or holds no key.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| key_err(path, format!("cannot read the key file: {e}")))?;
        Self::from_hex(&text).map_err(|what| key_err(path, what))
    }

    /// Reads the key file at `path`, or, if there is none, creates it (never overwriting
    /// anything: `create_new`, mode 0600 on Unix) with a fresh key from the OS entropy.
    /// Returns the key and whether it was created.
    ///
    /// # Errors
    /// [`RemovalError::NoiseKey`] if the file cannot be created, written or read.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<(Self, bool)> {
        let path = path.as_ref();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                let key = Self::generate()?;
                let mut text = key.to_hex();
                text.push('\n');
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| key_err(path, format!("cannot write the new key file: {e}")))?;
                Ok((key, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path).map(|k| (k, false))
            }
            Err(e) => Err(key_err(path, format!("cannot create the key file: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_debug_hides_the_key() {
        let k = NoiseKey::generate().unwrap();
        assert_eq!(NoiseKey::from_hex(&k.to_hex()).unwrap(), k);
        assert_eq!(format!("{k:?}"), "NoiseKey(<secret>)");
        assert!(NoiseKey::from_hex("abc").is_err());
        assert!(NoiseKey::from_hex(&"zz".repeat(32)).is_err());
        assert_ne!(NoiseKey::generate().unwrap(), k);
    }

    #[test]
    fn load_or_create_never_overwrites() {
        let path = std::env::temp_dir().join(format!("lethe-key-{}.hex", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (k1, created) = NoiseKey::load_or_create(&path).unwrap();
        assert!(created);
        let (k2, created) = NoiseKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_file(&path);
        assert!(NoiseKey::load(&path).is_err());
    }
}
