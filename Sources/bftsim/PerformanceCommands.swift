import ArgumentParser
import Foundation
import Live
import Performance
import PerformanceModel
import Runner
import ScenarioFormat

/// `bftsim calibrate`: measures this machine's cost table and writes a profile file (issue 15).
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure CPU costs (codec, handlers, libsodium, loopback TCP) on this machine and write a cost profile.",
        discussion: "Use the profile as `costs: PATH` in a scenario or sweep spec. Other processes inflate the figures; run on a quiet machine.")
    @Option(help: "Profile file to write (YAML).") var out = "Scenarios/profiles/this-machine.yaml"
    @Option(help: "Machine description for the profile's header.") var machine = "\(ProcessInfo.processInfo.activeProcessorCount)-core \(ProcessInfo.processInfo.hostName)"
    @Flag(help: "Short measurements (seconds instead of a minute); noisier.") var quick = false

    func run() throws {
        var result = Calibration.measure(quick: quick)
        if let sync = measureSync(rounds: quick ? 20 : 200) {
            result.table.sync = sync.wall
            result.table.syncCPU = sync.cpu
            result.notes.append("sync: the live DurableStore's put + sync (write + fdatasync) of a 100-byte value, median, in a temporary directory")
            result.notes.append("sync_cpu: process CPU (user + system) per put + sync of the same loop")
        }
        if let transport = TransportCalibration.measure(roundTrips: quick ? 2_000 : 20_000) {
            // The live transport's CPU per message replaces the kernel-only figure (issue 15 validation).
            result.table.send = transport.cpuPerMessagePipelined
            result.table.wakeup = max(0, transport.cpuPerMessage - transport.cpuPerMessagePipelined)
            result.notes = result.notes.filter { !$0.hasPrefix("send:") }
            result.notes.append("send: process CPU per message between two NIO event loops over loopback TCP, live framing, 256-byte frames, in bursts of \(TransportCalibration.burst) per flush (receiver awake)")
            result.notes.append("wakeup: a ping-pong's CPU per message (every message wakes its receiver) less send")
            result.notes.append("loopback one-way latency (half the median round trip of that ping-pong): \(Double(transport.oneWay) / 1000) µs; use it as `latency` when predicting a cluster on this machine")
        }
        if let handoff = TransportCalibration.measureHandoff(rounds: quick ? 2_000 : 20_000) {
            result.table.handoff = handoff.cpuPerRoundTrip
            result.notes.append("handoff: process CPU per round trip event loop → NIOThreadPool thread → loop (the live host's verification and IO hand-offs), both threads asleep in between; median wall \(Double(handoff.roundTrip) / 1000) µs")
        }
        let text = Calibration.profileText(result, machine: machine)
        do {
            try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent.isEmpty ? "." : (out as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: out, atomically: true, encoding: .utf8)
        } catch {
            throw fail("cannot write \(out): \(error)", code: .internalError)
        }
        print(text, terminator: "")
        print("output    \(out)")
    }
}

/// Median wall time of one put + sync of the live durable store (persist before send), and the
/// process CPU per put + sync (mean), in picoseconds.
func measureSync(rounds: Int) -> (wall: Picoseconds, cpu: Picoseconds)? {
    let dir = NSTemporaryDirectory() + "bftsim-calibrate-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil,
          let store = try? DurableStore(directory: dir) else { return nil }
    var times: [UInt64] = []
    let cpu0 = TransportCalibration.processCPUNanos()
    for i in 0..<rounds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        store.put("vote", [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 100))
        guard (try? store.sync()) != nil else { return nil }
        times.append(DispatchTime.now().uptimeNanoseconds - t0)
    }
    let cpu = Picoseconds(TransportCalibration.processCPUNanos() - cpu0) * 1000 / Picoseconds(rounds)
    return (Picoseconds(times.sorted()[times.count / 2]) * 1000, cpu)
}

/// `bftsim sweep SPEC`: a grid of costed simulated runs (default), and `merge` of shard outputs.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a performance grid (protocol × n × batch × clients × latency × bandwidth); fit USL and a queueing model.",
        discussion: "Writes OUT/sweep.json, sweep.csv and report.html. Shard a large grid with --shard K/N and join with `bftsim sweep merge`.",
        subcommands: [SweepRun.self, SweepMerge.self],
        defaultSubcommand: SweepRun.self)
}

