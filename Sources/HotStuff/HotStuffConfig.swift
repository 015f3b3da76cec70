import BFTCore

/// Which consensus rules and pacemaker a replica runs (Specs/HotStuff.md §1). Both share the block
/// tree, view timer, leader rotation, block sync and crypto; the `ConsensusRules` and `Pacemaker` differ.
public enum HotStuffVariant: String, Sendable, CaseIterable {
    /// Chained HotStuff (Yin et al., PODC'19, Algorithms 3–5): three-chain commit, `safeNode` voting.
    case chained
    /// Two-chain HotStuff (Jolteon; DiemBFT v4): two-chain commit, timeout certificates.
    case twoChain = "two-chain"

    /// The rules object for this variant.
    var rules: any ConsensusRules {
        switch self {
        case .chained: return ChainedRules()
        case .twoChain: return TwoChainRules()
        }
    }

    /// How this variant's views move on timeouts.
    var pacemaker: any Pacemaker {
        switch self {
        case .chained: return NewViewPacemaker()
        case .twoChain: return TimeoutCertificatePacemaker()
        }
    }
}

/// Deliberately broken rules, for testing that the checkers notice (test-the-tester). Never set in
/// a real deployment; each one names the safety argument it breaks.
public struct HotStuffMutations: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Chained: the three-chain commit rule checks only parent links, not consecutive views
    /// (breaks H-C1; a view gap lets a conflicting block be certified in between).
    public static let commitOnParentLinks = HotStuffMutations(rawValue: 1 << 0)
    /// The vote rule accepts any block that passes the once-per-view rule: no `safeNode` lock check
    /// (chained) and no QC/TC justification check (two-chain). Breaks H-V2.
    public static let voteWithoutLockCheck = HotStuffMutations(rawValue: 1 << 1)
    /// Breaks R1's persist-before-send: the safety state a vote depends on is persisted in the batch
    /// after the vote (the next input's), so a crash right after voting forgets the vote and the
    /// restarted replica can vote again in the same view (H-V1).
    public static let sendVoteBeforePersist = HotStuffMutations(rawValue: 1 << 2)
    /// Breaks H-V1: a replica votes for a second block of a view it already voted in.
    public static let voteTwiceInView = HotStuffMutations(rawValue: 1 << 3)
    /// Breaks H-L1c: the chained lock never moves past genesis, so `safeNode` accepts any fork.
    public static let lockNeverUpdated = HotStuffMutations(rawValue: 1 << 4)
    /// Breaks H-C1c: chained HotStuff commits on a two-chain (b' ← b'' in consecutive views commits b').
    public static let commitOnTwoChain = HotStuffMutations(rawValue: 1 << 5)
    /// Breaks H-Q1: a QC (and a TC) needs one signature fewer than n − f.
    public static let quorumOneShort = HotStuffMutations(rawValue: 1 << 6)
    /// Breaks H-Q1 for n ≠ 3f+1: quorums of 2f+1 instead of n − f (they need not intersect in a correct replica).
    public static let quorumTwoFPlusOne = HotStuffMutations(rawValue: 1 << 7)
    /// Removes T4: no timeout amplification, so an idle correct replica withholds its TIMEOUT.
    public static let noTimeoutAmplification = HotStuffMutations(rawValue: 1 << 8)
    /// Breaks T4's threshold: one TIMEOUT (a Byzantine one suffices) makes a replica time out of a view.
    public static let amplifyOnOneTimeout = HotStuffMutations(rawValue: 1 << 9)
    /// Breaks P10's threshold: one announcement (a Byzantine one suffices) makes a replica join a view.
    public static let joinOnOneAnnouncement = HotStuffMutations(rawValue: 1 << 10)
    /// Removes P8: NEW-VIEW does not carry the sender's last vote.
    public static let noVoteOnNewView = HotStuffMutations(rawValue: 1 << 11)
    /// Breaks P11: a chained replica enters the next view on its own local timeout.
    public static let enterViewOnLocalTimeout = HotStuffMutations(rawValue: 1 << 12)
    /// Removes P12: a replica never answers a late NEW-VIEW or TIMEOUT with SYNC.
    public static let noSyncAnswer = HotStuffMutations(rawValue: 1 << 13)
    /// Removes P9: a replica never hands its newer highQC to a replica asking to leave an older view.
    public static let noLaggardHelp = HotStuffMutations(rawValue: 1 << 14)
    /// Breaks E2: execution does not skip a request its client already had executed.
    public static let executeTwice = HotStuffMutations(rawValue: 1 << 15)
}

