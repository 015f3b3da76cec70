import BFTCore
import BFTCrypto
import Foundation
import Histogram
import Logging
import NIOCore
import NIOPosix
import Runner

/// What `bftsim client` measured; printed and written as JSON.
public struct LoadReport: Codable, Sendable {
    public var protocolName: String
    public var clients: Int
    public var outstanding: Int
    public var firstClient: Int
    public var mode: String
    public var durationSeconds: Double
    public var issued: Int
    public var completed: Int
    public var completedInWindow: Int
    public var throughputPerSecond: Double
    public var latencyNs: [String: Int64]

    public func text() -> String {
        func ms(_ k: String) -> String { String(format: "%.2fms", Double(latencyNs[k] ?? 0) / 1e6) }
        return "load      \(protocolName), \(clients) clients x \(outstanding) outstanding (\(mode)), \(String(format: "%.1f", durationSeconds))s\n"
            + "requests  \(completed)/\(issued) completed, throughput \(String(format: "%.1f", throughputPerSecond)) req/s\n"
            + "latency   p50 \(ms("p50"))  p90 \(ms("p90"))  p99 \(ms("p99"))  max \(ms("max"))"
    }
}

/// `bftsim client`: `clients × outstanding` BFTCore `Client` state machines (each has one request
/// outstanding, so K outstanding per load client are K client ids) on one event loop, one connection
/// per replica. Each request completes on f+1 matching signed replies (the `Client` rules).
public final class LoadGenerator: @unchecked Sendable {
    let config: ClusterConfig
    let loop: EventLoop
    let group: EventLoopGroup
    let first: Int
    let count: Int
    private var machines: [Client]
    /// Client timers, keyed `client index × 4 + (kind & 3)`, behind one event-loop wake-up.
    fileprivate var deadlines: DeadlineQueue
    private var timerIDs: [TimerID]
    private var timerGenerations: [UInt64]
    /// Per client (`Runtime`): a firing is delivered only if still current.
    private var timerTables: [TimerTable]
    private var wake: Scheduled<Void>?
    private var wakeAt = Int64.max
    private var channels: [Channel?]
    /// Connections waiting for their replica's challenge (not yet in `channels`).
    private var connecting: [Channel?]
    private var pending: [[ByteBuffer]]
    private var actions: [ReplicaAction] = []
    private var issueTime: [Int64]
    private var histogram = Histogram<UInt64>(highestTrackableValue: 600 * 1_000_000_000, numberOfSignificantValueDigits: .three)
    private let log: ObservationLog
    private var issued = 0
    private var completed = 0
    private var completedInWindow = 0
    private var draining = false
    private var touched: Set<Int> = []
    /// Ed25519 keys of clients `first..<first+count`, which prove the range to each replica (`ClientAuth`).
    private let handshakeKeys: [Ed25519KeyPair]
    /// Set before `run` to serve metrics (`bftsim client --metrics-port`) and log connections.
    public var metrics: ClientMetrics?
    public var logger = Logger(label: "bftsim.client", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(config: ClusterConfig, keyring: Keyring, handshakeKeys: [Ed25519KeyPair], first: Int, count: Int,
                workload: WorkloadSpec, seed: UInt64, logPath: String, group: EventLoopGroup) throws(LiveError) {
        guard handshakeKeys.count == count else { throw .config("one handshake key per client: \(handshakeKeys.count) for \(count) clients") }
        self.handshakeKeys = handshakeKeys
        self.config = config
        self.group = group
        loop = group.next()
        self.first = first
        self.count = count
        let quorum = QuorumMath(n: config.n, f: config.f)
        let targeting = driver(for: try config.protocolKind).clientTargeting
        machines = (first..<(first + count)).map { c in
            Client(id: c, quorum: quorum, workload: workload, targeting: targeting, signer: keyring.signer(for: .client(c)),
                   verifier: keyring.verifier, rng: DeterministicRNG(seed: seed, stream: "live-client/\(c)"))
        }
        channels = Array(repeating: nil, count: config.n)
        connecting = Array(repeating: nil, count: config.n)
        pending = Array(repeating: [], count: config.n)
        issueTime = Array(repeating: 0, count: count)
        deadlines = DeadlineQueue(keys: count * 4)
        timerIDs = Array(repeating: TimerID(kind: 0), count: count * 4)
        timerGenerations = Array(repeating: 0, count: count * 4)
        timerTables = Array(repeating: TimerTable(), count: count)
        log = try ObservationLog(path: logPath)
    }

    /// Connects, runs the load for `duration`, drains in-flight requests for up to `drain`, and reports.
    public func run(duration: Double, drain: Double = 3) throws -> LoadReport {
        let done = loop.makePromise(of: Void.self)
        let started = ReplicaHost.wallNanos()
        try loop.submit { [self] in
            drainPromise = done
            for r in 0..<config.n { connect(r) }
            for i in machines.indices { deliver(i, .start) }
            flush()
            loop.scheduleTask(in: .nanoseconds(Int64(duration * 1e9))) { [self] in
                draining = true
                completedInWindow = completed
                if issued == completed { finish() }
                loop.scheduleTask(in: .nanoseconds(Int64(drain * 1e9))) { [self] in finish() }
            }
            loop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) { [self] _ in log.flush() }
        }.wait()
        try done.futureResult.wait()
        let elapsed = Double(ReplicaHost.wallNanos() - started) / 1e9
        return try loop.submit { [self] in
            log.flush()
            if let failure = log.failure {
                // Never silently: the client's observations are what `bftsim check` audits.
                FileHandle.standardError.write(Data("warning: \(log.failedWrites) observation writes failed: \(failure)\n".utf8))
            }
            for ch in channels { ch?.close(promise: nil) }
            let h = histogram
            let lat: [String: Int64] = completed == 0 ? [:] : [
                "p50": Int64(h.valueAtPercentile(50)), "p90": Int64(h.valueAtPercentile(90)),
                "p99": Int64(h.valueAtPercentile(99)), "max": Int64(h.max), "mean": Int64(h.mean),
            ]
            _ = elapsed
            return LoadReport(protocolName: config.protocolName, clients: 0, outstanding: 0, firstClient: first, mode: "",
                              durationSeconds: duration, issued: issued, completed: completed,
                              completedInWindow: completedInWindow,
                              throughputPerSecond: (Double(completedInWindow) / duration * 10).rounded() / 10, latencyNs: lat)
        }.wait()
    }

