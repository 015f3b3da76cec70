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
            result.table.sync = sync
            result.notes.append("sync: the live DurableStore's put + sync (write + fdatasync) of a 100-byte value, median, in a temporary directory")
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

/// Median wall time of one put + sync of the live durable store (persist before send), in picoseconds.
func measureSync(rounds: Int) -> Picoseconds? {
    let dir = NSTemporaryDirectory() + "bftsim-calibrate-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil,
          let store = try? DurableStore(directory: dir) else { return nil }
    var times: [UInt64] = []
    for i in 0..<rounds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        store.put("vote", [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 100))
        guard (try? store.sync()) != nil else { return nil }
        times.append(DispatchTime.now().uptimeNanoseconds - t0)
    }
    return Picoseconds(times.sorted()[times.count / 2]) * 1000
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
    @Option(help: "Live mode: keep each point's cluster (keys, data, logs) under this directory instead of a temporary one.") var keepLive: String?
    @Option(help: "Take the live rows from an earlier sweep.json of the same spec instead of running clusters (re-predict after a new calibration).") var liveFrom: String?

    func run() throws {
        let sweepSpec: SweepSpec
        do { sweepSpec = try SweepSpec.load(path: spec) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(RunStatus.invalidInput.rawValue)
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
            result.live = LiveSweep.run(sweepSpec, points: Sweep.points(sweepSpec, shard: pair), seconds: liveSeconds, keep: keepLive)
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
        do {
            let merged = try Sweep.merge(directories.map { try Sweep.read($0) })
            try Sweep.write(merged, to: out)
            printSweep(merged, dir: out)
        } catch {
            throw fail("\(error)", code: .invalidInput)
        }
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
