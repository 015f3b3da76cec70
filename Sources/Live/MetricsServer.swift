import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP response of the metrics port.
public struct HTTPPage: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: String
    public init(status: HTTPResponseStatus = .ok, contentType: String, body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
    public static let notFound = HTTPPage(status: .notFound, contentType: "text/plain; charset=utf-8", body: "not found\n")
}

/// A small HTTP/1.1 server on the NIO stack the replica already runs (NIOHTTP1): `GET` only, one
/// response per request, `Connection: close`. `render` runs on `loop` (the replica's event loop), so
/// it reads the shell's state without locks.
public enum MetricsServer {
    /// Largest request head accepted (bytes); a scrape's is a few hundred.
    static let requestHeadMax = 8 << 10

    public static func start(group: EventLoopGroup, host: String, port: Int, loop: EventLoop,
                             render: @escaping @Sendable (String) -> HTTPPage) throws -> Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(PageHandler(loop: loop, render: render))
                }
            }
            .bind(host: host, port: port).wait()
    }

    final class PageHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let loop: EventLoop
        let render: @Sendable (String) -> HTTPPage
        var path: String?
        var method: HTTPMethod = .GET
        init(loop: EventLoop, render: @escaping @Sendable (String) -> HTTPPage) {
            self.loop = loop
            self.render = render
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
                method = head.method
            case .body:
                break
            case .end:
                guard let path else { return }
                self.path = nil
                let render = self.render
                let method = self.method
                let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                loop.submit { () -> HTTPPage in
                    guard method == .GET || method == .HEAD else {
                        return HTTPPage(status: .methodNotAllowed, contentType: "text/plain", body: "GET only\n")
                    }
                    return render(path)
                }.hop(to: context.eventLoop).whenComplete { result in
                    let page = (try? result.get()) ?? HTTPPage(status: .internalServerError, contentType: "text/plain", body: "error\n")
                    bound.value.respond(ctx.value, page, head: method == .HEAD)
                }
            }
        }

        func respond(_ context: ChannelHandlerContext, _ page: HTTPPage, head: Bool) {
            let body = Array(page.body.utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: page.contentType)
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Connection", value: "close")
            headers.add(name: "Cache-Control", value: "no-store")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: page.status, headers: headers))), promise: nil)
            if !head {
                var buf = context.channel.allocator.buffer(capacity: body.count)
                buf.writeBytes(body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// A blocking HTTP GET over loopback for `bftsim cluster status` and tests (no dependency on an HTTP
/// client library: the endpoints are ours and answer `Connection: close`).
public enum HTTPGet {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Returns the status code and body of `GET path` on `host:port`, within `timeout` seconds.
    public static func fetch(host: String, port: Int, path: String, timeout: Double = 2) throws -> (status: Int, body: String) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            throw Failure(description: "\(host):\(port): connection refused or timed out (errno \(errno))")
        }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw Failure(description: "\(host):\(port): send failed")
        }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while data.count < 64 << 20 {
            let k = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if k < 0 && errno == EINTR { continue }
            if k < 0 { throw Failure(description: "\(host):\(port): no answer within \(timeout) s") }
            if k == 0 { break }
            data.append(contentsOf: chunk[0..<k])
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "\(host):\(port): not an HTTP response") }
        let statusLine = text[..<split.lowerBound].split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure(description: "\(host):\(port): bad status line") }
        return (code, String(text[split.upperBound...]))
    }
}
