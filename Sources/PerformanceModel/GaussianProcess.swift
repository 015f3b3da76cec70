import Foundation

/// A Gaussian-process regression surrogate with a Matérn 5/2 kernel over the unit cube (issue 18).
///
/// Rasmussen & Williams, *Gaussian Processes for Machine Learning* (2006): posterior mean and variance
/// by Cholesky factorisation (Algorithm 2.1), log marginal likelihood (eq. 2.30), Matérn ν = 5/2 kernel
/// (eq. 4.17). Targets are standardised (zero mean, unit variance) before fitting, so the signal variance
/// is searched on a small grid around 1. Hyperparameters (length scale, signal variance, noise variance)
/// are chosen by maximising the marginal likelihood over a fixed grid rather than by gradient ascent:
/// with tens of points the grid costs milliseconds, cannot diverge, and gives the same answer on every
/// platform. Hand-rolled because no GP or linear-algebra package is in the project's package mirror.
public struct GaussianProcess: Sendable {
    public struct Hyperparameters: Sendable, Equatable, Codable {
        /// Length scale of the isotropic Matérn kernel, in unit-cube coordinates.
        public var lengthScale: Double
        /// Signal variance (of the standardised targets).
        public var signal: Double
        /// Noise variance (of the standardised targets): seeds differ, so points are not exact.
        public var noise: Double
        /// Per-dimension length scales (automatic relevance determination); nil: `lengthScale` for every dimension.
        public var lengthScales: [Double]?
        public init(lengthScale: Double, signal: Double = 1, noise: Double, lengthScales: [Double]? = nil) {
            self.lengthScale = lengthScale
            self.signal = signal
            self.noise = noise
            self.lengthScales = lengthScales
        }
    }

    /// The grid searched by `fit`.
    public static let lengthScales = [0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0, 1.5, 2.5]
    public static let signals = [0.5, 1.0, 2.0]
    public static let noises = [1e-6, 1e-3, 1e-2, 0.05, 0.2]

    public let inputs: [[Double]]
    public let hyper: Hyperparameters
    public let logMarginalLikelihood: Double
    let yMean: Double
    let yScale: Double
    /// Lower Cholesky factor of K + σₙ²I, row-major.
    let chol: [Double]
    /// α = (K + σₙ²I)⁻¹ y (standardised).
    let alpha: [Double]

    /// Matérn 5/2: σ²(1 + √5 r/ℓ + 5r²/3ℓ²) exp(−√5 r/ℓ).
    public static func matern52(_ a: [Double], _ b: [Double], _ h: Hyperparameters) -> Double {
        var d2 = 0.0
        if let ls = h.lengthScales {
            for i in a.indices { let d = (a[i] - b[i]) / ls[i]; d2 += d * d }
        } else {
            for i in a.indices { let d = a[i] - b[i]; d2 += d * d }
            d2 /= h.lengthScale * h.lengthScale
        }
        let s = 5.0.squareRoot() * d2.squareRoot()
        return h.signal * (1 + s + s * s / 3) * exp(-s)
    }

