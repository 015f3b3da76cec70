import BFTCore
import BFTCrypto
import HotStuff
import PBFT
import ScenarioFormat

/// What the harness needs from a protocol: how to build its replicas (honest or Byzantine), how to
/// describe its wire messages, and how clients should address it. A new protocol is one new driver.
public protocol ProtocolDriver {
    var describe: MessageDescriber { get }
    /// Checks the signatures of wire messages off the replica's thread (live mode's verification pool).
    var authenticate: MessageAuthenticator { get }
    var clientTargeting: Client.Targeting { get }
    /// Byzantine behaviour names this protocol implements.
    var byzantineBehaviours: [String] { get }
    func makeReplica(id: ReplicaID, scenario: Scenario, keyring: Keyring, behaviour: String?) throws(RunError) -> any StateMachine
    /// Builds one Byzantine layer (a behaviour wrapping the replica) from a scenario entry.
    func makeLayer(_ spec: ByzantineSpec, context: ByzantineContext, scenario: Scenario, keyring: Keyring) throws(RunError) -> any Misbehaviour
}

extension ProtocolDriver {
    /// Layers every protocol has (`LayerRegistry`): they rewrite sends without reading them.
    func genericLayer(_ spec: ByzantineSpec, context: ByzantineContext) -> (any Misbehaviour)? {
        LayerRegistry.named(spec.behaviour)?.make(LayerArguments(targets: spec.targets, delay: spec.delay), context)
    }

    func unknown(_ name: String, _ protocolName: String) -> RunError {
        .unsupported("\(protocolName) has no Byzantine behaviour '\(name)' (known: \(byzantineBehaviours.joined(separator: ", ")))")
    }

    /// What every `makeReplica` does: the replica's signer, its honest machine, and for a named behaviour the
    /// whole-run wrapper `wrap` builds around that machine (nil: this protocol has no such behaviour).
    func replica<Honest: StateMachine>(_ id: ReplicaID, keyring: Keyring, behaviour: String?, protocolName: String,
                                       honest: (MessageSigner) -> Honest,
                                       wrap: (String, Honest, MessageSigner) throws(RunError) -> (any StateMachine)?)
        throws(RunError) -> any StateMachine {
        let signer = keyring.signer(for: .replica(id))
        let machine = honest(signer)
        guard let behaviour else { return machine }
        if let wrapped = try wrap(behaviour, machine, signer) { return wrapped }
        throw unknown(behaviour, protocolName)
    }
}

/// The other Byzantine replicas of a scenario (an equivocator sends both versions to them).
func colluders(of id: ReplicaID, in scenario: Scenario) -> [ReplicaID] {
    scenario.byzantineReplicas.filter { $0 != id }
}

/// Layer names every driver builds through `genericLayer`.
var genericBehaviours: [String] { LayerRegistry.names }

/// A run that cannot start: the scenario asks for what the protocol lacks (`unsupported`), or a file
/// cannot be read or written (`io`).
public struct RunError: Error, CustomStringConvertible {
    public let description: String
    public static func unsupported(_ message: String) -> RunError { RunError(description: message) }
    public static func io(_ message: String) -> RunError { RunError(description: message) }
}

public func driver(for kind: ProtocolKind) -> any ProtocolDriver {
    switch kind {
    case .pbft: return PBFTDriver()
    case .hotstuff: return HotStuffDriver(variant: .chained)
    case .hotstuffTwoChain: return HotStuffDriver(variant: .twoChain)
    }
}

/// PBFT (Castro & Liskov) with optional test-only mutations for testing the checkers.
public struct PBFTDriver: ProtocolDriver {
    public var mutations: PBFTMutations = []
    public init(mutations: PBFTMutations = []) { self.mutations = mutations }

    public var describe: MessageDescriber { describePBFTMessage }
    public var authenticate: MessageAuthenticator { authenticatePBFTMessage }
    public var clientTargeting: Client.Targeting { .leader }
    public var byzantineBehaviours: [String] {
        ["equivocate"] + genericBehaviours + ["double-vote", "mutate", "conflict", "forge-sender", "spam-view-change"]
    }

    public func makeLayer(_ spec: ByzantineSpec, context: ByzantineContext, scenario: Scenario, keyring: Keyring) throws(RunError) -> any Misbehaviour {
        if let layer = genericLayer(spec, context: context) { return layer }
        let signer = keyring.signer(for: .replica(context.id))
        switch spec.behaviour {
        case "double-vote": return PBFTDoubleVote(context: context, signer: signer)
        case "mutate":
            return PBFTMutation(mutation: spec.mutation ?? "digest", signer: signer, context: context, f: scenario.f,
                                scope: RewriteScope(targets: spec.targets))
        case "conflict":
            return PBFTMutation(mutation: spec.mutation ?? "conflicting-batch", signer: signer, context: context, f: scenario.f,
                                scope: RewriteScope(targets: spec.targets, both: true))
        case "forge-sender": return ForgedSender.pbft(context: context, signer: signer)
        case "spam-view-change": return PBFTViewChangeSpam(signer: signer)
        case "script":
            // Not in `byzantineBehaviours`: the fuzzer picks from that list, and a script needs its steps.
            return PBFTScript(context: context, signer: signer, steps: spec.script ?? [])
        default: throw unknown(spec.behaviour, "PBFT")
        }
    }

