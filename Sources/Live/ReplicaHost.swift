import BFTCore
import BFTCrypto
import Foundation
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
    public var disconnectedForGarbage = 0
    public var sendsDroppedUnconnected = 0
    public var linkFaultDrops = 0
    public var linkFaults: [String] = []
    public var rejected: [String: Int] = [:]
    public var committed = 0
    public var lastCommittedSequence: UInt64 = 0
    public var executed = 0
    public var highestView: UInt64 = 0
    public var syncs = 0
    /// Mean and longest store sync (write + fdatasync), in microseconds.
    public var syncMeanMicros = 0
    public var syncMaxMicros = 0
    public var recovered = false
}

/// One inbound connection as the shell sees it: who it claims to be and how badly it behaved.
final class InboundPeer {
    var handshake: Handshake?
    var strikes = 0
    var recentHashes: [Int: Int64] = [:]
    var recentOrder: [Int] = []
    let channel: Channel
    init(channel: Channel) { self.channel = channel }

    static let replayWindow = 1024
    static let replayWindowNs: Int64 = 2 * nanosPerSecond
    /// Malformed, badly signed or unknown-sender frames tolerated before disconnecting.
    static let strikesMax = 32

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
    private enum Held {
        case send([UInt8], to: Principal?)
        case observe(Nanoseconds, Observation)
    }
    /// Sends and promises waiting for the persists issued before them (`needs`, a count of
    /// `store.issued`), in production order, so `needs` never decreases along the array.
    private var held: [(item: Held, needs: UInt64)] = []
    private var heldHead = 0
    /// Persists known durable (`SyncJob.upTo` of the last completed job).
    private var durableUpTo: UInt64 = 0
    private var syncInFlight = false
    /// One thread for blocking file IO (write + fdatasync), so the loop never waits on the disk.
    private let io: NIOThreadPool
    private var timers: [TimerID: (Scheduled<Void>, UInt64)] = [:]
    private var timerGeneration: UInt64 = 0
    private var links: [OutboundLink?] = []
    private var clientRoutes: [(range: Range<Int>, channel: Channel)] = []
    public private(set) var stats = ShellStats()
    var linkFaults: [Int: LinkFault] = [:]
    private var rng = SystemRandomNumberGenerator()
    private let startWall: Int64

