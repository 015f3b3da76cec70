import BFTCore
import Foundation

/// A box of parameters the optimiser searches: numeric ranges (linear or logarithmic, real or integer)
/// and categorical choices. Points are arrays of native values (a categorical value is its choice index).
public struct SearchSpace: Sendable, Equatable {
    public enum Dimension: Sendable, Equatable {
        /// `low...high`; `log` searches the logarithm (for ranges over decades); `integer` rounds.
        case numeric(low: Double, high: Double, log: Bool, integer: Bool)
        /// One of `count` unordered choices, one-hot encoded (distance √2 between any two).
        case categorical(count: Int)
    }

    public var dimensions: [Dimension]
    public init(_ dimensions: [Dimension]) { self.dimensions = dimensions }

    /// Width of the unit-cube encoding.
    public var encodedWidth: Int {
        dimensions.reduce(0) { if case .categorical(let c) = $1 { return $0 + c } else { return $0 + 1 } }
    }

    /// Maps a native point into the unit cube the surrogate works in.
    public func encode(_ point: [Double]) -> [Double] {
        var out: [Double] = []
        for (d, v) in zip(dimensions, point) {
            switch d {
            case .numeric(let lo, let hi, let lg, _):
                out.append(SearchSpace.unit(v, lo, hi, lg))
            case .categorical(let count):
                for c in 0..<count { out.append(Int(v) == c ? 1 : 0) }
            }
        }
        return out
    }

    static func unit(_ v: Double, _ lo: Double, _ hi: Double, _ lg: Bool) -> Double {
        guard hi > lo else { return 0 }
        if lg, lo > 0 { return (log(v) - log(lo)) / (log(hi) - log(lo)) }
        return (v - lo) / (hi - lo)
    }

    /// The native value at unit coordinate `u` of a numeric dimension (rounded when integer).
    public static func value(_ u: Double, _ d: Dimension) -> Double {
        guard case .numeric(let lo, let hi, let lg, let integer) = d else { return (u).rounded(.down) }
        let c = min(1, max(0, u))
        let v = lg && lo > 0 ? exp(log(lo) + c * (log(hi) - log(lo))) : lo + c * (hi - lo)
        return integer ? min(hi, max(lo, v.rounded())) : min(hi, max(lo, v))
    }

    /// A point drawn uniformly (in the encoded scale) from the box.
    func sample(_ rng: inout DeterministicRNG) -> [Double] {
        dimensions.map { d in
            if case .categorical(let count) = d { return Double(rng.below(UInt64(count))) }
            return SearchSpace.value(uniform(&rng), d)
        }
    }

    /// `point` moved by up to ±`radius` (unit scale) in each numeric dimension; a categorical value
    /// changes with probability `radius`.
    func perturb(_ point: [Double], radius: Double, _ rng: inout DeterministicRNG) -> [Double] {
        var out = point
        for (i, d) in dimensions.enumerated() {
            switch d {
            case .numeric(let lo, let hi, let lg, _):
                let u = SearchSpace.unit(point[i], lo, hi, lg) + (2 * uniform(&rng) - 1) * radius
                out[i] = SearchSpace.value(u, d)
            case .categorical(let count):
                if uniform(&rng) < radius { out[i] = Double(rng.below(UInt64(count))) }
            }
        }
        return out
    }

