import BFTCore
import BFTCrypto
import Foundation
import Checkers
import ScenarioFormat
import Simulation

/// How a run ended, as the process exit code. A scenario that expects a violation and gets it is
/// "as expected".
/// The process's resident set size, from `/proc/self/statm` (0 where it cannot be read).
public enum ResidentMemory {
    public static func bytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

public enum RunStatus: Int32, Sendable, Codable {
    case asExpected = 0
    case safetyViolation = 1
    case livenessViolation = 2
    case invalidInput = 3
    case internalError = 4
    /// The scenario expected a violation that did not happen.
    case expectationNotMet = 5
    /// The run stopped on its event or memory budget before its stop condition: a storm or a run too
    /// large for the machine. Verdicts cover the run so far.
    case budgetExhausted = 6

    public var label: String {
        switch self {
        case .asExpected: return "as expected"
        case .safetyViolation: return "unexpected safety violation"
        case .livenessViolation: return "unexpected liveness violation"
        case .invalidInput: return "invalid input"
        case .internalError: return "internal error"
        case .expectationNotMet: return "expected violation did not happen"
        case .budgetExhausted: return "stopped: budget exhausted"
        }
    }
}

/// Everything one simulated run produced.
public struct RunOutcome {
    public var scenario: Scenario
    public var simulation: SimulationResult
    public var checks: CheckReport
    public var crypto: CryptoStats
    public var rejected: [RejectReason: Int]
    /// View changes (PBFT) or view timeouts (HotStuff) started by correct replicas.
    public var viewChangesStarted: Int
    public var highestView: UInt64
    public var status: RunStatus
    /// The adaptive controller's arm index per epoch, recomputed from the committed log (nil without `adaptive:`).
    public var adaptiveArms: [Int]? = nil

    public var safety: Verdict { checks.safety }
    public var liveness: Verdict { checks.liveness }
}

/// Builds a simulated cluster from a scenario and runs it with the checkers attached online.
public enum ScenarioRun {
    /// Builds every state machine of the scenario (replicas, then clients) without running anything.
    /// Throws `RunError.unsupported` when the scenario asks for something the protocol lacks.
    public static func buildMachines(_ scenario: Scenario, driver: any ProtocolDriver, keyring: Keyring) throws(RunError) -> [any StateMachine] {
        var machines: [any StateMachine] = []
        for id in 0..<scenario.replicas {
            machines.append(try makeReplica(id, scenario, driver: driver, keyring: keyring))
        }
        let quorum = QuorumMath(n: scenario.replicas, f: scenario.f)
        for c in 0..<scenario.workload.clients {
            machines.append(Client(id: c, quorum: quorum, workload: scenario.workload, targeting: driver.clientTargeting,
                                   signer: keyring.signer(for: .client(c)), verifier: keyring.verifier,
                                   rng: DeterministicRNG(seed: scenario.seed, stream: "client/\(c)")))
        }
        // Twins: a second honest instance of each twinned replica, with the same key (Bano et al.).
        for id in scenario.twins?.replicas ?? [] where id < scenario.replicas {
            machines.append(try driver.makeReplica(id: id, scenario: scenario, keyring: keyring, behaviour: nil))
        }
        return machines
    }

    /// One replica as the scenario describes it: honest, or wrapped by its whole-run behaviour, with
    /// its other behaviours as layers (in entry order; windowed ones start off unless `from` is 0).
    /// The simulator and the live shell (`bftsim replica --byzantine`) both build replicas here.
    public static func makeReplica(_ id: ReplicaID, _ scenario: Scenario, driver: any ProtocolDriver, keyring: Keyring) throws(RunError) -> any StateMachine {
        let entries = scenario.byzantine.enumerated().filter { $0.element.replica == id }
        let whole = entries.first { ["equivocate", "fork-view-gap", "fork-below-lock"].contains($0.element.behaviour) }
        let inner = try driver.makeReplica(id: id, scenario: scenario, keyring: keyring, behaviour: whole?.element.behaviour)
        var layers: [ByzantineReplica.Layer] = []
        for (tag, spec) in entries where tag != whole?.offset {
            let context = ByzantineContext(id: id, n: scenario.replicas, layer: tag)
            let behaviour = try driver.makeLayer(spec, context: context, scenario: scenario, keyring: keyring)
            layers.append(.init(behaviour: behaviour, active: spec.from == nil || spec.from == 0, tag: tag))
        }
        return layers.isEmpty ? inner : ByzantineReplica(honest: inner, layers: layers)
    }

    /// Checks that the scenario can be built for its protocol (behaviours, leader schedules, ...).
    public static func check(_ scenario: Scenario) throws(RunError) {
        let keyring = Keyring(scheme: .fast, seed: scenario.seed, replicas: scenario.replicas, clients: scenario.workload.clients)
        _ = try buildMachines(scenario, driver: Runner.driver(for: scenario.protocolKind), keyring: keyring)
    }