struct SweepRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a sweep spec (the default).")
    @Argument(help: "Sweep spec file (YAML).") var spec: String
    @Option(help: "Output directory (default: out/sweep-<name>).") var out: String?
    @Option(help: "Points run in parallel.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Run shard K of N (points whose index is K mod N), e.g. 0/4.") var shard: ShardArgument?
    @Flag(help: "Also run every point as a real cluster on this machine (bftsim keygen, cluster up, client) and compare.") var live = false
    @Option(help: "Live mode: seconds of load per point.") var liveSeconds = 5.0
    @Option(help: "Live mode: clusters per point (a fresh one each time); the row takes the median of each figure.") var liveRepeat = 1
    @Option(help: "Live mode: keep each point's cluster (keys, data, logs) under this directory instead of a temporary one.") var keepLive: String?
    @Option(help: "Take the live rows from an earlier sweep.json of the same spec instead of running clusters (re-predict after a new calibration).") var liveFrom: String?

    func run() throws {
        let sweepSpec: SweepSpec
        do { sweepSpec = try SweepSpec.load(path: spec) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(RunStatus.invalidInput.rawValue)
        }
        if live {
            // Live clusters (`bftsim keygen`, `cluster up`) sign with Ed25519 only: comparing them against
            // simulated points charged as another scheme would validate nothing.
            let charged = sweepSpec.costs?.scheme ?? sweepSpec.base.crypto
            guard charged == .ed25519 else {
                throw fail("\(spec): --live runs real clusters, which sign with Ed25519; this spec's points are charged as '\(charged.rawValue)': set 'crypto: ed25519' (or 'cost_scheme: ed25519')", code: .invalidInput)
            }
        }
        let pair = shard.map { (index: $0.index, count: $0.count) } ?? (index: 0, count: 1)
        let dir = out ?? "out/sweep-\(sweepSpec.name)" + (shard.map { "-shard\($0.index)of\($0.count)" } ?? "")
        let total = Sweep.points(sweepSpec, shard: pair).count
        FileHandle.standardError.write(Data("sweep     \(sweepSpec.name): \(total) points on \(jobs) threads\n".utf8))
        var result = Sweep.run(sweepSpec, shard: pair, jobs: jobs) { done, total, seconds in
            let rate = Double(done) / max(seconds, 1e-9)
            let eta = Double(total - done) / max(rate, 1e-9)
            FileHandle.standardError.write(Data(String(format: "\rpoints    %d/%d  %.2f points/s  ETA %.0fs   ", done, total, rate, eta).utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        if let liveFrom {
            do {
                let earlier = try Sweep.read(liveFrom)
                let indices = Set(result.rows.map(\.index))
                result.live = (earlier.live ?? []).filter { indices.contains($0.index) }
                result.notes.append("live rows taken from \(liveFrom)")
            } catch { throw fail("cannot read \(liveFrom): \(error)", code: .invalidInput) }
        } else if live {
            result.live = LiveSweep.run(sweepSpec, points: Sweep.points(sweepSpec, shard: pair), seconds: liveSeconds, repeats: liveRepeat, keep: keepLive)
        }
        do { try Sweep.write(result, to: dir) } catch { throw fail("cannot write \(dir): \(error)", code: .internalError) }
        printSweep(result, dir: dir)
    }
}

struct SweepMerge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge", abstract: "Merge sweep shard outputs into one sweep directory.")
    @Argument(help: "Shard sweep directories (each with sweep.json).") var directories: [String]
    @Option(help: "Merged sweep directory.") var out = "out/sweep-merged"
    func run() throws {
        let merged = try invalidInput {
            let merged = try Sweep.merge(directories.map { try Sweep.read($0) })
            try Sweep.write(merged, to: out)
            return merged
        }
        printSweep(merged, dir: out)
    }
}

func printSweep(_ r: SweepResult, dir: String) {
    print("sweep     \(r.name): \(r.rows.count) of \(r.pointsTotal) points\(r.shard.map { " (shard \($0))" } ?? "")")
    for fit in r.fits where fit.usl != nil || fit.queueing != nil {
        var line = "fit       \(fit.series) vs \(fit.axis):"
        if let u = fit.usl {
            line += String(format: " USL λ=%.1f σ=%.4f κ=%.2e R²=%.3f", u.lambda, u.sigma, u.kappa, u.rSquared)
            line += u.peak.map { String(format: " N*=%.1f", $0) } ?? ""
        }
        if let q = fit.queueing {
            line += String(format: "; MVA saturation %.0f req/s", q.saturationThroughput)
            line += fit.queueingThroughputError.map { String(format: ", throughput error %.0f%%", $0 * 100) } ?? ""
            line += fit.queueingLatencyError.map { String(format: ", latency error %.0f%%", $0 * 100) } ?? ""
        }
        print(line)
    }
    print("output    \(dir)/sweep.json, sweep.csv, report.html")
}

/// `bftsim tune SCENARIO`: Bayesian optimisation (or a grid) of protocol parameters (issue 18).
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Find the protocol parameters that maximise throughput or minimise latency on a scenario (Bayesian optimisation, or --grid).",
        discussion: """
            Parameters: \(TuneParameter.Name.allCases.map(\.rawValue).joined(separator: ", ")).
            Examples: --param batch_size_max=1..512 --param batch_delay_max=0ms..20ms --param view_change_timeout=50ms..5s --param protocol=pbft,hotstuff
            Objective: throughput, p50, p99, or a weighted mix such as throughput:1,p99:0.5 (throughput / p99^0.5), with --constraint p99<=200ms.
            Writes OUT/tune.json, report.html and best.yaml; prints the best configuration as a scenario snippet.
            """)
    @Argument(help: "Scenario file (YAML) to tune; its seed is the first simulation seed.") var scenario: String
    @Option(name: .customLong("param"), help: "NAME=LOW..HIGH (durations with units) or protocol=A,B,...; repeat per parameter.") var params: [String] = []
    @Option(help: "throughput, p50, p99, or a weighted mix metric:weight,...") var objective = "throughput"
    @Option(name: .customLong("constraint"), help: "METRIC<=BOUND or METRIC>=BOUND, e.g. p99<=200ms; repeatable.") var constraints: [String] = []
    @Option(help: "Simulations (points × seeds) at most.") var budget = 40
    @Option(help: "Optimiser seed.") var seed: UInt64 = 1
    @Option(help: "Simulation seeds per point (the scenario's seed, +1, ...).") var seeds = 2
    @Option(help: "Simulations run in parallel.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Points per Bayesian round (fixed, so the result does not depend on --jobs); batch × seeds simulations run at once.") var batch = 2
    @Flag(help: "Evaluate the full grid instead (the reference).") var grid = false
    @Option(help: "Grid: values per numeric parameter.") var levels = 6
    @Option(help: "A reference tune.json (normally from --grid) to compare the best value and simulations against.") var reference: String?
    @Option(help: "Output directory (default: out/tune-<scenario>).") var out: String?

    func run() throws {
        let base = try loadScenario(scenario, seed: nil)
        let options = try invalidInput {
            let options = Tune.Options(parameters: try params.map { p throws(TuneError) in try TuneParameter.parse(p) },
                                       objective: try TuneObjective.parse(objective, constraints: constraints), budget: budget,
                                       seed: seed, seedsPerPoint: seeds, jobs: max(1, jobs), grid: grid, levels: levels, batch: batch)
            try Tune.validate(options)
            return options
        }
        var ref: TuneResult? = nil
        if let reference {
            do { ref = try Tune.read(reference) } catch { throw fail("--reference \(reference): cannot read: \(error)", code: .invalidInput) }
        }
        let planned = grid ? Tune.gridPoints(options).count * seeds : budget
        FileHandle.standardError.write(Data("tune      \(base.name): \(grid ? "grid" : "Bayesian optimisation"), \(planned) simulations on \(options.jobs) threads\n".utf8))
        let start = DispatchTime.now().uptimeNanoseconds
        var result = Tune.run(base, options) { done, total, best in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let eta = done > 0 ? seconds / Double(done) * Double(total - done) : 0
            let bestText = best.map { SweepReportLabel.text($0) } ?? "–"
            FileHandle.standardError.write(Data(String(format: "\rsims      %d/%d  best %@  %.0fs elapsed, ETA %.0fs   ", done, total, bestText, seconds, eta).utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        if let ref, let b = ref.best {
            result.referenceBestValue = ref.evaluations[b].value
            result.referenceSimulations = ref.simulations
        }
        let dir = out ?? "out/tune-\(base.name)"
        do { try Tune.write(result, to: dir) } catch { throw fail("cannot write \(dir): \(error)", code: .internalError) }
        print(result.snippet, terminator: "")
        if let b = result.best {
            print(String(format: "best      #%d of %d after %d simulations: %@", b, result.evaluations.count, result.evaluations[b].simulations,
                         result.evaluations[b].settings.joined(separator: " ")))
        }
        if let ratio = result.ratioToReference {
            print(String(format: "reference %.1f%% of the reference best, with %d of its %d simulations", ratio * 100, result.simulations, result.referenceSimulations ?? 0))
        }
        print("output    \(dir)/tune.json, report.html, best.yaml")
    }
}

enum SweepReportLabel {
    static func text(_ v: Double) -> String { v >= 1e5 ? String(format: "%.3g", v) : String(format: "%.1f", v) }
}
