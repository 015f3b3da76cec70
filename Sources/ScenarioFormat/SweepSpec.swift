import BFTCore
import Foundation
import Yams

/// A performance sweep (issue 15): a grid of points, each a scenario derived from one base.
///
/// ```yaml
/// name: lan-validation
/// base: ../some-scenario.yaml    # optional; relative to this file
/// protocols: [pbft, hotstuff]
/// n: [4, 7, 10]
/// batch: [10, 100, 400]
/// clients: [1, 4, 16, 64]        # closed-loop clients: the offered load
/// latency: [1ms]                 # one-way, constant
/// bandwidth: [unlimited, 1Gbit/s]
/// costs: ../profiles/x.yaml      # or an inline table
/// hosts: separate                # or shared: every replica and client on one host of `cores`
/// cores: 2
/// client_hosts: 1                # separate: clients spread round-robin over this many hosts of `cores`
/// duration: 3s                   # simulated time per point
/// seed: 1
/// crypto: fast                  # what the simulation computes with
/// cost_scheme: ed25519           # what signatures are charged as (default: crypto)
/// ```
/// The grid is the product in the order protocols × n × batch × clients × latency × bandwidth; a
/// point's index is its place in that order (shards take the indices ≡ K mod N).
public struct SweepSpec: Sendable, Equatable {
    public enum Placement: String, Sendable, Equatable, CaseIterable {
        /// Each replica on a host of `cores` of its own; clients on `clientHosts` more.
        case separate
        /// Every replica and client on one host of `cores` (one machine, as `--live` runs them).
        case shared
    }

    public var name: String
    public var base: Scenario
    public var protocols: [ProtocolKind]
    public var n: [Int]
    public var batch: [Int]
    public var clients: [Int]
    public var latency: [Nanoseconds]
    /// Bits per second; nil is unlimited.
    public var bandwidth: [Int64?]
    public var costs: CostTable?
    public var placement: Placement
    public var cores: Int
    /// With `separate`: hosts the clients are spread over (round-robin), as a study puts its load
    /// generators on several machines so that they are not what it measures.
    public var clientHosts = 1
    public var duration: Nanoseconds

    public struct Point: Sendable, Equatable {
        public var index: Int
        public var protocolKind: ProtocolKind
        public var n: Int
        public var batch: Int
        public var clients: Int
        public var latency: Nanoseconds
        public var bandwidth: Int64?
    }

    /// Every point of the grid, in index order.
    public var points: [Point] {
        var out: [Point] = []
        for p in protocols { for size in n { for b in batch { for c in clients { for l in latency { for bw in bandwidth {
            out.append(Point(index: out.count, protocolKind: p, n: size, batch: b, clients: c, latency: l, bandwidth: bw))
        } } } } } }
        return out
    }

    /// The scenario of one point.
    public func scenario(_ p: Point) -> Scenario {
        var s = base
        s.name = "\(name)-\(p.index)"
        s.protocolKind = p.protocolKind
        s.replicas = p.n
        s.f = QuorumMath.maxFaulty(n: p.n)
        s.parameters.batchSizeMax = p.batch
        s.workload.clients = p.clients
        s.workload.mode = .closed(thinkTime: 0)
        s.workload.requestsPerClient = nil
        s.network.latency = .constant(p.latency)
        s.network.bandwidth = p.bandwidth
        s.stop = StopCondition(timeLimit: duration, untilClientsDone: false)
        s.costs = costs ?? base.costs
        switch placement {
        case .separate:
            let clientHosts = max(1, min(clientHosts, p.clients))
            s.hosts = (0..<p.n).map { HostSpec(cores: cores, replicas: [$0]) }
                + (clientHosts == 1 ? [HostSpec(cores: cores, allClients: true)]
                    : (0..<clientHosts).map { h in HostSpec(cores: cores, clients: Array(stride(from: h, to: p.clients, by: clientHosts))) })
        case .shared:
            s.hosts = [HostSpec(cores: cores, replicas: Array(0..<p.n), allClients: true)]
        }
        return s
    }

    public static let keys = ["name", "base", "protocols", "n", "batch", "clients", "latency", "bandwidth", "costs", "hosts",
                              "cores", "client_hosts", "duration", "seed", "crypto", "cost_scheme"]
    /// Most points a sweep may have.
    public static let pointsMax = 100_000