    private var drainPromise: EventLoopPromise<Void>?
    private var finished = false
    private func finish() {
        guard !finished, let p = drainPromise else { return }
        finished = true
        p.succeed(())
    }

    private func deliver(_ i: Int, _ input: ReplicaInput) {
        actions.removeAll(keepingCapacity: true)
        machines[i].handle(input, into: &actions)
        var sink = ClientSink(generator: self, index: i, now: ReplicaHost.wallNanos())
        Runtime.interpret(actions, sender: .client(first + i), timers: &timerTables[i], into: &sink)
    }

    /// The load generator as an `EffectSink` for client `index` (`Runtime`). Clients persist nothing and
    /// never broadcast. While draining, a newly issued request is not sent: the rest of that batch is
    /// dropped.
    struct ClientSink: EffectSink {
        unowned let generator: LoadGenerator
        let index: Int
        let now: Nanoseconds
        var suppressed = false

        func persist(key: String, bytes: [UInt8]) {}
        func sync() {}
        func broadcast(_ bytes: [UInt8]) {}
        func send(_ bytes: [UInt8], to: Principal) {
            guard !suppressed else { return }
            generator.send(bytes, to: to)
        }
        func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) {
            guard !suppressed else { return }
            generator.arm(client: index, timer, at: now + max(0, after), generation: generation)
        }
        func cancelTimer(_ timer: TimerID) { generator.deadlines.cancel(index * 4 + Int(timer.kind & 3)) }
        mutating func observe(_ o: Observation) {
            guard !suppressed else { return }
            suppressed = !generator.record(client: index, o, at: now)
        }
    }

    /// Counts and logs a client observation; false when the generator is draining and the request just
    /// issued must not go out.
    private func record(client i: Int, _ o: Observation, at now: Nanoseconds) -> Bool {
        switch o {
        case .requestIssued:
            if draining { return false }
            issued += 1
            issueTime[i] = now
            metrics?.issued.increment()
        case .requestCompleted:
            completed += 1
            _ = histogram.record(UInt64(max(0, now - issueTime[i])))
            metrics?.completed.increment()
            metrics?.latency.recordNanoseconds(max(0, now - issueTime[i]))
            if draining && issued == completed { finish() }
        default: break
        }
        log.append(time: now, source: .client(first + i), o)
        return true
    }

    private func send(_ bytes: [UInt8], to: Principal) {
        guard let r = to.replicaID, r >= 0, r < config.n else { return }
        let buf = Wire.frame(bytes, allocator: ByteBufferAllocator())
        if let ch = channels[r] {
            ch.write(buf, promise: nil)
            touched.insert(r)
        } else if pending[r].count < OutboundLink.pendingMax {
            pending[r].append(buf)
        }
    }

    private func arm(client i: Int, _ t: TimerID, at deadline: Nanoseconds, generation: UInt64) {
        let key = i * 4 + Int(t.kind & 3)
        timerIDs[key] = t
        timerGenerations[key] = generation
        deadlines.arm(key, at: deadline)
        scheduleWake()
    }

    /// Makes sure the loop wakes up by the earliest deadline.
    private func scheduleWake() {
        guard let at = deadlines.earliest, at < wakeAt else { return }
        wake?.cancel()
        wakeAt = at
        wake = loop.scheduleTask(in: .nanoseconds(max(0, at - ReplicaHost.wallNanos()))) { [self] in onWake() }
    }

    private func onWake() {
        wake = nil
        wakeAt = .max
        let now = ReplicaHost.wallNanos()
        while let key = deadlines.popDue(now: now) {
            guard timerTables[key / 4].fire(timerIDs[key], generation: timerGenerations[key]) else { continue }
            deliver(key / 4, .timer(timerIDs[key]))
        }
        flush()
        scheduleWake()
    }

    private func flush() {
        for r in touched { channels[r]?.flush() }
        touched.removeAll(keepingCapacity: true)
    }

    func onReply(_ bytes: [UInt8], from r: Int, channel: Channel) {
        guard channels[r] === channel else { return onChallenge(bytes, from: r, channel: channel) }
        // REPLY layout: tag, view u64, client u32, ...
        guard bytes.count >= 13, bytes[0] == ClientWireTag.reply else { return }
        let c = Int(bytes[9]) << 24 | Int(bytes[10]) << 16 | Int(bytes[11]) << 8 | Int(bytes[12])
        guard c >= first && c < first + count else { return }
        deliver(c - first, .message(from: .replica(r), bytes: bytes))
    }

    func onReadComplete() { flush() }

    /// A replica's challenge on a fresh connection: answers with one signature per client of the range
    /// (`ClientAuth`), then sends what waited and starts using the connection. Anything else before
    /// the challenge is not from a replica that follows the protocol, and closes the connection.
    private func onChallenge(_ bytes: [UInt8], from r: Int, channel ch: Channel) {
        guard connecting[r] === ch, let (replica, nonce) = ClientAuth.parseChallenge(bytes), replica == r else {
            ch.close(promise: nil)
            return
        }
        let signed = ClientAuth.signedBytes(nonce: nonce, replica: r, first: first, count: count)
        ch.write(Wire.frame(ClientAuth.proof(handshakeKeys.map { $0.sign(signed) }), allocator: ch.allocator), promise: nil)
        for b in pending[r] { ch.write(b, promise: nil) }
        pending[r].removeAll()
        ch.flush()
        connecting[r] = nil
        channels[r] = ch
        metrics?.connected.record(Int64(channels.filter { $0 != nil }.count))
        logger.info("replica connected", metadata: ["replica": "\(r)"])
    }

    private func connect(_ r: Int, backoffMs: Int64 = 100) {
        let entry = config.replicas[r]
        let hello = Wire.frame(Handshake.clients(first: first, count: count).bytes, allocator: ByteBufferAllocator())
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(2))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(generator: self, replica: r))
                }
            }
            .connect(host: entry.host, port: entry.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let ch):
                    // Requests wait in `pending[r]` until the replica's challenge is answered.
                    connecting[r] = ch
                    ch.writeAndFlush(hello, promise: nil)
                case .failure:
                    loop.scheduleTask(in: .milliseconds(backoffMs)) { [self] in connect(r, backoffMs: min(backoffMs * 2, 2000)) }
                }
            }
    }

    func onDisconnect(_ r: Int, channel: Channel) {
        if connecting[r] === channel {
            connecting[r] = nil
        } else {
            guard channels[r] === channel else { return }
            channels[r] = nil
            metrics?.connected.record(Int64(channels.filter { $0 != nil }.count))
            if !finished { logger.warning("replica lost", metadata: ["replica": "\(r)"]) }
        }
        loop.scheduleTask(in: .milliseconds(100)) { [self] in connect(r) }
    }
}

