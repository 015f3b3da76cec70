import BFTCore
import BFTCrypto
import Foundation
import ScenarioFormat
import Simulation

/// `bftsim calibrate`: measures the cost table of this machine from the real code paths (issue 15).
///
/// - sign and verify: libsodium Ed25519, and the keyed-hash schemes, on 128-byte messages;
/// - byte: BLAKE2b digests over large buffers plus a copy (decoding and hashing a message is that);
/// - send: half a loopback TCP round trip of a 256-byte length-prefixed frame (one write and one read
///   on each side), so the receive syscall is folded into the sender's charge;
/// - execute: the key-value store applying client operations;
/// - message (per type) and timer: the replicas' own handlers, timed one call at a time in a simulated
///   run with the `fast` scheme, less the crypto, byte and execution costs already counted.
/// Wall time is read here only, never inside a simulated decision. Other processes on the machine
/// inflate every figure; `repeats` takes the minimum of several rounds to damp that.
public enum Calibration {
    public struct Result {
        public var table: CostTable
        /// How each figure was measured, for the profile's header comment.
        public var notes: [String]
    }

    /// Measures everything; `quick` shortens each measurement (tests).
    public static func measure(quick: Bool = false) -> Result {
        let rounds = quick ? 1 : 5
        var table = CostTable()
        var notes: [String] = []
        for scheme in SignatureScheme.allCases {
            let (sign, verify) = cryptoCost(scheme, count: quick ? 200 : 3_000, rounds: rounds)
            table.sign[scheme] = sign
            table.verify[scheme] = verify
        }
        table.byte = byteCost(rounds: rounds, quick: quick)
        table.send = loopbackSendCost(frames: quick ? 200 : 4_000, rounds: rounds) ?? 5_000_000
        table.execute = executeCost(count: quick ? 2_000 : 50_000, rounds: rounds)
        notes.append("sign/verify: libsodium, 128-byte messages, best of \(rounds) rounds")
        notes.append("byte: BLAKE2b-256 digest plus one copy per byte, 64 KiB buffers")
        notes.append("send: half a loopback TCP round trip of a 256-byte frame (write + read each way)")
        notes.append("execute: KeyValueStore.execute per client operation")
        var handlers = HandlerTimes()
        for kind in [ProtocolKind.pbft, .hotstuff] {
            for _ in 0..<(quick ? 1 : 3) { handlers.merge(timeHandlers(kind, seconds: quick ? 0.2 : 1.0)) }
        }
        let fast = (sign: table.sign.fast, verify: table.verify.fast)
        var defaults: [Picoseconds] = []
        for type in handlers.types.keys.sorted() {
            let t = handlers.types[type]!
            let fixed = t.fixed(byte: table.byte, sign: fast.sign, verify: fast.verify, execute: table.execute)
            table.messages[type] = fixed
            defaults.append(fixed)
        }
        table.messageDefault = defaults.sorted().dropFirst(defaults.count / 2).first ?? 1_000_000
        table.timer = handlers.timer.fixed(byte: 0, sign: fast.sign, verify: fast.verify, execute: table.execute)
        notes.append("message/timer: median per-call time of the replicas' and clients' handlers (PBFT and chained HotStuff, n=4, fast crypto), less crypto, bytes and execution")
        return Result(table: table, notes: notes)
    }

