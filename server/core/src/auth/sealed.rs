//! Provider credentials at rest: sealed with the console's key (ChaCha20-Poly1305), so a copy of
//! the store alone does not let anyone act as the console towards the identity provider.

use super::sign_in::Secret;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// The key every console replica shares (`auth.secret_key_env` / `_file`), hashed to 256 bits.
#[derive(Clone)]
pub struct SealingKey(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(***)")
    }
}

impl SealingKey {
    pub fn from_secret(secret: &Secret) -> SealingKey {
        let digest = Sha256::digest(secret.expose().as_bytes());
        let key = UnboundKey::new(&CHACHA20_POLY1305, &digest).expect("32-byte key");
        SealingKey(std::sync::Arc::new(LessSafeKey::new(key)))
    }

    /// A key of this process alone (dev sign-in only: nothing sealed outlives the process).
    pub fn random() -> SealingKey {
        let mut raw = [0u8; 32];
        SystemRandom::new().fill(&mut raw).expect("system randomness");
        let key = UnboundKey::new(&CHACHA20_POLY1305, &raw).expect("32-byte key");
        SealingKey(std::sync::Arc::new(LessSafeKey::new(key)))
    }

    /// `nonce ‖ ciphertext ‖ tag`, base64.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).expect("system randomness");
        let mut data = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing cannot fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend(data);
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
    }

    /// None when the text was sealed with another key or altered.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let mut data = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_with_its_key_only() {
        let key = SealingKey::from_secret(&Secret::new("one".into()));
        let sealed = key.seal("refresh-token-123");
        assert!(!sealed.contains("refresh-token-123"));
        assert_eq!(key.open(&sealed).as_deref(), Some("refresh-token-123"));
        assert_ne!(key.seal("refresh-token-123"), sealed, "a fresh nonce each time");
        let other = SealingKey::from_secret(&Secret::new("two".into()));
        assert_eq!(other.open(&sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open(&String::from_utf8(tampered).unwrap()), None);
    }
}
