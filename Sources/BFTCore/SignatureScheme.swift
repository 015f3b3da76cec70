/// Which signature scheme a run uses.
public enum SignatureScheme: String, Sendable, CaseIterable, Codable {
    /// Real Ed25519 (libsodium `crypto_sign_detached`). The default.
    case ed25519
    /// A 64-byte keyed BLAKE2b tag per signer, for large fuzz campaigns. Unforgeable by code that does
    /// not hold the signer's key: each signer object holds only its own key, and the verifier holds
    /// the keys privately and exposes only `verify`. It is not a public-key scheme, so it is for the
    /// simulator only, never for live mode.
    case fast
}