/// Static parameters of a HotStuff cluster; identical on every replica.
public struct HotStuffConfig: Sendable {
    public var n: Int
    public var f: Int
    public var variant: HotStuffVariant
    /// Most requests a leader puts in one block.
    public var batchSizeMax: Int
    /// First view timeout (P4); doubles on each consecutive local timeout up to `viewTimeoutMax`.
    public var viewTimeout: Nanoseconds
    public var viewTimeoutMax: Nanoseconds
    /// View `v` is led by `leaderSchedule[v % count]`; nil means round-robin `v % n` (P1).
    public var leaderSchedule: [ReplicaID]?
    public var mutations: HotStuffMutations
    /// Committed blocks kept below the last committed one, to serve block sync to laggards (B3).
    public var blockRetention: Int
    /// Bound on verified client requests waiting to be proposed.
    public var mempoolMax: Int

    public init(n: Int, f: Int? = nil, variant: HotStuffVariant = .chained, batchSizeMax: Int = 64,
                viewTimeout: Nanoseconds = 200 * nanosPerMillisecond,
                viewTimeoutMax: Nanoseconds = 10 * nanosPerSecond,
                leaderSchedule: [ReplicaID]? = nil, mutations: HotStuffMutations = [],
                blockRetention: Int = 256, mempoolMax: Int = 10_000) {
        let quorum = QuorumMath(n: n, f: f)
        precondition(batchSizeMax >= 1, "batchSizeMax must be positive")
        precondition(batchSizeMax <= HotStuffLimits.batchSizeMax, "batchSizeMax above the wire limit")
        precondition(viewTimeout > 0, "viewTimeout must be positive")
        precondition(viewTimeoutMax >= viewTimeout, "viewTimeoutMax below viewTimeout")
        precondition(n <= HotStuffLimits.replicasMax, "too many replicas")
        if let s = leaderSchedule {
            precondition(!s.isEmpty, "leader schedule must not be empty")
            precondition(s.allSatisfy { $0 >= 0 && $0 < n }, "leader schedule names a replica outside 0..<n")
        }
        precondition(blockRetention >= 1, "blockRetention must be positive")
        precondition(mempoolMax >= 1, "mempoolMax must be positive")
        self.n = n
        self.f = quorum.f
        self.variant = variant
        self.batchSizeMax = batchSizeMax
        self.viewTimeout = viewTimeout
        self.viewTimeoutMax = viewTimeoutMax
        self.leaderSchedule = leaderSchedule
        self.mutations = mutations
        self.blockRetention = blockRetention
        self.mempoolMax = mempoolMax
    }

    public var quorum: QuorumMath {
        if mutations.contains(.quorumOneShort) { return QuorumMath(n: n, f: f, brokenQuorum: n - f - 1) }
        if mutations.contains(.quorumTwoFPlusOne) { return QuorumMath(n: n, f: f, brokenQuorum: 2 * f + 1) }
        return QuorumMath(n: n, f: f)
    }

    /// P1: the leader of `view`.
    public func leader(of view: UInt64) -> ReplicaID {
        if let s = leaderSchedule { return s[Int(view % UInt64(s.count))] }
        return Int(view % UInt64(n))
    }
}

/// Named maxima: wire limits and in-memory bounds (STYLE: everything bounded).
public enum HotStuffLimits {
    /// Largest cluster the codec accepts.
    public static let replicasMax = ProtocolLimits.replicasMax
    /// Most requests in one block on the wire.
    public static let batchSizeMax = ProtocolLimits.batchSizeMax
    /// Most blocks in one BLOCK-RESPONSE (S2).
    public static let blocksPerResponseMax = 32
    /// Block-sync fetches in flight (S1).
    public static let fetchesMax = 16
    /// Verified blocks held while their ancestors are fetched (S3).
    public static let orphansMax = 256
    /// Proposals parked until their parent arrives (S3).
    public static let parkedProposalsMax = 8
    /// Vote / new-view / timeout collections kept (views ahead of or at the current one).
    public static let collectorsMax = 64
    /// Blocks in the tree above the committed root before new proposals are refused (B3).
    public static let uncommittedBlocksMax = 4096
    /// How far ahead of the current view votes, new-views and timeouts are collected.
    public static let viewWindow: UInt64 = 1024
}
