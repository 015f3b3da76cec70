import BFTCore
import Foundation
import NIOCore

/// Live-mode framing: every frame is a big-endian u32 length, then that many payload bytes. The first
/// frame of a connection is a `Handshake` naming the connecting peer; every later frame is one protocol
/// message, handed to the state machine as `.message(from: peer, bytes:)`. The handshake is a routing
/// claim, not authentication: protocols trust only the signed sender inside each message.
public enum Wire {
    /// Largest payload accepted or sent. PBFT batches and HotStuff blocks of a few hundred requests stay
    /// well below; a larger length means garbage or an attack and closes the connection.
    public static let frameMax = 8 << 20
    static let magic: [UInt8] = Array("BFTL".utf8)
    static let version: UInt8 = 1

    static func frame(_ payload: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var b = allocator.buffer(capacity: payload.count + 4)
        b.writeInteger(UInt32(payload.count))
        b.writeBytes(payload)
        return b
    }
}

/// The first frame of a connection: who is calling. A replica names itself; a load generator names the
/// contiguous client-id range whose requests it carries (replies to those ids go back on it).
public enum Handshake: Equatable, Sendable {
    case replica(ReplicaID)
    case clients(first: ClientID, count: Int)
    /// An operator's link-fault commands (`bftsim link`); accepted only from a loopback address.
    case admin

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.raw(Wire.magic)
        w.u8(Wire.version)
        switch self {
        case .replica(let r): w.u8(0); w.u32(UInt32(r)); w.u32(1)
        case .clients(let first, let count): w.u8(1); w.u32(UInt32(first)); w.u32(UInt32(count))
        case .admin: w.u8(2); w.u32(0); w.u32(0)
        }
        return w.bytes
    }

    public init?(bytes: [UInt8]) {
        var r = ByteReader(bytes)
        guard let m = try? r.raw(4, "magic"), m == Wire.magic, let v = try? r.u8(), v == Wire.version,
              let kind = try? r.u8(), let id = try? r.u32(), let count = try? r.u32(), r.isAtEnd else { return nil }
        switch kind {
        case 0: self = .replica(Int(id))
        case 1: self = .clients(first: Int(id), count: Int(count))
        case 2: self = .admin
        default: return nil
        }
    }
}

/// What a frame decoder saw that was not a frame; the shell counts each kind.
public enum FrameError: Error, Equatable {
    case oversize(Int)
    case empty
    case truncated(Int)
    /// Taking more bytes of a partial frame would push the bytes all connections hold in partial
    /// frames past `FrameBudget.bytesMax` (issue 13: 50 connections each holding half an 8 MiB frame).
    case overBudget(Int)
}

/// Client-connection authentication (issue 13, reply hijack: any local peer could claim a client-id
/// range and receive its replies). After a `.clients` handshake the replica sends a `ClientChallenge`;
/// the load generator answers with a `ClientProof`: one Ed25519 signature per claimed client, each by
/// that client's key (the keys `bftsim keygen` writes to `keys/clients.key` and whose public halves
/// are `cluster.json`'s `clientKeys`), over `ClientChallenge.signedBytes`. Only then does the
/// replica route replies for the range to the connection or accept requests from it.
public enum ClientAuth {
    static let challengeMagic: [UInt8] = Array("BFTN".utf8)
    static let proofMagic: [UInt8] = Array("BFTP".utf8)
    public static let nonceBytes = 32
    static let domain = Array("bftsim/live/v1/client-handshake".utf8) + [0]

    /// The challenge frame: magic, version, replica id, nonce.
    public static func challenge(replica: ReplicaID, nonce: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: 48)
        w.raw(challengeMagic)
        w.u8(Wire.version)
        w.u32(UInt32(replica))
        w.raw(nonce)
        return w.bytes
    }

    /// (replica, nonce) of a challenge frame, or nil.
    public static func parseChallenge(_ bytes: [UInt8]) -> (replica: ReplicaID, nonce: [UInt8])? {
        var r = ByteReader(bytes)
        guard let m = try? r.raw(4, "magic"), m == challengeMagic, let v = try? r.u8(), v == Wire.version,
              let id = try? r.u32(), let nonce = try? r.raw(nonceBytes, "nonce"), r.isAtEnd else { return nil }
        return (Int(id), nonce)
    }

    /// What each claimed client signs: the domain, the nonce, the replica and the claimed range, so a
    /// proof is good for one connection to one replica and one range only.
    public static func signedBytes(nonce: [UInt8], replica: ReplicaID, first: ClientID, count: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.raw(domain)
        w.raw(nonce)
        w.u32(UInt32(replica))
        w.u32(UInt32(first))
        w.u32(UInt32(count))
        return w.bytes
    }

    /// The proof frame: magic, then `count` signatures in client order.
    public static func proof(_ signatures: [Signature]) -> [UInt8] {
        var bytes = proofMagic
        bytes.reserveCapacity(4 + 64 * signatures.count)
        for s in signatures { s.append(to: &bytes) }
        return bytes
    }

    /// The signatures of a proof frame for `count` clients, or nil.
    public static func parseProof(_ bytes: [UInt8], count: Int) -> [Signature]? {
        guard bytes.count == 4 + 64 * count, bytes.starts(with: proofMagic) else { return nil }
        return (0..<count).map { i in Signature(bytes: bytes[(4 + 64 * i)..<(4 + 64 * (i + 1))]) }
    }

    /// Largest proof frame for a cluster with `clients` client keys.
    static func proofMax(clients: Int) -> Int { 4 + 64 * max(1, clients) }
}

