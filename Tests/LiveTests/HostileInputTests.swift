import BFTCore
import BFTCrypto
import Foundation
@testable import Live
import Testing

/// A blocking loopback TCP connection for sending hostile bytes.
final class RawConnection {
    let fd: Int32
    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); return nil }
    }
    deinit { close(fd) }
    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    func frame(_ payload: [UInt8]) {
        let n = UInt32(payload.count)
        send([UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload)
    }
}

@Suite("live hostile input", .serialized)
struct HostileInputTests {
    @Test("garbage, oversize, truncated, unknown-sender, bad-signature and replayed frames are dropped and counted while the replica keeps committing")
    func hostileInput() throws {
        let cluster = try TestCluster(name: "hostile", protocolName: "pbft")
        defer { cluster.stop() }
        try cluster.up()
        let client = try LiveSupport.start(["client", "--config", cluster.config, "--clients", "2", "--outstanding", "2",
                                            "--duration", "7", "--out", "\(cluster.dir)/load-0.json"],
                                           output: "\(cluster.dir)/client.out")
        defer { if client.isRunning { client.terminate() } }
        let target = 0, port = cluster.basePort + target
        _ = LiveSupport.waitUntil(seconds: 10) { (LiveSupport.stats(cluster.dir, target)?.committed ?? 0) > 0 }
        let before = try #require(LiveSupport.stats(cluster.dir, target))

        // Garbage instead of a handshake (an HTTP request: its "length" is far above the maximum).
        RawConnection(port: port)?.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        // A well-framed but meaningless first frame.
        RawConnection(port: port)?.frame([1, 2, 3, 4, 5])
        // An unknown sender.
        RawConnection(port: port)?.frame(Handshake.replica(99).bytes)
        // Oversize after a valid handshake.
        if let c = RawConnection(port: port) {
            c.frame(Handshake.replica(2).bytes)
            c.send([0x7f, 0xff, 0xff, 0xff, 0, 0, 0])
        }
        // Truncated: the header promises 1000 bytes, 10 arrive, then EOF.
        if let c = RawConnection(port: port) {
            c.frame(Handshake.replica(2).bytes)
            c.send([0, 0, 0x03, 0xe8] + [UInt8](repeating: 7, count: 10))
        }
        // A message whose signature does not verify under replica 2's public key (client connections
        // must prove their range first: HardeningTests.clientHijackRefused).
        let signed = RawConnection(port: port)
        signed?.frame(Handshake.replica(2).bytes)
        signed?.send(Flood.signedStream(n: 4, signer: 2, frames: 1).frames)
        // A replay, then a stream of garbage messages from a "replica" that must get it disconnected.
        let noisy = RawConnection(port: port)
        noisy?.frame(Handshake.replica(2).bytes)
        noisy?.frame([0x01, 0xde, 0xad])
        noisy?.frame([0x01, 0xde, 0xad])
        for i in 0..<40 { noisy?.frame([0x01, UInt8(i), 0xbe, 0xef]) }

        let counted = LiveSupport.waitUntil(seconds: 5) {
            guard let s = LiveSupport.stats(cluster.dir, target) else { return false }
            return s.oversizeFrames > before.oversizeFrames && s.truncatedFrames > before.truncatedFrames
                && s.badHandshakes > before.badHandshakes && s.unknownSenders > before.unknownSenders
                && s.replays > before.replays && s.disconnectedForGarbage > before.disconnectedForGarbage
                && (s.rejected["bad-signature"] ?? 0) > (before.rejected["bad-signature"] ?? 0)
                && s.committed > before.committed + 20
        }
        let after = LiveSupport.stats(cluster.dir, target)
        #expect(counted, "not all hostile inputs counted or commits stalled: \(String(describing: after))")
        client.waitUntilExit()
        let report = try #require(cluster.report())
        #expect(report.completed > 50)
        cluster.stop()
        let check = try cluster.check()
        #expect(check.status == 0, "\(check.out)")
    }
}
