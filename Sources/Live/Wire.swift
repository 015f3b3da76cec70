import BFTCore
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
}

/// Splits the byte stream into frames (`[UInt8]` payloads). An oversize or zero length is fatal for the
/// connection (the stream cannot be resynchronised); bytes left over at EOF are a truncated frame.
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