    /// Reads a sweep spec file; every problem is a `file:line:column` diagnostic.
    public static func load(path: String) throws(ScenarioErrors) -> SweepSpec {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ScenarioErrors(diagnostics: [ScenarioDiagnostic(file: path, line: 1, column: 1, message: "cannot read the sweep spec")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ScenarioErrors) -> SweepSpec {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ScenarioErrors(diagnostics: [ScenarioLoader.syntaxDiagnostic(error, text: text, file: file)])
        }
        var parser = ScenarioParser(file: file)
        var spec = SweepSpec(name: "sweep", base: Scenario(name: "sweep", liveness: LivenessSpec(bound: 3_600 * nanosPerSecond)),
                             protocols: [.pbft], n: [4], batch: [10], clients: [1, 4, 16], latency: [nanosPerMillisecond],
                             bandwidth: [nil], costs: nil, placement: .separate, cores: 1, duration: 2 * nanosPerSecond)
        guard let root, let top = parser.fields(root, allowed: keys, what: "a sweep spec", allowNull: false) else {
            throw ScenarioErrors(diagnostics: parser.diagnostics.isEmpty
                ? [ScenarioDiagnostic(file: file, line: 1, column: 1, message: "the sweep spec is empty")] : parser.diagnostics)
        }
        if let v = top["name"], let s = parser.string(v) { spec.name = s }
        if let v = top["base"], let path = parser.string(v) {
            let resolved = path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
            do {
                spec.base = try ScenarioLoader.load(path: resolved)
            } catch {
                for d in error.diagnostics { parser.error(v, "base scenario \(d)") }
            }
        }
        func list<T>(_ key: String, _ read: (inout ScenarioParser, Node) -> T?) -> [T]? {
            guard let v = top[key] else { return nil }
            let items: [Node]
            if case .sequence = v { items = parser.sequence(v, what: "'\(key)'") ?? [] } else { items = [v] }
            let values = items.compactMap { read(&parser, $0) }
            if values.isEmpty { parser.error(v, "'\(key)' needs at least one value") }
            return values.count == items.count ? values : nil
        }
        if let v = list("protocols", { p, node in
            p.choice(node, ProtocolKind.allCases.map(\.rawValue), what: "protocol").flatMap(ProtocolKind.init(rawValue:))
        }) { spec.protocols = v }
        if let v = list("n", { p, node in p.integer(node, "n", atLeast: 1, atMost: ProtocolLimits.replicasMax) }) { spec.n = v }
        if let v = list("batch", { p, node in p.integer(node, "batch", atLeast: 1, atMost: 100_000) }) { spec.batch = v }
        if let v = list("clients", { p, node in p.integer(node, "clients", atLeast: 1, atMost: 100_000) }) { spec.clients = v }
        if let v = list("latency", { p, node in p.positiveDuration(node, "latency") }) { spec.latency = v }
        if let v = list("bandwidth", { p, node -> Int64?? in
            if case .scalar(let s) = node, s.string == "unlimited" { return .some(nil) }
            return p.bandwidth(node).map { .some($0) }
        }) { spec.bandwidth = v }
        if let v = top["costs"], !v.isNull { spec.costs = parser.costs(v) }
        if let v = top["hosts"], let text = parser.choice(v, Placement.allCases.map(\.rawValue), what: "placement"),
           let placement = Placement(rawValue: text) { spec.placement = placement }
        if let v = top["cores"], let c = parser.integer(v, "cores", atLeast: 1, atMost: 1024) { spec.cores = c }
        if let v = top["client_hosts"], let c = parser.integer(v, "client_hosts", atLeast: 1, atMost: 1024) {
            if spec.placement == .shared { parser.error(v, "'client_hosts' needs 'hosts: separate'") }
            spec.clientHosts = c
        }
        if let v = top["duration"], let d = parser.positiveDuration(v, "duration") { spec.duration = d }
        if let v = top["seed"], let s = parser.unsigned(v) { spec.base.seed = s }
        if let v = top["crypto"], let text = parser.choice(v, SignatureScheme.allCases.map(\.rawValue), what: "crypto scheme"),
           let scheme = SignatureScheme(rawValue: text) { spec.base.crypto = scheme }
        if let v = top["cost_scheme"], let text = parser.choice(v, SignatureScheme.allCases.map(\.rawValue), what: "crypto scheme") {
            if spec.costs == nil { spec.costs = spec.base.costs }
            if spec.costs == nil { parser.error(v, "cost_scheme needs a cost table ('costs')") }
            spec.costs?.scheme = SignatureScheme(rawValue: text)
        }
        let count = [spec.protocols.count, spec.n.count, spec.batch.count, spec.clients.count, spec.latency.count, spec.bandwidth.count]
            .reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        if count > pointsMax { parser.error(root, "the grid has \(count) points, more than \(pointsMax)") }
        guard parser.diagnostics.isEmpty else { throw ScenarioErrors(diagnostics: parser.diagnostics) }
        return spec
    }
}
