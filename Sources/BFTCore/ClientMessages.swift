/// Wire tags shared by every protocol. Protocol messages use tags 1...63; clients use 64...79.
public enum ClientWireTag {
    public static let request: UInt8 = 0x40
    public static let reply: UInt8 = 0x41
}

/// ⟨REQUEST, o, t, c⟩σc (Castro & Liskov §4.1): operation `o`, client timestamp `t`, client `c`,
/// signed by the client. Timestamps of one client are totally ordered; replicas execute each at most once.
public struct ClientRequest: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/request/v1")
    public static let operationSizeMax = 64 * 1024

    public var client: ClientID
    public var timestamp: UInt64
    /// Where the operation lies in `bytes` (after its u32 length prefix): kept as a range rather than
    /// a copy, since decoding a PRE-PREPARE would otherwise copy every request's operation.
    public private(set) var operationRange: Range<Int>
    public var signature: Signature
    /// The exact signed wire bytes; `digest` is computed over them.
    public private(set) var bytes: [UInt8]

    /// BLAKE2b-256 of `bytes` (PBFT's D(m), §4.2), computed where it is read: a batch digest, an
    /// execution's observation, a client's issue record. Decoding no longer computes it, because a
    /// replica decodes each request twice (from the client, then inside the batch or block) and chained
    /// HotStuff reads the digest only once, at execution (issue 19: BLAKE2b was 9.5 % of its
    /// instructions per event).
    public var digest: Digest { Digest.of(bytes) }

    public var id: RequestID { RequestID(client: client, timestamp: timestamp) }

    /// The operation's bytes (a copy; `KeyValueStore.execute(_:)` reads them in place).
    public var operation: [UInt8] { Array(bytes[operationRange]) }

    /// Builds and signs a request.
    public init(client: ClientID, timestamp: UInt64, operation: [UInt8], signer: MessageSigner) {
        precondition(signer.principal == .client(client), "a client signs only its own requests")
        var w = ByteWriter(capacity: 32 + operation.count + 64)
        w.u8(ClientWireTag.request)
        w.u32(UInt32(client))
        w.u64(timestamp)
        let operationStart = w.count + 4  // after the u32 length prefix
        w.lengthPrefixed(operation)
        bytes = signer.sealed(&w, domain: ClientRequest.domain)
        self.client = client
        self.timestamp = timestamp
        operationRange = operationStart..<operationStart + operation.count
        signature = Signature(bytes: bytes[(bytes.count - Signature.byteCount)...])
    }

    /// Decodes untrusted bytes (signature not yet checked; see `verify`).
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        let tag = try r.u8("request tag")
        guard tag == ClientWireTag.request else { throw .unknownTag(field: "request", tag: tag) }
        client = Int(try r.u32("request client"))
        guard client < 1 << 20 else { throw .valueOutOfRange(field: "request client", value: UInt64(client)) }
        timestamp = try r.u64("request timestamp")
        let operationCount = try r.count("request operation", max: ClientRequest.operationSizeMax)
        let operationStart = r.offset
        try r.skip(operationCount, "request operation")
        operationRange = operationStart..<operationStart + operationCount
        signature = try r.signature("request signature")
        try r.expectEnd()
        self.bytes = bytes
    }

    /// Reads a request embedded in a larger message (u32 length prefix, then the request bytes).
    public static func decodeEmbedded(_ r: inout ByteReader) throws(DecodeError) -> ClientRequest {
        let b = try r.lengthPrefixed("embedded request", max: operationSizeMax + 128)
        return try ClientRequest(decoding: b)
    }

    public func encodeEmbedded(into w: inout ByteWriter) { w.lengthPrefixed(bytes) }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifySealed(bytes, domain: ClientRequest.domain, signer: .client(client))
    }
}

/// ⟨REPLY, v, t, c, i, r⟩σi (Castro & Liskov §4.1): view, request timestamp, client, replica, result.
public struct ClientReply: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/reply/v1")
    public static let resultSizeMax = 64 * 1024

    public var view: UInt64
    public var client: ClientID
    public var timestamp: UInt64
    public var replica: ReplicaID
    public var result: [UInt8]
    public private(set) var bytes: [UInt8]

    public init(view: UInt64, client: ClientID, timestamp: UInt64, result: [UInt8], signer: MessageSigner) {
        guard case .replica(let replica) = signer.principal else { preconditionFailure("replies are signed by replicas") }
        var w = ByteWriter(capacity: 40 + result.count + 64)
        w.u8(ClientWireTag.reply)
        w.u64(view)
        w.u32(UInt32(client))
        w.u64(timestamp)
        w.u32(UInt32(replica))
        w.lengthPrefixed(result)
        bytes = signer.sealed(&w, domain: ClientReply.domain)
        self.view = view
        self.client = client
        self.timestamp = timestamp
        self.replica = replica
        self.result = result
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        let tag = try r.u8("reply tag")
        guard tag == ClientWireTag.reply else { throw .unknownTag(field: "reply", tag: tag) }
        view = try r.u64("reply view")
        client = Int(try r.u32("reply client"))
        timestamp = try r.u64("reply timestamp")
        replica = Int(try r.u32("reply replica"))
        guard replica < 1 << 16 else { throw .valueOutOfRange(field: "reply replica", value: UInt64(replica)) }
        result = try r.lengthPrefixed("reply result", max: ClientReply.resultSizeMax)
        _ = try r.signature("reply signature")
        try r.expectEnd()
        self.bytes = bytes
    }

    /// The fields a client checks before anything else: whom the reply is for, and for which request.
    public struct Header: Sendable, Equatable {
        public var client: ClientID
        public var timestamp: UInt64
    }

    /// Checks `bytes` exactly as `init(decoding:)` does (it throws for the same inputs) but copies
    /// nothing: a client reads a reply's client and timestamp first and drops replies to requests it
    /// no longer waits for (C2) without building them.
    public static func header(of bytes: [UInt8]) throws(DecodeError) -> Header {
        var r = ByteReader(bytes)
        let tag = try r.u8("reply tag")
        guard tag == ClientWireTag.reply else { throw .unknownTag(field: "reply", tag: tag) }
        _ = try r.u64("reply view")
        let client = Int(try r.u32("reply client"))
        let timestamp = try r.u64("reply timestamp")
        let replica = Int(try r.u32("reply replica"))
        guard replica < 1 << 16 else { throw .valueOutOfRange(field: "reply replica", value: UInt64(replica)) }
        let resultSize = try r.count("reply result", max: ClientReply.resultSizeMax)
        try r.skip(resultSize, "reply result")
        try r.skip(Signature.byteCount, "reply signature")
        try r.expectEnd()
        return Header(client: client, timestamp: timestamp)
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifySealed(bytes, domain: ClientReply.domain, signer: .replica(replica))
    }
}

/// Describes request and reply bytes for traces.
public func describeClientMessage(_ bytes: [UInt8]) -> MessageInfo? {
    guard let tag = bytes.first else { return nil }
    switch tag {
    case ClientWireTag.request:
        guard let r = try? ClientRequest(decoding: bytes) else { return .undecodable }
        return MessageInfo(type: "REQUEST", sequence: r.timestamp, signer: .client(r.client))
    case ClientWireTag.reply:
        guard let r = try? ClientReply(decoding: bytes) else { return .undecodable }
        return MessageInfo(type: "REPLY", view: r.view, sequence: r.timestamp, signer: .replica(r.replica))
    default:
        return nil
    }
}