    public func config(for scenario: Scenario) -> PBFTConfig {
        PBFTConfig(n: scenario.replicas, f: scenario.f, parameters: scenario.parameters, mutations: mutations)
    }

    public func makeReplica(id: ReplicaID, scenario: Scenario, keyring: Keyring, behaviour: String?) throws(RunError) -> any StateMachine {
        let config = config(for: scenario)
        return try replica(id, keyring: keyring, behaviour: behaviour, protocolName: "PBFT",
                           honest: { PBFTReplica(id: id, config: config, signer: $0, verifier: keyring.verifier,
                                                         decodeMemo: keyring.shared { DecodeMemo() }) }) { name, honest, signer in
            guard name == "equivocate" else { return nil }
            return EquivocatingPrimary(wrapping: honest, signer: signer, config: config, colluders: colluders(of: id, in: scenario))
        }
    }
}

/// HotStuff, chained or two-chain, with optional test-only mutations.
public struct HotStuffDriver: ProtocolDriver {
    public var variant: HotStuffVariant
    public var mutations: HotStuffMutations
    public init(variant: HotStuffVariant, mutations: HotStuffMutations = []) {
        self.variant = variant
        self.mutations = mutations
    }

    public var describe: MessageDescriber { describeHotStuffMessage }
    public var authenticate: MessageAuthenticator { authenticateHotStuffMessage }
    /// Leaders rotate every view, so clients send each request to every replica's mempool.
    public var clientTargeting: Client.Targeting { .all }
    public var byzantineBehaviours: [String] {
        // `fork-view-gap` scripts a chained-only schedule.
        ["equivocate"] + ForkingLeader.Attack.allCases.filter { $0 != .viewGap || variant == .chained }.map(\.rawValue) + genericBehaviours
            + ["double-vote", "mutate", "conflict", "forge-sender", "spam-view-change"]
    }

    public func makeLayer(_ spec: ByzantineSpec, context: ByzantineContext, scenario: Scenario, keyring: Keyring) throws(RunError) -> any Misbehaviour {
        if let layer = genericLayer(spec, context: context) { return layer }
        let signer = keyring.signer(for: .replica(context.id))
        switch spec.behaviour {
        case "double-vote": return HotStuffDoubleVote(config: config(for: scenario), signer: signer)
        case "mutate":
            return HotStuffMutation(mutation: spec.mutation ?? "digest", signer: signer, context: context, scope: RewriteScope(targets: spec.targets))
        case "conflict":
            return HotStuffMutation(mutation: spec.mutation ?? "conflicting-batch", signer: signer, context: context,
                                    scope: RewriteScope(targets: spec.targets, both: true))
        case "forge-sender": return ForgedSender.hotStuff(context: context, signer: signer)
        case "spam-view-change": return HotStuffTimeoutSpam(config: config(for: scenario), signer: signer)
        case "script":
            // Not in `byzantineBehaviours`: the fuzzer picks from that list, and a script needs its steps.
            return HotStuffScript(context: context, signer: signer, config: config(for: scenario), steps: spec.script ?? [])
        default: throw unknown(spec.behaviour, "HotStuff")
        }
    }

    public func config(for scenario: Scenario) -> HotStuffConfig {
        let p = scenario.parameters
        return HotStuffConfig(n: scenario.replicas, f: scenario.f, variant: variant,
                              batchSizeMax: min(p.batchSizeMax, HotStuffLimits.batchSizeMax),
                              viewTimeout: p.viewChangeTimeout, viewTimeoutMax: p.viewChangeTimeoutMax,
                              leaderSchedule: Self.leaderSchedule(for: scenario), mutations: mutations)
    }

    /// `parameters.leader_schedule`, or with Twins `round_leaders` for the listed views, then round-robin.
    static func leaderSchedule(for scenario: Scenario) -> [Int]? {
        guard let leaders = scenario.twins?.roundLeaders, !leaders.isEmpty else { return scenario.parameters.leaderSchedule }
        return leaders + (0..<(scenario.replicas * 64)).map { (leaders.count + $0) % scenario.replicas }
    }

    public func makeReplica(id: ReplicaID, scenario: Scenario, keyring: Keyring, behaviour: String?) throws(RunError) -> any StateMachine {
        let config = config(for: scenario)
        return try replica(id, keyring: keyring, behaviour: behaviour, protocolName: "HotStuff",
                           honest: { HotStuffReplica(id: id, config: config, signer: $0, verifier: keyring.verifier,
                                                             decodeMemo: keyring.shared { DecodeMemo() }) }) {
            (name, honest, signer) throws(RunError) -> (any StateMachine)? in
            if name == "equivocate" {
                return EquivocatingLeader(wrapping: honest, signer: signer, config: config, colluders: colluders(of: id, in: scenario))
            }
            guard let attack = ForkingLeader.Attack(rawValue: name) else { return nil }
            guard config.leaderSchedule == [id] else {
                throw .unsupported("behaviour '\(name)' scripts every view, so parameters.leader_schedule must be [\(id)]")
            }
            guard attack != .viewGap || variant == .chained else {
                throw .unsupported("behaviour 'fork-view-gap' targets chained HotStuff (protocol: hotstuff)")
            }
            return ForkingLeader(wrapping: honest, attack: attack, signer: signer, config: config)
        }
    }
}
