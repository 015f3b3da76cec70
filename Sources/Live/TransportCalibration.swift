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
/// and a message waits for that wake-up. Both show up here:
/// - `cpuPerMessage`: the process's CPU time (user + system, `getrusage`) per message sent and received,
///   which the cost model charges as `send`;
/// - `oneWay`: half the median round trip, the wire latency of a loopback deployment, which a validation
///   spec uses as its `latency`.
public enum TransportCalibration {
    public struct Result: Sendable {
        /// Picoseconds.
        public var cpuPerMessage: Int64
        public var oneWay: Nanoseconds
    }

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
        func run(_ count: Int) -> (cpu: UInt64, rtts: [UInt64])? {
            let cpu0 = processCPUNanos()
            guard let rtts = try? client.eventLoop.flatSubmit({ pinger.start(count: count, on: client) }).wait() else { return nil }
            return (processCPUNanos() - cpu0, rtts)
        }
        guard run(max(100, roundTrips / 10)) != nil, let measured = run(roundTrips) else { return nil }
        let sorted = measured.rtts.sorted()
        return Result(cpuPerMessage: Int64(measured.cpu) * 1000 / Int64(2 * roundTrips),
                      oneWay: Nanoseconds(sorted[sorted.count / 2] / 2))
    }

    static func processCPUNanos() -> UInt64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func nanos(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
        return nanos(usage.ru_utime) + nanos(usage.ru_stime)
    }

    /// Sends every frame it reads straight back.
    final class Echo: ChannelInboundHandler {
        typealias InboundIn = [UInt8]
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let payload = unwrapInboundIn(data)
            context.writeAndFlush(wrapOutboundOut(Wire.frame(payload, allocator: context.channel.allocator)), promise: nil)
        }
    }

    /// Sends a frame, waits for its echo, repeats; records each round trip.
    final class Pinger: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = [UInt8]
        let payload: [UInt8]
        var promise: EventLoopPromise<[UInt64]>?
        var left = 0
        var sentAt: UInt64 = 0
        var rtts: [UInt64] = []
        var channel: Channel?

        init(payload: [UInt8]) { self.payload = payload }

        func start(count: Int, on channel: Channel) -> EventLoopFuture<[UInt64]> {
            self.channel = channel
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
            channel.writeAndFlush(Wire.frame(payload, allocator: channel.allocator), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
