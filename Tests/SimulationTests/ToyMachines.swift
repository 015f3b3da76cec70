import BFTCore
import ScenarioFormat
@testable import Simulation

/// Shared, test-side log that toy machines write into (machines are value types held by the simulator).
final class Log {
    /// Reads the simulator's clock once the simulator exists.
    var clock: () -> Nanoseconds = { 0 }
    var entries: [(time: Nanoseconds, who: Principal, what: String)] = []
    /// Received payloads per receiver: (sender, first payload word).
    var received: [Principal: [(from: Principal, value: UInt64)]] = [:]
    func record(_ who: Principal, _ what: String) { entries.append((clock(), who, what)) }
}

/// Wire format of toy messages: tag byte, then a little-endian u64 value.
enum Toy {
    static let ping: UInt8 = 1
    static let pong: UInt8 = 2
    static let data: UInt8 = 3

    static func message(_ tag: UInt8, _ value: UInt64) -> [UInt8] {
        var out: [UInt8] = [tag]
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
        return out
    }

    static func value(_ bytes: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 where i + 1 < bytes.count { v |= UInt64(bytes[i + 1]) << (8 * UInt64(i)) }
        return v
    }

    static let describe: MessageDescriber = { bytes in
        switch bytes.first {
        case ping: return MessageInfo(type: "PING", sequence: Toy.value(bytes))
        case pong: return MessageInfo(type: "PONG", sequence: Toy.value(bytes))
        case data: return MessageInfo(type: "DATA", view: 0, sequence: Toy.value(bytes))
        default: return .undecodable
        }
    }
}

/// A machine that does nothing but record what it receives.
struct Sink: StateMachine {
    let principal: Principal
    let log: Log
    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        if case .message(let from, let bytes) = input {
            log.received[principal, default: []].append((from, Toy.value(bytes)))
            log.record(principal, "recv \(from) \(Toy.value(bytes))")
        }
    }
}

/// A machine driven by a script: on start it runs `onStart`; on each timer `onTimer`; on messages it records.
struct Scripted: StateMachine {
    let principal: Principal
    let log: Log
    var onStart: (inout [ReplicaAction]) -> Void = { _ in }
    var onTimer: (TimerID, inout [ReplicaAction]) -> Void = { _, _ in }
    var onMessage: (Principal, [UInt8], inout [ReplicaAction]) -> Void = { _, _, _ in }

    init(_ principal: Principal, log: Log) {
        self.principal = principal
        self.log = log
    }

    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        switch input {
        case .start: onStart(&actions)
        case .timer(let t):
            log.record(principal, "timer \(t.kind):\(t.key)")
            onTimer(t, &actions)
        case .message(let from, let bytes):
            log.received[principal, default: []].append((from, Toy.value(bytes)))
            log.record(principal, "recv \(from) \(Toy.value(bytes))")
            onMessage(from, bytes, &actions)
        case .recover: break
        }
    }
}

/// Ping-pong between replica 0 and 1: r0 pings, r1 answers, r0 pings again, `rounds` times.
struct PingPong: StateMachine {
    let principal: Principal
    let rounds: UInt64
    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        switch input {
        case .start where principal == .replica(0):
            actions.append(.send(Toy.message(Toy.ping, 0), to: .replica(1)))
        case .message(let from, let bytes):
            let v = Toy.value(bytes)
            if bytes[0] == Toy.ping {
                actions.append(.send(Toy.message(Toy.pong, v), to: from))
            } else if v + 1 < rounds {
                actions.append(.send(Toy.message(Toy.ping, v + 1), to: from))
            }
        default: break
        }
    }
}

/// Gossip with private randomness: each replica forwards a message to a random peer with a counter,
/// persists it, observes it, and keeps a periodic timer. Exercises every action kind.
struct Gossip: StateMachine {
    let principal: Principal
    let n: Int
    var rng: DeterministicRNG
    var received = 0

    init(id: Int, n: Int, seed: UInt64) {
        principal = .replica(id)
        self.n = n
        rng = DeterministicRNG(seed: seed, stream: "replica/\(id)")
    }

    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        guard case .replica(let me) = principal else { return }
        switch input {
        case .start:
            actions.append(.broadcast(Toy.message(Toy.data, UInt64(me))))
            actions.append(.setTimer(TimerID(kind: 1), after: 3 * nanosPerMillisecond))
        case .message(_, let bytes):
            received += 1
            let v = Toy.value(bytes)
            actions.append(.persist(key: "last", bytes: bytes))
            if v < 200 {
                var to = Int(rng.below(UInt64(n)))
                if to == me { to = (to + 1) % n }
                actions.append(.send(Toy.message(Toy.data, v + 1), to: .replica(to)))
            }
            if received % 10 == 0 {
                actions.append(.observe(.committed(sequence: UInt64(received), view: 0,
                                                   digest: Digest.of(bytes), requestCount: 1)))
            }
        case .timer(let t):
            actions.append(.observe(.pendingRequests(count: received)))
            actions.append(.setTimer(t, after: 3 * nanosPerMillisecond + Nanoseconds(rng.below(1000))))
        case .recover: break
        }
    }
}

/// A client that "completes" one request per millisecond, `count` times.
struct TickingClient: StateMachine {
    let principal: Principal
    let count: Int
    var done = 0
    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        switch input {
        case .start:
            actions.append(.setTimer(TimerID(kind: 7), after: nanosPerMillisecond))
        case .timer(let t):
            guard case .client(let c) = principal else { return }
            done += 1
            actions.append(.observe(.requestCompleted(request: RequestID(client: c, timestamp: UInt64(done)),
                                                      result: .zero)))
            if done < count { actions.append(.setTimer(t, after: nanosPerMillisecond)) }
        default: break
        }
    }
}

/// A scenario with `n` replicas, no clients, constant 1 ms latency and the given tweaks.
func toyScenario(n: Int = 4, seed: UInt64 = 1, network: NetworkSpec = NetworkSpec(),
                 timeline: [TimelineEvent] = [], timeLimit: Nanoseconds = nanosPerSecond) -> Scenario {
    Scenario(name: "toy", replicas: n, seed: seed,
             stop: StopCondition(timeLimit: timeLimit, untilClientsDone: false),
             network: network, workload: WorkloadSpec(clients: 0, requestsPerClient: nil),
             timeline: timeline)
}

/// Runs machines under a scenario; the log's clock follows the simulator.
@discardableResult
func simulate(_ scenario: Scenario, _ machines: [any StateMachine], log: Log? = nil, trace: TraceMode = .hashOnly,
              observer: @escaping (ObservationRecord) -> Void = { _ in }) -> SimulationResult {
    let sim = Simulator(scenario: scenario, machines: machines, describe: Toy.describe, observer: observer, trace: trace)
    log?.clock = { [unowned sim] in sim.now }
    return sim.run()
}