final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let generator: LoadGenerator
    let replica: Int
    init(generator: LoadGenerator, replica: Int) {
        self.generator = generator
        self.replica = replica
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        generator.onReply(unwrapInboundIn(data), from: replica, channel: context.channel)
    }
    func channelReadComplete(context: ChannelHandlerContext) { generator.onReadComplete() }
    func channelInactive(context: ChannelHandlerContext) { generator.onDisconnect(replica, channel: context.channel) }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// `bftsim client` entry point.
public enum LoadProcess {
    public static func run(configPath: String, clients: Int, outstanding: Int, firstClient: Int, duration: Double,
                           rate: Double?, rateChanges: [WorkloadSpec.RateChange]? = nil, out: String?, logPath: String,
                           metricsPort: Int? = nil, logger: Logger? = nil) throws -> LoadReport {
        let config = try ClusterConfig.load(path: configPath)
        let count = clients * outstanding
        let range = firstClient..<(firstClient + count)
        let keyring = try KeyFiles.clientKeyring(config: config, configPath: configPath, range: range)
        let handshakeKeys = try KeyFiles.clientHandshakeKeys(config: config, configPath: configPath, range: range)
        let mode: WorkloadSpec.Mode = rate.map { .open(rate: $0) } ?? .closed(thinkTime: 0)
        var workload = WorkloadSpec(clients: count, mode: mode, requestsPerClient: nil,
                                    retryTimeout: config.clientRetryTimeout, retryTimeoutMax: 8 * nanosPerSecond)
        if rate != nil { workload.rateChanges = rateChanges }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let gen = try LoadGenerator(config: config, keyring: keyring, handshakeKeys: handshakeKeys, first: firstClient, count: count, workload: workload,
                                    seed: UInt64(truncatingIfNeeded: ReplicaHost.wallNanos()), logPath: logPath, group: group)
        if let logger { gen.logger = logger }
        var server: Channel?
        if let metricsPort {
            let m = ClientMetrics()
            gen.metrics = m
            do {
                server = try MetricsServer.start(group: group, host: "127.0.0.1", port: metricsPort, loop: group.next()) { path in
                    path == "/metrics" ? HTTPPage(contentType: "text/plain; version=0.0.4; charset=utf-8", body: m.exposition()) : .notFound
                }
            } catch { throw LiveError.io("cannot serve metrics on 127.0.0.1:\(metricsPort): \(error)") }
            gen.logger.info("serving metrics", metadata: ["address": "http://127.0.0.1:\(metricsPort)/metrics"])
        }
        defer { try? server?.close().wait() }
        gen.logger.info("load started", metadata: ["clients": "\(clients)", "outstanding": "\(outstanding)", "seconds": "\(duration)"])
        var report = try gen.run(duration: duration)
        gen.logger.info("load finished", metadata: ["issued": "\(report.issued)", "completed": "\(report.completed)"])
        report.clients = clients
        report.outstanding = outstanding
        report.mode = rate.map { "open loop \($0)/s" + (rateChanges.map { c in c.map { ", \($0.rate)/s from \(Double($0.at) / 1e9)s" }.joined() } ?? "") } ?? "closed loop"
        if let out {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            try enc.encode(report).write(to: URL(fileURLWithPath: out))
        }
        return report
    }
}
