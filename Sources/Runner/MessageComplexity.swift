import BFTCore
import Foundation
import ScenarioFormat

/// Replica-to-replica messages per committed block as n grows, and the log-log slope of that curve:
/// near 1 for HotStuff (linear: proposals out, votes to one leader) and near 2 for PBFT (all-to-all
/// PREPARE and COMMIT). Client REQUEST and REPLY messages are excluded: they are the same for both.
public enum MessageComplexity {
    public struct Point: Codable, Sendable {
        public var n: Int
        public var blocks: Int
        public var messages: Int
        public var messagesPerBlock: Double
    }
    public struct Curve: Codable, Sendable {
        public var protocolName: String
        public var points: [Point]
        /// Least-squares slope of log(messages per block) against log(n).
        public var slope: Double
    }

    /// The fixed scenario: normal case, constant 1 ms links, fast crypto, 4 clients × `requests`.
    public static func scenario(_ kind: ProtocolKind, n: Int, requests: Int) -> Scenario {
        Scenario(name: "complexity-\(kind.rawValue)-n\(n)", protocolKind: kind, replicas: n, seed: 1, crypto: .fast,
                 stop: StopCondition(timeLimit: 120 * nanosPerSecond, untilClientsDone: true),
                 network: NetworkSpec(latency: .constant(nanosPerMillisecond)),
                 workload: WorkloadSpec(clients: 4, requestsPerClient: requests, keySpace: 100),
                 parameters: ProtocolParameters(batchSizeMax: 4, checkpointInterval: 16, watermarkWindow: 32,
                                                viewChangeTimeout: 2 * nanosPerSecond, viewChangeTimeoutMax: 10 * nanosPerSecond),
                 liveness: LivenessSpec(bound: 60 * nanosPerSecond))
    }

    public static func measure(_ kind: ProtocolKind, n: Int, requests: Int = 10) throws(RunError) -> Point {
        let o = try ScenarioRun.execute(scenario(kind, n: n, requests: requests), trace: .off)
        let messages = o.simulation.messagesByType.filter { $0.type != "REQUEST" && $0.type != "REPLY" }.reduce(0) { $0 + $1.sent }
        let blocks = max(1, o.checks.committedBatches)
        return Point(n: n, blocks: blocks, messages: messages, messagesPerBlock: (Double(messages) / Double(blocks) * 10).rounded() / 10)
    }

    public static func curve(_ kind: ProtocolKind, sizes: [Int], requests: Int = 10) throws(RunError) -> Curve {
        var points: [Point] = []
        for n in sizes { points.append(try measure(kind, n: n, requests: requests)) }
        return Curve(protocolName: kind.rawValue, points: points,
                     slope: (slope(points.map { (Double($0.n), $0.messagesPerBlock) }) * 1000).rounded() / 1000)
    }

    /// Least-squares slope of log y against log x.
    public static func slope(_ xy: [(Double, Double)]) -> Double {
        let pts = xy.filter { $0.0 > 0 && $0.1 > 0 }.map { (log($0.0), log($0.1)) }
        guard pts.count >= 2 else { return 0 }
        let mx = pts.map(\.0).reduce(0, +) / Double(pts.count)
        let my = pts.map(\.1).reduce(0, +) / Double(pts.count)
        let num = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let den = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        return den == 0 ? 0 : num / den
    }
}