    public init(id: ReplicaID, config: ClusterConfig, machine: any StateMachine, dataDir: String, loop: EventLoop) throws(LiveError) {
        self.id = id
        self.config = config
        self.machine = machine
        self.loop = loop
        self.dataDir = dataDir
        store = try DurableStore(directory: dataDir)
        log = try ObservationLog(path: dataDir + "/" + ObservationLog.fileName)
        startWall = ReplicaHost.wallNanos()
        io = NIOThreadPool(numberOfThreads: 1)
        io.start()
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
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(InboundHandler(host: self, peer: InboundPeer(channel: channel)))
                }
            }
        _ = try server.bind(host: entry.host, port: entry.port).wait()
        try loop.submit { [self] in
            links = (0..<config.n).map { j in j == id ? nil : OutboundLink(host: self, peer: j, group: group) }
            for l in links { l?.connect() }
            let durable = store.recovered
            if durable.isEmpty {
                deliver(.start, from: nil)
            } else {
                stats.recovered = true
                // As the simulator does on restart: the checkers then accept re-execution after a
                // state transfer by a replica that lost its volatile state.
                log.append(time: ReplicaHost.wallNanos(), source: .replica(id), .restarted)
                deliver(.recover(durable: durable), from: nil)
            }
            flushOutput()
            scheduleHousekeeping()
        }.wait()
    }

    private func scheduleHousekeeping() {
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) { [self] _ in
            log.flush()
        }
        loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            writeStats()
        }
    }

    func writeStats() {
        stats.syncs = store.syncs
        stats.syncMeanMicros = store.syncs == 0 ? 0 : Int(store.syncNanos / Int64(store.syncs) / 1000)
        stats.syncMaxMicros = Int(store.syncNanosMax / 1000)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        guard let data = try? enc.encode(stats) else { return }
        try? data.write(to: URL(fileURLWithPath: dataDir + "/stats.json.tmp"))
        rename(dataDir + "/stats.json.tmp", dataDir + "/stats.json")
    }

    /// Flushes the observation log and stats (SIGTERM, orderly shutdown).
    public func shutdown() {
        log.flush()
        writeStats()
    }

    // MARK: Inputs

    func deliver(_ input: ReplicaInput, from peer: InboundPeer?) {
        actions.removeAll(keepingCapacity: true)
        machine.handle(input, into: &actions)
        let now = ReplicaHost.wallNanos()
        let firstSend = held.count
        for a in actions {
            switch a {
            case .send(let bytes, let to): held.append((.send(bytes, to: to), 0))
            case .broadcast(let bytes): held.append((.send(bytes, to: nil), 0))
            case .setTimer(let t, let after): arm(t, after: after)
            case .cancelTimer(let t):
                if let (s, _) = timers.removeValue(forKey: t) { s.cancel() }
            case .persist(let key, let bytes): store.put(key, bytes)
            case .observe(let o) where o.isPromise:
                held.append((.observe(now, o), 0))
                account(o, peer: peer)
            case .observe(let o):
                log.append(time: now, source: .replica(id), o)
                account(o, peer: peer)
            }
        }
        // A batch's persists come before any of its sends and promises, in whichever order the batch
        // lists them.
        for i in firstSend..<held.count { held[i].needs = store.issued }
    }

    private func account(_ o: Observation, peer: InboundPeer?) {
        switch o {
        case .rejected(let reason, _):
            stats.rejected[reason.rawValue, default: 0] += 1
            switch reason {
            case .malformed, .badSignature, .unknownSender:
                if let peer {
                    peer.strikes += 1
                    if peer.strikes > InboundPeer.strikesMax {
                        stats.disconnectedForGarbage += 1
                        peer.channel.close(promise: nil)
                    }
                }
            default: break
            }
        case .committed(let seq, _, _, _):
            stats.committed += 1
            stats.lastCommittedSequence = max(stats.lastCommittedSequence, seq)
        case .executed: stats.executed += 1
        case .viewEntered(let v, _): stats.highestView = max(stats.highestView, v)
        default: break
        }
    }

    private func arm(_ t: TimerID, after: Nanoseconds) {
        if let (s, _) = timers[t] { s.cancel() }
        timerGeneration += 1
        let gen = timerGeneration
        let s = loop.scheduleTask(in: .nanoseconds(max(0, after))) { [self] in
            guard let (_, g) = timers[t], g == gen else { return }
            timers[t] = nil
            deliver(.timer(t), from: nil)
            flushOutput()
        }
        timers[t] = (s, gen)
    }

    /// Persist-before-send: writes out the observations, lets every held send whose persists are durable
    /// leave, and hands the buffered persists to the IO thread unless a job is already in flight (the
    /// next job then takes everything buffered meanwhile: group commit).
    ///
    /// The observation log is written out (to the kernel, no fsync) before a job is taken: durable state
    /// must never be ahead of the observations describing it, or a kill -9 would leave executions the
    /// recovered replica skips but no log shows (the total-order checker would see a gap).
    func flushOutput() {
        log.flush()
        releaseDurableSends()
        guard !syncInFlight, let job = store.takeSyncJob() else { return }
        syncInFlight = true
        let store = self.store
        io.runIfActive(eventLoop: loop) { store.perform(job) }.whenComplete { [self] result in
            syncInFlight = false
            switch result {
            case .success(let done):
                store.noteCompleted(done)
                durableUpTo = job.upTo
            case .failure(let error):
                // Only a stopped pool fails a job; a replica that cannot persist must not send.
                preconditionFailure("durable store job failed: \(error)")
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
            switch to {
            case nil:
                for j in 0..<config.n where j != id { sendToReplica(j, buf, write) }
            case .replica(let j)?:
                if j == id {
                    loop.execute { [self] in
                        deliver(.message(from: .replica(id), bytes: bytes), from: nil)
                        flushOutput()
                    }
                } else if j >= 0 && j < config.n {
                    sendToReplica(j, buf, write)
                }
            case .client(let c)?:
                if let route = clientRoutes.last(where: { $0.range.contains(c) }) {
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
        if observed { log.flush() }
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

    func onFrame(_ bytes: [UInt8], peer: InboundPeer) {
        stats.framesIn += 1
        guard let hs = peer.handshake else {
            guard let hs = Handshake(bytes: bytes) else {
                stats.badHandshakes += 1
                peer.channel.close(promise: nil)
                return
            }
            switch hs {
            case .replica(let r) where r >= 0 && r < config.n && r != id:
                break
            case .clients(let first, let count) where first >= 0 && count > 0 && first + count <= config.clientKeys.count:
                clientRoutes.append((first..<(first + count), peer.channel))
            case .admin where ReplicaHost.isLoopback(peer.channel.remoteAddress):
                break
            default:
                stats.unknownSenders += 1
                peer.channel.close(promise: nil)
                return
            }
            peer.handshake = hs
            return
        }
        switch hs {
        case .replica(let r):
            if let fault = linkFaults[r], fault.drop || (fault.loss > 0 && Double.random(in: 0..<1, using: &rng) < fault.loss) {
                stats.linkFaultDrops += 1
                return
            }
            if peer.isReplay(bytes, now: ReplicaHost.wallNanos()) {
                stats.replays += 1
                return
            }
            deliver(.message(from: .replica(r), bytes: bytes), from: peer)
        case .admin:
            onAdmin(bytes)
        case .clients(let first, let count):
            // Route by the request's client field (tag, then u32 client); the signature inside is
            // what the protocol checks. Ids outside the handshake's range are not this peer's.
            var c = first
            if bytes.count >= 5 && bytes[0] == ClientWireTag.request {
                c = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
                guard c >= first && c < first + count else {
                    stats.unknownSenders += 1
                    peer.strikes += 1
                    if peer.strikes > InboundPeer.strikesMax { peer.channel.close(promise: nil) }
                    return
                }
            }
            deliver(.message(from: .client(c), bytes: bytes), from: peer)
        }
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
        case nil: break
        }
        peer.channel.close(promise: nil)
    }

    func onInactive(peer: InboundPeer) {
        clientRoutes.removeAll { $0.channel === peer.channel }
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

    func retry() {
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
        if link.channel === context.channel { link.retry() }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
