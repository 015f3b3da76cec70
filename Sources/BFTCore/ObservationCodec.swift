/// A compact binary encoding of `ObservationRecord`s, for logs written at live-mode rates.
///
/// A JSON line per observation cost a live replica more CPU than executing the request it described
/// (string interpolation and hex digests, ~260 bytes per execution); this encoding is a tag, fixed-width
/// integers and raw digests (~110 bytes per execution, no allocation beyond the writer's buffer).
/// `decode` takes untrusted bytes (a log may be torn by kill -9, or edited): it returns a typed error,
/// never traps.
extension ObservationRecord {
    /// Wire tags, one per `Observation` case. Never renumber: logs on disk use them.
    enum Tag: UInt8 {
        case viewEntered = 1, viewChangeStarted, committed, executed, checkpointStable, stateTransferred
        case rejected, pendingRequests, voted, blockCertified, blockCommitted, locked, highQC
        case timeoutCertified, restarted, requestIssued, requestCompleted
    }

    /// Appends this record: time i64, event index u64, source, observation tag and fields.
    public func encode(into w: inout ByteWriter) {
        w.u64(UInt64(bitPattern: time))
        w.u64(eventIndex)
        source.encode(into: &w)
        func request(_ id: RequestID) {
            w.u32(UInt32(truncatingIfNeeded: id.client))
            w.u64(id.timestamp)
        }
        switch observation {
        case .viewEntered(let view, let leader):
            w.u8(Tag.viewEntered.rawValue); w.u64(view); w.u32(UInt32(truncatingIfNeeded: leader))
        case .viewChangeStarted(let view):
            w.u8(Tag.viewChangeStarted.rawValue); w.u64(view)
        case .committed(let seq, let view, let digest, let count):
            w.u8(Tag.committed.rawValue); w.u64(seq); w.u64(view); w.digest(digest); w.u32(UInt32(truncatingIfNeeded: count))
        case .executed(let seq, let index, let id, let requestDigest, let result):
            w.u8(Tag.executed.rawValue); w.u64(seq); w.u32(UInt32(truncatingIfNeeded: index)); request(id)
            w.digest(requestDigest); w.digest(result)
        case .checkpointStable(let seq, let d):
            w.u8(Tag.checkpointStable.rawValue); w.u64(seq); w.digest(d)
        case .stateTransferred(let seq, let d):
            w.u8(Tag.stateTransferred.rawValue); w.u64(seq); w.digest(d)
        case .rejected(let reason, let from):
            w.u8(Tag.rejected.rawValue); w.string(reason.rawValue); from.encode(into: &w)
        case .pendingRequests(let count):
            w.u8(Tag.pendingRequests.rawValue); w.u32(UInt32(truncatingIfNeeded: count))
        case .voted(let view, let d):
            w.u8(Tag.voted.rawValue); w.u64(view); w.digest(d)
        case .blockCertified(let view, let d, let height):
            w.u8(Tag.blockCertified.rawValue); w.u64(view); w.digest(d); w.u64(height)
        case .blockCommitted(let height, let d, let parent):
            w.u8(Tag.blockCommitted.rawValue); w.u64(height); w.digest(d); w.digest(parent)
        case .locked(let view):
            w.u8(Tag.locked.rawValue); w.u64(view)
        case .highQC(let view):
            w.u8(Tag.highQC.rawValue); w.u64(view)
        case .timeoutCertified(let view):
            w.u8(Tag.timeoutCertified.rawValue); w.u64(view)
        case .restarted:
            w.u8(Tag.restarted.rawValue)
        case .requestIssued(let id, let d):
            w.u8(Tag.requestIssued.rawValue); request(id); w.digest(d)
        case .requestCompleted(let id, let result):
            w.u8(Tag.requestCompleted.rawValue); request(id); w.digest(result)
        }
    }

    /// Decodes one record written by `encode(into:)`.
    public static func decode(from r: inout ByteReader) throws(DecodeError) -> ObservationRecord {
        let time = Int64(bitPattern: try r.u64("time"))
        let index = try r.u64("event index")
        let source = try Principal.decode(from: &r)
        func request() throws(DecodeError) -> RequestID {
            let c = Int(try r.u32("client"))
            return RequestID(client: c, timestamp: try r.u64("timestamp"))
        }
        let tagByte = try r.u8("observation tag")
        guard let tag = Tag(rawValue: tagByte) else { throw .unknownTag(field: "observation", tag: tagByte) }
        let o: Observation
        switch tag {
        case .viewEntered: o = .viewEntered(view: try r.u64("view"), leader: Int(try r.u32("leader")))
        case .viewChangeStarted: o = .viewChangeStarted(view: try r.u64("view"))
        case .committed:
            o = .committed(sequence: try r.u64("sequence"), view: try r.u64("view"), digest: try r.digest(),
                           requestCount: Int(try r.u32("request count")))
        case .executed:
            o = .executed(sequence: try r.u64("sequence"), index: Int(try r.u32("index")), request: try request(),
                          requestDigest: try r.digest("request digest"), result: try r.digest("result"))
        case .checkpointStable: o = .checkpointStable(sequence: try r.u64("sequence"), stateDigest: try r.digest())
        case .stateTransferred: o = .stateTransferred(sequence: try r.u64("sequence"), stateDigest: try r.digest())
        case .rejected:
            let name = try r.string("reason", max: 64)
            guard let reason = RejectReason(rawValue: name) else { throw .invalid("reject reason \(name)") }
            o = .rejected(reason: reason, from: try Principal.decode(from: &r))
        case .pendingRequests: o = .pendingRequests(count: Int(try r.u32("count")))
        case .voted: o = .voted(view: try r.u64("view"), digest: try r.digest())
        case .blockCertified: o = .blockCertified(view: try r.u64("view"), digest: try r.digest(), height: try r.u64("height"))
        case .blockCommitted: o = .blockCommitted(height: try r.u64("height"), digest: try r.digest(), parent: try r.digest("parent"))
        case .locked: o = .locked(view: try r.u64("view"))
        case .highQC: o = .highQC(view: try r.u64("view"))
        case .timeoutCertified: o = .timeoutCertified(view: try r.u64("view"))
        case .restarted: o = .restarted
        case .requestIssued: o = .requestIssued(request: try request(), digest: try r.digest())
        case .requestCompleted: o = .requestCompleted(request: try request(), result: try r.digest("result"))
        }
        return ObservationRecord(time: time, eventIndex: index, source: source, observation: o)
    }
}