    /// Profile file text: a header comment and the table.
    public static func profileText(_ result: Result, machine: String) -> String {
        var lines = ["# bftsim cost profile, written by `bftsim calibrate` on \(machine).",
                     "# Measured while other jobs may have been running: figures are upper bounds."]
        lines += result.notes.map { "# \($0)" }
        lines += ScenarioLoader.encodeCosts(result.table)
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Crypto, bytes, execution

    static func best(_ rounds: Int, _ body: () -> Double) -> Double {
        (0..<max(1, rounds)).map { _ in body() }.min()!
    }

    static func picos(_ seconds: Double, per count: Int) -> Picoseconds {
        Picoseconds((seconds / Double(max(1, count)) * 1e12).rounded())
    }

    static func cryptoCost(_ scheme: SignatureScheme, count: Int, rounds: Int) -> (sign: Picoseconds, verify: Picoseconds) {
        let keyring = Keyring(scheme: scheme, seed: 1, replicas: 1, clients: 0, verificationCacheMax: 0)
        let signer = keyring.signer(for: .replica(0))
        let domain = SigningDomain("bftsim/calibrate")
        let messages = (0..<count).map { i in (0..<128).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) } }
        var signatures: [Signature] = []
        let sign = best(rounds) {
            signatures.removeAll(keepingCapacity: true)
            return Benchmarks.cpuSeconds { for m in messages { signatures.append(signer.sign(domain: domain, m[...])) } }
        }
        var ok = 0
        let verify = best(rounds) {
            ok = 0
            return Benchmarks.cpuSeconds {
                for (m, s) in zip(messages, signatures) where keyring.verifier.verify(s, domain: domain, message: m[...], signer: .replica(0)) { ok += 1 }
            }
        }
        precondition(ok == count, "calibration: \(scheme) signatures failed to verify")
        return (picos(sign, per: count), picos(verify, per: count))
    }

    static func byteCost(rounds: Int, quick: Bool) -> Picoseconds {
        let buffer = (0..<65_536).map { UInt8(truncatingIfNeeded: $0) }
        let repeats = quick ? 20 : 400
        var sink: UInt8 = 0
        let seconds = best(rounds) {
            Benchmarks.cpuSeconds {
                for _ in 0..<repeats {
                    let copy = Array(buffer[1...])
                    sink ^= Digest.of(copy).bytes[0]
                }
            }
        }
        _ = sink
        return picos(seconds, per: repeats * buffer.count)
    }

    static func executeCost(count: Int, rounds: Int) -> Picoseconds {
        var rng = DeterministicRNG(seed: 1, stream: "calibrate")
        let workload = WorkloadSpec(clients: 1, keySpace: 1000)
        let operations = (0..<count).map { _ in workload.nextOperation(&rng) }
        let seconds = best(rounds) {
            var store = KeyValueStore()
            return Benchmarks.cpuSeconds { for op in operations { _ = store.execute(op) } }
        }
        return picos(seconds, per: count)
    }

    /// Half of a loopback TCP round trip of a 256-byte frame, both ends in this thread with blocking
    /// sockets (nil when sockets are unavailable). Wall time: the kernel's work is the point.
    static func loopbackSendCost(frames: Int, rounds: Int) -> Picoseconds? {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { return nil }
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        guard bound == 0, listen(listener, 1) == 0 else { return nil }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard client >= 0 else { return nil }
        defer { close(client) }
        let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, len) } }
        guard connected == 0 else { return nil }
        let server = accept(listener, nil, nil)
        guard server >= 0 else { return nil }
        defer { close(server) }
        var one: Int32 = 1
        for fd in [client, server] { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var frame = [UInt8](repeating: 7, count: 260)
        frame[0] = 0; frame[1] = 0; frame[2] = 1; frame[3] = 0
        var buffer = [UInt8](repeating: 0, count: 260)
        func readAll(_ fd: Int32) -> Bool {
            var got = 0
            while got < buffer.count {
                let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
                if r <= 0 { return false }
                got += r
            }
            return true
        }
        var failed = false
        let seconds = best(rounds) {
            Benchmarks.wallSeconds {
                for _ in 0..<frames where !failed {
                    if write(client, frame, frame.count) != frame.count || !readAll(server) { failed = true }
                    if write(server, buffer, buffer.count) != buffer.count || !readAll(client) { failed = true }
                }
            }
        }
        return failed ? nil : picos(seconds / 2, per: frames)
    }

    // MARK: Handlers

    /// Per-call handler times, by message type (and timers).
    struct HandlerTimes {
        struct Samples {
            var nanos: [Double] = []
            var bytes = 0, signed = 0, verified = 0, executed = 0, calls = 0
            /// Median call time less the mean crypto, byte and execution costs of a call. The subtraction
            /// can overshoot (the per-byte figure is a digest's, and not every byte is hashed), so the
            /// result is kept at no less than a tenth of the median call.
            func fixed(byte: Picoseconds, sign: Picoseconds, verify: Picoseconds, execute: Picoseconds) -> Picoseconds {
                guard calls > 0 else { return 0 }
                let median = nanos.sorted()[nanos.count / 2] * 1000
                let c = Double(calls)
                let others = (Double(bytes) * Double(byte) + Double(signed) * Double(sign) + Double(verified) * Double(verify)
                              + Double(executed) * Double(execute)) / c
                return Picoseconds(max(median / 10, median - others).rounded())
            }
            mutating func merge(_ o: Samples) {
                nanos += o.nanos
                bytes += o.bytes; signed += o.signed; verified += o.verified; executed += o.executed; calls += o.calls
            }
        }
        var types: [String: Samples] = [:]
        var timer = Samples()
        mutating func merge(_ o: HandlerTimes) {
            for (k, v) in o.types { types[k, default: Samples()].merge(v) }
            timer.merge(o.timer)
        }
    }

    final class HandlerLog {
        var times = HandlerTimes()
    }

    /// Times one machine's handler calls (a wrapper; the simulated run's decisions never see the clock).
    struct TimedMachine: StateMachine {
        var inner: any StateMachine
        let log: HandlerLog
        let stats: CryptoStats
        let describe: MessageDescriber
        var principal: Principal { inner.principal }

        mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
            let s0 = stats.signed, v0 = stats.verifyRequests, a0 = actions.count
            let t0 = DispatchTime.now().uptimeNanoseconds
            inner.handle(input, into: &actions)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0)
            var sample = HandlerTimes.Samples(nanos: [dt], bytes: 0, signed: stats.signed - s0, verified: stats.verifyRequests - v0,
                                              executed: 0, calls: 1)
            for a in actions[a0...] {
                switch a {
                case .send(let b, _): sample.bytes += b.count
                case .broadcast(let b): sample.bytes += b.count
                case .observe(.executed): sample.executed += 1
                default: break
                }
            }
            switch input {
            case .message(_, let bytes):
                sample.bytes += bytes.count
                log.times.types[describe(bytes).type, default: .init()].merge(sample)
            case .timer:
                log.times.timer.merge(sample)
            default:
                break
            }
        }
    }

    /// A driver that builds its inner driver's replicas wrapped in `TimedMachine`.
    struct TimingDriver: ProtocolDriver {
        let inner: any ProtocolDriver
        let log: HandlerLog
        var describe: MessageDescriber { inner.describe }
        var authenticate: MessageAuthenticator { inner.authenticate }
        var clientTargeting: Client.Targeting { inner.clientTargeting }
        var byzantineBehaviours: [String] { [] }
        func makeReplica(id: ReplicaID, scenario: Scenario, keyring: Keyring, behaviour: String?) throws(RunError) -> any StateMachine {
            let replica = try inner.makeReplica(id: id, scenario: scenario, keyring: keyring, behaviour: behaviour)
            return TimedMachine(inner: replica, log: log, stats: keyring.stats, describe: inner.describe)
        }
        func makeLayer(_ spec: ByzantineSpec, context: ByzantineContext, scenario: Scenario, keyring: Keyring) throws(RunError) -> any Misbehaviour {
            try inner.makeLayer(spec, context: context, scenario: scenario, keyring: keyring)
        }
    }

    static func timeHandlers(_ kind: ProtocolKind, seconds: Double) -> HandlerTimes {
        let log = HandlerLog()
        var s = Benchmarks.scenario(kind, n: 4, crypto: .fast, simSeconds: seconds)
        s.name = "calibrate-\(kind.rawValue)"
        let driver = TimingDriver(inner: Runner.driver(for: kind), log: log)
        _ = try? ScenarioRun.execute(s, trace: .off, driver: driver, checkers: false)
        return log.times
    }
}
