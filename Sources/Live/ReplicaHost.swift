import BFTCore
import BFTCrypto
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Counters the live shell keeps about its own traffic; written to `DIR/stats.json` every second.
public struct ShellStats: Codable, Sendable {
    public var framesIn = 0
    public var framesOut = 0
    public var oversizeFrames = 0
    public var emptyFrames = 0
    public var truncatedFrames = 0
    public var badHandshakes = 0
    public var unknownSenders = 0
    public var replays = 0
    /// Connections closed for passing the strike limit (once per connection; issue 13).
    public var disconnectedForGarbage = 0
    /// Bans issued (an address passed the strike limit on a connection or in failed handshakes).
    public var bans = 0
    /// Connections refused because their address was banned, or over a connection limit.
    public var refusedBanned = 0
    public var refusedOverLimit = 0
    /// Times accepting stopped for a while because connections were being refused faster than
    /// `InboundLimits.refusalsPerWindowMax` (a reconnect flood; issue 13).
    public var acceptPauses = 0
    /// Connections closed for not completing their handshake in time, for a frame that stalled, or
    /// for partial frames over the process's `FrameBudget`.
    public var handshakeTimeouts = 0
    public var stalledFrames = 0
    public var overBudgetFrames = 0
    /// Frames dropped because their connection's frame budget (token bucket) was empty.
    public var rateLimited = 0
    /// Client connections that proved (or failed to prove) their claimed client range.
    public var clientAuthenticated = 0
    public var clientAuthFailures = 0
    public var sendsDroppedUnconnected = 0
    public var linkFaultDrops = 0
    /// Signatures checked on the verification thread (issue 13).
    public var verifiedOffLoop = 0
    /// Times a connection's reading stopped because its verification backlog was full.
    public var verificationPauses = 0
    public var linkFaults: [String] = []
    /// Rejected frames by reason (exact counts; the observation log holds at most one sample per reason
    /// per second, issue 13).
    public var rejected: [String: Int] = [:]
    public var rejectionsLogged = 0
    public var committed = 0
    public var lastCommittedSequence: UInt64 = 0
    public var executed = 0
    public var highestView: UInt64 = 0
    public var syncs = 0
    /// Mean and longest store sync (write + fdatasync), in microseconds.
    public var syncMeanMicros = 0
    public var syncMaxMicros = 0
    public var recovered = false
    /// Observation-log writes that failed (the replica stops on the first; see `storageFailure`).
    public var observationWriteFailures = 0
    /// Why the replica stopped on a storage failure (durable store or observation log), if it did.
    public var storageFailure: String?

    public init() {}
}

/// Limits of the live shell's inbound side (issue 13): strikes and bans, connection counts, timeouts
/// and per-connection frame budgets. Every one names a maximum (STYLE.md: everything bounded).
enum InboundLimits {
    /// Strike points a connection may hold. Each frame rejected for an authentication or format failure
    /// adds one; the level leaks `strikeLeakPerSecond`, so a rare honest rejection never adds up.
    static let strikesMax = 32.0
    static let strikeLeakPerSecond = 1.0
    /// How long an address that passed the strike limit is refused.
    static let banNs: Int64 = 15 * nanosPerSecond
    static let bansMax = 4096
    static let connectionsPerAddressMax = 64
    static let connectionsMax = 512
    /// Refused connections (banned or over a limit) per `refusalWindowNs` before accepting pauses. Each
    /// refusal still costs an accept, a pipeline and a close on the one event loop; a peer that
    /// reconnects as fast as one core allows (~5,000 a second here) would take a fifth of it. While
    /// accepting is paused the kernel's backlog fills and the flooder's connects wait instead.
    /// Established connections are untouched; a new honest connection waits at most `acceptPauseMaxNs`.
    static let refusalsPerWindowMax = 32
    static let refusalWindowNs: Int64 = 100 * nanosPerMillisecond
    static let acceptPauseMinNs: Int64 = 50 * nanosPerMillisecond
    static let acceptPauseMaxNs: Int64 = 1 * nanosPerSecond
    /// A connection must complete its handshake (and client proof) within this long.
    static let handshakeTimeoutNs: Int64 = 5 * nanosPerSecond
    /// A frame must arrive completely within this long of its first byte.
    static let frameStallNs: Int64 = 10 * nanosPerSecond
    /// Largest frame before the handshake (a handshake is 14 bytes), on admin and client connections.
    static let handshakeFrameMax = 64
    static let adminFrameMax = 64 << 10
    static let clientFrameMax = 1 << 20
    /// Frames per second a replica connection may hand the state machine, and the burst. Each frame
    /// costs at least one signature verification; an honest peer sends a few hundred to ~1,500 a second
    /// at this machine's peak throughputs, so the budget is several times that.
    static let replicaFramesPerSecond = 5_000.0
    static let replicaFramesBurst = 10_000.0
    /// The same per claimed client id of a client connection (at least `clientFramesMin`).
    static let clientFramesPerSecondPerClient = 1_000.0
    static let clientFramesMin = 20_000.0

    /// Authentication and format failures, which an honest peer never produces. Protocol-level
    /// rejections (stale, wrong-view, outside-window, conflicting) happen to honest peers under load
    /// and in view changes, so they never strike. (`bad-signature` can reach an honest replica's
    /// connection in MAC mode, from a request a faulty client authenticated for some replicas only;
    /// the leak keeps that from adding up.)
    static func strikes(_ reason: RejectReason) -> Bool {
        switch reason {
        case .malformed, .badSignature, .forgedSender, .unknownSender, .invalidCertificate, .digestMismatch: return true
        case .wrongView, .outsideWindow, .conflicting, .stale, .oversizeBatch: return false
        }
    }
}

/// A leaky bucket of strike points.
struct StrikeBucket {
    var level = 0.0
    var at: Int64 = 0
    /// Adds one strike at `now`; true when the level passed `InboundLimits.strikesMax`.
    mutating func add(now: Int64) -> Bool {
        level = max(0, level - Double(now - at) / 1e9 * InboundLimits.strikeLeakPerSecond) + 1
        at = now
        return level > InboundLimits.strikesMax
    }
}

