/// Which signature scheme a run uses.
public enum SignatureScheme: String, Sendable, CaseIterable, Codable {
    /// Real Ed25519 (libsodium `crypto_sign_detached`). The default.
    case ed25519
    /// A keyed tag per signer, for large fuzz campaigns: SipHash-2-4 with 128-bit key and output
    /// (libsodium `crypto_shorthash_siphashx24`, a PRF), domain-separated. About 20 M tags/s here,
    /// ten times keyed BLAKE2b. Unforgeable by code that does not hold the signer's key: each signer
    /// object holds only its own key, and the verifier holds the keys privately and exposes only
    /// `verify`. Not a public-key scheme, so simulator only, never live mode.
    case fast
    /// A 64-byte keyed BLAKE2b-512 tag per signer; same trust model as `fast`, slower (≈1.8 M tags/s).
    case blake2b
}

