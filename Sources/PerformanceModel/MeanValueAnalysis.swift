import Foundation

/// Exact mean-value analysis of a closed queueing network (Reiser & Lavenberg, 1980): N clients, each
/// cycling through queueing stations (the hosts' CPUs, service demand D_k per request) and a delay
/// station Z (network latency, think time and every wait that does not queue).
///
/// The demands come from the cost table through the simulator's accounting: D_k is the CPU time the
/// cost table charged host k per completed request at a sweep series' lightest load (the service demand
/// law D = U/X); Z is the rest of that point's response time. So the model knows the costs and the
/// latency but nothing of batching or protocol timers: where batches fill up with load, the demand per
/// request falls and the model's saturation throughput is too low — its error says how much.
public struct MeanValueAnalysis: Codable, Sendable, Equatable {
    /// Service demand per request at each queueing station, seconds.
    public var demands: [Double]
    /// Delay per request outside the queues, seconds.
    public var delay: Double
    /// Cores per station: a station of c cores is approximated as one server c times as fast.
    public var cores: [Int]

    public init(demands: [Double], delay: Double, cores: [Int]) {
        self.demands = demands
        self.delay = delay
        self.cores = cores
    }

    /// Throughput bound 1 / max D_k (requests per second) at saturation.
    public var saturationThroughput: Double {
        let d = zip(demands, cores).map { $0 / Double(max(1, $1)) }.max() ?? 0
        return d > 0 ? 1 / d : .infinity
    }

    /// Throughput (requests/s) and response time (s) with `clients` clients.
    public func solve(clients: Int) -> (throughput: Double, response: Double) {
        let d = zip(demands, cores).map { $0 / Double(max(1, $1)) }
        var queue = [Double](repeating: 0, count: d.count)
        var x = 0.0, r = delay
        for n in stride(from: 1, through: max(1, clients), by: 1) {
            let residence = zip(d, queue).map { $0 * (1 + $1) }
            r = residence.reduce(0, +) + delay
            x = Double(n) / max(r, 1e-12)
            queue = residence.map { x * $0 }
        }
        return (x, r)
    }
}
