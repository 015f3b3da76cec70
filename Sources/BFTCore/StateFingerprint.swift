/// A 64-bit hash over canonical values for model checking (`bftsim explore`): the same in every process
/// and on every toolchain (no `Hasher`, whose seed changes per process; STYLE.md). Words are folded with
/// SplitMix64's finaliser; byte strings are read 8 bytes at a time with their length first.
public struct StateHasher: Sendable {
    public private(set) var value: UInt64

    public init(seed: UInt64 = 0x6A09_E667_F3BC_C908) { value = seed }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func u64(_ x: UInt64) { value = Self.mix(value ^ Self.mix(x &+ 0x632b_e59b_d9b4_e019)) }
    @inline(__always)
    public mutating func int(_ x: Int) { u64(UInt64(bitPattern: Int64(x))) }
    @inline(__always)
    public mutating func bool(_ x: Bool) { u64(x ? 0xB1 : 0xB0) }
    /// An optional value: a presence marker, then the value.
    @inline(__always)
    public mutating func optional(_ x: UInt64?) {
        if let x { u64(0x5E7); u64(x) } else { u64(0x0E7) }
    }
    public mutating func digest(_ d: Digest) {
        u64(d.words[0])
        u64(d.words[1])
        u64(d.words[2])
        u64(d.words[3])
    }
    /// A byte string, length first.
    public mutating func bytes(_ b: [UInt8]) {
        u64(UInt64(b.count) | 0xB17E_0000_0000_0000)
        // Words are folded with one multiply and shift each (the bulk of a fingerprint is message bytes),
        // and the result once through the full mix.
        let folded: UInt64 = b.withUnsafeBytes { raw in
            var acc: UInt64 = 0x243F_6A88_85A3_08D3
            var i = 0
            while i + 8 <= raw.count {
                acc = (acc ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* 0x9E37_79B9_7F4A_7C15
                acc ^= acc >> 29
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < raw.count {
                tail |= UInt64(raw[i]) << shift
                shift += 8
                i += 1
            }
            return (acc ^ tail) &* 0xBF58_476D_1CE4_E5B9
        }
        u64(folded)
    }
    /// An optional byte string.
    public mutating func optionalBytes(_ b: [UInt8]?) {
        if let b { bytes(b) } else { u64(0x0B7) }
    }
}

/// A state machine that can hash its whole protocol state canonically (`bftsim explore` prunes states
/// with equal fingerprints). It must cover every stored property that can change and influence future
/// behaviour, or distinct states would be merged; iterate hashed collections in sorted key order.
public protocol StateFingerprinting {
    func fingerprint(into hasher: inout StateHasher)
}