/// Bytes held in partial frames by every connection of one process, with a ceiling.
///
/// A frame's bytes are held only as they arrive (never its declared length up front), but an attacker
/// can still open many connections and send each half a large frame; the budget bounds the sum. A
/// connection whose next bytes would pass the ceiling is closed (`FrameError.overBudget`). Event-loop
/// confined, like the connections that share it.
final class FrameBudget {
    /// Bytes of partial frames all connections may hold together. Honest replicas send frames far
    /// below this (a HotStuff block of 400 requests is ~60 KiB).
    static let bytesMax = 64 << 20
    let limit: Int
    private(set) var held = 0
    init(limit: Int = FrameBudget.bytesMax) { self.limit = limit }
    func take(_ n: Int) -> Bool {
        guard held + n <= limit else { return false }
        held += n
        return true
    }
    func give(_ n: Int) { held -= n }
}

/// Splits an accepted connection's byte stream into frames (`[UInt8]` payloads), holding only what has
/// arrived: the payload array grows by at most half again, never past the declared length, and its
/// capacity is charged to the shared `FrameBudget` (issue 13: `ByteToMessageHandler` accumulates
/// into a buffer that doubles, so half of an 8 MiB frame held 8 MiB). `frameMax` is set by the shell as
/// the connection's handshake progresses (tiny before it, larger once the peer is known).
/// `frameStartedAt` lets the shell close connections whose frame stalls. An oversize or zero length
/// is fatal for the connection (the stream cannot be resynchronised); bytes left over at EOF are a
/// truncated frame.
///
/// Not NIOExtras' `LengthFieldBasedFrameDecoder`: it sits on `ByteToMessageHandler` (the same doubling
/// accumulation buffer), and has neither a per-state maximum nor a shared budget.
final class FrameReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = [UInt8]

    let budget: FrameBudget
    var frameMax: Int
    /// Monotonic time the current frame's first byte arrived; nil between frames.
    private(set) var frameStartedAt: Int64?
    private var header: UInt32 = 0
    private var headerBytes = 0
    private var declared = 0
    private var payload: [UInt8] = []
    private var charged = 0
    private var failed = false

    init(budget: FrameBudget, frameMax: Int) {
        self.budget = budget
        self.frameMax = frameMax
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        while !failed, buffer.readableBytes > 0 {
            if frameStartedAt == nil { frameStartedAt = FrameReader.monotonicNanos() }
            if headerBytes < 4 {
                while headerBytes < 4, let b = buffer.readInteger(as: UInt8.self) {
                    header = header << 8 | UInt32(b)
                    headerBytes += 1
                }
                guard headerBytes == 4 else { return }
                let n = Int(header)
                guard n > 0 else { return fail(context, .empty) }
                guard n <= frameMax else { return fail(context, .oversize(n)) }
                declared = n
            }
            let take = min(buffer.readableBytes, declared - payload.count)
            let needed = payload.count + take
            if needed > payload.capacity {
                // Grow by half again (amortised copying), capped at what the frame declared.
                let target = min(declared, max(needed, payload.capacity + payload.capacity / 2, 256))
                guard budget.take(target - charged) else { return fail(context, .overBudget(target)) }
                charged = target
                payload.reserveCapacity(target)
            }
            buffer.withUnsafeReadableBytes { payload.append(contentsOf: $0.prefix(take)) }
            buffer.moveReaderIndex(forwardBy: take)
            if payload.count == declared {
                let frame = payload
                reset()
                context.fireChannelRead(wrapInboundOut(frame))
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let left = headerBytes + payload.count
        if !failed && left > 0 { context.fireErrorCaught(FrameError.truncated(left)) }
        failed = true
        reset()
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ error: FrameError) {
        failed = true
        reset()
        context.fireErrorCaught(error)
    }

    private func reset() {
        budget.give(charged)
        charged = 0
        payload = []
        header = 0
        headerBytes = 0
        declared = 0
        frameStartedAt = nil
    }

    static func monotonicNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// Splits a dialled connection's byte stream into frames (the load generator reading replies from the
/// replicas it chose to connect to; accepted connections use `FrameReader`). An oversize or zero
/// length is fatal for the connection; bytes left over at EOF are a truncated frame.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        let n = Int(length)
        guard n <= Wire.frameMax else { throw FrameError.oversize(n) }
        guard n > 0 else { throw FrameError.empty }
        guard buffer.readableBytes >= 4 + n else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readBytes(length: n)!
        context.fireChannelRead(Self.wrapInboundOut(payload))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            let left = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: left)
            throw FrameError.truncated(left)
        }
        return .needMoreData
    }
}