/// A token bucket of frames.
struct FrameTokens {
    var rate: Double
    var burst: Double
    var tokens: Double
    var at: Int64
    init(rate: Double, burst: Double, now: Int64) {
        self.rate = rate
        self.burst = burst
        tokens = burst
        at = now
    }
    mutating func take(now: Int64) -> Bool {
        tokens = min(burst, tokens + Double(now - at) / 1e9 * rate)
        at = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// One inbound connection as the shell sees it: who it claims to be and how badly it behaved.
/// Confined to the host's event loop (hence `@unchecked Sendable`: verification completions capture
/// it, and they run on that loop too).
final class InboundPeer: @unchecked Sendable {
    /// Frames of this connection on the verification thread, not yet delivered (issue 13).
    var verifying = 0
    /// Reading stopped because `verifying` reached `verifyingMax` (back-pressure on the socket).
    var paused = false
    /// Per-connection verification budget: at most this many frames wait for the verification thread;
    /// reading resumes once the backlog is down to `verifyingResume`. A flood of forgeries thus holds at
    /// most 64 verifications (about 4 ms of one core) ahead of any honest peer's frame.
    static let verifyingMax = 64
    static let verifyingResume = 16
    var handshake: Handshake?
    /// A client connection's challenge, until its proof arrives (`ClientAuth`).
    var nonce: [UInt8]?
    /// A `.clients` handshake whose proof verified: only then are replies routed to it.
    var authenticated = false
    var strikes = StrikeBucket()
    var tokens: FrameTokens?
    var recentHashes: [Int: Int64] = [:]
    var recentOrder: [Int] = []
    let channel: Channel
    let reader: FrameReader
    /// Remote IP address ("?" when unknown): the unit of connection limits and bans.
    let address: String
    /// Monotonic time of accept.
    let acceptedAt: Int64
    /// Counted in the host's connection tables (admitted past the limits and bans).
    var admitted = false
    var closed = false
    init(channel: Channel, reader: FrameReader) {
        self.channel = channel
        self.reader = reader
        address = channel.remoteAddress?.ipAddress ?? "?"
        acceptedAt = FrameReader.monotonicNanos()
    }

    static let replayWindow = 1024
    static let replayWindowNs: Int64 = 2 * nanosPerSecond

    /// Still owes its handshake or its client proof.
    var handshaking: Bool {
        guard let h = handshake else { return true }
        if case .clients = h { return !authenticated }
        return false
    }

    /// True when these exact bytes arrived on this connection within the replay window.
    func isReplay(_ bytes: [UInt8], now: Int64) -> Bool {
        var h = Hasher()
        bytes.withUnsafeBytes { h.combine(bytes: $0) }  // one bulk SipHash, not one call per byte
        let key = h.finalize()
        if let t = recentHashes[key], now - t < InboundPeer.replayWindowNs { return true }
        recentHashes[key] = now
        recentOrder.append(key)
        if recentOrder.count > InboundPeer.replayWindow {
            let old = recentOrder.removeFirst()
            if recentHashes[old] != nil, old != key { recentHashes[old] = nil }
        }
        return false
    }
}

/// An operator command for a replica's links (`bftsim link`).
public struct LinkCommand: Codable, Sendable {
    public var peers: [Int]
    public var fault: LinkFault?
    public var heal: Bool
    public init(peers: [Int], fault: LinkFault?, heal: Bool) {
        self.peers = peers
        self.fault = fault
        self.heal = heal
    }
}

/// Per-peer link faults the replica applies to its own outgoing replica traffic (admin command).
public struct LinkFault: Codable, Sendable, Equatable {
    public var drop = false
    public var delayNs: Int64 = 0
    public var loss: Double = 0
    public init(drop: Bool = false, delayNs: Int64 = 0, loss: Double = 0) {
        self.drop = drop
        self.delayNs = delayNs
        self.loss = loss
    }
}

/// The live shell of one replica: a single event loop that owns the state machine, its sockets, its
/// timers, its durable store and its observation log. Every input runs `machine.handle` on that loop;
/// the resulting persists are buffered in the store and sends are held, each tagged with the number of
/// persists issued up to the end of its batch. At the end of each read burst (or timer) the buffered
/// persists go to the IO thread as one job (group commit) while the loop keeps handling input; a held
/// send leaves once every persist it was tagged with is durable (persist-before-send, `ReplicaAction`).
public final class ReplicaHost: @unchecked Sendable {
    public let id: ReplicaID
    let config: ClusterConfig
    let loop: EventLoop
    private var machine: any StateMachine
    private let store: DurableStore
    private let log: ObservationLog
    private let dataDir: String
    private var actions: [ReplicaAction] = []
    /// What waits for durability: a send, or a promise observation (`Observation.isPromise`).
    enum Held {
        case send([UInt8], to: Principal?)
        case observe(Nanoseconds, Observation)
    }
    /// Sends and promises waiting for the persists issued before them (`needs`, a count of
    /// `store.issued`), in production order, so `needs` never decreases along the array.
    var held: [(item: Held, needs: UInt64)] = []
    var heldHead = 0
    /// Persists known durable (`SyncJob.upTo` of the last completed job).
    private var durableUpTo: UInt64 = 0
    private var syncInFlight = false
    /// One thread for blocking file IO (write + fdatasync), so the loop never waits on the disk.
    private let io: NIOThreadPool
    /// Signature verification off the event loop (issue 13): replica frames go through one worker thread
    /// that runs the protocol's `MessageAuthenticator` with a `RecordingVerifier`; the results enter the
    /// replica verifier's cache on the loop just before the frame is delivered, so the replica's own
    /// checks are cache hits. Frames of one connection stay in order (one thread, FIFO).
    private let verification: (pool: NIOThreadPool, authenticate: MessageAuthenticator, recorder: RecordingVerifier, cache: VerificationCache)?
    private var flushScheduled = false
    /// Timer generations (`Runtime`) and the scheduled firings, for cancellation.
    private var timerTable = TimerTable()
    private var scheduledTimers: [TimerID: Scheduled<Void>] = [:]
    var links: [OutboundLink?] = []
    private var clientRoutes: [(range: Range<Int>, channel: Channel)] = []
    public private(set) var stats = ShellStats()
    var linkFaults: [Int: LinkFault] = [:]
    private var rng = SystemRandomNumberGenerator()
    private let startWall: Int64

    // Inbound connections (issue 13): limits, bans, budgets.
    private let frameBudget = FrameBudget()
    var inbound: [InboundPeer] = []
    private var connectionsByAddress: [String: Int] = [:]
    /// Banned addresses and when their ban ends (monotonic ns).
    private var bans: [String: Int64] = [:]
    /// Strikes per address for what closes a connection before it could earn connection strikes:
    /// failed or timed-out handshakes, partial frames over the budget, stalled frames. Past the strike
    /// limit the address is banned (a peer reconnecting to hold half frames again is shut out).
    private var addressStrikes: [String: StrikeBucket] = [:]
    private let clientPublicKeys: [[UInt8]]
    private var serverChannel: Channel?
    // Operating the replica (issue 20): logs, metrics, the status page.
    /// One line per event that matters; never a key or a payload.
    let logger: Logger
    let metrics: ReplicaMetrics
    var traffic = TrafficCounts()
    private let metricsPort: Int?
    var metricsChannel: Channel?
    /// Arrival (monotonic ns) of client requests not yet executed here, for the commit latency
    /// histogram; at most `arrivalsMax` (a flood of requests never grows it further).
    var arrivals: [RequestID: Int64] = [:]
    static let arrivalsMax = 16_384
    static let arrivalTTLNs: Int64 = 30 * nanosPerSecond
    /// Committed requests at each of the last `rateWindow` seconds (commit rate).
    var committedHistory: [Int] = []
    static let rateWindow = 5
    var commitRate = 0.0
    /// Rejected-frame totals as of the last summary line (one line a second at most under a flood).
    var rejectionsReported: [String: Int] = [:]
    var bansReported = 0
    var acceptPausesReported = 0
    var refusedReported = 0
    var catchUpReportedAt: Int64 = 0
    var slowSyncs = 0
    var slowSyncReportedAt: Int64 = 0
    /// A store sync longer than this is logged (at most one line per `slowSyncLogIntervalNs`).
    static let slowSyncNs: Int64 = 100_000_000
    static let slowSyncLogIntervalNs: Int64 = 10 * nanosPerSecond
    var shuttingDown = false
    let startMonotonic = FrameReader.monotonicNanos()

    /// Accept throttling (`InboundLimits.refusalsPerWindowMax`): refusals in the current window, when
    /// it began, and the length of the last pause (doubling while refusals go on, reset by a quiet window).
    private var refusalsInWindow = 0
    private var refusalWindowStart: Int64 = 0
    private var acceptPauseNs: Int64 = 0
    private var acceptPaused = false
    /// Rejections written to the observation log in the current second, by `RejectReason` index.
    private var rejectionsLoggedThisSecond = [Int](repeating: 0, count: RejectReason.allCases.count)
    static let rejectionSamplesPerSecond = 1

    // Storage failure (issue 13): the replica stops instead of trapping or running on without its log.
    /// Set once a durable-store or observation-log write failed: nothing more is handled or sent.
    public private(set) var stopped = false
    /// Called (on the loop) after a storage failure has stopped the replica and stats are written;
    /// the process exits with `ReplicaHost.storageFailureExitCode`. Tests leave it nil.
    public var onStorageFailure: (@Sendable (String) -> Void)?
    /// Exit status of a replica stopped by a storage failure (sysexits' EX_IOERR).
    public static let storageFailureExitCode: Int32 = 74

    /// `authenticate` and `keyring` (the replica's) enable the verification thread; without them the
    /// replica verifies on the loop.
    public init(id: ReplicaID, config: ClusterConfig, machine: any StateMachine, dataDir: String, loop: EventLoop,
                authenticate: MessageAuthenticator? = nil, keyring: Keyring? = nil,
                logger: Logger? = nil, metricsPort: Int? = nil) throws(LiveError) {
        self.id = id
        var l = logger ?? Logger(label: "bftsim.replica", factory: { _ in SwiftLogNoOpLogHandler() })
        l[metadataKey: "replica"] = "\(id)"
        self.logger = l
        self.metricsPort = metricsPort
        metrics = ReplicaMetrics(n: config.n, id: id)
        self.config = config
        self.machine = machine
        self.loop = loop
        self.dataDir = dataDir
        store = try DurableStore(directory: dataDir)
        log = try ObservationLog(path: dataDir + "/" + ObservationLog.fileName)
        clientPublicKeys = config.clientKeys.map { [UInt8](hex: $0) ?? [] }
        startWall = ReplicaHost.wallNanos()
        io = NIOThreadPool(numberOfThreads: 1)
        io.start()
        if let authenticate, let keyring, let cache = keyring.verificationCache, !keyring.allPublicKeys.isEmpty {
            let pool = NIOThreadPool(numberOfThreads: 1)
            pool.start()
            verification = (pool, authenticate, RecordingVerifier(publicKeys: keyring.allPublicKeys), cache)
        } else {
            verification = nil
        }
    }

    static func wallNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * nanosPerSecond + Int64(ts.tv_nsec)
    }

    // MARK: Start

    /// Binds the listener, dials every peer, then starts (or recovers) the machine.
    public func start(group: EventLoopGroup) throws {
        let entry = config.replicas[id]
        let server = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let reader = FrameReader(budget: frameBudget, frameMax: InboundLimits.handshakeFrameMax)
                    try channel.pipeline.syncOperations.addHandler(reader)
                    try channel.pipeline.syncOperations.addHandler(InboundHandler(host: self, peer: InboundPeer(channel: channel, reader: reader)))
                }
            }
        let listener = try server.bind(host: entry.host, port: entry.port).wait()
        if let metricsPort {
            do {
                metricsChannel = try MetricsServer.start(group: group, host: entry.host, port: metricsPort, loop: loop) { [self] path in
                    page(path)
                }
            } catch {
                listener.close(promise: nil)
                throw LiveError.io("replica \(id): cannot serve metrics on \(entry.host):\(metricsPort): \(error)")
            }
            logger.info("serving metrics", metadata: ["address": "http://\(entry.host):\(metricsPort)/metrics"])
        }
        try loop.submit { [self] in
            serverChannel = listener
            links = (0..<config.n).map { j in j == id ? nil : OutboundLink(host: self, peer: j, group: group) }
            for l in links { l?.connect() }
            let durable = store.recovered
            if durable.isEmpty {
                deliver(.start, from: nil)
            } else {
                stats.recovered = true
                logger.notice("recovered durable state", metadata: ["keys": "\(durable.count)"])
                // As the simulator does on restart: the checkers then accept re-execution after a
                // state transfer by a replica that lost its volatile state.
                let (restarted, recover) = Runtime.restartInputs(durable: durable)
                log.append(time: ReplicaHost.wallNanos(), source: .replica(id), restarted)
                deliver(recover, from: nil)
            }
            flushOutput()
            scheduleHousekeeping()
        }.wait()
    }

    private func scheduleHousekeeping() {
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) { [self] _ in
            flushLog()
        }
        loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            guard !stopped else { return }
            for i in rejectionsLoggedThisSecond.indices { rejectionsLoggedThisSecond[i] = 0 }
            sweepConnections()
            writeStats()
            everySecond()
        }
    }

    /// Writes `stats.json` atomically: a temporary file written and fsynced in full, then renamed over
    /// the old one. A failed write (a full disk) leaves the previous file in place, never an empty one.
    @discardableResult
    func writeStats() -> Bool {
        stats.syncs = store.syncs
        stats.syncMeanMicros = store.syncs == 0 ? 0 : Int(store.syncNanos / Int64(store.syncs) / 1000)
        stats.syncMaxMicros = Int(store.syncNanosMax / 1000)
        stats.observationWriteFailures = log.failedWrites
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        guard let data = try? enc.encode(stats) else { return false }
        return AtomicFile.write([UInt8](data), to: dataDir + "/stats.json") == nil
    }

    /// Orderly shutdown (SIGTERM/SIGINT), called from a thread other than the loop: stops accepting
    /// (listener and metrics port closed, inbound connections closed, so no new input arrives), waits for
    /// the durable-store job in flight, syncs what is still buffered, releases the sends and promise
    /// observations that became durable, flushes the observation log, writes stats and closes the links.
    /// Bounded: gives up waiting for the IO thread after `timeoutSeconds`.
    public func shutdown(timeoutSeconds: Double = 5) {
        precondition(!loop.inEventLoop, "shutdown blocks; call it off the replica's event loop")
        let started = FrameReader.monotonicNanos()
        try? loop.submit { [self] in
            shuttingDown = true
            logger.notice("shutting down", metadata: ["committed": "\(stats.committed)", "view": "\(stats.highestView)"])
            serverChannel?.close(promise: nil)
            metricsChannel?.close(promise: nil)
            for p in inbound { close(p) }
            for t in scheduledTimers.values { t.cancel() }
            scheduledTimers.removeAll()
        }.wait()
        let deadline = started + Int64(timeoutSeconds * 1e9)
        while FrameReader.monotonicNanos() < deadline, (try? loop.submit { [self] in syncInFlight }.wait()) ?? false {
            usleep(1000)
        }
        try? loop.submit { [self] in
            if !stopped && !syncInFlight, let job = store.takeSyncJob() {
                do {
                    store.noteCompleted(try store.perform(job))
                    durableUpTo = job.upTo
                } catch {
                    logger.error("final store sync failed", metadata: ["error": "\(error)"])
                }
            }
            if !stopped { releaseDurableSends() }
            for l in links { l?.stop() }
            let flushed = flushLog() && log.flushAndSync()
            writeStats()
            logger.notice("shutdown complete", metadata: [
                "observation_log": flushed ? "flushed" : "failed", "store": syncInFlight ? "sync-timed-out" : "synced",
                "millis": "\((FrameReader.monotonicNanos() - started) / 1_000_000)"])
        }.wait()
        verification?.pool.shutdownGracefully { _ in }
    }

    /// Writes the observation log's buffer out; a failed write stops the replica (an audit trail that
    /// silently ends while the replica runs on was issue 13's defect). False once stopped.
    @discardableResult
    private func flushLog() -> Bool {
        guard !stopped else { return false }
        log.flush()
        if let failure = log.failure {
            storageFailed("observation log: \(failure)")
            return false
        }
        return true
    }

    /// Stops the replica after a durable-store or observation-log failure: nothing it holds is sent
    /// (held sends wait on persists that never completed, so nothing depending on unpersisted state
    /// leaves), every connection and the listener close, the reason goes to stderr and `stats.json`,
    /// and `onStorageFailure` ends the process. A restart once space is freed recovers from what was
    /// durable and catches up like any restarted replica.
    func storageFailed(_ message: String) {
        guard !stopped else { return }
        stopped = true
        stats.storageFailure = message
        stats.observationWriteFailures = log.failedWrites
        logger.critical("storage failure: stopping", metadata: ["error": "\(message)", "data": "\(dataDir)"])
        let line = "replica \(id): stopping on a storage failure in \(dataDir): \(message); nothing unpersisted was sent. "
            + "Free space and restart it (it recovers from its durable log). Exit status \(ReplicaHost.storageFailureExitCode).\n"
        FileHandle.standardError.write(Data(line.utf8))
        for t in scheduledTimers.values { t.cancel() }
        scheduledTimers.removeAll()
        timerTable.removeAll()
        serverChannel?.close(promise: nil)
        for p in inbound { p.channel.close(promise: nil) }
        for l in links { l?.stop() }
        if !writeStats() {
            FileHandle.standardError.write(Data("replica \(id): stats.json could not be written either (kept the previous one)\n".utf8))
        }
        onStorageFailure?(message)
    }

    // MARK: Inputs

    func deliver(_ input: ReplicaInput, from peer: InboundPeer?) {
        guard !stopped else { return }
        actions.removeAll(keepingCapacity: true)
        machine.handle(input, into: &actions)
        var sink = HostSink(host: self, peer: peer, now: ReplicaHost.wallNanos())
        Runtime.interpret(actions, sender: .replica(id), timers: &timerTable, into: &sink)
    }

    /// The live host as an `EffectSink` (`Runtime`): persists are buffered in the store; after `sync()`
    /// sends and promises are held until the persists issued so far are durable (group commit on the IO
    /// thread, `flushOutput`); a self-addressed send is dropped (the replica handled it internally).
    struct HostSink: EffectSink {
        unowned let host: ReplicaHost
        let peer: InboundPeer?
        let now: Nanoseconds

        func persist(key: String, bytes: [UInt8]) { host.store.put(key, bytes) }
        /// Nothing to do now: everything after it is held against `store.issued`, which already counts
        /// this batch's persists.
        func sync() {}
        func send(_ bytes: [UInt8], to: Principal) { host.held.append((.send(bytes, to: to), host.store.issued)) }
        func broadcast(_ bytes: [UInt8]) { host.held.append((.send(bytes, to: nil), host.store.issued)) }
        func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) { host.arm(timer, after: after, generation: generation) }
        func cancelTimer(_ timer: TimerID) { host.scheduledTimers.removeValue(forKey: timer)?.cancel() }
        func observe(_ o: Observation) { host.record(o, at: now, peer: peer) }
    }

    /// One observation: a promise waits for durability like a send; rejections are aggregated; the rest
    /// go to the log at once. Every one is counted.
    private func record(_ o: Observation, at now: Nanoseconds, peer: InboundPeer?) {
        switch o {
        case _ where o.isPromise:
            held.append((.observe(now, o), store.issued))
        case .rejected(let reason, let from):
            // Aggregated (issue 13: one record per rejected frame grew an attacked replica's log to
            // 259 MB): exact counts per reason in stats.json, at most one sample per reason per second
            // in the log.
            let k = RejectReason.allCases.firstIndex(of: reason)!
            if rejectionsLoggedThisSecond[k] < ReplicaHost.rejectionSamplesPerSecond {
                rejectionsLoggedThisSecond[k] += 1
                stats.rejectionsLogged += 1
                log.append(time: now, source: .replica(id), .rejected(reason: reason, from: from))
            }
        default:
            log.append(time: now, source: .replica(id), o)
        }
        account(o, peer: peer)
    }

    private func account(_ o: Observation, peer: InboundPeer?) {
        switch o {
        case .rejected(let reason, _):
            stats.rejected[reason.rawValue, default: 0] += 1
            // Every authentication or format failure strikes (issue 13: `forged-sender` did not, and
            // one connection streamed 3 M such frames).
            if let peer, InboundLimits.strikes(reason) { strike(peer) }
        case .committed(let seq, _, _, let count):
            stats.committed += 1
            traffic.committedRequests += count
            stats.lastCommittedSequence = max(stats.lastCommittedSequence, seq)
        case .executed(_, _, let request, _, _):
            stats.executed += 1
            if let at = arrivals.removeValue(forKey: request) {
                metrics.commitLatency.recordNanoseconds(FrameReader.monotonicNanos() - at)
            }
        case .viewEntered(let v, let leader):
            stats.highestView = max(stats.highestView, v)
            traffic.viewsEntered += 1
            if v > 0 { logger.info("view change completed", metadata: ["view": "\(v)", "leader": "\(leader)"]) }
        case .viewChangeStarted(let v):
            traffic.viewChanges += 1
            logger.info("view change started", metadata: ["view": "\(v)"])
        case .stateTransferred(let seq, _):
            traffic.stateTransfers += 1
            logger.notice("state transfer completed", metadata: ["sequence": "\(seq)"])
        default: break
        }
    }

    private func arm(_ t: TimerID, after: Nanoseconds, generation: UInt64) {
        scheduledTimers[t]?.cancel()
        scheduledTimers[t] = loop.scheduleTask(in: .nanoseconds(max(0, after))) { [self] in
            guard timerTable.fire(t, generation: generation) else { return }
            scheduledTimers[t] = nil
            deliver(.timer(t), from: nil)
            flushOutput()
        }
    }

    /// Persist-before-send: writes out the observations, lets every held send whose persists are durable
    /// leave, and hands the buffered persists to the IO thread unless a job is already in flight (the
    /// next job then takes everything buffered meanwhile: group commit).
    ///
    /// The observation log is written out (to the kernel, no fsync) before a job is taken: durable state
    /// must never be ahead of the observations describing it, or a kill -9 would leave executions the
    /// recovered replica skips but no log shows (the total-order checker would see a gap).
    func flushOutput() {
        guard flushLog() else { return }
        releaseDurableSends()
        guard !syncInFlight, let job = store.takeSyncJob() else { return }
        syncInFlight = true
        let store = self.store
        io.runIfActive(eventLoop: loop) { try store.perform(job) }.whenComplete { [self] result in
            syncInFlight = false
            switch result {
            case .success(let done):
                store.noteCompleted(done)
                durableUpTo = job.upTo
                metrics.storeSync.recordNanoseconds(done.nanos)
                if done.nanos > ReplicaHost.slowSyncNs { noteSlowSync(done.nanos) }
            case .failure(let error):
                // A replica that cannot persist must not send what depends on it (issue 13: it trapped).
                storageFailed("durable store: \(error)")
                return
            }
            flushOutput()
        }
    }

    /// Writes the held sends whose persists are all durable, in production order, then flushes each
    /// channel written to once.
    private func releaseDurableSends() {
        guard heldHead < held.count, held[heldHead].needs <= durableUpTo else { return }
        var touched = Set<ObjectIdentifier>()
        var touchedChannels: [Channel] = []
        func write(_ buf: ByteBuffer, _ ch: Channel) {
            ch.write(buf, promise: nil)
            stats.framesOut += 1
            if touched.insert(ObjectIdentifier(ch)).inserted { touchedChannels.append(ch) }
        }
        var observed = false
        while heldHead < held.count, held[heldHead].needs <= durableUpTo {
            let item = held[heldHead].item
            heldHead += 1
            guard case .send(let bytes, let to) = item else {
                if case .observe(let time, let o) = item { log.append(time: time, source: .replica(id), o) }
                observed = true
                continue
            }
            let buf = Wire.frame(bytes, allocator: ByteBufferAllocator())
            let tag = bytes.first ?? 0
            switch to {
            case nil:
                if tag == ReplicaHost.fetchStateTag || tag == ReplicaHost.blockRequestTag { noteCatchUp(tag, from: nil) }
                traffic.countOut(tag, bytes: bytes.count, copies: config.n - 1)
                for j in 0..<config.n where j != id { sendToReplica(j, buf, write) }
            case .replica(let j)?:
                // Never `id` itself: the runtime drops self-addressed sends (`Runtime`, rule 2).
                if j >= 0 && j < config.n && j != id {
                    if tag == ReplicaHost.fetchStateTag || tag == ReplicaHost.blockRequestTag { noteCatchUp(tag, from: j) }
                    traffic.countOut(tag, bytes: bytes.count)
                    sendToReplica(j, buf, write)
                }
            case .client(let c)?:
                if let route = clientRoutes.last(where: { $0.range.contains(c) }) {
                    traffic.countOut(tag, bytes: bytes.count)
                    write(buf, route.channel)
                } else {
                    stats.sendsDroppedUnconnected += 1
                }
            }
        }
        if heldHead == held.count {
            held.removeAll(keepingCapacity: true)
            heldHead = 0
        } else if heldHead > 4096 {
            held.removeFirst(heldHead)
            heldHead = 0
        }
        for ch in touchedChannels { ch.flush() }
        if observed { flushLog() }
    }

    private func sendToReplica(_ j: Int, _ buf: ByteBuffer, _ write: (ByteBuffer, Channel) -> Void) {
        if let fault = linkFaults[j] {
            if fault.drop || (fault.loss > 0 && Double.random(in: 0..<1, using: &rng) < fault.loss) {
                stats.linkFaultDrops += 1
                return
            }
            if fault.delayNs > 0 {
                loop.scheduleTask(in: .nanoseconds(fault.delayNs)) { [self] in
                    links[j]?.send(buf, flush: true)
                }
                return
            }
        }
        guard let link = links[j] else { return }
        if let ch = link.channel {
            write(buf, ch)
        } else {
            link.send(buf, flush: false)
        }
    }

    // MARK: Connection events (called by handlers on the loop)

    /// Admits a new connection unless its address is banned or a connection limit is reached.
    func onActive(peer: InboundPeer) {
        let now = FrameReader.monotonicNanos()
        if stopped || shuttingDown {
            peer.channel.close(promise: nil)
            return
        }
        if let until = bans[peer.address], until > now {
            stats.refusedBanned += 1
            close(peer)
            noteRefusal(now)
            return
        }
        guard inbound.count < InboundLimits.connectionsMax,
              connectionsByAddress[peer.address, default: 0] < InboundLimits.connectionsPerAddressMax else {
            stats.refusedOverLimit += 1
            close(peer)
            noteRefusal(now)
            return
        }
        peer.admitted = true
        inbound.append(peer)
        connectionsByAddress[peer.address, default: 0] += 1
    }

    /// Counts a refused connection; past `refusalsPerWindowMax` in one window, stops accepting for a
    /// pause that doubles (from `acceptPauseMinNs` to `acceptPauseMaxNs`) while the refusals go on.
    private func noteRefusal(_ now: Int64) {
        if now - refusalWindowStart > InboundLimits.refusalWindowNs {
            // A window without a pause-worthy burst resets the backoff.
            if refusalsInWindow <= InboundLimits.refusalsPerWindowMax { acceptPauseNs = 0 }
            refusalWindowStart = now
            refusalsInWindow = 0
        }
        refusalsInWindow += 1
        guard refusalsInWindow > InboundLimits.refusalsPerWindowMax, !acceptPaused, let server = serverChannel else { return }
        acceptPaused = true
        stats.acceptPauses += 1
        acceptPauseNs = min(InboundLimits.acceptPauseMaxNs, max(InboundLimits.acceptPauseMinNs, acceptPauseNs * 2))
        server.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        loop.scheduleTask(in: .nanoseconds(acceptPauseNs)) { [self] in
            acceptPaused = false
            refusalWindowStart = FrameReader.monotonicNanos()
            refusalsInWindow = 0
            guard !stopped else { return }
            server.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
    }

    func onFrame(_ bytes: [UInt8], peer: InboundPeer) {
        stats.framesIn += 1
        guard !peer.closed, !stopped else { return }
        guard let hs = peer.handshake else { return onHandshake(bytes, peer: peer) }
        switch hs {
        case .replica(let r):
            guard takeToken(peer) else { return }
            if let fault = linkFaults[r], fault.drop || (fault.loss > 0 && Double.random(in: 0..<1, using: &rng) < fault.loss) {
                stats.linkFaultDrops += 1
                return
            }
            if peer.isReplay(bytes, now: ReplicaHost.wallNanos()) {
                stats.replays += 1
                return
            }
            traffic.countIn(bytes)
            deliverVerified(bytes, from: r, peer: peer)
        case .admin:
            onAdmin(bytes)
        case .clients(let first, let count):
            guard peer.authenticated else { return onClientProof(bytes, peer: peer, first: first, count: count) }
            guard takeToken(peer) else { return }
            // Route by the request's client field (tag, then u32 client); the signature inside is
            // what the protocol checks. Ids outside the handshake's range are not this peer's.
            var c = first
            traffic.countIn(bytes)
            if bytes.count >= 5 && bytes[0] == ClientWireTag.request {
                c = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
                guard c >= first && c < first + count else {
                    stats.unknownSenders += 1
                    strike(peer)
                    return
                }
                noteArrival(bytes, client: c)
            }
            deliver(.message(from: .client(c), bytes: bytes), from: peer)
        }
    }

    /// Delivers a replica frame after its signatures were checked on the verification thread (or at
    /// once, verified on the loop, when there is none).
    private func deliverVerified(_ bytes: [UInt8], from r: Int, peer: InboundPeer) {
        guard let v = verification else { return deliver(.message(from: .replica(r), bytes: bytes), from: peer) }
        peer.verifying += 1
        if peer.verifying >= InboundPeer.verifyingMax && !peer.paused {
            peer.paused = true
            stats.verificationPauses += 1
            peer.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        let authenticate = v.authenticate, recorder = v.recorder
        let timer = metrics.verification
        v.pool.runIfActive(eventLoop: loop) { () -> [VerifiedSignature] in
            let t0 = FrameReader.monotonicNanos()
            authenticate(bytes, recorder)
            timer.recordNanoseconds(FrameReader.monotonicNanos() - t0)
            return recorder.drain()
        }.whenComplete { [self] result in
            peer.verifying -= 1
            if peer.paused && peer.verifying <= InboundPeer.verifyingResume && !peer.closed {
                peer.paused = false
                peer.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            }
            guard case .success(let records) = result else { return }
            verification?.cache.remember(records)
            stats.verifiedOffLoop += records.count
            guard !peer.closed, !stopped else { return }
            deliver(.message(from: .replica(r), bytes: bytes), from: peer)
            // One flush for the completions already queued on the loop (group commit as for a read burst).
            if !flushScheduled {
                flushScheduled = true
                loop.execute { [self] in
                    flushScheduled = false
                    flushOutput()
                }
            }
        }
    }

    /// The first frame: who is calling. A replica is taken at its word (its messages are signed); a
    /// client range must prove itself first (`ClientAuth`); admin is loopback-only.
    private func onHandshake(_ bytes: [UInt8], peer: InboundPeer) {
        let now = FrameReader.monotonicNanos()
        guard let hs = Handshake(bytes: bytes) else {
            stats.badHandshakes += 1
            return failHandshake(peer)
        }
        switch hs {
        case .replica(let r) where r >= 0 && r < config.n && r != id:
            peer.reader.frameMax = Wire.frameMax
            peer.tokens = FrameTokens(rate: InboundLimits.replicaFramesPerSecond, burst: InboundLimits.replicaFramesBurst, now: now)
        case .clients(let first, let count) where first >= 0 && count > 0 && first + count <= config.clientKeys.count:
            var nonce = [UInt8](repeating: 0, count: ClientAuth.nonceBytes)
            for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255, using: &rng) }
            peer.nonce = nonce
            peer.reader.frameMax = ClientAuth.proofMax(clients: count)
            let rate = max(InboundLimits.clientFramesMin, InboundLimits.clientFramesPerSecondPerClient * Double(count))
            peer.tokens = FrameTokens(rate: rate, burst: 2 * rate, now: now)
            peer.channel.writeAndFlush(Wire.frame(ClientAuth.challenge(replica: id, nonce: nonce), allocator: peer.channel.allocator), promise: nil)
        case .admin where ReplicaHost.isLoopback(peer.channel.remoteAddress):
            peer.reader.frameMax = InboundLimits.adminFrameMax
        default:
            stats.unknownSenders += 1
            return failHandshake(peer)
        }
        peer.handshake = hs
    }

    /// A client connection's second frame: one signature per claimed client over the challenge
    /// (`ClientAuth.signedBytes`). Verification stops at the first bad signature, so a peer without
    /// the keys costs one verification.
    private func onClientProof(_ bytes: [UInt8], peer: InboundPeer, first: Int, count: Int) {
        guard let nonce = peer.nonce, let signatures = ClientAuth.parseProof(bytes, count: count) else {
            stats.clientAuthFailures += 1
            return failHandshake(peer)
        }
        let signed = ClientAuth.signedBytes(nonce: nonce, replica: id, first: first, count: count)
        for (i, sig) in signatures.enumerated() {
            guard Ed25519KeyPair.verify(sig, message: signed, publicKey: clientPublicKeys[first + i]) else {
                stats.clientAuthFailures += 1
                return failHandshake(peer)
            }
        }
        peer.authenticated = true
        peer.nonce = nil
        peer.reader.frameMax = InboundLimits.clientFrameMax
        stats.clientAuthenticated += 1
        clientRoutes.append((first..<(first + count), peer.channel))
    }

    private func takeToken(_ peer: InboundPeer) -> Bool {
        guard peer.tokens?.take(now: FrameReader.monotonicNanos()) ?? true else {
            stats.rateLimited += 1
            return false
        }
        return true
    }

    /// One strike against a connection; past the limit it is closed (counted once) and its address
    /// banned for `InboundLimits.banNs`.
    func strike(_ peer: InboundPeer) {
        guard !peer.closed, peer.strikes.add(now: FrameReader.monotonicNanos()) else { return }
        stats.disconnectedForGarbage += 1
        ban(peer.address)
        close(peer)
    }

    /// Closes a connection whose handshake failed (or that broke a limit); an address that keeps
    /// failing is banned.
    private func failHandshake(_ peer: InboundPeer) {
        let now = FrameReader.monotonicNanos()
        if addressStrikes.count >= InboundLimits.bansMax { addressStrikes = addressStrikes.filter { now - $0.value.at < nanosPerSecond } }
        if addressStrikes[peer.address, default: StrikeBucket()].add(now: now) {
            addressStrikes[peer.address] = nil
            ban(peer.address)
        }
        close(peer)
    }

    private func ban(_ address: String) {
        let now = FrameReader.monotonicNanos()
        if bans.count >= InboundLimits.bansMax { bans = bans.filter { $0.value > now } }
        guard bans.count < InboundLimits.bansMax else { return }
        bans[address] = now + InboundLimits.banNs
        stats.bans += 1
    }

    private func close(_ peer: InboundPeer) {
        guard !peer.closed else { return }
        peer.closed = true
        peer.channel.close(promise: nil)
    }

    /// Once a second: closes connections that have not completed their handshake in time or whose
    /// current frame stalled, and forgets expired bans.
    private func sweepConnections() {
        let now = FrameReader.monotonicNanos()
        for p in inbound where !p.closed {
            if p.handshaking && now - p.acceptedAt > InboundLimits.handshakeTimeoutNs {
                stats.handshakeTimeouts += 1
                failHandshake(p)
            } else if !p.paused, let started = p.reader.frameStartedAt, now - started > InboundLimits.frameStallNs {
                stats.stalledFrames += 1
                failHandshake(p)
            }
        }
        bans = bans.filter { $0.value > now }
        addressStrikes = addressStrikes.filter { now - $0.value.at < Int64(InboundLimits.strikesMax / InboundLimits.strikeLeakPerSecond) * nanosPerSecond }
    }

    static func isLoopback(_ a: SocketAddress?) -> Bool {
        guard let ip = a?.ipAddress else { return false }
        return ip == "127.0.0.1" || ip == "::1"
    }

    /// Applies a `LinkCommand`: faults on this replica's links to the named peers (both directions
    /// for drop and loss, outgoing for delay), or heals every link.
    func onAdmin(_ bytes: [UInt8]) {
        guard let cmd = try? JSONDecoder().decode(LinkCommand.self, from: Data(bytes)) else { return }
        if cmd.heal {
            linkFaults.removeAll()
        } else if let fault = cmd.fault {
            for p in cmd.peers where p >= 0 && p < config.n && p != id { linkFaults[p] = fault }
        }
        stats.linkFaults = linkFaults.keys.sorted().map { "r\($0): \(linkFaults[$0]!)" }
    }

    func onFrameError(_ error: Error, peer: InboundPeer) {
        switch error as? FrameError {
        case .oversize?: stats.oversizeFrames += 1
        case .empty?: stats.emptyFrames += 1
        case .truncated?: stats.truncatedFrames += 1
        case .overBudget?:
            stats.overBudgetFrames += 1
            return failHandshake(peer)
        case nil: break
        }
        close(peer)
    }

    func onInactive(peer: InboundPeer) {
        peer.closed = true
        clientRoutes.removeAll { $0.channel === peer.channel }
        guard peer.admitted else { return }
        peer.admitted = false
        inbound.removeAll { $0 === peer }
        let left = connectionsByAddress[peer.address, default: 1] - 1
        connectionsByAddress[peer.address] = left > 0 ? left : nil
    }
}

