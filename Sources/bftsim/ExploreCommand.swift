import ArgumentParser
import BFTCore
import Explore
import Foundation
import Fuzzing
import Runner
import ScenarioFormat

/// Set by SIGINT; the explorer polls it (`Explorer.shouldStop`) and stops at the next check.
nonisolated(unsafe) private var exploreInterrupted: sig_atomic_t = 0

/// `bftsim explore`: bounded exhaustive exploration of the real replicas (issue 17).
struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Explore every schedule of a small scenario up to a depth bound and check safety at every state.",
        discussion: """
        A state is every replica and client (the real state machines), the messages in flight, the armed \
        timers and the fault budgets left. A transition delivers one message, drops one (--drops), fires \
        one armed timer (--timeouts) or crashes and restarts a replica from its synced storage (--restarts). Visited states are pruned (state caching) and sleep sets skip \
        reorderings of independent deliveries (partial-order reduction). The ordinary checkers judge the \
        observations of every path. On a violation the path is written to OUT/violation.yaml as a scenario \
        with an explicit `schedule:` that `bftsim run` replays, then shrunk to OUT/violation.min.yaml. \
        SIGINT or --max-seconds stops the search and writes the unexplored frontier to OUT/frontier.txt \
        (continue with --resume). With --liveness, a path that ends in a drop or restart is also run on \
        through the simulator from a final `gst` step (faults stop, network and timers as usual): every \
        request must then complete. Exit codes: 0 no violation within the bound, 1 safety violation, \
        2 liveness violation, 3 invalid input, 6 stopped before the bound was exhausted.
        """)

    @Argument(help: "Scenario file (YAML or JSON); keep it small: n=4, one client, one request, crypto: fast.") var file: String
    @Option(help: "Most transitions on a path.") var depth: Int
    @Option(help: "Test-only protocol mutant to explore instead of the honest protocol.") var mutant: TestMutant?
    @Flag(help: "Breadth-first search (shortest first violation; more memory) instead of depth-first.") var bfs = false
    @Option(help: "Messages the adversary may drop on a path.") var drops = 0
    @Option(help: "Only messages of these types may be dropped (comma-separated, e.g. NEW-VIEW,REQUEST; default: any); TYPE:K allows at most K drops of that type per path (e.g. REQUEST:1).",
            transform: { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
    var dropTypes: [String]?
    @Option(help: "Timer firings allowed on a path (timeouts, client retransmissions).") var timeouts = 1
    @Option(help: "Delay bounding: follow the default schedule (FIFO deliveries, timers when the network is idle) and deviate at most this many times per path; reaches view changes and checkpoints. Timer firings are then not limited by --timeouts; POR is off.") var delays: Int?
    @Flag(help: "Liveness (exit 2 on failure): (1) some schedule within the bound must complete every request, confirmed with the simulator's checker on the scenario as written; (2) after every drop or restart the path ends in `gst` and the simulator runs on with its network model: every request must complete once the faults stop.") var liveness = false
    @Flag(help: "As --liveness, but after a fault every request must complete within the scenario's liveness bound of GST (late counts as a violation).") var livenessBound = false
    @Option(help: "Crash-restarts allowed on a path (a replica loses its unsynced writes and recovers from what it synced).") var restarts = 0
    @Flag(help: "Turn partial-order reduction (sleep sets) off.") var noPor = false
    @Flag(help: "Turn state caching off (the full search tree; tiny bounds only).") var noHashing = false
    @Flag(help: "Identify replicas by their input history instead of their protocol state hash (merges less).") var historyHash = false
    @Option(help: "Stop after this many distinct states.") var statesMax: Int?
    @Option(help: "Stop after this many wall-clock seconds (the frontier is saved).") var maxSeconds: Double?
    @Option(help: "Continue from a frontier file written by an interrupted run (paths re-explored with a fresh visited set).") var resume: String?
    @Flag(help: "Do not shrink the violating schedule.") var noShrink = false
    @Flag(help: "Keep exploring after a violation (up to 16).") var all = false
    @Option(help: "Output directory (default: out/explore/<scenario name>).") var out: String?
    @Flag(help: "No progress lines.") var quiet = false

    func run() throws {
        let scenario = try loadScenario(file, seed: nil)
        let driver = try invalidInput { try TestMutant.driver(mutant, for: scenario.protocolKind) }
        var options = ExploreOptions(depth: depth)
        options.breadthFirst = bfs
        options.drops = drops
        options.dropTypes = dropTypes
        options.timeouts = timeouts
        guard restarts >= 0 else { throw fail("--restarts must be at least 0", code: .invalidInput) }
        options.restarts = restarts
        options.delays = delays
        options.partialOrderReduction = !noPor
        options.stateHashing = !noHashing
        options.protocolFingerprints = !historyHash
        options.statesMax = statesMax
        options.continueAfterViolation = all
        let liveness = self.liveness || livenessBound
        options.livenessAfterFaults = livenessBound ? .withinBound : (liveness ? .recovers : nil)
        let explorer: Explorer
        do { explorer = try Explorer(scenario: scenario, driver: driver, options: options) } catch { throw fail("\(file): \(error)", code: .invalidInput) }
        var roots: [[ScheduleStep]]?
        if let resume {
            do { roots = try FrontierFile.read(resume, replicas: scenario.replicas) } catch { throw fail("\(resume): \(error)", code: .invalidInput) }
        }

        // Wall clock for the progress line and --max-seconds only: the search itself never reads it.
        let started = Date()
        signal(SIGINT) { _ in exploreInterrupted = 1 }
        explorer.shouldStop = {
            if exploreInterrupted != 0 { return true }
            if let maxSeconds { return Date().timeIntervalSince(started) >= maxSeconds }
            return false
        }
        if !quiet {
            explorer.progress = { s in
                let seconds = max(Date().timeIntervalSince(started), 1e-9)
                let line = String(format: "explore: %d states  %.0f states/s  %d transitions  frontier %d  depth %d  hits %d  sleep-pruned %d\n",
                                  s.states, Double(s.states) / seconds, s.transitions, s.frontier, s.depthReached, s.hashHits, s.sleepPruned)
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        let result = explorer.run(resumeFrom: roots)
        let seconds = max(Date().timeIntervalSince(started), 1e-9)
        signal(SIGINT, SIG_DFL)

        let s = result.stats
        let dir = out ?? "out/explore/\(scenario.name)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        print("explore   \(scenario.name) (\(scenario.protocolKind.rawValue), n=\(scenario.replicas)\(mutant.map { ", mutant \($0.rawValue)" } ?? ""))")
        print("bound     depth \(depth), drops \(drops)\(dropTypes.map { " (\($0.joined(separator: ",")))" } ?? ""), \(delays.map { "delays \($0) (timer firings unbounded)" } ?? "timeouts \(timeouts)"), restarts \(restarts), \(bfs ? "BFS" : "DFS"), POR \(noPor || delays != nil ? "off" : "sleep sets"), hashing \(noHashing ? "off" : fingerprintMode(explorer))")
        print(String(format: "states    %d distinct, %d transitions, depth reached %d, %.2fs, %.0f states/s, %.0f transitions/s",
                     s.states, s.transitions, s.depthReached, seconds, Double(s.states) / seconds, Double(s.transitions) / seconds))
        print(String(format: "pruning   hash hits %d (%.1f%% of generated), sleep-pruned %d (%.1f%% of transitions), quiescent %d, at bound %d, checks %d",
                     s.hashHits, 100 * s.hashHitRatio, s.sleepPruned, 100 * s.porPruningRatio, s.quiescent, s.atBound, s.checks)
              + (delays != nil ? ", over the delay bound \(s.delayPruned)" : "")
              + (liveness ? ", liveness-after-fault runs \(s.livenessChecks)" : ""))
        if result.requestsTotal > 0 {
            if let w = result.completionWitness {
                print("liveness  some schedule completes all \(result.requestsTotal) request(s) within the bound (witness: \(w.count) steps)")
            } else {
                print("liveness  no schedule within the bound completes all \(result.requestsTotal) request(s)")
            }
        }
        print("stopped   \(result.stop.rawValue)")
        if !result.frontier.isEmpty, result.stop == .interrupted || result.stop == .statesMax {
            let path = dir + "/frontier.txt"
            do {
                try FrontierFile.write(result.frontier, replicas: scenario.replicas, to: path)
                print("frontier  \(result.frontier.count) unexplored states saved to \(path) (continue with --resume \(path))")
            } catch { print("frontier  \(result.frontier.count) unexplored states (could not write \(path): \(error))") }
        }
        if liveness, result.violations.isEmpty, result.stop == .exhausted, result.requestsTotal > 0, result.completionWitness == nil {
            // The issue's bounded liveness check: no schedule of the bound commits. The scenario as written,
            // run by the simulator (its network model, open-ended in time), is the replay.
            let replayed = ExploreReplay.livenessReplay(scenario, driver: driver)
            let replay = "bftsim run \(file)" + (mutant.map { " --mutant \($0.rawValue)" } ?? "")
            print("LIVENESS  no schedule within the bound (depth \(depth)\(delays.map { ", \($0) delays" } ?? "")) completes all \(result.requestsTotal) request(s)")
            print("replay    \(replay): \(replayed ?? "every request completes in the simulator (the bound may be too small)")")
            throw ExitCode(RunStatus.livenessViolation.rawValue)
        }
        guard let first = result.violations.first else {
            if result.stop == .exhausted {
                print("verdict   no safety violation within the bound"
                      + (liveness ? "; every request completes \(livenessBound ? "within the liveness bound of" : "after") GST on all \(s.livenessChecks) faulted path(s)" : ""))
            }
            if result.stop != .exhausted { throw ExitCode(RunStatus.budgetExhausted.rawValue) }
            return
        }
        print("VIOLATION \(first.violation) after \(first.steps.count) steps (\(result.violations.count) found)")
        let found = ExploreReplay.scenario(scenario, steps: first.steps)
        let replay = "bftsim run \(dir)/violation.yaml" + (mutant.map { " --mutant \($0.rawValue)" } ?? "")
        var header = ["found by: bftsim explore \(file) --depth \(depth)" + (mutant.map { " --mutant \($0.rawValue)" } ?? "")
                      + (drops > 0 ? " --drops \(drops)" : "") + (dropTypes.map { " --drop-types \($0.joined(separator: ","))" } ?? "") + (delays.map { " --delays \($0)" } ?? " --timeouts \(timeouts)")
                      + (restarts > 0 ? " --restarts \(restarts)" : "") + (bfs ? " --bfs" : "") + (livenessBound ? " --liveness-bound" : liveness ? " --liveness" : ""),
                      "violation: \(first.violation)", "replay: \(replay)"]
        if let mutant { header.append("test-only mutant: \(mutant.rawValue) (replay needs --mutant \(mutant.rawValue))") }
        let kind = first.violation.kind
        let replayed = ExploreReplay.violation(found, driver: driver, kind: kind, withinBound: livenessBound)
        write(found, header: header, to: dir + "/violation.yaml")
        print("path      \(dir)/violation.yaml (\(first.steps.count) steps; simulator replay: \(replayed.map { "\($0.kind.rawValue) reproduced" } ?? "NOT reproduced"))")
        if !noShrink, let replayed {
            let (small, runs) = ExploreReplay.shrink(found, driver: driver, kind: replayed.kind, withinBound: livenessBound)
            let minReplay = "bftsim run \(dir)/violation.min.yaml" + (mutant.map { " --mutant \($0.rawValue)" } ?? "")
            write(small, header: header.dropLast(mutant == nil ? 1 : 2) + ["shrunk from \(first.steps.count) to \(small.schedule?.count ?? 0) steps", "replay: \(minReplay)"]
                  + (mutant.map { ["test-only mutant: \($0.rawValue) (replay needs --mutant \($0.rawValue))"] } ?? []),
                  to: dir + "/violation.min.yaml")
            print("shrunk    \(dir)/violation.min.yaml (\(small.schedule?.count ?? 0) steps, \(runs) simulator runs)")
        }
        print("replay    \(replay)")
        throw ExitCode((kind.isSafety ? RunStatus.safetyViolation : RunStatus.livenessViolation).rawValue)
    }

    /// How machines are identified: by protocol-state hash (replicas that have one) or input history.
    private func fingerprintMode(_ explorer: Explorer) -> String {
        let flags = explorer.fingerprintedMachines
        let replicas = flags.prefix(explorer.scenario.replicas)
        let hashed = replicas.enumerated().filter { $0.element }.map { "r\($0.offset)" }
        if hashed.count == replicas.count { return "protocol state (replicas), input history (clients)" }
        if hashed.isEmpty { return "input histories (no protocol fingerprint for these machines)" }
        return "protocol state (\(hashed.joined(separator: ","))), input history (others)"
    }

    private func write(_ scenario: Scenario, header: [String], to path: String) {
        let text = header.map { "# \($0)" }.joined(separator: "\n") + "\n" + ScenarioLoader.encodeYAML(scenario)
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// The unexplored frontier of an interrupted exploration: one path per line, steps separated by `; `.
enum FrontierFile {
    static func write(_ paths: [[ScheduleStep]], replicas n: Int, to path: String) throws {
        let text = paths.map { $0.isEmpty ? "(start)" : $0.map { $0.text(replicas: n) }.joined(separator: "; ") }.joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func read(_ path: String, replicas n: Int) throws -> [[ScheduleStep]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out: [[ScheduleStep]] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed == "(start)" {
                out.append([])
                continue
            }
            var steps: [ScheduleStep] = []
            for part in trimmed.split(separator: ";") {
                switch ScheduleStep.parse(part.trimmingCharacters(in: .whitespaces), replicas: n) {
                case .success(let step): steps.append(step)
                case .failure(let e): throw ValidationError("line \(i + 1): \(e.message)")
                }
            }
            out.append(steps)
        }
        return out
    }
}
