import RunRecords
import ArgumentParser
import BFTCore
import Foundation
import Fuzzing
import Reporting
import Runner
import Simulation
import ScenarioFormat

/// Exit codes (also in README): 0 all as expected, 1 unexpected safety violation, 2 unexpected
/// liveness violation, 3 invalid input, 4 internal error, 5 an expected violation did not happen.
struct BFTSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bftsim",
        abstract: "Simulate, attack and check Byzantine-fault-tolerant consensus (PBFT, HotStuff).",
        discussion: "Exit codes: 0 as expected, 1 safety violation, 2 liveness violation, 3 invalid input, 4 internal error, 5 expected violation not found.",
        subcommands: [Run.self, Validate.self, Bench.self, Report.self, Twins.self, Fuzz.self, Shrink.self, Mutants.self,
                      SpecCommand.self, ExploreCommand.self, KeyGenCommand.self, ReplicaCommand.self, ClusterCommand.self, ClientCommand.self, CheckCommand.self, LinkCommandCLI.self,
                      Calibrate.self, SweepCommand.self, TuneCommand.self]
    )
}

func fail(_ message: String, code: RunStatus) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code.rawValue)
}

/// Runs `body`, whose errors are the user's input at fault (a bad file, flag or directory): printed as
/// `error: ...`, exit code 3.
func invalidInput<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw fail("\(error)", code: .invalidInput) }
}

