import BFTCore
import Foundation
import Performance
import PerformanceModel
import ScenarioFormat
import Testing

@Suite("performance models")
struct ModelTests {
    @Test("USL: the fit recovers known λ, σ and κ from synthetic data")
    func uslRecovers() throws {
        // Proves the least-squares search: exact USL points give back their parameters, the peak and R² = 1.
        let (lambda, sigma, kappa) = (1200.0, 0.06, 0.0008)
        let pts = [1.0, 2, 4, 8, 12, 16, 24, 32, 48, 64].map { (n: Double) -> (n: Double, x: Double) in
            let denominator: Double = 1 + sigma * (n - 1) + kappa * n * (n - 1)
            return (n, lambda * n / denominator)
        }
        let fit = try #require(USLFit.fit(pts))
        #expect(abs(fit.sigma - sigma) < 0.002)
        #expect(abs(fit.kappa - kappa) / kappa < 0.03)
        #expect(abs(fit.lambda - lambda) / lambda < 0.01)
        #expect(fit.rSquared > 0.9999)
        let peak = try #require(fit.peak)
        #expect(abs(peak - ((1 - sigma) / kappa).squareRoot()) < 1)
    }

    @Test("USL: noisy data still lands near the true σ and κ")
    func uslNoisy() throws {
        // Proves the fit is robust to ±3 % multiplicative noise (deterministic noise from our PRNG).
        var rng = DeterministicRNG(seed: 5, stream: "usl")
        var pts: [(n: Double, x: Double)] = []
        for i in 1...40 {
            let n = Double(i)
            let denominator: Double = 1 + 0.1 * (n - 1) + 0.002 * n * (n - 1)
            let noise: Double = Double(rng.below(6001)) / 100_000 - 0.03
            pts.append((n, 500 * n / denominator * (1 + noise)))
        }
        let fit = try #require(USLFit.fit(pts))
        #expect(abs(fit.sigma - 0.1) < 0.03)
        #expect(abs(fit.kappa - 0.002) < 0.0008)
        #expect(fit.rSquared > 0.95)
    }

    @Test("MVA: one station of demand D saturates at 1/D and obeys Little's law")
    func mva() {
        // Proves the queueing model's limits: X → 1/D with many clients, and N = X·R at every population.
        let m = MeanValueAnalysis(demands: [0.001, 0.0004], delay: 0.002, cores: [1, 1])
        #expect(abs(m.saturationThroughput - 1000) < 1e-9)
        for n in [1, 5, 50, 500] {
            let s = m.solve(clients: n)
            #expect(abs(Double(n) - s.throughput * s.response) < 1e-6)
        }
        #expect(abs(m.solve(clients: 1).response - 0.0034) < 1e-12)
        #expect(abs(m.solve(clients: 500).throughput - 1000) < 1)
    }
}

@Suite("sweep")
struct SweepTests {
    static let spec = """
    name: tiny
    protocols: [pbft, hotstuff]
    n: [4]
    batch: [10]
    clients: [1, 4, 8]
    latency: [1ms]
    bandwidth: [100Mbit/s]
    costs: {message: {default: 20us}, byte: 1ns, send: 5us, sign: 30us, verify: 60us, execute: 2us}
    hosts: separate
    duration: 300ms
    crypto: fast
    """

    @Test("sweep: a tiny grid runs, is the same on 1 and 2 threads, and shards merge to the whole")
    func tinySweep() throws {
        // Proves the sweep end to end on 6 short points: rows in index order, deterministic across thread
        // counts, fits present, CSV one row per point, and shard 0/2 + 1/2 merged equals the whole run.
        let spec = try SweepSpec.parse(Self.spec, file: "tiny.yaml")
        #expect(spec.points.count == 6)
        let one = Sweep.run(spec, jobs: 1)
        let two = Sweep.run(spec, jobs: 2)
        #expect(try one.json() == two.json())
        #expect(one.rows.map(\.index) == Array(0..<6))
        #expect(one.rows.allSatisfy { $0.throughput > 0 && $0.status == "ok" && $0.utilisationMax > 0 })
        #expect(one.csv.split(separator: "\n").count == 7)
        #expect(one.fits.contains { $0.axis == "clients" && $0.usl != nil && $0.queueing != nil })
        // More clients, more throughput, at this light load.
        #expect(one.rows[2].throughput > one.rows[0].throughput)
        let a = Sweep.run(spec, shard: (0, 2), jobs: 1), b = Sweep.run(spec, shard: (1, 2), jobs: 1)
        let merged = try Sweep.merge([b, a])
        #expect(merged.rows == one.rows)
        #expect(merged.fits == one.fits)
    }

