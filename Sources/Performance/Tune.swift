import BFTCore
import Foundation
import PerformanceModel
import Reporting
import Runner
import ScenarioFormat

public struct TuneError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One tunable protocol parameter and its range (`--param NAME=LOW..HIGH`, or `protocol=a,b,c`).
public struct TuneParameter: Sendable, Equatable {
    public enum Name: String, Sendable, CaseIterable {
        case batchSizeMax = "batch_size_max"
        case batchDelayMax = "batch_delay_max"
        case viewChangeTimeout = "view_change_timeout"
        /// The ceiling of the doubling backoff (PBFT §4.5.2; the HotStuff pacemaker's exponential backoff).
        case viewChangeTimeoutMax = "view_change_timeout_max"
        case checkpointInterval = "checkpoint_interval"
        case protocolKind = "protocol"

        var isDuration: Bool { [.batchDelayMax, .viewChangeTimeout, .viewChangeTimeoutMax].contains(self) }
    }

    public var name: Name
    public var dimension: SearchSpace.Dimension
    /// The choices of `protocol` (empty otherwise).
    public var choices: [ProtocolKind]

    /// Parses `NAME=LOW..HIGH` (durations with units for timing parameters) or `protocol=pbft,hotstuff`;
    /// every error names the argument.
    public static func parse(_ text: String) throws(TuneError) -> TuneParameter {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        let names = Name.allCases.map(\.rawValue).joined(separator: ", ")
        guard parts.count == 2, !parts[1].isEmpty else {
            throw TuneError("--param '\(text)': expected NAME=LOW..HIGH (or protocol=A,B,...); NAME is one of \(names)")
        }
        guard let name = Name(rawValue: parts[0]) else {
            let hint = Name.allCases.map(\.rawValue).first { $0.hasPrefix(parts[0]) || parts[0].hasPrefix($0) || $0.contains(parts[0]) }
            throw TuneError("--param '\(text)': unknown parameter '\(parts[0])'\(hint.map { " (did you mean '\($0)'?)" } ?? ""); known: \(names)")
        }
        if name == .protocolKind {
            let items = parts[1].split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            var kinds: [ProtocolKind] = []
            for item in items {
                guard let k = ProtocolKind(rawValue: item) else {
                    throw TuneError("--param '\(text)': unknown protocol '\(item)'; known: \(ProtocolKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                if !kinds.contains(k) { kinds.append(k) }
            }
            guard kinds.count >= 2 else { throw TuneError("--param '\(text)': give at least two protocols to choose between") }
            return TuneParameter(name: name, dimension: .categorical(count: kinds.count), choices: kinds)
        }
        let bounds = parts[1].components(separatedBy: "..")
        guard bounds.count == 2 else { throw TuneError("--param '\(text)': expected a range LOW..HIGH, got '\(parts[1])'") }
        func number(_ s: String) throws(TuneError) -> Double {
            if name.isDuration {
                guard let ns = ScenarioLoader.parseDuration(s), ns >= 0 else {
                    throw TuneError("--param '\(text)': '\(s)' is not a duration (for example 5ms, 1.5s)")
                }
                return Double(ns)
            }
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 1 else { throw TuneError("--param '\(text)': '\(s)' is not a positive integer") }
            return Double(v)
        }
        let low = try number(bounds[0]), high = try number(bounds[1])
        guard high > low else { throw TuneError("--param '\(text)': the range is empty (LOW must be below HIGH)") }
        switch name {
        case .batchSizeMax where high > 100_000: throw TuneError("--param '\(text)': batch_size_max is at most 100000")
        case .checkpointInterval where high * 2 > Double(ProtocolLimits.watermarkWindowMax):
            throw TuneError("--param '\(text)': checkpoint_interval is at most \(ProtocolLimits.watermarkWindowMax / 2) (the watermark window is twice it)")
        case .viewChangeTimeout, .viewChangeTimeoutMax:
            if low < 1e6 { throw TuneError("--param '\(text)': a view timeout below 1ms is not meaningful") }
        default: break
        }
        // Sizes, delays and timeouts span decades: search their logarithm, unless the range starts at 0
        // (a batch delay of 0 is allowed: then linear).
        let log = low > 0
        return TuneParameter(name: name, dimension: .numeric(low: low, high: high, log: log, integer: !name.isDuration), choices: [])
    }

    /// The value as a scenario spells it.
    public func format(_ v: Double) -> String {
        switch name {
        case .protocolKind: return choices[Int(v)].rawValue
        case _ where name.isDuration: return TuneParameter.formatDuration(TuneParameter.nanoseconds(v))
        default: return String(Int(v))
        }
    }

    /// Durations are applied at three significant digits (and whole microseconds) so the snippet reads cleanly.
    static func nanoseconds(_ v: Double) -> Nanoseconds {
        guard v >= 1_000 else { return v > 0 ? 1_000 : 0 }
        let step = max(1_000, pow(10, (log10(v)).rounded(.down) - 2))
        return Nanoseconds((v / step).rounded() * step)
    }

    /// `75.2ms`, `1.41s`, `500us`: a duration the scenario parser reads back exactly.
    static func formatDuration(_ ns: Nanoseconds) -> String {
        func trim(_ x: Double, _ unit: String) -> String {
            var t = String(format: "%.3f", x)
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
            return t + unit
        }
        if ns >= 1_000_000_000 { return trim(Double(ns) / 1e9, "s") }
        if ns >= 1_000_000 { return trim(Double(ns) / 1e6, "ms") }
        return ns == 0 ? "0ms" : trim(Double(ns) / 1e3, "us")
    }

    func apply(_ v: Double, to s: inout Scenario) {
        switch name {
        case .batchSizeMax: s.parameters.batchSizeMax = Int(v)
        case .batchDelayMax: s.parameters.batchDelayMax = TuneParameter.nanoseconds(v)
        case .viewChangeTimeout: s.parameters.viewChangeTimeout = TuneParameter.nanoseconds(v)
        case .viewChangeTimeoutMax: s.parameters.viewChangeTimeoutMax = TuneParameter.nanoseconds(v)
        case .checkpointInterval:
            s.parameters.checkpointInterval = Int(v)
            s.parameters.watermarkWindow = 2 * Int(v)
        case .protocolKind: s.protocolKind = choices[Int(v)]
        }
    }
}

/// What `tune` maximises: one metric, or a weighted product of several (`throughput:1,p99:0.5` is
/// throughput¹ / p99^0.5, latencies in seconds), subject to constraints such as `p99<=200ms`.
public struct TuneObjective: Sendable, Equatable {
    public enum Metric: String, Sendable, CaseIterable {
        case throughput, p50, p99
        var maximised: Bool { self == .throughput }
    }

    public struct Constraint: Sendable, Equatable {
        public var metric: Metric
        public var atMost: Bool
        /// Requests per second, or nanoseconds for a latency.
        public var bound: Double
        public var text: String
    }

    public var terms: [(metric: Metric, weight: Double)]
    public var constraints: [Constraint]
    public var text: String

    public static func == (a: TuneObjective, b: TuneObjective) -> Bool { a.text == b.text && a.constraints == b.constraints }

    public static func parse(_ text: String, constraints: [String]) throws(TuneError) -> TuneObjective {
        var terms: [(Metric, Double)] = []
        let metrics = Metric.allCases.map(\.rawValue).joined(separator: ", ")
        for item in text.split(separator: ",").map(String.init) {
            let kv = item.split(separator: ":").map { String($0).trimmingCharacters(in: .whitespaces) }
            guard let m = Metric(rawValue: kv[0]), kv.count <= 2 else {
                throw TuneError("--objective '\(text)': unknown metric '\(item)'; use \(metrics), or a weighted mix such as throughput:1,p99:0.5")
            }
            let w = kv.count == 2 ? Double(kv[1]) : 1
            guard let w, w > 0, w.isFinite else { throw TuneError("--objective '\(text)': the weight of \(m.rawValue) must be a positive number") }
            guard !terms.contains(where: { $0.0 == m }) else { throw TuneError("--objective '\(text)': \(m.rawValue) appears twice") }
            terms.append((m, w))
        }
        guard !terms.isEmpty else { throw TuneError("--objective is empty; use \(metrics)") }
        var parsed: [Constraint] = []
        for c in constraints {
            let atMost = c.contains("<=")
            let sides = c.components(separatedBy: atMost ? "<=" : ">=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard sides.count == 2, let m = Metric(rawValue: sides[0]) else {
                throw TuneError("--constraint '\(c)': expected METRIC<=BOUND or METRIC>=BOUND with METRIC one of \(metrics) (for example p99<=200ms)")
            }
            let bound: Double
            if m == .throughput {
                guard let b = Double(sides[1]), b >= 0 else { throw TuneError("--constraint '\(c)': the bound of throughput is requests per second") }
                bound = b
            } else {
                guard let ns = ScenarioLoader.parseDuration(sides[1]), ns > 0 else {
                    throw TuneError("--constraint '\(c)': '\(sides[1])' is not a duration (for example 200ms)")
                }
                bound = Double(ns)
            }
            parsed.append(Constraint(metric: m, atMost: atMost, bound: bound, text: c))
        }
        return TuneObjective(terms: terms, constraints: parsed, text: text)
    }

    static func metric(_ m: Metric, _ e: TuneEvaluation) -> Double {
        switch m {
        case .throughput: return e.throughput
        case .p50: return e.latencyP50Ns
        case .p99: return e.latencyP99Ns
        }
    }

    /// Σ ± wᵢ ln(metricᵢ): the log of the objective, maximised (a latency counts negatively).
    func score(_ e: TuneEvaluation) -> Double {
        terms.reduce(0) { acc, t in
            // Latencies in seconds, so a mix reads as requests/s per second of p99.
            let v = max(TuneObjective.metric(t.metric, e) / (t.metric.maximised ? 1 : 1e9), 1e-9)
            return acc + (t.metric.maximised ? 1 : -1) * t.weight * log(v)
        }
    }

    /// The objective in its own units from a score: the metric itself for one term, else the weighted product.
    func value(score: Double) -> Double {
        if terms.count == 1, !terms[0].metric.maximised { return exp(-score / terms[0].weight) * 1e9 }
        if terms.count == 1 { return exp(score / terms[0].weight) }
        return exp(score)
    }

    var direction: String { terms.count == 1 && !terms[0].metric.maximised ? "minimise" : "maximise" }

    func feasible(_ e: TuneEvaluation) -> Bool {
        constraints.allSatisfy { c in
            let v = TuneObjective.metric(c.metric, e)
            return c.atMost ? v <= c.bound : v >= c.bound
        }
    }
}

/// `bftsim tune` (issue 18): Bayesian optimisation of protocol parameters over costed simulations, or an
/// exhaustive grid as the reference. Deterministic: the suggestions depend on the seed and the results
/// alone, batches are a fixed size whatever `jobs` is, and every point runs the same simulation seeds.
public enum Tune {
    public struct Options: Sendable {
        public var parameters: [TuneParameter]
        public var objective: TuneObjective
        /// Simulations (points × seeds) at most; ignored by the grid.
        public var budget: Int
        public var seed: UInt64
        /// Seeds per point: the scenario's seed, seed + 1, ...
        public var seedsPerPoint: Int
        public var jobs: Int
        public var grid: Bool
        /// Grid levels per numeric parameter.
        public var levels: Int
        /// Points per Bayesian round (evaluated in parallel).
        public var batch: Int
        public init(parameters: [TuneParameter], objective: TuneObjective, budget: Int, seed: UInt64, seedsPerPoint: Int = 2,
                    jobs: Int = 1, grid: Bool = false, levels: Int = 6, batch: Int = 2) {
            self.parameters = parameters
            self.objective = objective
            self.budget = budget
            self.seed = seed
            self.seedsPerPoint = seedsPerPoint
            self.jobs = jobs
            self.grid = grid
            self.levels = levels
            self.batch = batch
        }
    }

    /// Progress after each batch: (simulations done, simulations planned, best value so far).
    public typealias Progress = @Sendable (Int, Int, Double?) -> Void

    public static func validate(_ options: Options) throws(TuneError) {
        guard !options.parameters.isEmpty else { throw TuneError("--param: give at least one parameter to tune") }
        var seen: [TuneParameter.Name] = []
        for p in options.parameters {
            if seen.contains(p.name) { throw TuneError("--param \(p.name.rawValue) is given twice") }
            seen.append(p.name)
        }
        guard (1...16).contains(options.seedsPerPoint) else { throw TuneError("--seeds must be between 1 and 16") }
        guard (2...64).contains(options.levels) else { throw TuneError("--levels must be between 2 and 64") }
        guard (1...64).contains(options.batch) else { throw TuneError("--batch must be between 1 and 64") }
        if !options.grid, options.budget < 2 * options.seedsPerPoint {
            throw TuneError("--budget \(options.budget) is too small: it must cover at least two points of \(options.seedsPerPoint) seed(s)")
        }
    }

    public static func space(_ options: Options) -> SearchSpace { SearchSpace(options.parameters.map(\.dimension)) }

    /// Every grid point: numeric parameters at `levels` evenly spaced (in their search scale) values, each protocol.
    public static func gridPoints(_ options: Options) -> [[Double]] {
        var axes: [[Double]] = []
        for p in options.parameters {
            switch p.dimension {
            case .categorical(let c): axes.append((0..<c).map(Double.init))
            case .numeric:
                var values: [Double] = []
                for i in 0..<options.levels {
                    let v = SearchSpace.value(Double(i) / Double(options.levels - 1), p.dimension)
                    if !values.contains(v) { values.append(v) }
                }
                axes.append(values)
            }
        }
        var points: [[Double]] = [[]]
        for axis in axes { points = points.flatMap { p in axis.map { p + [$0] } } }
        return points
    }

    /// The scenario of one point and seed.
    static func scenario(_ base: Scenario, _ options: Options, _ values: [Double], seedOffset: Int) -> Scenario {
        var s = base
        for (p, v) in zip(options.parameters, values) { p.apply(v, to: &s) }
        // The backoff ceiling is at least the initial timeout (a box where both are tuned has corners where it is not).
        s.parameters.viewChangeTimeoutMax = max(s.parameters.viewChangeTimeoutMax, s.parameters.viewChangeTimeout)
        s.seed = base.seed &+ UInt64(seedOffset)
        return s
    }

    /// Metrics of one simulation: throughput (completed requests per simulated second), p50, p99 (ns).
    static func simulate(_ s: Scenario) -> (throughput: Double, p50: Double, p99: Double, status: String) {
        do {
            try ScenarioRun.check(s)
            let o = try ScenarioRun.execute(s, trace: .off, eventsMax: 50_000_000)
            let seconds = Double(o.simulation.endTime) / 1e9
            let latencies = o.checks.latencies.sorted()
            let missing = Double(o.simulation.endTime)
            let p50 = latencies.isEmpty ? missing : Double(latencies[latencies.count / 2])
            let p99 = latencies.isEmpty ? missing : Double(latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
            let safe = !o.checks.violations.contains { $0.kind.isSafety }
            return (seconds > 0 ? Double(o.checks.completedRequests) / seconds : 0, p50, p99, safe ? "ok" : "safety violation")
        } catch {
            return (0, .infinity, .infinity, "error: \(error)")
        }
    }

    /// Evaluates points (each over the seeds) in parallel; results in point order.
    static func evaluate(_ base: Scenario, _ options: Options, _ points: [[Double]], round: Int, firstIndex: Int,
                         simulationsBefore: Int) -> [TuneEvaluation] {
        let k = options.seedsPerPoint
        let runs = parallelMap(points.count * k, jobs: options.jobs) { i in
            simulate(scenario(base, options, points[i / k], seedOffset: i % k))
        }
        let spent = simulationsBefore + points.count * k
        return points.indices.map { j in
            let mine = Array(runs[(j * k)..<(j * k + k)])
            let status = mine.first { $0.status != "ok" }?.status ?? "ok"
            var e = TuneEvaluation(index: firstIndex + j, round: round, values: points[j],
                                   settings: zip(options.parameters, points[j]).map { "\($0.name.rawValue)=\($0.format($1))" },
                                   throughputPerSeed: mine.map(\.throughput), latencyP50NsPerSeed: mine.map(\.p50),
                                   latencyP99NsPerSeed: mine.map(\.p99), simulations: spent, status: status)
            e.score = options.objective.score(e)
            e.value = options.objective.value(score: e.score)
            e.feasible = status == "ok" && e.throughput > 0 && options.objective.feasible(e)
            return e
        }
    }

    /// What the surrogate is fitted to: the score, with infeasible points one e-fold below the worst score seen.
    static func targets(_ evals: [TuneEvaluation]) -> [(x: [Double], y: Double)] {
        let finite = evals.map(\.score).filter(\.isFinite)
        let floor = (finite.min() ?? 0) - 1
        return evals.map { ($0.values, $0.feasible && $0.score.isFinite ? $0.score : floor) }
    }

    /// Runs the tuning (or the grid) on `base`.
    public static func run(_ base: Scenario, _ options: Options, progress: Progress? = nil) -> TuneResult {
        var result = TuneResult(scenario: base.name, mode: options.grid ? "grid" : "bayes",
                                parameters: options.parameters.map { describe($0) }, objective: options.objective.text,
                                direction: options.objective.direction, constraints: options.objective.constraints.map(\.text),
                                seeds: (0..<options.seedsPerPoint).map { base.seed &+ UInt64($0) }, budget: options.budget)
        let optimiser = BayesianOptimiser(space: space(options), seed: options.seed)
        var evals: [TuneEvaluation] = []
        func report(_ planned: Int) {
            let best = bestIndex(evals).map { evals[$0].value }
            progress?(evals.last?.simulations ?? 0, planned, best)
        }
        if options.grid {
            let points = gridPoints(options)
            let planned = points.count * options.seedsPerPoint
            for start in stride(from: 0, to: points.count, by: max(options.batch, options.jobs) * 4) {
                let chunk = Array(points[start..<min(points.count, start + max(options.batch, options.jobs) * 4)])
                evals += evaluate(base, options, chunk, round: 0, firstIndex: evals.count, simulationsBefore: evals.last?.simulations ?? 0)
                report(planned)
            }
            result.budget = planned
        } else {
            let pointsMax = options.budget / options.seedsPerPoint
            let initial = min(pointsMax, max(options.batch, 2 * options.parameters.count + 2))
            evals = evaluate(base, options, optimiser.initialDesign(initial), round: 0, firstIndex: 0, simulationsBefore: 0)
            report(pointsMax * options.seedsPerPoint)
            var round = 1
            while evals.count < pointsMax {
                let count = min(options.batch, pointsMax - evals.count)
                let picks = optimiser.suggest(targets(evals), count: count, round: round)
                if picks.isEmpty { break }
                evals += evaluate(base, options, picks, round: round, firstIndex: evals.count, simulationsBefore: evals.last?.simulations ?? 0)
                report(pointsMax * options.seedsPerPoint)
                round += 1
            }
            if let gp = optimiser.surrogate(targets(evals)) {
                let scales = (gp.hyper.lengthScales ?? [gp.hyper.lengthScale]).map { String(format: "%.2f", $0) }.joined(separator: " ")
                result.surrogate = String(format: "Matérn 5/2, length scales (unit cube, per encoded dimension) %@, signal variance %.1f, noise variance %.0e (standardised), log marginal likelihood %.1f",
                                          scales, gp.hyper.signal, gp.hyper.noise, gp.logMarginalLikelihood)
                if let b = bestIndex(evals) { result.slices = slices(gp, optimiser.space, options, at: evals[b].values) }
            }
        }
        result.evaluations = evals
        result.best = bestIndex(evals)
        result.snippet = result.best.map { snippet(base, options, evals[$0]) } ?? "# no configuration met the constraints\n"
        result.notes = ["each point is the mean of \(options.seedsPerPoint) simulation(s) (seeds \(result.seeds.map(String.init).joined(separator: ", ")))",
                        "throughput: completed requests per simulated second; latencies are client request latencies"]
        if !options.grid {
            result.notes.append("Gaussian-process surrogate (Matérn 5/2) with expected improvement; batches of \(options.batch) by kriging believer; optimiser seed \(options.seed)")
        }
        return result
    }

    /// Index of the best feasible evaluation (ties: the earlier).
    static func bestIndex(_ evals: [TuneEvaluation]) -> Int? {
        var best: Int? = nil
        for (i, e) in evals.enumerated() where e.feasible && e.score.isFinite {
            if best == nil || e.score > evals[best!].score { best = i }
        }
        return best
    }

    static func describe(_ p: TuneParameter) -> String {
        switch p.dimension {
        case .categorical: return "\(p.name.rawValue)=\(p.choices.map(\.rawValue).joined(separator: ","))"
        case .numeric(let lo, let hi, let lg, _): return "\(p.name.rawValue)=\(p.format(lo))..\(p.format(hi))\(lg ? " (log)" : "")"
        }
    }

    /// The surrogate along each parameter with the others at `best`.
    static func slices(_ gp: GaussianProcess, _ space: SearchSpace, _ options: Options, at best: [Double]) -> [TuneSlice] {
        options.parameters.enumerated().map { i, p in
            TuneSlice(gp, space, dimension: i, at: best, parameter: p.name.rawValue, labels: p.choices.map(\.rawValue),
                      value: { options.objective.value(score: $0) })
        }
    }

    /// The best configuration as scenario YAML to paste over the tuned scenario's keys.
    static func snippet(_ base: Scenario, _ options: Options, _ e: TuneEvaluation) -> String {
        var lines = [String(format: "# bftsim tune: %@ = %@ (mean of %d seed(s)): %.0f req/s, p50 %.1fms, p99 %.1fms",
                            options.objective.text, formatValue(e.value, options.objective), options.seedsPerPoint, e.throughput,
                            e.latencyP50Ns / 1e6, e.latencyP99Ns / 1e6)]
        for (p, v) in zip(options.parameters, e.values) where p.name == .protocolKind { lines.append("protocol: \(p.format(v))") }
        lines.append("parameters:")
        // As applied: the backoff ceiling is at least the initial timeout.
        let initial = zip(options.parameters, e.values).first { $0.0.name == .viewChangeTimeout }?.1
        for (p, v) in zip(options.parameters, e.values) where p.name != .protocolKind {
            let shown = p.name == .viewChangeTimeoutMax ? max(v, initial ?? v) : v
            lines.append("  \(p.name.rawValue): \(p.format(shown))")
            if p.name == .checkpointInterval { lines.append("  watermark_window: \(2 * Int(v))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func formatValue(_ v: Double, _ o: TuneObjective) -> String {
        if o.terms.count == 1, o.terms[0].metric != .throughput { return String(format: "%.1fms", v / 1e6) }
        return o.terms.count == 1 ? String(format: "%.0f req/s", v) : String(format: "%.4g", v)
    }

    /// Writes tune.json, report.html and best.yaml into `directory`.
    public static func write(_ result: TuneResult, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = URL(fileURLWithPath: directory)
        try result.json().write(to: url.appendingPathComponent("tune.json"))
        try Data(TuneReport.html(result).utf8).write(to: url.appendingPathComponent("report.html"))
        try Data(result.snippet.utf8).write(to: url.appendingPathComponent("best.yaml"))
    }

    public static func read(_ path: String) throws -> TuneResult {
        let file = path.hasSuffix(".json") ? path : path + "/tune.json"
        return try JSONDecoder().decode(TuneResult.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
    }
}
