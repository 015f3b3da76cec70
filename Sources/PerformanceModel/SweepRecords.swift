import Foundation

/// One grid point of a sweep and what its run measured (`sweep.json`, one row of `sweep.csv`).
public struct SweepRow: Codable, Sendable, Equatable {
    /// Index in the whole grid (shards make the indices ≡ K mod N).
    public var index: Int
    public var protocolName: String
    public var n: Int
    public var batch: Int
    public var clients: Int
    /// One-way latency, ns.
    public var latencyNs: Int64
    /// Link bandwidth, bits/s (0: unlimited).
    public var bandwidth: Int64
    /// Completed requests per second (simulated, or wall time for live rows).
    public var throughput: Double
    public var latencyP50Ns: Int64
    public var latencyP99Ns: Int64
    public var messagesPerDecision: Double
    public var bytesPerDecision: Double
    /// The busiest host's CPU utilisation in [0, 1] (simulated rows only).
    public var utilisationMax: Double
    /// CPU seconds the cost table charged each host per completed request (the service demands).
    public var demandsPerRequest: [Double]
    public var cores: [Int]
    /// Seconds each host's outgoing link spent serialising per completed request (nil: none recorded,
    /// as in rows written before links were stations, and in live rows).
    public var linkDemandsPerRequest: [Double]?
    public var completed: Int
    public var status: String
    /// `sim` or `live`.
    public var source: String

    public init(index: Int, protocolName: String, n: Int, batch: Int, clients: Int, latencyNs: Int64, bandwidth: Int64,
                throughput: Double = 0, latencyP50Ns: Int64 = 0, latencyP99Ns: Int64 = 0, messagesPerDecision: Double = 0,
                bytesPerDecision: Double = 0, utilisationMax: Double = 0, demandsPerRequest: [Double] = [], cores: [Int] = [],
                completed: Int = 0, status: String = "", source: String = "sim") {
        self.index = index
        self.protocolName = protocolName
        self.n = n
        self.batch = batch
        self.clients = clients
        self.latencyNs = latencyNs
        self.bandwidth = bandwidth
        self.throughput = throughput
        self.latencyP50Ns = latencyP50Ns
        self.latencyP99Ns = latencyP99Ns
        self.messagesPerDecision = messagesPerDecision
        self.bytesPerDecision = bytesPerDecision
        self.utilisationMax = utilisationMax
        self.demandsPerRequest = demandsPerRequest
        self.cores = cores
        self.completed = completed
        self.status = status
        self.source = source
    }

    /// The series a point belongs to when load varies: everything but the clients.
    public var loadSeries: String { "\(protocolName) n=\(n) b=\(batch) \(network)" }
    /// The series a point belongs to when n varies: everything but n.
    public var sizeSeries: String { "\(protocolName) c=\(clients) b=\(batch) \(network)" }

    /// `100ms 25Mbit/s`, `50us ∞`: the latency and bandwidth of the point, short.
    var network: String {
        let latency = latencyNs % 1_000_000 == 0 ? "\(latencyNs / 1_000_000)ms" : "\(latencyNs / 1_000)us"
        let bw: String
        if bandwidth <= 0 { bw = "∞" }
        else if bandwidth % 1_000_000_000 == 0 { bw = "\(bandwidth / 1_000_000_000)Gbit/s" }
        else if bandwidth % 1_000_000 == 0 { bw = "\(bandwidth / 1_000_000)Mbit/s" }
        else { bw = "\(bandwidth)bit/s" }
        return "\(latency) \(bw)"
    }

    public static let csvHeader = "index,protocol,n,batch,clients,latency_ms,bandwidth_bps,throughput,latency_p50_ms,latency_p99_ms,"
        + "messages_per_decision,bytes_per_decision,cpu_utilisation_max,completed,status,source"

    public var csvLine: String {
        func f(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }
        return [String(index), protocolName, String(n), String(batch), String(clients), f(Double(latencyNs) / 1e6),
                String(bandwidth), f(throughput, 1), f(Double(latencyP50Ns) / 1e6), f(Double(latencyP99Ns) / 1e6),
                f(messagesPerDecision, 2), f(bytesPerDecision, 1), f(utilisationMax), String(completed), status, source]
            .joined(separator: ",")
    }
}