    @Test("sweep: client_hosts spreads the clients round-robin over that many hosts, and moves the client bottleneck")
    func clientHosts() throws {
        // Proves the placement: 7 clients over 3 hosts, each of `cores`, after one host per replica; and
        // that it matters: with replies verified at 60 us each, 8 clients on one 1-core host are the
        // bottleneck, and spread over 4 hosts they are not.
        let spec = try SweepSpec.parse(Self.spec + "\nclient_hosts: 3\ncores: 2\n", file: "tiny.yaml")
        let point = try #require(spec.points.first { $0.clients == 8 })
        let hosts = spec.scenario(point).hosts
        #expect(hosts.count == 4 + 3)
        #expect(hosts.suffix(3).map(\.clients) == [[0, 3, 6], [1, 4, 7], [2, 5]])
        #expect(hosts.allSatisfy { $0.cores == 2 && !$0.allClients })
        var one = try SweepSpec.parse(Self.spec, file: "tiny.yaml")
        one.protocols = [.pbft]
        one.clients = [8]
        var four = one
        four.clientHosts = 4
        let a = Sweep.run(one, jobs: 1).rows[0], b = Sweep.run(four, jobs: 1).rows[0]
        #expect(a.demandsPerRequest.count == 5 && b.demandsPerRequest.count == 8)
        #expect(b.demandsPerRequest.suffix(4).max()! < a.demandsPerRequest.last! / 3)
        do {
            _ = try SweepSpec.parse("name: x\nhosts: shared\nclient_hosts: 4\n", file: "s.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.description).contains("s.yaml:3:15: 'client_hosts' needs 'hosts: separate'"))
        }
    }

    @Test("queueing fit: links are stations; PBFT's one per link, chained HotStuff's replica links one summed station")
    func linkStations() throws {
        // Proves the link stations: CPU demand 1 ms per request, the primary's link 4 ms, so PBFT
        // saturates at 1 / 4 ms = 250 req/s; HotStuff's four replica links of 2 ms each serve one
        // proposal at a time, so they saturate at 1 / 8 ms = 125 req/s. Rows without link demands
        // (as sweep.json files written before) keep the CPU-only model: 1 / 1 ms.
        func rows(_ name: String, links: [Double]?) -> [SweepRow] {
            [1, 1000].enumerated().map { i, c in
                var r = SweepRow(index: i, protocolName: name, n: 4, batch: 10, clients: c, latencyNs: 1_000_000, bandwidth: 25_000_000,
                                 throughput: 100, latencyP50Ns: 10_000_000, demandsPerRequest: [0.001, 0.001, 0.001, 0.001, 0.0001],
                                 cores: [1, 1, 1, 1, 1], completed: 100, status: "ok")
                r.linkDemandsPerRequest = links
                return r
            }
        }
        func saturation(_ rows: [SweepRow]) throws -> Double {
            try #require(SweepResult.fits(for: rows).first { $0.axis == "clients" }?.queueing).saturationThroughput
        }
        #expect(abs(try saturation(rows("pbft", links: [0.004, 0.0005, 0.0005, 0.0005, 0.0001])) - 250) < 1e-6)
        #expect(abs(try saturation(rows("hotstuff", links: [0.002, 0.002, 0.002, 0.002, 0.0001])) - 125) < 1e-6)
        #expect(abs(try saturation(rows("pbft", links: nil)) - 1000) < 1e-6)
    }

    @Test("sweep: a bad spec gets positioned errors")
    func badSpec() {
        // Proves sweep specs report file:line:column like scenarios.
        do {
            _ = try SweepSpec.parse("name: x\nn: [4, 0]\nbandwidth: [fast]\nhosts: everywhere\n", file: "s.yaml")
            Issue.record("expected errors")
        } catch {
            let text = error.diagnostics.map(\.description)
            #expect(text.contains("s.yaml:2:8: n must be between 1 and \(ProtocolLimits.replicasMax), got 0"))
            #expect(text.contains { $0.hasPrefix("s.yaml:3:13: expected a bandwidth") })
            #expect(text.contains { $0.hasPrefix("s.yaml:4:8: unknown placement 'everywhere'") })
        }
    }
}