    /// Runs the scenario. `checkers: false` skips the online checkers (benchmarks measure the
    /// simulator and protocol alone with it); verdicts are then meaningless. `observer` sees every
    /// observation record after the checkers (the fuzzer abstracts them into coverage states).
    public static func execute(_ scenario: Scenario, trace: TraceMode = .hashOnly, driver explicitDriver: (any ProtocolDriver)? = nil,
                               checkers: Bool = true, observer: ((ObservationRecord) -> Void)? = nil,
                               eventsMax: Int? = nil, memoryMaxBytes: Int? = nil,
                               shouldStop: (() -> Bool)? = nil) throws(RunError) -> RunOutcome {
        let driver = explicitDriver ?? Runner.driver(for: scenario.protocolKind)
        let keyring = Keyring(scheme: scenario.crypto, seed: scenario.seed, replicas: scenario.replicas, clients: scenario.workload.clients)
        let machines = try buildMachines(scenario, driver: driver, keyring: keyring)

        let checker = InvariantChecker(config: checkerConfig(for: scenario))
        // Counted the runtime's one way (`ObservationCounters`): rejections at every replica, views and
        // view changes at the correct ones.
        var rejected: [RejectReason: Int] = [:]
        var correct = ObservationCounters()
        var adaptive = scenario.protocolKind == .pbft ? scenario.parameters.adaptive.map { AdaptiveReplay(config: $0, parameters: scenario.parameters) } : nil
        let byzantine = Set(scenario.byzantineReplicas)
        let n = scenario.replicas, clients = scenario.workload.clients, twinned = scenario.twins?.replicas ?? []
        let rebuild: (Int) -> any StateMachine = { index in
            let id = index < n ? index : twinned[index - n - clients]
            let honestTwin = index >= n + clients
            // A rebuild of a scenario that already built once cannot fail.
            return honestTwin ? (try! driver.makeReplica(id: id, scenario: scenario, keyring: keyring, behaviour: nil))
                : (try! makeReplica(id, scenario, driver: driver, keyring: keyring))
        }
        let simulator = Simulator(scenario: scenario, machines: machines, describe: driver.describe, observer: { record in
            if checkers { checker.observe(record) }
            observer?(record)
            if case .rejected(let reason, _) = record.observation { rejected[reason, default: 0] += 1 }
            if let r = record.source.replicaID, !byzantine.contains(r) {
                correct.count(record.observation)
                if adaptive != nil, case .committed(let sequence, let view, _, let count) = record.observation {
                    adaptive!.committed(sequence: sequence, view: view, count: count)
                }
            }
        }, trace: trace, rebuild: rebuild)
        simulator.eventsMax = eventsMax
        simulator.shouldStop = shouldStop
        if scenario.costs != nil {
            let stats = keyring.stats
            simulator.cryptoCounter = { (stats.signed, stats.verifyRequests) }
        }
        if let memoryMaxBytes { simulator.memoryCheck = { ResidentMemory.bytes() <= memoryMaxBytes } }
        let result = simulator.run()
        let report = checker.finish(at: result.endTime)
        return RunOutcome(scenario: scenario, simulation: result, checks: report, crypto: keyring.stats, rejected: rejected,
                          viewChangesStarted: correct.viewChangesStarted, highestView: correct.highestView,
                          status: status(expect: scenario.expect, safety: report.safety, liveness: report.liveness),
                          adaptiveArms: adaptive?.arms)
    }

    /// Liveness is promised only after GST, after the timeline's last fault or heal (or an explicit
    /// schedule's closing `gst` step), and only when at most f replicas are faulty (crashed or Byzantine).
    public static func checkerConfig(for scenario: Scenario) -> CheckerConfig {
        var lastTimeline = scenario.timeline.map(\.at).max() ?? 0
        if let steps = scenario.schedule, steps.last == .gst {
            lastTimeline = max(lastTimeline, Nanoseconds(steps.count) * ScheduleStep.spacing)  // step k runs at (k + 1) ms
        }
        let faulty = Set(scenario.crashedReplicas).union(scenario.byzantineReplicas)
        return CheckerConfig(n: scenario.replicas, f: scenario.f, byzantine: Set(scenario.byzantineReplicas),
                             gst: scenario.network.gst ?? 0, livenessBound: scenario.liveness.bound,
                             livenessFrom: max(scenario.network.gst ?? 0, lastTimeline),
                             livenessApplies: faulty.count <= scenario.f)
    }

    static func status(expect: Expectations, safety: Verdict, liveness: Verdict) -> RunStatus {
        if safety == .violated && expect.safety == .holds { return .safetyViolation }
        if liveness == .violated && expect.liveness == .holds { return .livenessViolation }
        if safety == .holds && expect.safety == .violated { return .expectationNotMet }
        if liveness == .holds && expect.liveness == .violated { return .expectationNotMet }
        return .asExpected
    }
}