func loadScenario(_ path: String, seed: UInt64?) throws -> Scenario {
    var s: Scenario
    do {
        s = try ScenarioLoader.load(path: path)
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCode(RunStatus.invalidInput.rawValue)
    }
    if let seed { s.seed = seed }
    do {
        try ScenarioRun.check(s)
    } catch {
        FileHandle.standardError.write(Data("\(path): \(error)\n".utf8))
        throw ExitCode(RunStatus.invalidInput.rawValue)
    }
    return s
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a scenario file and check its invariants.")

    @Argument(help: "Scenario file (YAML or JSON).") var file: String
    @Option(help: "Override the scenario's seed.") var seed: UInt64?
    @Option(help: "Output directory for summary.json, summary.md and trace.jsonl (default: out/<scenario name>).") var out: String?
    @Flag(help: "Run the scenario again in a fresh process and compare trace hashes.") var checkDeterminism = false
    @Flag(help: "Do not write trace.jsonl (the trace hash is still computed).") var noTrace = false
    @Flag(help: "Print only the outcome line.") var quiet = false
    @Flag(help: "Also write report.html (charts; needs the trace) next to the summary.") var report = false
    @Flag(help: .hidden) var printTraceHash = false
    @Option(help: "Test-only protocol mutant (for replaying fuzzer failures found with --mutant; never a real protocol).") var mutant: TestMutant?
    @Option(help: "Stop after this many simulated events (a message or timer storm; fuzz runs use \(FuzzRun.eventsMax)). Exit code 6.")
    var eventsMax: Int = Run.eventsMaxDefault
    @Option(help: "Stop when the process's resident memory passes this many MiB (a run too large for the machine). Exit code 6.")
    var memoryMax: Int = Run.memoryMaxDefaultMiB

    /// About a minute of simulation in a release build; the shipped scenarios need at most a few million.
    static let eventsMaxDefault = 50_000_000
    static let memoryMaxDefaultMiB = 4096

    func validate() throws {
        guard eventsMax > 0 else { throw ValidationError("--events-max must be positive, got \(eventsMax)") }
        guard memoryMax > 0 else { throw ValidationError("--memory-max must be positive (MiB), got \(memoryMax)") }
    }

    func run() throws {
        if report && noTrace {
            throw fail("--report needs trace.jsonl, which --no-trace turns off; drop one of the two flags", code: .invalidInput)
        }
        let scenario = try loadScenario(file, seed: seed)
        let driver = try invalidInput { try TestMutant.driver(mutant, for: scenario.protocolKind) }
        if printTraceHash {
            let outcome: RunOutcome
            do { outcome = try ScenarioRun.execute(scenario, trace: .hashOnly, driver: driver, eventsMax: eventsMax, memoryMaxBytes: memoryMax << 20) } catch { throw fail("\(error)", code: .internalError) }
            print("trace-hash \(outcome.simulation.traceHash.hex)")
            return
        }
        let dir = out ?? "out/\(scenario.name)"
        let outcome: RunOutcome
        do {
            try RunOutputs.prepare(directory: dir)
            if noTrace {
                outcome = try ScenarioRun.execute(scenario, trace: .hashOnly, driver: driver, eventsMax: eventsMax, memoryMaxBytes: memoryMax << 20)
            } else {
                guard let sink = JSONLFileSink(path: dir + "/trace.jsonl") else {
                    throw RunError.io("cannot write \(dir)/trace.jsonl")
                }
                outcome = try ScenarioRun.execute(scenario, trace: .full(sink), driver: driver, eventsMax: eventsMax, memoryMaxBytes: memoryMax << 20)
                sink.close()
            }
        } catch {
            throw fail("\(error)", code: .internalError)
        }
        let summary = RunSummary(outcome: outcome, file: file)
        try? RunOutputs.write(summary, to: dir)
        print(quiet ? "\(scenario.name): \(summary.status) (safety \(summary.safety), liveness \(summary.liveness))" : summary.text())
        if !quiet { print("output    \(dir)/summary.json, summary.md\(noTrace ? "" : ", trace.jsonl")") }
        if report {
            let path = try invalidInput { try Reports.write(directory: dir, format: .html, byzantine: byzantineReplicas(scenario)) }
            print("report    \(path)")
        }
        if checkDeterminism {
            try compareWithFreshProcess(scenario: scenario, hash: outcome.simulation.traceHash.hex)
        }
        switch outcome.simulation.stoppedBecause {
        case .eventBudget:
            print("stopped: budget exhausted: \(eventsMax) events (--events-max) processed by \(ScenarioLoader.formatDuration(outcome.simulation.endTime)) of simulated time; a message or timer storm (verdicts cover the run so far)")
            throw ExitCode(RunStatus.budgetExhausted.rawValue)
        case .stopCondition:
            break
        case .memoryBudget:
            print("stopped: budget exhausted: resident memory passed \(memoryMax) MiB (--memory-max) at \(ScenarioLoader.formatDuration(outcome.simulation.endTime)) of simulated time; the run is too large for this budget (verdicts cover the run so far)")
            throw ExitCode(RunStatus.budgetExhausted.rawValue)
        default:
            break
        }
        if outcome.status != .asExpected {
            if quiet { print("replay: \(summary.replay)") }
            throw ExitCode(outcome.status.rawValue)
        }
    }

    /// Runs `bftsim run FILE --seed S --print-trace-hash` as a child process and compares hashes.
    func compareWithFreshProcess(scenario: Scenario, hash: String) throws {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["run", file, "--seed", String(scenario.seed), "--print-trace-hash"] + (mutant.map { ["--mutant", $0.rawValue] } ?? [])
            + ["--events-max", String(eventsMax), "--memory-max", String(memoryMax)]
        let pipe = Pipe()
        p.standardOutput = pipe
        do { try p.run() } catch { throw fail("cannot start \(exe): \(error)", code: .internalError) }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("trace-hash ") }) else {
            throw fail("determinism check: the second process printed no trace hash", code: .internalError)
        }
        let other = String(line.dropFirst("trace-hash ".count))
        if other == hash {
            print("determinism: OK (two processes, trace hash \(hash.prefix(16)))")
        } else {
            throw fail("determinism check FAILED: trace hash \(hash) in this process, \(other) in a fresh one", code: .internalError)
        }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check scenario files; errors as file:line:column: message.")
    @Argument(help: "Scenario files.") var files: [String]

    func run() throws {
        var bad = 0
        for f in files {
            do {
                let s = try ScenarioLoader.load(path: f)
                try ScenarioRun.check(s)
                print("ok  \(f)  (\(s.name): \(s.protocolKind.rawValue), n=\(s.replicas), expect safety \(s.expect.safety.rawValue), liveness \(s.expect.liveness.rawValue))")
            } catch let errors as ScenarioErrors {
                bad += 1
                print("\(errors)")
            } catch {
                bad += 1
                print("\(f): \(error)")
            }
        }
        if bad > 0 { throw ExitCode(RunStatus.invalidInput.rawValue) }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure simulator and crypto throughput; prints JSON.")
    @Option(help: "Replica counts to measure.") var n: [Int] = [4, 16, 64]
    @Option(help: "Simulated seconds per configuration (n=4; larger n run proportionally shorter).") var seconds: Double = 5
    @Option(help: "Crypto schemes to measure (fast, blake2b, ed25519).") var crypto: [SignatureScheme] = [.fast, .ed25519]
    @Option(name: .customLong("protocol"), help: "Protocols to measure (pbft, hotstuff, hotstuff-two-chain).") var protocols: [ProtocolKind] = [.pbft, .hotstuff, .hotstuffTwoChain]
    @Flag(help: "Skip the message-complexity curves (n = 4, 7, 16, 31, 64).") var noComplexity = false
    @Option(help: "Run a scale configuration instead (repeatable): hotstuff-n256 (1,000 blocks), hotstuff-n1024 (100 blocks), pbft-1m (1,000,000 requests; RSS after 100,000 and at the end), hotstuff-n64. Prints time, events/s and peak RSS.")
    var scale: [ScaleBench.Config] = []
    func run() throws {
        if !scale.isEmpty {
            print(ScaleBench.run(scale))
            return
        }
        print(Benchmarks.run(replicaCounts: n, simSeconds: seconds, schemes: crypto, protocols: protocols, complexity: !noComplexity))
    }
}