/// Reads frames from one accepted connection into the host.
final class InboundHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let host: ReplicaHost
    let peer: InboundPeer
    init(host: ReplicaHost, peer: InboundPeer) {
        self.host = host
        self.peer = peer
    }
    func channelActive(context: ChannelHandlerContext) {
        host.onActive(peer: peer)
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        host.onFrame(unwrapInboundIn(data), peer: peer)
    }
    func channelReadComplete(context: ChannelHandlerContext) {
        host.flushOutput()
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        host.onFrameError(error, peer: peer)
        host.flushOutput()
    }
    func channelInactive(context: ChannelHandlerContext) {
        host.onInactive(peer: peer)
    }
}

/// The connection this replica dials to one peer; it carries our messages to that peer. Reconnects
/// with exponential backoff (100 ms doubling to 2 s); while down, up to `pendingMax` frames wait.
final class OutboundLink: @unchecked Sendable {
    static let pendingMax = 4096
    unowned let host: ReplicaHost
    let peer: Int
    let group: EventLoopGroup
    var channel: Channel?
    var pending: [ByteBuffer] = []
    var backoffMs: Int64 = 100

    init(host: ReplicaHost, peer: Int, group: EventLoopGroup) {
        self.host = host
        self.peer = peer
        self.group = group
    }