    /// Fits with fixed hyperparameters; nil when the kernel matrix is not positive definite even with jitter.
    public init?(x: [[Double]], y: [Double], hyper: Hyperparameters) {
        guard !x.isEmpty, x.count == y.count else { return nil }
        let n = x.count
        let mean = y.reduce(0, +) / Double(n)
        let variance = y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        let scale = variance > 1e-18 ? variance.squareRoot() : 1
        let ys = y.map { ($0 - mean) / scale }
        var k = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                let v = GaussianProcess.matern52(x[i], x[j], hyper)
                k[i * n + j] = v
                k[j * n + i] = v
            }
            k[i * n + i] += hyper.noise
        }
        var jitter = 0.0
        var factor: [Double]? = nil
        for _ in 0..<6 {
            var kj = k
            if jitter > 0 { for i in 0..<n { kj[i * n + i] += jitter } }
            factor = GaussianProcess.cholesky(kj, n)
            if factor != nil { break }
            jitter = jitter == 0 ? 1e-10 : jitter * 100
        }
        guard let l = factor else { return nil }
        let a = GaussianProcess.backSubstitute(l, n, GaussianProcess.forwardSubstitute(l, n, ys))
        var logDet = 0.0
        for i in 0..<n { logDet += log(l[i * n + i]) }
        var fit = 0.0
        for i in 0..<n { fit += ys[i] * a[i] }
        inputs = x
        self.hyper = hyper
        yMean = mean
        yScale = scale
        chol = l
        alpha = a
        // Rasmussen & Williams eq. 2.30 (on standardised targets).
        logMarginalLikelihood = -0.5 * fit - logDet - 0.5 * Double(n) * log(2 * Double.pi)
    }

    /// Fits, choosing hyperparameters by maximum marginal likelihood over the grid (ties: first in grid order).
    public static func fit(x: [[Double]], y: [Double], lengthScales: [Double] = lengthScales, signals: [Double] = signals,
                           noises: [Double] = noises) -> GaussianProcess? {
        var best: GaussianProcess? = nil
        for l in lengthScales { for s in signals { for e in noises {
            guard let gp = GaussianProcess(x: x, y: y, hyper: Hyperparameters(lengthScale: l, signal: s, noise: e)) else { continue }
            if best == nil || gp.logMarginalLikelihood > best!.logMarginalLikelihood { best = gp }
        } } }
        return best
    }

    /// Fits as `fit`, then gives each input dimension its own length scale by coordinate ascent of the
    /// marginal likelihood over the same grid, two sweeps (automatic relevance determination, Rasmussen &
    /// Williams §5.1): a parameter the objective hardly depends on gets a long scale, a sharp one a short one.
    public static func fitRelevance(x: [[Double]], y: [Double]) -> GaussianProcess? {
        guard var best = fit(x: x, y: y), let width = x.first?.count, width > 1 else { return fit(x: x, y: y) }
        var scales = [Double](repeating: best.hyper.lengthScale, count: width)
        for _ in 0..<2 {
            for d in 0..<width {
                for l in lengthScales where l != scales[d] {
                    var trial = scales
                    trial[d] = l
                    var h = best.hyper
                    h.lengthScales = trial
                    if let gp = GaussianProcess(x: x, y: y, hyper: h), gp.logMarginalLikelihood > best.logMarginalLikelihood + 1e-9 {
                        best = gp
                        scales = trial
                    }
                }
            }
        }
        return best
    }

    /// Posterior mean and standard deviation of the latent function at `x` (in target units).
    public func predict(_ x: [Double]) -> (mean: Double, sd: Double) {
        let n = inputs.count
        let ks = inputs.map { GaussianProcess.matern52($0, x, hyper) }
        var m = 0.0
        for i in 0..<n { m += ks[i] * alpha[i] }
        let v = GaussianProcess.forwardSubstitute(chol, n, ks)
        var variance = hyper.signal
        for i in 0..<n { variance -= v[i] * v[i] }
        return (yMean + yScale * m, yScale * max(0, variance).squareRoot())
    }

    /// Cholesky–Banachiewicz; nil when a pivot is not positive.
    static func cholesky(_ a: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        return l
    }

    /// Solves L z = b.
    static func forwardSubstitute(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
        var z = b
        for i in 0..<n {
            var s = z[i]
            for k in 0..<i { s -= l[i * n + k] * z[k] }
            z[i] = s / l[i * n + i]
        }
        return z
    }

    /// Solves Lᵀ x = z.
    static func backSubstitute(_ l: [Double], _ n: Int, _ z: [Double]) -> [Double] {
        var x = z
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = x[i]
            for k in (i + 1)..<n where k < n { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }
}

/// Expected improvement over `best` for a maximised objective (Jones, Schonlau & Welch 1998, eq. 15):
/// EI = (μ − f* − ξ)Φ(z) + σφ(z), z = (μ − f* − ξ)/σ; with σ = 0 it is max(0, μ − f* − ξ).
public func expectedImprovement(mean: Double, sd: Double, best: Double, xi: Double = 0) -> Double {
    let gain = mean - best - xi
    guard sd > 1e-12 else { return max(0, gain) }
    let z = gain / sd
    let cdf = 0.5 * erfc(-z / 2.0.squareRoot())
    let pdf = exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
    return max(0, gain * cdf + sd * pdf)
}
