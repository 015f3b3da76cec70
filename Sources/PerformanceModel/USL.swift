import Foundation

/// Gunther's Universal Scalability Law, X(N) = λN / (1 + σ(N−1) + κN(N−1)), and its least-squares fit.
///
/// σ is contention (the serial fraction), κ coherency (crosstalk); with κ > 0 throughput peaks at
/// N* = √((1−σ)/κ). Fitted by minimising the squared error: for fixed (σ, κ) the model is linear in λ,
/// so λ has a closed form and only (σ, κ) are searched, on a grid (σ linear in [0, 1], κ logarithmic)
/// refined around the best cell. Our own search rather than Gauss–Newton (or swift-numerics, which has
/// no optimiser): with three parameters and a bounded region it is exact enough, cannot diverge, needs no
/// starting guess, and keeps σ, κ ≥ 0 where an unconstrained solver wanders negative on noisy data.
public struct USLFit: Codable, Sendable, Equatable {
    public var lambda: Double
    public var sigma: Double
    public var kappa: Double
    /// Coefficient of determination of the fit over the points.
    public var rSquared: Double
    /// N at peak throughput; nil when κ = 0 (no peak: throughput rises to λ/σ).
    public var peak: Double?
    public var points: Int

    public func throughput(_ n: Double) -> Double {
        USLFit.model(n, lambda: lambda, sigma: sigma, kappa: kappa)
    }

    static func model(_ n: Double, lambda: Double, sigma: Double, kappa: Double) -> Double {
        lambda * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    }

    /// Fits the law to (N, X) points; nil with fewer than three distinct N or no positive throughput.
    public static func fit(_ points: [(n: Double, x: Double)]) -> USLFit? {
        let pts = points.filter { $0.n > 0 && $0.x.isFinite }
        guard Set(pts.map(\.n)).count >= 3, pts.contains(where: { $0.x > 0 }) else { return nil }
        /// Best λ for (σ, κ) and its squared error.
        func evaluate(_ sigma: Double, _ kappa: Double) -> (lambda: Double, sse: Double) {
            var gy = 0.0, gg = 0.0
            for p in pts {
                let g = model(p.n, lambda: 1, sigma: sigma, kappa: kappa)
                gy += g * p.x
                gg += g * g
            }
            let lambda = gg > 0 ? max(0, gy / gg) : 0
            var sse = 0.0
            for p in pts {
                let r = p.x - model(p.n, lambda: lambda, sigma: sigma, kappa: kappa)
                sse += r * r
            }
            return (lambda, sse)
        }
        var best = (sigma: 0.0, kappa: 0.0, lambda: 0.0, sse: Double.infinity)
        func consider(_ s: Double, _ k: Double) {
            let e = evaluate(s, k)
            if e.sse < best.sse { best = (s, k, e.lambda, e.sse) }
        }
        // Coarse: σ in steps of 0.01, κ = 0 and 10^-7 ... 10^0 in tenth-decades.
        let kappas = [0.0] + stride(from: -7.0, through: 0.0, by: 0.1).map { pow(10, $0) }
        for i in 0...100 { for k in kappas { consider(Double(i) / 100, k) } }
        // Refine: a finer grid around the best point, five times, each ten times finer.
        var sStep = 0.01, kFactor = pow(10, 0.1)
        for _ in 0..<5 {
            let (s0, k0) = (best.sigma, best.kappa)
            for i in -10...10 {
                let s = min(1, max(0, s0 + Double(i) * sStep / 5))
                for j in -10...10 {
                    let k = k0 == 0 ? (j <= 0 ? 0 : 1e-7 * pow(kFactor, Double(j) / 5)) : k0 * pow(kFactor, Double(j) / 5)
                    consider(s, k)
                }
            }
            sStep /= 5
            kFactor = pow(kFactor, 0.2)
        }
        let mean = pts.map(\.x).reduce(0, +) / Double(pts.count)
        let sst = pts.map { ($0.x - mean) * ($0.x - mean) }.reduce(0, +)
        let r2 = sst > 0 ? 1 - best.sse / sst : 1
        let peak = best.kappa > 0 ? (max(0, 1 - best.sigma) / best.kappa).squareRoot() : nil
        return USLFit(lambda: best.lambda, sigma: best.sigma, kappa: best.kappa, rSquared: r2, peak: peak, points: pts.count)
    }
}
