import BFTCore
import Foundation
import Performance
import PerformanceModel
import ScenarioFormat
import Testing

@Suite("tuning maths")
struct TuningMathTests {
    @Test("GP: with no noise the posterior mean interpolates the points and the variance vanishes there")
    func gpInterpolates() throws {
        // Proves the Cholesky solve and the kernel: a noiseless GP reproduces its training targets exactly.
        let xs: [[Double]] = [[0.1, 0.2], [0.5, 0.9], [0.8, 0.3], [0.3, 0.6], [0.95, 0.95]]
        let ys = xs.map { sin(6 * $0[0]) + $0[1] * $0[1] }
        let gp = try #require(GaussianProcess(x: xs, y: ys, hyper: .init(lengthScale: 0.4, noise: 1e-10)))
        for (x, y) in zip(xs, ys) {
            let p = gp.predict(x)
            #expect(abs(p.mean - y) < 1e-5)
            #expect(p.sd < 1e-3)
        }
        // Away from the data the surrogate is uncertain.
        #expect(gp.predict([0.5, 0.1]).sd > 0.05)
    }

    @Test("GP: marginal likelihood prefers a long length scale for a smooth function and the noise term for noisy data")
    func gpHyperparameters() throws {
        // Proves the hyperparameter search: smooth data → length scale above the shortest; noisy data → noise above the smallest.
        let xs = (0..<12).map { [Double($0) / 11] }
        let smooth = try #require(GaussianProcess.fit(x: xs, y: xs.map { 2 * $0[0] }))
        #expect(smooth.hyper.lengthScale > GaussianProcess.lengthScales[0])
        var rng = DeterministicRNG(seed: 3, stream: "gp-noise")
        let noisy = xs.map { _ in Double(rng.below(1000)) / 1000 }
        let fitted = try #require(GaussianProcess.fit(x: xs, y: noisy))
        #expect(fitted.hyper.noise > GaussianProcess.noises[0])
    }

    @Test("EI: zero at the known maximum of noiseless data, positive where the surrogate is unsure")
    func eiAtMaximum() throws {
        // Proves expected improvement: no gain is expected at an observed best point with no noise.
        let xs: [[Double]] = [[0.0], [0.25], [0.5], [0.75], [1.0]]
        let ys = [0.1, 0.6, 1.0, 0.4, 0.2]
        let gp = try #require(GaussianProcess(x: xs, y: ys, hyper: .init(lengthScale: 0.15, noise: 1e-10)))
        let atMax = gp.predict([0.5])
        #expect(expectedImprovement(mean: atMax.mean, sd: atMax.sd, best: 1.0) < 1e-4)
        let between = gp.predict([0.6])
        #expect(expectedImprovement(mean: between.mean, sd: between.sd, best: 1.0) > 1e-3)
        #expect(expectedImprovement(mean: 2, sd: 0, best: 1) == 1)
        #expect(expectedImprovement(mean: 0, sd: 0, best: 1) == 0)
    }

    @Test("BO: finds the maximum of a known 2-D function in 24 evaluations, better than the same number of random points")
    func boFindsOptimum() {
        // Proves the optimiser end to end: a bumpy 2-D function (global maximum 1 at (0.3, 0.7)); BO's best
        // after 24 evaluations is within 2 % of it, and beats random search with the same budget.
        func f(_ x: [Double]) -> Double {
            let a = exp(-((x[0] - 0.3) * (x[0] - 0.3) + (x[1] - 0.7) * (x[1] - 0.7)) / 0.05)
            let b = 0.5 * exp(-((x[0] - 0.8) * (x[0] - 0.8) + (x[1] - 0.2) * (x[1] - 0.2)) / 0.02)
            return a + b
        }
        let space = SearchSpace([.numeric(low: 0, high: 1, log: false, integer: false), .numeric(low: 0, high: 1, log: false, integer: false)])
        let bo = BayesianOptimiser(space: space, seed: 7)
        var observed = bo.initialDesign(8).map { (x: $0, y: f($0)) }
        var round = 1
        while observed.count < 24 {
            for x in bo.suggest(observed, count: 2, round: round) { observed.append((x, f(x))) }
            round += 1
        }
        let best = observed.map(\.y).max()!
        #expect(best > 0.98)
        var rng = DeterministicRNG(seed: 7, stream: "random-search")
        let random = (0..<24).map { _ in f([Double(rng.next() >> 11) * 0x1p-53, Double(rng.next() >> 11) * 0x1p-53]) }.max()!
        #expect(best > random)
        // Same seed, same suggestions.
        #expect(bo.suggest(Array(observed.prefix(10)), count: 3, round: 5) == bo.suggest(Array(observed.prefix(10)), count: 3, round: 5))
    }

    @Test("search space: integers round, log ranges stay in bounds, categoricals one-hot encode")
    func space() {
        // Proves the encoding the surrogate sees and the values the simulator gets.
        let s = SearchSpace([.numeric(low: 1, high: 512, log: true, integer: true), .categorical(count: 3)])
        #expect(s.encode([1, 2]) == [0, 0, 0, 1])
        #expect(abs(s.encode([512, 0])[0] - 1) < 1e-12)
        #expect(SearchSpace.value(0.5, s.dimensions[0]) == 23)  // √512 ≈ 22.6
        #expect(SearchSpace.value(1.7, s.dimensions[0]) == 512)
    }
}

