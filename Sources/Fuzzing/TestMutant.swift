import HotStuff
import PBFT
import Runner
import ScenarioFormat

/// A deliberately broken protocol rule, for testing the tester (the fuzzer and the checkers) only.
///
/// Never part of a scenario's meaning: a mutant is chosen on the command line (`bftsim fuzz --mutant`,
/// `bftsim run --mutant`, `bftsim shrink --mutant`, `bftsim mutants --score`), and files the fuzzer
/// saves for a mutant carry the name in a `# test-only mutant:` comment next to the replay command.
/// Each mutant breaks exactly one numbered rule of `Specs/PBFT.md` or `Specs/HotStuff.md` through one
/// flag of `PBFTMutations` / `HotStuffMutations`, checked where the honest rule is.
public enum TestMutant: String, Sendable, CaseIterable, Codable {
    // PBFT
    case commitWithoutDigestMatch = "commit-without-digest-match"
    case prepareWithoutDigestMatch = "prepare-without-digest-match"
    case commitQuorumWeak = "commit-quorum-weak"
    case prepareQuorumWeak = "prepare-quorum-weak"
    case skipBatchDigestCheck = "skip-batch-digest-check"
    case skipRequestSignatureCheck = "skip-request-signature-check"
    case acceptConflictingPrePrepare = "accept-conflicting-pre-prepare"
    case noViewChangeTimer = "no-view-change-timer"
    case joinOnOneViewChange = "join-on-one-view-change"
    case acceptUnverifiedViewChange = "accept-unverified-view-change"
    case acceptNewViewWithoutRecompute = "accept-new-view-without-recompute"
    case newViewWithoutQuorum = "new-view-without-quorum"
    case noViewChangeRetransmit = "no-view-change-retransmit"
    case noStateTransfer = "no-state-transfer"
    case skipStateDigestCheck = "skip-state-digest-check"
    case skipCommittedCertificateCheck = "skip-committed-certificate-check"
    // Both
    case quorumTwoFPlusOne = "quorum-2f-plus-1"
    case executeTwice = "execute-twice"
    // HotStuff
    case commitOnParentLinks = "commit-on-parent-links"
    case voteWithoutLockCheck = "vote-without-lock-check"
    case sendVoteBeforePersist = "send-vote-before-persist"
    case voteTwiceInView = "vote-twice-in-view"
    case lockNeverUpdated = "lock-never-updated"
    case commitOnTwoChain = "commit-on-two-chain"
    case quorumOneShort = "quorum-one-short"
    case noTimeoutAmplification = "no-timeout-amplification"
    case amplifyOnOneTimeout = "amplify-on-one-timeout"
    case joinOnOneAnnouncement = "join-on-one-announcement"
    case noVoteOnNewView = "no-vote-on-new-view"
    case enterViewOnLocalTimeout = "enter-view-on-local-timeout"
    case noSyncAnswer = "no-sync-answer"
    case noLaggardHelp = "no-laggard-help"

    /// The rule the mutant breaks (ids of `Specs/PBFT.md` and `Specs/HotStuff.md`).
    public var rule: String {
        switch self {
        case .commitWithoutDigestMatch: return "N5"
        case .prepareWithoutDigestMatch: return "N3"
        case .commitQuorumWeak: return "Q1/N5"
        case .prepareQuorumWeak: return "Q1/N3"
        case .skipBatchDigestCheck: return "N2"
        case .skipRequestSignatureCheck: return "R1/N2"
        case .acceptConflictingPrePrepare: return "N2"
        case .noViewChangeTimer: return "V1"
        case .joinOnOneViewChange: return "V2"
        case .acceptUnverifiedViewChange: return "V2"
        case .acceptNewViewWithoutRecompute: return "V5"
        case .newViewWithoutQuorum: return "V5/Q1"
        case .noViewChangeRetransmit: return "V6"
        case .noStateTransfer: return "S1"
        case .skipStateDigestCheck: return "S3"
        case .skipCommittedCertificateCheck: return "S5"
        case .quorumTwoFPlusOne: return "Q1 / H-Q1"
        case .executeTwice: return "R2 / E2"
        case .commitOnParentLinks: return "H-C1c"
        case .voteWithoutLockCheck: return "H-V2"
        case .sendVoteBeforePersist: return "R1 (HotStuff)"
        case .voteTwiceInView: return "H-V1"
        case .lockNeverUpdated: return "H-L1c"
        case .commitOnTwoChain: return "H-C1c"
        case .quorumOneShort: return "H-Q1/T1"
        case .noTimeoutAmplification: return "T4"
        case .amplifyOnOneTimeout: return "T4"
        case .joinOnOneAnnouncement: return "P10"
        case .noVoteOnNewView: return "P8"
        case .enterViewOnLocalTimeout: return "P11"
        case .noSyncAnswer: return "P12"
        case .noLaggardHelp: return "P9"
        }
    }

