import ArgumentParser
import BFTCore
import Foundation
import Runner
import ScenarioFormat

/// `bftsim twins FILE.json`: runs every scenario of a Twins generator file and reports verdicts.
struct Twins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every scenario of a Twins generator JSON file (num_of_nodes, num_of_twins, scenarios[]).",
        discussion: "Each scenario runs unchanged: round_leaders lead the views (HotStuff), round_partitions partition nodes (replicas, then twins). Exit code 1 if a safety violation was found while num_of_twins <= f, or if --expect-violation is given and none was found (5).")

    @Argument(help: "Twins generator JSON file.") var file: String
    @Option(name: .customLong("protocol"), help: "pbft, hotstuff or hotstuff-two-chain.") var protocolKind: ProtocolKind = .hotstuff
    @Option(help: "Seed of every run.") var seed: UInt64 = 1
    @Option(help: "Simulated time limit per scenario, in seconds.") var seconds: Double = 5
    @Option(help: "Requests per client (4 clients).") var requests: Int = 10
    @Option(help: "Run at most this many scenarios.") var limit: Int?
    @Option(help: "Write each scenario as YAML and verdicts.txt into this directory.") var out: String?
    @Flag(help: "Expect a safety violation (num_of_twins > f): exit 5 if none is found.") var expectViolation = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw fail("cannot read \(file)", code: .invalidInput)
        }
        var base = Scenario(name: "twins", protocolKind: protocolKind, seed: seed)
        base.stop = StopCondition(timeLimit: Nanoseconds(seconds * 1e9), untilClientsDone: true)
        // Jittered links: the two instances of a twinned replica see requests in different orders.
        base.workload.clients = 4
        base.workload.requestsPerClient = requests
        base.parameters.viewChangeTimeout = 150 * nanosPerMillisecond
        base.parameters.batchSizeMax = 4
        base.network.latency = .uniform(min: nanosPerMillisecond, max: 5 * nanosPerMillisecond)
        let scenarios = try invalidInput { try TwinsImport.scenarios(fromJSON: data, file: file, base: base) }
        if let out { try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        var lines: [String] = []
        var violations = 0
        for scenario in scenarios.prefix(limit ?? scenarios.count) {
            let outcome: RunOutcome
            do { outcome = try ScenarioRun.execute(scenario, trace: .hashOnly) } catch { throw fail("\(error)", code: .internalError) }
            if outcome.safety == .violated { violations += 1 }
            let kinds = Set(outcome.checks.violations.map(\.kind.rawValue)).sorted().joined(separator: ",")
            let line = "\(scenario.name): safety \(outcome.safety.rawValue)\(kinds.isEmpty ? "" : " [\(kinds)]"), liveness \(outcome.liveness.rawValue), trace \(outcome.simulation.traceHash.hex.prefix(16))"
            print(line)
            lines.append(line)
            if let out {
                try? ScenarioLoader.encodeYAML(scenario).write(toFile: "\(out)/\(scenario.name).yaml", atomically: true, encoding: .utf8)
            }
        }
        let run = min(limit ?? scenarios.count, scenarios.count)
        let twins = scenarios.first?.twins?.replicas.count ?? 0
        let f = scenarios.first?.f ?? 0
        let total = "twins: \(run) scenarios, \(violations) with a safety violation (\(twins) twins, f = \(f))"
        print(total)
        if let out { try? (lines + [total]).joined(separator: "\n").appending("\n").write(toFile: "\(out)/verdicts.txt", atomically: true, encoding: .utf8) }
        if expectViolation {
            if violations == 0 { throw ExitCode(RunStatus.expectationNotMet.rawValue) }
        } else if violations > 0 && twins <= f {
            throw ExitCode(RunStatus.safetyViolation.rawValue)
        }
    }
}