@Suite("tune")
struct TuneTests {
    @Test("tune: bad --param and --objective arguments get errors naming the argument")
    func badArguments() {
        // Proves the command-line parsing errors a user can act on.
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        #expect(message { _ = try TuneParameter.parse("batch=1..10") }.contains("--param 'batch=1..10': unknown parameter 'batch' (did you mean 'batch_size_max'?)"))
        #expect(message { _ = try TuneParameter.parse("batch_size_max=10..1") }.contains("--param 'batch_size_max=10..1': the range is empty"))
        #expect(message { _ = try TuneParameter.parse("batch_delay_max=1..fast") }.contains("'fast' is not a duration"))
        #expect(message { _ = try TuneParameter.parse("batch_size_max") }.contains("expected NAME=LOW..HIGH"))
        #expect(message { _ = try TuneParameter.parse("protocol=pbft,raft") }.contains("unknown protocol 'raft'"))
        #expect(message { _ = try TuneObjective.parse("goodput", constraints: []) }.contains("--objective 'goodput': unknown metric"))
        #expect(message { _ = try TuneObjective.parse("throughput", constraints: ["p99<200ms"]) }.contains("--constraint 'p99<200ms'"))
    }

    @Test("tune: the grid is the product of levels and choices, with integers de-duplicated")
    func grid() throws {
        // Proves the reference grid's shape.
        let options = Tune.Options(parameters: [try TuneParameter.parse("batch_size_max=1..4"), try TuneParameter.parse("protocol=pbft,hotstuff")],
                                   objective: try TuneObjective.parse("throughput", constraints: []), budget: 10, seed: 1, levels: 6)
        let points = Tune.gridPoints(options)
        #expect(points.count == 4 * 2)  // 1, 2, 3, 4 (six levels collapse to four integers) × two protocols
        #expect(Set(points.map { $0[0] }) == [1, 2, 3, 4])
    }

    static let scenario = """
    name: tiny-tune
    protocol: pbft
    replicas: 4
    crypto: fast
    network: {latency: 1ms, bandwidth: 100Mbit/s}
    workload: {clients: 8, mode: closed, requests_per_client: unbounded}
    costs: {message: {default: 20us}, byte: 1ns, send: 5us, sign: 30us, verify: 60us, execute: 2us}
    stop: {time_limit: 300ms, until_clients_done: false}
    """

    @Test("tune: a tiny Bayesian run is the same on 1 and 2 threads, spends its budget and prints a snippet")
    func tinyTune() throws {
        // Proves the driver end to end: deterministic across thread counts, budget respected, the best
        // point feasible and written as a scenario snippet, slices computed.
        let base = try ScenarioLoader.parse(Self.scenario, file: "tiny.yaml")
        var options = Tune.Options(parameters: [try TuneParameter.parse("batch_size_max=1..64")],
                                   objective: try TuneObjective.parse("throughput", constraints: ["p99<=1s"]), budget: 12, seed: 2,
                                   seedsPerPoint: 2, jobs: 1, batch: 2)
        let one = Tune.run(base, options)
        options.jobs = 2
        let two = Tune.run(base, options)
        #expect(try one.json() == two.json())
        #expect(one.simulations <= 12)
        #expect(one.evaluations.count == 6)
        let best = try #require(one.best)
        #expect(one.evaluations[best].feasible)
        #expect(one.snippet.contains("batch_size_max: \(Int(one.evaluations[best].values[0]))"))
        #expect(one.slices.count == 1)
    }

    @Test("tune: the Pareto front keeps the non-dominated points; convergence is the running best of feasible points")
    func paretoAndConvergence() {
        // Proves the report's derived series: a dominated point is dropped, an infeasible one never counts as best.
        func e(_ i: Int, _ x: Double, _ p99: Double, feasible: Bool = true) -> TuneEvaluation {
            var point = TuneEvaluation(index: i, round: 0, values: [Double(i)], settings: [], throughputPerSeed: [x],
                                       latencyP50NsPerSeed: [p99 / 2], latencyP99NsPerSeed: [p99], simulations: 2 * (i + 1), status: "ok")
            point.feasible = feasible
            point.score = log(x)
            point.value = x
            return point
        }
        var r = TuneResult(scenario: "s", mode: "bayes", parameters: ["batch_size_max=1..8"], objective: "throughput,p99",
                           direction: "maximise", constraints: [], seeds: [1], budget: 8)
        r.evaluations = [e(0, 100, 10e6), e(1, 200, 20e6), e(2, 150, 30e6), e(3, 500, 5e6, feasible: false)]
        #expect(r.paretoFront.map(\.index) == [3])
        r.evaluations[3].status = "error: x"
        #expect(r.paretoFront.map(\.index) == [0, 1])
        #expect(r.convergence.map(\.value) == [100, 200, 200])
        #expect(r.convergence.map(\.simulations) == [2, 4, 6])
        r.best = 1
        r.referenceBestValue = 250
        #expect(r.ratioToReference == 0.8)
    }
}
