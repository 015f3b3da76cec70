import BFTCore
import Foundation
import NIOCore
import NIOPosix

/// What one message costs on the live transport, measured the way replicas talk (issue 15): two NIO
/// event loops on different threads, a loopback TCP connection, the live length-prefixed framing
/// (`Wire.frame`, `FrameDecoder`), and a ping-pong of 256-byte frames, so every message wakes the
/// receiving loop as a replica's message does.
///
/// `Calibration.loopbackSendCost` measures a blocking write and read in one thread: the kernel's part
/// only. The live host also pays NIO's pipeline, buffer handling and an event-loop wake-up per message,
/// and a message waits for that wake-up. All of it shows up here:
/// - `cpuPerMessage`: the process's CPU time (user + system, `getrusage`) per message sent and received
///   in a ping-pong, where every message wakes its receiver;
/// - `cpuPerMessagePipelined`: the same in bursts of 64 frames per flush, where the receiver is awake for
///   all but the first: the cost model's `send`; the difference is its `wakeup` (a message that finds
///   its receiver idle);
/// - `oneWay`: half the median round trip, the wire latency of a loopback deployment, which a validation
///   spec uses as its `latency`.
public enum TransportCalibration {
    public struct Result: Sendable {
        /// Picoseconds, ping-pong: every message wakes its receiver.
        public var cpuPerMessage: Int64
        /// Picoseconds, bursts of `burst` frames per flush: the per-message part alone, wake-ups amortised.
        public var cpuPerMessagePipelined: Int64
        public var oneWay: Nanoseconds
    }

    /// Frames per flush in the pipelined phase.
    public static let burst = 64

    /// Runs `roundTrips` ping-pongs after a warm-up; nil when the loopback socket cannot be set up.
    public static func measure(roundTrips: Int) -> Result? {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loops = [group.next(), group.next()]
        let serverBootstrap = ServerBootstrap(group: loops[0])
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(Echo())
                }
            }
        guard let server = try? serverBootstrap.bind(host: "127.0.0.1", port: 0).wait(),
              let port = server.localAddress?.port else { return nil }
        defer { try? server.close().wait() }
        let pinger = Pinger(payload: [UInt8](repeating: 7, count: 256))
        let clientBootstrap = ClientBootstrap(group: loops[1])
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(pinger)
                }
            }
        guard let client = try? clientBootstrap.connect(host: "127.0.0.1", port: port).wait() else { return nil }
        defer { try? client.close().wait() }
        func run(_ count: Int, burst: Int = 1) -> (cpu: UInt64, rtts: [UInt64])? {
            let cpu0 = processCPUNanos()
            guard let rtts = try? client.eventLoop.flatSubmit({ pinger.start(count: count, burst: burst, on: client) }).wait() else { return nil }
            return (processCPUNanos() - cpu0, rtts)
        }
        guard run(max(100, roundTrips / 10)) != nil, let measured = run(roundTrips) else { return nil }
        let bursts = max(10, roundTrips / burst)
        guard let pipelined = run(bursts, burst: burst) else { return nil }
        let sorted = measured.rtts.sorted()
        return Result(cpuPerMessage: Int64(measured.cpu) * 1000 / Int64(2 * roundTrips),
                      cpuPerMessagePipelined: Int64(pipelined.cpu) * 1000 / Int64(2 * bursts * burst),
                      oneWay: Nanoseconds(sorted[sorted.count / 2] / 2))
    }

    /// One thread hand-off as the live host makes it for every replica frame (verified on the
    /// verification thread, then delivered back on the event loop) and every sync (the IO thread):
    /// `NIOThreadPool.runIfActive(eventLoop:)` from an event loop and the completion back on it.
    public struct Handoff: Sendable {
        /// Process CPU per round trip (both wake-ups), picoseconds.
        public var cpuPerRoundTrip: Int64
        /// Median wall time of a round trip.
        public var roundTrip: Nanoseconds
    }

    /// Runs `rounds` back-to-back round trips loop → pool thread → loop after a warm-up.
    public static func measureHandoff(rounds: Int) -> Handoff? {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { try? pool.syncShutdownGracefully() }
        let loop = group.next()
        func run(_ count: Int) -> (cpu: UInt64, times: [UInt64])? {
            let promise = loop.makePromise(of: [UInt64].self)
            var times: [UInt64] = []
            times.reserveCapacity(count)
            let cpu0 = processCPUNanos()
            func next() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                pool.runIfActive(eventLoop: loop) { t0 }.whenComplete { _ in
                    times.append(DispatchTime.now().uptimeNanoseconds - t0)
                    if times.count < count { next() } else { promise.succeed(times) }
                }
            }
            loop.execute { next() }
            guard let measured = try? promise.futureResult.wait() else { return nil }
            return (processCPUNanos() - cpu0, measured)
        }
        guard run(max(100, rounds / 10)) != nil, let measured = run(rounds) else { return nil }
        let sorted = measured.times.sorted()
        return Handoff(cpuPerRoundTrip: Int64(measured.cpu) * 1000 / Int64(rounds), roundTrip: Nanoseconds(sorted[sorted.count / 2]))
    }

    public static func processCPUNanos() -> UInt64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func nanos(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
        return nanos(usage.ru_utime) + nanos(usage.ru_stime)
    }

    /// Sends every frame it reads back, flushing once per read burst (as the live host flushes once per
    /// loop turn).
    final class Echo: ChannelInboundHandler {
        typealias InboundIn = [UInt8]
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let payload = unwrapInboundIn(data)
            context.write(wrapOutboundOut(Wire.frame(payload, allocator: context.channel.allocator)), promise: nil)
        }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
    }

    /// Sends `burst` frames in one flush, waits for their echoes, repeats; records each round trip.
    final class Pinger: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = [UInt8]
        let payload: [UInt8]
        var promise: EventLoopPromise<[UInt64]>?
        var left = 0
        var burst = 1
        var awaiting = 0
        var sentAt: UInt64 = 0
        var rtts: [UInt64] = []
        var channel: Channel?

        init(payload: [UInt8]) { self.payload = payload }

        func start(count: Int, burst: Int = 1, on channel: Channel) -> EventLoopFuture<[UInt64]> {
            self.channel = channel
            self.burst = burst
            let promise = channel.eventLoop.makePromise(of: [UInt64].self)
            self.promise = promise
            left = count
            rtts = []
            rtts.reserveCapacity(count)
            ping()
            return promise.futureResult
        }

        func ping() {
            guard let channel else { return }
            sentAt = DispatchTime.now().uptimeNanoseconds
            awaiting = burst
            for _ in 0..<burst { channel.write(Wire.frame(payload, allocator: channel.allocator), promise: nil) }
            channel.flush()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            awaiting -= 1
            guard awaiting == 0 else { return }
            rtts.append(DispatchTime.now().uptimeNanoseconds - sentAt)
            left -= 1
            if left > 0 { ping() } else {
                promise?.succeed(rtts)
                promise = nil
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise?.fail(error)
            promise = nil
            context.close(promise: nil)
        }
    }
}
