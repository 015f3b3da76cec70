/// The fields of a scenario's `byzantine:` entry that a generic layer reads.
public struct LayerArguments: Sendable, Equatable {
    /// Replicas the behaviour aims at (`targets:`), if it takes any.
    public var targets: [ReplicaID]?
    /// A duration the behaviour uses (`delay:`), if it takes one.
    public var delay: Nanoseconds?
    public init(targets: [ReplicaID]? = nil, delay: Nanoseconds? = nil) {
        self.targets = targets
        self.delay = delay
    }
}

/// A Byzantine behaviour every protocol has: a layer that rewrites a replica's actions without
/// reading its messages (relab/hotstuff's `rules/byzantine` wrappers). Its file holds the layer and its
/// `registration`; one line in `LayerRegistry.all` then makes it reachable from scenario files
/// (`behaviour: NAME`), every protocol driver, fuzz campaigns and `cluster up --byzantine ID:NAME`.
public struct LayerBehaviour: Sendable {
    /// The one field of a `byzantine:` entry a layer may take (`omit: targets`, `slow: delay`, …).
    public enum Parameter: String, Sendable, Equatable {
        case targets, delay
        /// The scenario-file key.
        public var key: String { rawValue }
    }
    /// The name scenario files and the command line use.
    public let name: String
    /// The field it takes, if any, and whether an entry must give it (else `make` has a default).
    public let parameter: Parameter?
    public let parameterRequired: Bool
    /// Active for the whole run (no `from`/`until` window), like `amnesia`, which acts at recovery.
    public let wholeRun: Bool
    /// Builds the layer for one replica.
    public let make: @Sendable (LayerArguments, ByzantineContext) -> any Misbehaviour
    /// Random arguments for a fuzzed run, drawn from `rng`; `others` are the replicas other than the
    /// Byzantine one, in id order.
    public let draw: @Sendable (inout DeterministicRNG, [ReplicaID]) -> LayerArguments

    public init(name: String, wholeRun: Bool = false, parameter: Parameter? = nil, parameterRequired: Bool = false,
                make: @escaping @Sendable (LayerArguments, ByzantineContext) -> any Misbehaviour,
                draw: @escaping @Sendable (inout DeterministicRNG, [ReplicaID]) -> LayerArguments = { _, _ in LayerArguments() }) {
        self.name = name
        self.wholeRun = wholeRun
        self.parameter = parameter
        self.parameterRequired = parameterRequired
        self.make = make
        self.draw = draw
    }

    /// A non-empty random subset of `others` (each in with probability ½, else one at random).
    public static func randomTargets(_ rng: inout DeterministicRNG, _ others: [ReplicaID]) -> [ReplicaID] {
        var picked = others.filter { _ in rng.chance(0.5) }
        if picked.isEmpty { picked = [others[Int(rng.below(UInt64(others.count)))]] }
        return picked
    }

    /// A delay of `low` plus a uniform number of milliseconds below `spread`.
    public static func randomDelay(_ rng: inout DeterministicRNG, lowMs: UInt64, spreadMs: UInt64) -> Nanoseconds {
        Nanoseconds(lowMs + rng.below(spreadMs)) * nanosPerMillisecond
    }
}

/// Every generic Byzantine layer, in the order campaigns draw them (appending keeps existing campaigns'
/// runs; inserting shifts them). Protocol-specific behaviours (`equivocate`, `mutate`, `double-vote`,
/// the HotStuff fork scripts, …) read and re-sign messages, so they live in their protocol's driver.
public enum LayerRegistry {
    public static let all: [LayerBehaviour] = [
        Silent.registration,
        SelectiveOmission.registration,
        Slow.registration,
        BadSignature.registration,
        Replay.registration,
        Amnesia.registration,
    ]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> LayerBehaviour? { all.first { $0.name == name } }
}