/// A fitted model over one series of points.
public struct SeriesFit: Codable, Sendable, Equatable {
    public var series: String
    /// `clients` or `n`: what varies along the series.
    public var axis: String
    public var usl: USLFit?
    /// The queueing model (load series only) and its predictions per point, in point order.
    public var queueing: MeanValueAnalysis?
    public var predictedThroughput: [Double]
    public var predictedLatencyNs: [Double]
    /// Mean |predicted − simulated| / simulated of the queueing model's throughput and latency.
    public var queueingThroughputError: Double?
    public var queueingLatencyError: Double?
    /// Row indices of the series' points, in axis order.
    public var rows: [Int]
}

/// `sweep.json`: the spec's name, the grid size, the rows (sorted by index) and the fits.
public struct SweepResult: Codable, Sendable, Equatable {
    public var name: String
    public var pointsTotal: Int
    /// `K/N` for a shard, nil for a whole or merged sweep.
    public var shard: String? = nil
    public var rows: [SweepRow]
    public var fits: [SeriesFit] = []
    /// Live rows measured for the same points, when `--live` ran (index-matched to `rows`).
    public var live: [SweepRow]? = nil
    public var notes: [String] = []

    /// The measured rows of a sweep; the writer fills in the shard label, fits, live rows and notes as it learns them.
    public init(name: String, pointsTotal: Int, rows: [SweepRow]) {
        self.name = name
        self.pointsTotal = pointsTotal
        self.rows = rows
    }

    public var csv: String {
        ([SweepRow.csvHeader] + rows.map(\.csvLine) + (live ?? []).map(\.csvLine)).joined(separator: "\n") + "\n"
    }

    /// Deterministic JSON (sorted keys).
    public func json() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try enc.encode(self)
    }

    /// Fits USL over every series with at least three distinct axis values, and the queueing model
    /// over each load series (from its lightest point's demands).
    public static func fits(for rows: [SweepRow]) -> [SeriesFit] {
        var out: [SeriesFit] = []
        for (axis, key) in [("clients", \SweepRow.loadSeries), ("n", \SweepRow.sizeSeries)] {
            let groups = Dictionary(grouping: rows, by: { $0[keyPath: key] })
            for name in groups.keys.sorted() {
                let pts = groups[name]!.sorted { axis == "clients" ? $0.clients < $1.clients : $0.n < $1.n }
                let xs = pts.map { Double(axis == "clients" ? $0.clients : $0.n) }
                guard Set(xs).count >= 2 else { continue }
                var fit = SeriesFit(series: name, axis: axis, usl: USLFit.fit(zip(xs, pts.map(\.throughput)).map { ($0, $1) }),
                                    queueing: nil, predictedThroughput: [], predictedLatencyNs: [], rows: pts.map(\.index))
                if axis == "clients", let light = pts.first, light.completed > 0, !light.demandsPerRequest.isEmpty {
                    let r = Double(light.latencyP50Ns) / 1e9
                    // Stations: each host's CPU (with its cores) and each host's outgoing link that
                    // carried anything (one server: bytes leave it one after another, `HostModel.serialise`).
                    // HotStuff rotates the leader every view and a view's proposal waits for the previous
                    // one's QC (HotStuff §4.3), so the replicas' links serve one proposal at a time: one
                    // station with their summed demand. PBFT's primary is stable: a station per link.
                    var links = light.linkDemandsPerRequest ?? []
                    if light.protocolName.hasPrefix("hotstuff"), links.count > 1 {
                        let replicaHosts = min(light.n, links.count)
                        links = [links[..<replicaHosts].reduce(0, +)] + links[replicaHosts...]
                    }
                    links = links.filter { $0 > 0 }
                    let demands = light.demandsPerRequest + links
                    let demand = demands.reduce(0, +)
                    let mva = MeanValueAnalysis(demands: demands, delay: max(0, r - demand),
                                                cores: light.cores + Array(repeating: 1, count: links.count))
                    fit.queueing = mva
                    var tErr: [Double] = [], lErr: [Double] = []
                    for p in pts {
                        let s = mva.solve(clients: p.clients)
                        fit.predictedThroughput.append(s.throughput)
                        fit.predictedLatencyNs.append(s.response * 1e9)
                        if p.throughput > 0 { tErr.append(abs(s.throughput - p.throughput) / p.throughput) }
                        if p.latencyP50Ns > 0 { lErr.append(abs(s.response * 1e9 - Double(p.latencyP50Ns)) / Double(p.latencyP50Ns)) }
                    }
                    fit.queueingThroughputError = tErr.isEmpty ? nil : tErr.reduce(0, +) / Double(tErr.count)
                    fit.queueingLatencyError = lErr.isEmpty ? nil : lErr.reduce(0, +) / Double(lErr.count)
                }
                out.append(fit)
            }
        }
        return out
    }
}