    /// One line on what is broken.
    public var summary: String {
        switch self {
        case .commitWithoutDigestMatch: return "COMMITs count without matching the PRE-PREPARE's digest"
        case .prepareWithoutDigestMatch: return "PREPAREs of any digest count towards prepared"
        case .commitQuorumWeak: return "committed-local on f+1 COMMITs"
        case .prepareQuorumWeak: return "prepared on f PREPAREs"
        case .skipBatchDigestCheck: return "PRE-PREPARE digest not checked against its batch"
        case .skipRequestSignatureCheck: return "client signatures inside a PRE-PREPARE not checked"
        case .acceptConflictingPrePrepare: return "a second PRE-PREPARE for (v, n) replaces the first"
        case .noViewChangeTimer: return "the view-change timer never starts a view change"
        case .joinOnOneViewChange: return "one VIEW-CHANGE for a higher view makes a replica join"
        case .acceptUnverifiedViewChange: return "prepared certificates in VIEW-CHANGEs not verified"
        case .acceptNewViewWithoutRecompute: return "NEW-VIEW's O not compared with the recomputed O"
        case .newViewWithoutQuorum: return "NEW-VIEW accepted with f+1 VIEW-CHANGEs"
        case .noViewChangeRetransmit: return "a VIEW-CHANGE is never retransmitted"
        case .noStateTransfer: return "a replica behind a stable checkpoint never fetches state"
        case .skipStateDigestCheck: return "fetched state installed without its digest check"
        case .skipCommittedCertificateCheck: return "fetched committed batch accepted without its certificate"
        case .quorumTwoFPlusOne: return "quorums of 2f+1 instead of n-f (differs when n ≠ 3f+1)"
        case .executeTwice: return "execution does not skip an already executed request"
        case .commitOnParentLinks: return "commit rule checks parent links, not consecutive views"
        case .voteWithoutLockCheck: return "vote rule without the lock (chained) / QC-or-TC (two-chain) check"
        case .sendVoteBeforePersist: return "the vote leaves before the safety state is persisted"
        case .voteTwiceInView: return "a second block of a view already voted in gets a vote"
        case .lockNeverUpdated: return "the chained lock never moves"
        case .commitOnTwoChain: return "chained HotStuff commits on a two-chain"
        case .quorumOneShort: return "QCs and TCs one signature short of n-f"
        case .noTimeoutAmplification: return "no timeout amplification on f+1 TIMEOUTs"
        case .amplifyOnOneTimeout: return "one TIMEOUT makes a replica time out"
        case .joinOnOneAnnouncement: return "one NEW-VIEW announcement makes a replica join a view"
        case .noVoteOnNewView: return "NEW-VIEW does not carry the last vote"
        case .enterViewOnLocalTimeout: return "a local timeout enters the next view alone"
        case .noSyncAnswer: return "late NEW-VIEW/TIMEOUT never answered with SYNC"
        case .noLaggardHelp: return "a newer highQC is never handed to a laggard"
        }
    }

    /// Protocols the mutant applies to.
    public var protocols: [ProtocolKind] {
        if !pbftFlags.isEmpty { return hotStuffFlags.isEmpty ? [.pbft] : [.pbft, .hotstuff, .hotstuffTwoChain] }
        switch self {
        case .commitOnParentLinks, .lockNeverUpdated, .commitOnTwoChain, .joinOnOneAnnouncement, .noVoteOnNewView,
             .enterViewOnLocalTimeout:
            return [.hotstuff]
        case .noTimeoutAmplification, .amplifyOnOneTimeout: return [.hotstuffTwoChain]
        default: return [.hotstuff, .hotstuffTwoChain]
        }
    }

