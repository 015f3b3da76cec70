/// The project's own PRNG: xoshiro256** (Blackman & Vigna) seeded through SplitMix64.
///
/// The standard library's generators and its `random(in:)` algorithms may change between toolchains,
/// so nothing that must replay uses them. Bounded sampling is Lemire's multiply-and-reject method,
/// implemented here so its output is fixed forever (golden values in BFTCoreTests).
public struct DeterministicRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        s0 = DeterministicRNG.splitMix64(&sm)
        s1 = DeterministicRNG.splitMix64(&sm)
        s2 = DeterministicRNG.splitMix64(&sm)
        s3 = DeterministicRNG.splitMix64(&sm)
    }

    /// A generator for a named sub-stream of `seed` ("network", "replica/3", "client/0", ...).
    /// Streams are independent: adding draws to one never shifts another.
    public init(seed: UInt64, stream: String) {
        self.init(seed: DeterministicRNG.deriveSeed(seed, stream))
    }

    /// FNV-1a over the label, mixed with the master seed through SplitMix64.
    public static func deriveSeed(_ seed: UInt64, _ stream: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in stream.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        var sm = seed ^ h
        _ = splitMix64(&sm)
        return splitMix64(&sm)
    }

    @inline(__always)
    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform integer in `0..<bound` (Lemire 2019, "Fast Random Integer Generation in an Interval").
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }

    /// Uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let width = UInt64(bitPattern: Int64(range.upperBound) &- Int64(range.lowerBound)) &+ 1
        if width == 0 { return Int(bitPattern: UInt(next())) }
        return range.lowerBound &+ Int(below(width))
    }

    /// Uniform double in `[0, 1)` with 53 bits of precision.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return unit() < p
    }

    /// Standard normal by Box–Muller (one value per call; deterministic, no cached spare).
    public mutating func standardNormal() -> Double {
        let u1 = 1.0 - unit()  // (0, 1]
        let u2 = unit()
        return (-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2)
    }

    /// Exponential with the given mean.
    public mutating func exponential(mean: Double) -> Double { -log(1.0 - unit()) * mean }

    /// Deterministic Fisher–Yates shuffle.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(below(UInt64(i + 1)))
            a.swapAt(i, j)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
