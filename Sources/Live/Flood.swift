import BFTCore
import BFTCrypto
import Foundation
import PBFT

/// `bftsim cluster flood` (hidden): a hostile peer for `scripts/chaos.sh`, sending as fast as one core
/// can from blocking loopback sockets. A subcommand rather than test support because the chaos script
/// needs a compiled sender that saturates a core, run next to a live cluster, outside the test runner.
///
/// Kinds (issue 13's attacks):
/// - `forged`: a connection claiming replica a sends PBFT PREPAREs claiming replica b, signed with keys
///   that are not the cluster's (`forged-sender`);
/// - `expensive`: the same, claiming the connection's own replica (`bad-signature`). Real Ed25519
///   signatures under wrong keys pass libsodium's cheap canonical checks, so each costs a full
///   verification;
/// - `half-frame`: up to `connections` connections each send a header declaring 8 MiB and 4 MiB of it,
///   then hold (reconnecting when closed);
/// - `hijack`: `clients` handshakes for client range 0..<64 answered with a forged proof, counting any
///   reply frame that comes back.
public enum Flood {
    public struct Report: Codable, Sendable {
        public var kind: String
        public var seconds: Double
        public var connections = 0
        public var framesSent = 0
        public var bytesSent = 0
        /// Connections the replica closed before or while we sent.
        public var closedByReplica = 0
        /// Reply frames a hijack connection received after its forged proof (must stay 0).
        public var hijackedReplies = 0
    }

    public static func run(configPath: String, target: Int, kind: String, seconds: Double, connections: Int) throws -> Report {
        let config = try ClusterConfig.load(path: configPath)
        guard target >= 0, target < config.n else { throw LiveError.config("replica id \(target) is not in 0..<\(config.n)") }
        let port = config.replicas[target].port
        let host = config.replicas[target].host
        var report = Report(kind: kind, seconds: seconds)
        let deadline = monotonic() + seconds
        let claimed = (target + 1) % config.n
        switch kind {
        case "forged", "expensive":
            let signerID = kind == "forged" ? (target + 2) % config.n : claimed
            let stream = signedStream(n: config.n, signer: signerID, frames: 8192)
            var offset = 0
            while monotonic() < deadline {
                guard let s = Socket(host: host, port: port) else { usleep(1000); continue }
                report.connections += 1
                _ = s.send(framed(Handshake.replica(claimed).bytes))
                // Send until the replica closes the connection (strike limit) or the time is up.
                var alive = true
                while alive && monotonic() < deadline {
                    let end = min(stream.count, offset + 64 * 1024)
                    let chunk = Array(stream.frames[offset..<end])
                    if s.send(chunk) {
                        report.framesSent += stream.count(in: offset..<end)
                        report.bytesSent += chunk.count
                        offset = end == stream.count ? 0 : end
                    } else {
                        alive = false
                        report.closedByReplica += 1
                    }
                }
            }
        case "half-frame":
            var held: [Socket] = []
            let half = [UInt8](repeating: 0x42, count: 4 << 20)
            while monotonic() < deadline {
                held.removeAll { !$0.isOpen() }
                if held.count < connections, let s = Socket(host: host, port: port) {
                    report.connections += 1
                    var bytes = framed(Handshake.replica(claimed).bytes)
                    bytes += [0x00, 0x80, 0x00, 0x00]  // declares 8 MiB
                    if s.send(bytes), s.send(half) {
                        report.bytesSent += bytes.count + half.count
                        held.append(s)
                    } else {
                        report.closedByReplica += 1
                    }
                } else {
                    usleep(20_000)
                }
            }
        case "hijack":
            let count = min(64, config.clientKeys.count)
            while monotonic() < deadline {
                guard let s = Socket(host: host, port: port) else { usleep(1000); continue }
                report.connections += 1
                _ = s.send(framed(Handshake.clients(first: 0, count: count).bytes))
                guard let challenge = s.readFrame(timeoutMs: 1000), ClientAuth.parseChallenge(challenge) != nil else {
                    report.closedByReplica += 1
                    continue
                }
                let forged = (0..<count).map { i in Signature(bytes: (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }) }
                _ = s.send(framed(ClientAuth.proof(forged)))
                report.framesSent += 1
                // Anything that comes back now would be a reply meant for the real clients.
                while let f = s.readFrame(timeoutMs: 50) { if !f.isEmpty { report.hijackedReplies += 1 } }
                report.closedByReplica += s.isOpen() ? 0 : 1
            }
        default:
            throw LiveError.config("unknown flood kind '\(kind)' (forged, expensive, half-frame, hijack)")
        }
        return report
    }

    /// Pre-signed frames, concatenated, with their boundaries.
    struct Stream {
        var frames: [UInt8]
        var ends: [Int]
        var count: Int { frames.count }
        func count(in range: Range<Int>) -> Int { ends.filter { range.contains($0 - 1) }.count }
    }

    /// PBFT PREPAREs claiming `signer`, signed with a keyring derived from another seed than the
    /// cluster's, each over a different digest (so no verification-cache hit on the first pass).
    static func signedStream(n: Int, signer: Int, frames: Int) -> Stream {
        let wrong = Keyring(scheme: .ed25519, seed: 0xBAD, replicas: n, clients: 0)
        var out: [UInt8] = []
        var ends: [Int] = []
        for i in 0..<frames {
            var w = ByteWriter()
            w.u64(UInt64(i))
            let p = Prepare(view: 0, sequence: UInt64(i % 200 + 1), digest: Digest.of(w.bytes), signer: wrong.signer(for: .replica(signer)))
            out += framed(PBFTMessage.prepare(p).bytes)
            ends.append(out.count)
        }
        return Stream(frames: out, ends: ends)
    }

    static func framed(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
    }

    static func monotonic() -> Double { Double(FrameReader.monotonicNanos()) / 1e9 }
}

/// A blocking IPv4 TCP connection.
final class Socket {
    let fd: Int32
    init?(host: String, port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    deinit { close(fd) }

    /// Sends everything; false once the peer closed (or a 1 s send timeout passed).
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            off += n
        }
        return true
    }

    /// Whether the peer has not closed (a non-blocking peek).
    func isOpen() -> Bool {
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    }

    /// One frame, or nil on EOF or timeout.
    func readFrame(timeoutMs: Int) -> [UInt8]? {
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard let h = read(4), h.count == 4 else { return nil }
        let n = Int(h[0]) << 24 | Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
        guard n <= Wire.frameMax else { return nil }
        return read(n)
    }

    private func read(_ n: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let k = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if k < 0 && errno == EINTR { continue }
            guard k > 0 else { return nil }
            got += k
        }
        return out
    }
}
