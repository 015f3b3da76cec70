import Foundation
import Live
import PerformanceModel
import ScenarioFormat

/// `bftsim sweep SPEC --live`: the same points as real clusters on this machine, driven the way
/// scripts/chaos.sh drives one: `bftsim keygen`, `cluster up`, `client` (closed loop, one outstanding
/// request per client), `cluster down`. Rows carry wall-clock throughput and latency (issue 15).
///
/// A live cluster runs on loopback: the spec's latency and bandwidth are not applied to it, so compare
/// against sweeps whose latency is loopback-like (tens of microseconds) and bandwidth unlimited.
/// Clusters (keys, data, logs) live in a temporary directory removed after each point unless `keep`;
/// only the measured rows are kept.
enum LiveSweep {
    static func run(_ spec: SweepSpec, points: [SweepSpec.Point], seconds: Double, repeats: Int = 1, keep: String?) -> [SweepRow] {
        let directory = keep ?? NSTemporaryDirectory() + "bftsim-sweep-live-\(getpid())"
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: directory) } }
        var rows: [SweepRow] = []
        for (k, p) in points.enumerated() {
            FileHandle.standardError.write(Data("live      point \(p.index) (\(k + 1)/\(points.count)): \(p.protocolKind.rawValue) n=\(p.n) b=\(p.batch) c=\(p.clients)\n".utf8))
            let runs = (0..<max(1, repeats)).map { _ in measure(p, seconds: seconds, directory: "\(directory)/p\(p.index)") }
            rows.append(median(runs))
            if keep == nil { try? FileManager.default.removeItem(atPath: "\(directory)/p\(p.index)") }
        }
        return rows
    }

    /// One row from repeated clusters of a point: the median of each figure over the runs that worked
    /// (a loaded two-core machine varies by ±15 % from one cluster to the next), or the first failure.
    static func median(_ runs: [SweepRow]) -> SweepRow {
        let ok = runs.filter { $0.status == "ok" }
        guard var row = ok.first else { return runs[0] }
        func mid<T: Comparable>(_ values: [T]) -> T { values.sorted()[values.count / 2] }
        row.throughput = mid(ok.map(\.throughput))
        row.latencyP50Ns = mid(ok.map(\.latencyP50Ns))
        row.latencyP99Ns = mid(ok.map(\.latencyP99Ns))
        row.completed = mid(ok.map(\.completed))
        return row
    }

    @discardableResult
    static func bftsim(_ arguments: [String], log: String) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: selfExecutable())
        process.arguments = arguments
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        try? handle?.close()
        return process.terminationStatus
    }

    static func measure(_ p: SweepSpec.Point, seconds: Double, directory: String) -> SweepRow {
        var row = SweepRow(index: p.index, protocolName: p.protocolKind.rawValue, n: p.n, batch: p.batch, clients: p.clients,
                           latencyNs: p.latency, bandwidth: p.bandwidth ?? 0, source: "live")
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = 24_000 + (p.index % 300) * 40
        let keygen = bftsim(["keygen", "--replicas", "\(p.n)", "--clients", "\(p.clients)", "--out", directory,
                             "--protocol", p.protocolKind.rawValue, "--base-port", "\(port)", "--batch-size", "\(p.batch)"],
                            log: directory + "/keygen.log")
        guard keygen == 0 else { row.status = "keygen failed (\(keygen))"; return row }
        guard bftsim(["cluster", "up", directory], log: directory + "/up.log") == 0 else {
            row.status = "cluster up failed"
            return row
        }
        defer { bftsim(["cluster", "down", directory], log: directory + "/down.log") }
        let load = directory + "/load.json"
        let status = bftsim(["client", "--config", directory + "/cluster.json", "--clients", "\(p.clients)", "--outstanding", "1",
                             "--duration", "\(seconds)", "--out", load], log: directory + "/client.log")
        guard status == 0, let data = FileManager.default.contents(atPath: load),
              let report = try? JSONDecoder().decode(LoadReport.self, from: data) else {
            row.status = "client failed (\(status))"
            return row
        }
        row.throughput = report.throughputPerSecond
        row.latencyP50Ns = report.latencyNs["p50"] ?? 0
        row.latencyP99Ns = report.latencyNs["p99"] ?? 0
        row.completed = report.completed
        row.status = "ok"
        return row
    }
}
