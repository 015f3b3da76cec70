import BFTCore
import Foundation
import ScenarioFormat
import Testing
import Simulation

/// A replica that answers every message with one to a peer, and keeps a heartbeat timer re-armed:
/// a protocol-shaped load (messages and timer churn) without protocol cost.
struct Relay: StateMachine {
    let principal: Principal
    let n: Int
    var counter: UInt64 = 0
    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        guard case .replica(let me) = principal else { return }
        switch input {
        case .start:
            for k in 0..<8 { actions.append(.send(Toy.message(Toy.data, UInt64(k)), to: .replica((me + 1) % n))) }
            actions.append(.setTimer(TimerID(kind: 1), after: 5 * nanosPerMillisecond))
        case .message(_, let bytes):
            counter &+= 1
            actions.append(.send(bytes, to: .replica(Int(counter % UInt64(n)) == me ? (me + 1) % n : Int(counter % UInt64(n)))))
            if counter % 4 == 0 { actions.append(.setTimer(TimerID(kind: 1), after: 5 * nanosPerMillisecond)) }
        case .timer(let t):
            actions.append(.setTimer(t, after: 5 * nanosPerMillisecond))
        case .recover: break
        }
    }
}

@Suite("benchmark")
struct BenchmarkTests {
    /// Opt-in: `BFTSIM_BENCH=1 swift test -c release --filter benchmark`. Prints events per second.
    @Test("simulated events per second, 4 replicas, trace off", .enabled(if: ProcessInfo.processInfo.environment["BFTSIM_BENCH"] != nil))
    func eventsPerSecond() {
        for mode in ["off", "hash"] {
            let spec = NetworkSpec(latency: .uniform(min: 500_000, max: 1_500_000), jitter: 100_000)
            let scenario = toyScenario(n: 4, network: spec, timeLimit: 20 * nanosPerSecond)
            let machines: [any StateMachine] = (0..<4).map { Relay(principal: .replica($0), n: 4) }
            let sim = Simulator(scenario: scenario, machines: machines, describe: Toy.describe, observer: { _ in },
                                trace: mode == "off" ? .off : .hashOnly)
            let start = DispatchTime.now().uptimeNanoseconds
            let result = sim.run()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            print("bench trace=\(mode) events=\(result.eventsProcessed) stale=\(result.staleTimersSkipped) wall=\(seconds)s eventsPerSecond=\(Int(Double(result.eventsProcessed) / seconds))")
        }
    }
}
