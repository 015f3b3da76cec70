import BFTCore

/// The equivocating primary's only mutable state is the honest replica it wraps (`scratch` is emptied
/// on every input), so it hashes as that replica (`bftsim explore`).
extension EquivocatingPrimary: StateFingerprinting {
    public func fingerprint(into h: inout StateHasher) {
        h.u64(0xE9)
        inner.fingerprint(into: &h)
    }
}
