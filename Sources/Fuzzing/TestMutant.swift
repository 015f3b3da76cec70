import HotStuff
import PBFT
import Runner
import ScenarioFormat

/// A deliberately broken protocol rule, for testing the tester (the fuzzer and the checkers) only.
///
/// Never part of a scenario's meaning: a mutant is chosen on the command line (`bftsim fuzz --mutant`,
/// `bftsim run --mutant`, `bftsim shrink --mutant`), and files the fuzzer saves for a mutant carry the
/// name in a `# test-only mutant:` comment next to the replay command.
public enum TestMutant: String, Sendable, CaseIterable, Codable {
    /// PBFT counts COMMITs without requiring a digest match (breaks rule N5).
    case commitWithoutDigestMatch = "commit-without-digest-match"
    /// Chained HotStuff commits on parent links without consecutive views (breaks H-C1).
    case commitOnParentLinks = "commit-on-parent-links"
    /// HotStuff votes without the lock check (breaks H-V2); both variants.
    case voteWithoutLockCheck = "vote-without-lock-check"

    /// Protocols the mutant applies to.
    public var protocols: [ProtocolKind] {
        switch self {
        case .commitWithoutDigestMatch: return [.pbft]
        case .commitOnParentLinks: return [.hotstuff]
        case .voteWithoutLockCheck: return [.hotstuff, .hotstuffTwoChain]
        }
    }

    /// The mutated driver for `kind`; throws when the mutant does not apply to that protocol.
    public func driver(for kind: ProtocolKind) throws(RunError) -> any ProtocolDriver {
        guard protocols.contains(kind) else {
            throw .unsupported("test-only mutant '\(rawValue)' applies to \(protocols.map(\.rawValue).joined(separator: ", ")), not \(kind.rawValue)")
        }
        switch self {
        case .commitWithoutDigestMatch: return PBFTDriver(mutations: [.commitWithoutDigestMatch])
        case .commitOnParentLinks: return HotStuffDriver(variant: .chained, mutations: [.commitOnParentLinks])
        case .voteWithoutLockCheck:
            return HotStuffDriver(variant: kind == .hotstuff ? .chained : .twoChain, mutations: [.voteWithoutLockCheck])
        }
    }

    /// The driver for `kind` with `mutant` applied, or the honest one.
    public static func driver(_ mutant: TestMutant?, for kind: ProtocolKind) throws(RunError) -> any ProtocolDriver {
        guard let mutant else { return Runner.driver(for: kind) }
        return try mutant.driver(for: kind)
    }
}
