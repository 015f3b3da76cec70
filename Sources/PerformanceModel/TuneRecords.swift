import Foundation

/// One evaluated configuration of a tuning run (issue 18): the parameter values, the metrics averaged
/// over the seeds, and where it sits in the run (round, simulations spent once it finished).
public struct TuneEvaluation: Codable, Sendable, Equatable {
    public var index: Int
    /// 0 for the initial design (or the grid), then one per batch of suggestions.
    public var round: Int
    /// Native values, one per parameter (a categorical value is its choice index).
    public var values: [Double]
    /// `name=value` per parameter, as a scenario would spell it.
    public var settings: [String]
    public var throughput: Double
    public var latencyP50Ns: Double
    public var latencyP99Ns: Double
    /// Throughput of each seed, to show the noise the surrogate has to see through.
    public var throughputPerSeed: [Double]
    public var feasible = false
    /// The maximised objective (a weighted sum of ± log metrics).
    public var score = 0.0
    /// The objective in its own units (req/s, or latency in ns, or the weighted product).
    public var value = 0.0
    /// Simulations spent when this point's last seed was in (points of one batch share the batch's total).
    public var simulations: Int
    public var status: String

    /// A point measured over its seeds: the metrics are the means of the per-seed ones. `score`, `value` and
    /// `feasible` are the objective's verdict, which the tuner sets once it has the metrics.
    public init(index: Int, round: Int, values: [Double], settings: [String], throughputPerSeed: [Double],
                latencyP50NsPerSeed: [Double], latencyP99NsPerSeed: [Double], simulations: Int, status: String) {
        func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }
        self.index = index
        self.round = round
        self.values = values
        self.settings = settings
        throughput = mean(throughputPerSeed)
        latencyP50Ns = mean(latencyP50NsPerSeed)
        latencyP99Ns = mean(latencyP99NsPerSeed)
        self.throughputPerSeed = throughputPerSeed
        self.simulations = simulations
        self.status = status
    }
}

/// The surrogate's prediction along one parameter with the others held at the best point.
public struct TuneSlice: Codable, Sendable, Equatable {
    public var parameter: String
    /// Native parameter values (choice indices for a categorical).
    public var x: [Double]
    /// Objective value (own units) at the posterior mean, and at mean ± one standard deviation.
    public var mean: [Double]
    public var lower: [Double]
    public var upper: [Double]
    /// Labels of a categorical's choices (empty for a numeric parameter).
    public var labels: [String]
    public var logScale: Bool

    /// The surrogate `gp` along dimension `index` of `space`, the other coordinates held at `best`: every
    /// choice of a categorical, 41 evenly spaced points of a numeric range. `value` turns a surrogate score
    /// into the objective's own units (a band's ends are sorted: a minimised objective flips them).
    public init(_ gp: GaussianProcess, _ space: SearchSpace, dimension index: Int, at best: [Double],
                parameter: String, labels: [String], value: (Double) -> Double) {
        let d = space.dimensions[index]
        switch d {
        case .categorical(let c): x = (0..<c).map(Double.init); logScale = false
        case .numeric(_, _, let lg, _): x = (0...40).map { SearchSpace.value(Double($0) / 40, d) }; logScale = lg
        }
        mean = []
        lower = []
        upper = []
        for v in x {
            var point = best
            point[index] = v
            let pr = gp.predict(space.encode(point))
            let a = value(pr.mean - pr.sd), b = value(pr.mean + pr.sd)
            mean.append(value(pr.mean))
            lower.append(min(a, b))
            upper.append(max(a, b))
        }
        self.parameter = parameter
        self.labels = labels
    }
}

/// `tune.json`: what was tuned, how, every evaluation in order, the best one and the surrogate slices.
public struct TuneResult: Codable, Sendable, Equatable {
    public var scenario: String
    /// "bayes" or "grid".
    public var mode: String
    public var parameters: [String]
    public var objective: String
    /// "maximise" or "minimise" (of `value`).
    public var direction: String
    public var constraints: [String]
    public var seeds: [UInt64]
    public var budget: Int
    public var evaluations: [TuneEvaluation]
    public var best: Int?
    public var slices: [TuneSlice]
    /// Hyperparameters of the final surrogate, for the record.
    public var surrogate: String?
    /// The ready-to-paste scenario snippet of the best configuration.
    public var snippet: String
    /// A reference run (normally `--grid`) to compare against: its best value and simulations.
    public var referenceBestValue: Double?
    public var referenceSimulations: Int?
    public var notes: [String]

    public init(scenario: String, mode: String, parameters: [String], objective: String, direction: String, constraints: [String],
                seeds: [UInt64], budget: Int, evaluations: [TuneEvaluation] = [], best: Int? = nil, slices: [TuneSlice] = [],
                surrogate: String? = nil, snippet: String = "", notes: [String] = []) {
        self.scenario = scenario
        self.mode = mode
        self.parameters = parameters
        self.objective = objective
        self.direction = direction
        self.constraints = constraints
        self.seeds = seeds
        self.budget = budget
        self.evaluations = evaluations
        self.best = best
        self.slices = slices
        self.surrogate = surrogate
        self.snippet = snippet
        self.notes = notes
    }

    public var simulations: Int { evaluations.last?.simulations ?? 0 }

    /// Best feasible value so far against simulations spent (one step per evaluation).
    public var convergence: [(simulations: Int, value: Double)] {
        var out: [(Int, Double)] = []
        var bestScore = -Double.infinity, bestValue = Double.nan
        for e in evaluations where e.feasible {
            if e.score > bestScore { bestScore = e.score; bestValue = e.value }
            out.append((e.simulations, bestValue))
        }
        return out
    }

    /// Evaluations on the throughput–p99 Pareto front (no other point has at least the throughput and at
    /// most the p99, better in one), sorted by p99.
    public var paretoFront: [TuneEvaluation] {
        let ok = evaluations.filter { $0.status == "ok" && $0.throughput > 0 }
        return ok.filter { e in
            !ok.contains { o in
                o.throughput >= e.throughput && o.latencyP99Ns <= e.latencyP99Ns
                    && (o.throughput > e.throughput || o.latencyP99Ns < e.latencyP99Ns)
            }
        }.sorted { ($0.latencyP99Ns, $0.index) < ($1.latencyP99Ns, $1.index) }
    }

    /// Reference best over this run's best, in the objective's direction: 1 means equal, below 1 worse.
    public var ratioToReference: Double? {
        guard let ref = referenceBestValue, let b = best, ref > 0, evaluations[b].value > 0 else { return nil }
        return direction == "minimise" ? ref / evaluations[b].value : evaluations[b].value / ref
    }

    public func json() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }
}
