/// Index of a replica in the cluster, `0..<n`.
public typealias ReplicaID = Int
/// Index of a client, `0..<clientCount`.
public typealias ClientID = Int
/// Virtual or real time in integer nanoseconds. Replicas never read it; they see time only through timers.
public typealias Nanoseconds = Int64

public let nanosPerMillisecond: Nanoseconds = 1_000_000
public let nanosPerSecond: Nanoseconds = 1_000_000_000

/// A party that signs messages and has a network endpoint: a replica or a client.
///
/// Order: replicas before clients, then by index; the order is total so sorted iteration is deterministic.
public enum Principal: Hashable, Comparable, Sendable, CustomStringConvertible {
    case replica(ReplicaID)
    case client(ClientID)

    public var description: String {
        switch self {
        case .replica(let r): return "r\(r)"
        case .client(let c): return "c\(c)"
        }
    }

    public var replicaID: ReplicaID? {
        if case .replica(let r) = self { return r }
        return nil
    }

    public var clientID: ClientID? {
        if case .client(let c) = self { return c }
        return nil
    }

    /// Canonical two-field encoding: kind byte (0 replica, 1 client), then the index as u32.
    public func encode(into w: inout ByteWriter) {
        switch self {
        case .replica(let r): w.u8(0); w.u32(UInt32(r))
        case .client(let c): w.u8(1); w.u32(UInt32(c))
        }
    }

    public static func decode(from r: inout ByteReader, maxIndex: Int = 1 << 20) throws(DecodeError) -> Principal {
        let kind = try r.u8()
        let index = Int(try r.u32())
        guard index < maxIndex else { throw .valueOutOfRange(field: "principal index", value: UInt64(index)) }
        switch kind {
        case 0: return .replica(index)
        case 1: return .client(index)
        default: throw .unknownTag(field: "principal kind", tag: kind)
        }
    }
}

/// Fault-tolerance arithmetic for `n >= 3f + 1` (Castro & Liskov §4; Specs/PBFT.md rule Q1).
///
/// Correct for every n, not only n = 3f+1: any two quorums of size `n - f` intersect in at least
/// `n - 2f >= f + 1` replicas, hence in at least one correct replica.
public struct QuorumMath: Hashable, Sendable {
    public let n: Int
    public let f: Int

    /// The largest f the cluster tolerates: `⌊(n - 1) / 3⌋`.
    public static func maxFaulty(n: Int) -> Int { max(0, (n - 1) / 3) }

    public init(n: Int, f: Int? = nil) {
        precondition(n >= 1, "n must be positive")
        let f = f ?? QuorumMath.maxFaulty(n: n)
        precondition(f >= 0, "f must be non-negative")
        precondition(n >= 3 * f + 1, "n must be at least 3f+1")
        self.n = n
        self.f = f
        self.quorum = n - f
    }

    /// A deliberately wrong quorum size, for test-only protocol mutants (the fuzzer's mutation score):
    /// never used by an honest replica.
    public init(n: Int, f: Int, brokenQuorum: Int) {
        self.init(n: n, f: f)
        precondition(brokenQuorum >= 1 && brokenQuorum <= n, "a quorum lies in 1...n")
        self.quorum = brokenQuorum
    }

    /// Size of a Byzantine quorum: `n - f` (2f+1 when n = 3f+1). Two such quorums share ≥ f+1 replicas.
    public private(set) var quorum: Int
    /// Matching messages from `f + 1` distinct replicas include at least one correct replica.
    public var weakQuorum: Int { f + 1 }
}