    /// The PBFT flag the mutant sets ([] when it is not a PBFT mutant).
    public var pbftFlags: PBFTMutations {
        switch self {
        case .commitWithoutDigestMatch: return .commitWithoutDigestMatch
        case .prepareWithoutDigestMatch: return .prepareWithoutDigestMatch
        case .commitQuorumWeak: return .commitQuorumWeak
        case .prepareQuorumWeak: return .prepareQuorumWeak
        case .skipBatchDigestCheck: return .skipBatchDigestCheck
        case .skipRequestSignatureCheck: return .skipRequestSignatureCheck
        case .acceptConflictingPrePrepare: return .acceptConflictingPrePrepare
        case .noViewChangeTimer: return .noViewChangeTimer
        case .joinOnOneViewChange: return .joinOnOneViewChange
        case .acceptUnverifiedViewChange: return .acceptUnverifiedViewChange
        case .acceptNewViewWithoutRecompute: return .acceptNewViewWithoutRecompute
        case .newViewWithoutQuorum: return .newViewWithoutQuorum
        case .noViewChangeRetransmit: return .noViewChangeRetransmit
        case .noStateTransfer: return .noStateTransfer
        case .skipStateDigestCheck: return .skipStateDigestCheck
        case .skipCommittedCertificateCheck: return .skipCommittedCertificateCheck
        case .quorumTwoFPlusOne: return .quorumTwoFPlusOne
        case .executeTwice: return .executeTwice
        default: return []
        }
    }

    /// The HotStuff flag the mutant sets ([] when it is not a HotStuff mutant).
    public var hotStuffFlags: HotStuffMutations {
        switch self {
        case .quorumTwoFPlusOne: return .quorumTwoFPlusOne
        case .executeTwice: return .executeTwice
        case .commitOnParentLinks: return .commitOnParentLinks
        case .voteWithoutLockCheck: return .voteWithoutLockCheck
        case .sendVoteBeforePersist: return .sendVoteBeforePersist
        case .voteTwiceInView: return .voteTwiceInView
        case .lockNeverUpdated: return .lockNeverUpdated
        case .commitOnTwoChain: return .commitOnTwoChain
        case .quorumOneShort: return .quorumOneShort
        case .noTimeoutAmplification: return .noTimeoutAmplification
        case .amplifyOnOneTimeout: return .amplifyOnOneTimeout
        case .joinOnOneAnnouncement: return .joinOnOneAnnouncement
        case .noVoteOnNewView: return .noVoteOnNewView
        case .enterViewOnLocalTimeout: return .enterViewOnLocalTimeout
        case .noSyncAnswer: return .noSyncAnswer
        case .noLaggardHelp: return .noLaggardHelp
        default: return []
        }
    }

    /// Why the fuzzer cannot kill the mutant in any schedule, for mutants argued equivalent to the
    /// honest protocol under the campaign's fault model (nil: it can break safety or liveness).
    public var survivalArgument: String? { nil }

    /// The mutated driver for `kind`; throws when the mutant does not apply to that protocol.
    public func driver(for kind: ProtocolKind) throws(RunError) -> any ProtocolDriver {
        guard protocols.contains(kind) else {
            throw .unsupported("test-only mutant '\(rawValue)' applies to \(protocols.map(\.rawValue).joined(separator: ", ")), not \(kind.rawValue)")
        }
        switch kind {
        case .pbft: return PBFTDriver(mutations: pbftFlags)
        case .hotstuff: return HotStuffDriver(variant: .chained, mutations: hotStuffFlags)
        case .hotstuffTwoChain: return HotStuffDriver(variant: .twoChain, mutations: hotStuffFlags)
        }
    }

    /// The driver for `kind` with `mutant` applied, or the honest one.
    public static func driver(_ mutant: TestMutant?, for kind: ProtocolKind) throws(RunError) -> any ProtocolDriver {
        guard let mutant else { return Runner.driver(for: kind) }
        return try mutant.driver(for: kind)
    }
}