/// The scenario's Byzantine replicas in the report's terms (summary.json does not record them).
func byzantineReplicas(_ scenario: Scenario) -> [ByzantineRecord] {
    scenario.byzantine.map(ByzantineRecord.init)
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a run directory (summary.json + trace.jsonl) or a fuzz campaign directory (campaign.json) as HTML, Markdown or JSON.",
        discussion: "Writes DIR/report.html by default. Bad input (missing directory, unreadable summary.json, a truncated trace line) exits 3 with file:line.")
    @Argument(help: "Run directory written by `bftsim run --out DIR`.") var directory: String
    @Option(help: "html, md or json.") var format: ReportFormat = .html
    @Option(help: "Output file (default: DIR/report.html, .md or .json; '-' for standard output).") var out: String?
    @Option(help: "Centre the space-time diagram at this simulated time (1.8s, 250ms, 40us, or ns) instead of the first violation.") var windowAt: String?
    @Option(help: "Campaign reports: overlay another campaign's coverage curve (e.g. random vs guided); repeatable.") var compare: [String] = []

    func run() throws {
        var at: Int64?
        if let windowAt {
            guard let t = parseDuration(windowAt) else {
                throw fail("--window-at: '\(windowAt)' is not a duration (try 1.8s, 250ms or 40us)", code: .invalidInput)
            }
            at = t
        }
        // Byzantine replicas come from the scenario file the summary names, when it can be read.
        var byzantine: [ByzantineRecord] = []
        if let run = try? RunDirectory(path: directory), let file = run.summary.file,
           let s = try? ScenarioLoader.load(path: file) {
            byzantine = byzantineReplicas(s)
        }
        try invalidInput {
            if out == "-" {
                print(try Reports.render(directory: directory, format: format, byzantine: byzantine, windowAt: at, compare: compare), terminator: "")
            } else {
                print("report    \(try Reports.write(directory: directory, format: format, to: out, byzantine: byzantine, windowAt: at, compare: compare))")
            }
        }
    }
}

extension ReportFormat: ExpressibleByArgument {}
extension SignatureScheme: ExpressibleByArgument {}
extension ProtocolKind: ExpressibleByArgument {}
extension ScaleBench.Config: ExpressibleByArgument {}

/// Custom entry so that usage errors exit with the documented "invalid input" code (3).
do {
    var command = try BFTSim.parseAsRoot()
    try command.run()
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    let code = BFTSim.exitCode(for: error)
    if code == .success { BFTSim.exit(withError: error) }
    FileHandle.standardError.write(Data((BFTSim.fullMessage(for: error) + "\n").utf8))
    exit(code == .success ? 0 : RunStatus.invalidInput.rawValue)
}