    func connect() {
        guard !stopped else { return }
        let entry = host.config.replicas[peer]
        let hello = Wire.frame(Handshake.replica(host.id).bytes, allocator: ByteBufferAllocator())
        ClientBootstrap(group: host.loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(2))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LinkHandler(link: self))
                }
            }
            .connect(host: entry.host, port: entry.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let ch):
                    backoffMs = 100
                    host.logger.info("peer connected", metadata: ["peer": "\(peer)", "address": "\(entry.host):\(entry.port)"])
                    ch.write(hello, promise: nil)
                    for b in pending { ch.write(b, promise: nil) }
                    pending.removeAll()
                    ch.flush()
                    channel = ch
                case .failure:
                    retry()
                }
            }
    }

    /// Closes the link for good (the replica stopped).
    func stop() {
        stopped = true
        channel?.close(promise: nil)
        channel = nil
        pending.removeAll()
    }
    private(set) var stopped = false

    func retry() {
        guard !stopped else { return }
        channel = nil
        let delay = backoffMs
        backoffMs = min(backoffMs * 2, 2000)
        host.loop.scheduleTask(in: .milliseconds(delay)) { [self] in connect() }
    }

    func send(_ buf: ByteBuffer, flush: Bool) {
        if let ch = channel {
            if flush { ch.writeAndFlush(buf, promise: nil) } else { ch.write(buf, promise: nil) }
        } else if pending.count < OutboundLink.pendingMax {
            pending.append(buf)
        } else {
            host.noteDroppedSend()
        }
    }
}

extension ReplicaHost {
    func noteDroppedSend() { stats.sendsDroppedUnconnected += 1 }
}

/// Watches a dialled connection; peers never write on it, so reads are discarded.
final class LinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let link: OutboundLink
    init(link: OutboundLink) { self.link = link }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func channelInactive(context: ChannelHandlerContext) {
        if link.channel === context.channel {
            if !link.stopped { link.host.logger.warning("peer lost", metadata: ["peer": "\(link.peer)"]) }
            link.retry()
        }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
