import BFTCore
import Foundation
import PerformanceModel
import Reporting
import Runner
import ScenarioFormat
import Simulation

/// `bftsim sweep`: runs a grid of simulated points in parallel and writes sweep.json, sweep.csv and
/// report.html (issue 15). The output is a function of the spec alone: rows are kept in index order
/// whatever the thread count, and no wall time is written.
public enum Sweep {
    /// Progress after each finished point: (done, total, wall seconds so far).
    public typealias Progress = @Sendable (Int, Int, Double) -> Void

    /// The points this shard runs (index ≡ shard.index mod shard.count).
    public static func points(_ spec: SweepSpec, shard: (index: Int, count: Int)) -> [SweepSpec.Point] {
        spec.points.filter { $0.index % shard.count == shard.index }
    }

    /// Runs one point's scenario and measures it.
    public static func measure(_ spec: SweepSpec, _ point: SweepSpec.Point) -> SweepRow {
        let scenario = spec.scenario(point)
        var row = SweepRow(index: point.index, protocolName: point.protocolKind.rawValue, n: point.n, batch: point.batch,
                           clients: point.clients, latencyNs: point.latency, bandwidth: point.bandwidth ?? 0)
        let outcome: RunOutcome
        do {
            outcome = try ScenarioRun.execute(scenario, trace: .off, eventsMax: 50_000_000)
        } catch {
            row.status = "error: \(error)"
            return row
        }
        fill(&row, outcome)
        return row
    }

    static func fill(_ row: inout SweepRow, _ o: RunOutcome) {
        let seconds = Double(o.simulation.endTime) / 1e9
        let completed = o.checks.completedRequests
        row.completed = completed
        row.throughput = seconds > 0 ? Double(completed) / seconds : 0
        let latencies = o.checks.latencies.sorted()
        if !o.checks.latency.isComplete {
            row.latencyP50Ns = o.checks.latency.histogramPercentile(50)
            row.latencyP99Ns = o.checks.latency.histogramPercentile(99)
        } else if !latencies.isEmpty {
            row.latencyP50Ns = latencies[latencies.count / 2]
            row.latencyP99Ns = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        }
        let decisions = max(1, o.checks.committedBatches)
        row.messagesPerDecision = Double(o.simulation.messagesSent) / Double(decisions)
        row.bytesPerDecision = Double(o.simulation.bytesSent) / Double(decisions)
        row.utilisationMax = o.simulation.utilisationMax
        // Service demands: seconds of a host's CPU or link per completed request.
        func perRequest(_ busy: Nanoseconds) -> Double { completed > 0 ? Double(busy) / 1e9 / Double(completed) : 0 }
        row.demandsPerRequest = o.simulation.hosts.map { perRequest($0.busy) }
        row.cores = o.simulation.hosts.map(\.cores)
        if o.simulation.hosts.contains(where: { $0.linkBusy > 0 }) {
            row.linkDemandsPerRequest = o.simulation.hosts.map { perRequest($0.linkBusy) }
        }
        row.status = o.status == .asExpected ? "ok" : o.status.label
    }

    /// Runs the shard's points on `jobs` threads; `progress` hears after each point.
    public static func run(_ spec: SweepSpec, shard: (index: Int, count: Int) = (0, 1), jobs: Int,
                           progress: Progress? = nil) -> SweepResult {
        let mine = points(spec, shard: shard)
        let start = DispatchTime.now().uptimeNanoseconds
        let counter = Counter()
        let rows = parallelMap(mine.count, jobs: jobs) { i in
            let row = measure(spec, mine[i])
            let done = counter.increment()
            progress?(done, mine.count, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            return row
        }
        var result = SweepResult(name: spec.name, pointsTotal: spec.points.count, rows: rows)
        if shard.count > 1 { result.shard = "\(shard.index)/\(shard.count)" } else { result.fits = SweepResult.fits(for: rows) }
        result.notes = notes(spec)
        return result
    }

    static func notes(_ spec: SweepSpec) -> [String] {
        var notes = ["closed-loop clients with no think time; each point runs \(ScenarioLoader.formatDuration(spec.duration)) of simulated time",
                     "hosts: \(spec.placement.rawValue), \(spec.cores) core(s) each"
                        + (spec.placement == .separate && spec.clientHosts > 1 ? "; clients spread over \(spec.clientHosts) hosts" : "")]
        if spec.costs == nil && spec.base.costs == nil { notes.append("no cost table: handling is free, so throughput is bounded only by latency and batching") }
        return notes
    }

    /// Merges shard results (each a `sweep.json`) into the whole sweep, with fits.
    public static func merge(_ parts: [SweepResult]) throws -> SweepResult {
        guard let first = parts.first else { throw SweepError("nothing to merge") }
        guard parts.allSatisfy({ $0.name == first.name && $0.pointsTotal == first.pointsTotal }) else {
            throw SweepError("the shards come from different sweeps (name or grid size differ)")
        }
        var byIndex: [Int: SweepRow] = [:]
        for r in parts.flatMap(\.rows) {
            if byIndex[r.index] != nil { throw SweepError("point \(r.index) appears in two shards") }
            byIndex[r.index] = r
        }
        let rows = byIndex.keys.sorted().map { byIndex[$0]! }
        let live = parts.flatMap { $0.live ?? [] }.sorted { $0.index < $1.index }
        var merged = SweepResult(name: first.name, pointsTotal: first.pointsTotal, rows: rows)
        merged.fits = SweepResult.fits(for: rows)
        merged.live = live.isEmpty ? nil : live
        merged.notes = first.notes
        if rows.count < first.pointsTotal { merged.notes.append("incomplete: \(rows.count) of \(first.pointsTotal) points") }
        return merged
    }

    /// Writes sweep.json, sweep.csv and report.html into `directory`.
    public static func write(_ result: SweepResult, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = URL(fileURLWithPath: directory)
        try result.json().write(to: url.appendingPathComponent("sweep.json"))
        try Data(result.csv.utf8).write(to: url.appendingPathComponent("sweep.csv"))
        try Data(SweepReport.html(result).utf8).write(to: url.appendingPathComponent("report.html"))
    }

    public static func read(_ directory: String) throws -> SweepResult {
        let path = directory.hasSuffix(".json") ? directory : directory + "/sweep.json"
        return try JSONDecoder().decode(SweepResult.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

public struct SweepError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}