    /// A Latin-hypercube design of `count` points: each numeric dimension's [0, 1] is cut into `count`
    /// strata and every stratum is used once (McKay, Beckman & Conover 1979); categoricals cycle.
    func latinHypercube(_ count: Int, _ rng: inout DeterministicRNG) -> [[Double]] {
        var columns: [[Double]] = []
        for d in dimensions {
            var strata = (0..<count).map { Double($0) }
            for i in stride(from: count - 1, to: 0, by: -1) { strata.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
            if case .categorical(let c) = d {
                columns.append(strata.map { Double(Int($0) % c) })
            } else {
                columns.append(strata.map { SearchSpace.value(($0 + uniform(&rng)) / Double(count), d) })
            }
        }
        return (0..<count).map { i in columns.map { $0[i] } }
    }
}

/// A uniform double in [0, 1) from 53 bits of the project's PRNG.
func uniform(_ rng: inout DeterministicRNG) -> Double { Double(rng.next() >> 11) * 0x1p-53 }

/// Bayesian optimisation (issue 18): a Gaussian-process surrogate of a noisy objective and expected
/// improvement to choose where to evaluate next (Jones, Schonlau & Welch 1998; Snoek, Larochelle & Adams,
/// "Practical Bayesian Optimization of Machine Learning Algorithms", NeurIPS 2012).
///
/// Stateless: each call gets every observation so far and a round number, and its answer is a function of
/// those and the seed alone. A batch of `count` points is chosen by the "kriging believer" heuristic
/// (Ginsbourger et al. 2010): after each pick the surrogate is refitted as if the pick had returned the
/// posterior mean, which pushes the next pick elsewhere, so a batch can run in parallel.
public struct BayesianOptimiser: Sendable {
    public var space: SearchSpace
    public var seed: UInt64
    /// Random candidates scored by EI per pick (plus `candidates / 20` local ones per radius around
    /// the best points). Fixed: no caller has needed another number.
    public static let candidates = 2_000

    public init(space: SearchSpace, seed: UInt64) {
        self.space = space
        self.seed = seed
    }

    /// The first design: a Latin hypercube of `count` points.
    public func initialDesign(_ count: Int) -> [[Double]] {
        var rng = DeterministicRNG(seed: seed, stream: "tune/initial")
        return space.latinHypercube(count, &rng)
    }

    /// The surrogate over the observations (maximised objective), hyperparameters by marginal likelihood.
    public func surrogate(_ observed: [(x: [Double], y: Double)]) -> GaussianProcess? {
        GaussianProcess.fitRelevance(x: observed.map { space.encode($0.x) }, y: observed.map(\.y))
    }

    /// The next `count` points to evaluate, none equal to an observed or already chosen point.
    public func suggest(_ observed: [(x: [Double], y: Double)], count: Int, round: Int) -> [[Double]] {
        guard observed.count >= 2, var gp = surrogate(observed) else {
            var rng = DeterministicRNG(seed: seed, stream: "tune/random/\(round)")
            return (0..<count).map { _ in space.sample(&rng) }
        }
        var rng = DeterministicRNG(seed: seed, stream: "tune/round/\(round)")
        var xs = observed.map { space.encode($0.x) }
        var ys = observed.map(\.y)
        var taken = Set(observed.map { key($0.x) })
        var picks: [[Double]] = []
        for _ in 0..<count {
            // Incumbent: the best posterior mean at an observed point (robust to a lucky seed).
            let best = xs.map { gp.predict($0).mean }.max() ?? 0
            let order = ys.indices.sorted { ys[$0] > ys[$1] || (ys[$0] == ys[$1] && $0 < $1) }
            var pool = (0..<Self.candidates).map { _ in space.sample(&rng) }
            for i in order.prefix(3) {
                let x = i < observed.count ? observed[i].x : picks[i - observed.count]
                for r in [0.02, 0.08, 0.2] { for _ in 0..<Self.candidates / 20 { pool.append(space.perturb(x, radius: r, &rng)) } }
            }
            var choice: (x: [Double], ei: Double, mean: Double)? = nil
            for x in pool where !taken.contains(key(x)) {
                let p = gp.predict(space.encode(x))
                let ei = expectedImprovement(mean: p.mean, sd: p.sd, best: best)
                if choice == nil || ei > choice!.ei { choice = (x, ei, p.mean) }
            }
            guard let c = choice else { break }
            picks.append(c.x)
            taken.insert(key(c.x))
            xs.append(space.encode(c.x))
            ys.append(c.mean)
            if let refit = GaussianProcess(x: xs, y: ys, hyper: gp.hyper) { gp = refit }
        }
        return picks
    }

    /// Identity of a point for de-duplication (integers and categoricals collide exactly; reals to 1e-9).
    func key(_ x: [Double]) -> String { x.map { String(format: "%.9g", $0) }.joined(separator: ",") }
}
