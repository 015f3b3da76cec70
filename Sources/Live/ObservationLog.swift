import BFTCore
import Foundation

/// Writes a process's `ObservationRecord`s as JSON lines: `{"t":ns,"i":index,"src":"r0","kind":...,...}`.
///
/// `t` is wall-clock nanoseconds since the Unix epoch (so logs of separate processes merge on one time
/// axis; `bftsim check` rebases them to the earliest record). Lines are buffered and written (no fsync)
/// when the buffer fills and on `flush()`. Replica shells flush before every store sync and send, so a
/// kill -9 never loses an observation whose effects left the process or reached the durable store.
public final class ObservationLog {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var index: UInt64 = 0
    public static let bufferMax = 1 << 16

    public init(path: String) throws(LiveError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(path)") }
        buffer.reserveCapacity(ObservationLog.bufferMax + 1024)
    }

    deinit {
        flush()
        close(fd)
    }

    public func append(time: Nanoseconds, source: Principal, _ o: Observation) {
        index += 1
        var s = "{\"t\":\(time),\"i\":\(index),\"src\":\"\(source)\",\"kind\":\"\(o.kind)\""
        switch o {
        case .viewEntered(let view, let leader): s += ",\"view\":\(view),\"leader\":\(leader)"
        case .viewChangeStarted(let view): s += ",\"view\":\(view)"
        case .committed(let seq, let view, let digest, let count):
            s += ",\"seq\":\(seq),\"view\":\(view),\"digest\":\"\(digest.hex)\",\"count\":\(count)"
        case .executed(let seq, let index, let request, let requestDigest, let result):
            s += ",\"seq\":\(seq),\"index\":\(index),\"client\":\(request.client),\"ts\":\(request.timestamp),\"rdigest\":\"\(requestDigest.hex)\",\"result\":\"\(result.hex)\""
        case .checkpointStable(let seq, let d): s += ",\"seq\":\(seq),\"digest\":\"\(d.hex)\""
        case .stateTransferred(let seq, let d): s += ",\"seq\":\(seq),\"digest\":\"\(d.hex)\""
        case .rejected(let reason, let from): s += ",\"reason\":\"\(reason.rawValue)\",\"from\":\"\(from)\""
        case .pendingRequests(let count): s += ",\"count\":\(count)"
        case .voted(let view, let d): s += ",\"view\":\(view),\"digest\":\"\(d.hex)\""
        case .blockCertified(let view, let d, let h): s += ",\"view\":\(view),\"digest\":\"\(d.hex)\",\"height\":\(h)"
        case .blockCommitted(let h, let d, let p): s += ",\"height\":\(h),\"digest\":\"\(d.hex)\",\"parent\":\"\(p.hex)\""
        case .locked(let view): s += ",\"view\":\(view)"
        case .highQC(let view): s += ",\"view\":\(view)"
        case .timeoutCertified(let view): s += ",\"view\":\(view)"
        case .restarted: break
        case .requestIssued(let request, let d): s += ",\"client\":\(request.client),\"ts\":\(request.timestamp),\"digest\":\"\(d.hex)\""
        case .requestCompleted(let request, let r): s += ",\"client\":\(request.client),\"ts\":\(request.timestamp),\"result\":\"\(r.hex)\""
        }
        s += "}\n"
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= ObservationLog.bufferMax { flush() }
    }

    public func flush() {
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { break }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Reads observation logs back into records.
public enum ObservationLogReader {
    struct Line: Decodable {
        var t: Int64
        var i: UInt64
        var src: String
        var kind: String
        var view: UInt64?
        var leader: Int?
        var seq: UInt64?
        var digest: String?
        var count: Int?
        var index: Int?
        var client: Int?
        var ts: UInt64?
        var rdigest: String?
        var result: String?
        var reason: String?
        var from: String?
        var height: UInt64?
        var parent: String?
    }

    static func principal(_ s: String) -> Principal? {
        guard let n = Int(s.dropFirst()) else { return nil }
        switch s.first {
        case "r": return .replica(n)
        case "c": return .client(n)
        default: return nil
        }
    }

    static func digest(_ s: String?) -> Digest? {
        guard let s, let b = [UInt8](hex: s), b.count == 32 else { return nil }
        return Digest(bytes: b)
    }

    static func observation(_ l: Line) -> Observation? {
        switch l.kind {
        case "view-entered": guard let v = l.view, let ld = l.leader else { return nil }; return .viewEntered(view: v, leader: ld)
        case "view-change": guard let v = l.view else { return nil }; return .viewChangeStarted(view: v)
        case "restarted": return .restarted
        case "commit":
            guard let s = l.seq, let v = l.view, let d = digest(l.digest), let c = l.count else { return nil }
            return .committed(sequence: s, view: v, digest: d, requestCount: c)
        case "execute":
            guard let s = l.seq, let i = l.index, let c = l.client, let t = l.ts, let rd = digest(l.rdigest), let r = digest(l.result) else { return nil }
            return .executed(sequence: s, index: i, request: RequestID(client: c, timestamp: t), requestDigest: rd, result: r)
        case "checkpoint": guard let s = l.seq, let d = digest(l.digest) else { return nil }; return .checkpointStable(sequence: s, stateDigest: d)
        case "state-transfer": guard let s = l.seq, let d = digest(l.digest) else { return nil }; return .stateTransferred(sequence: s, stateDigest: d)
        case "reject":
            guard let r = l.reason.flatMap(RejectReason.init(rawValue:)), let f = l.from.flatMap(principal) else { return nil }
            return .rejected(reason: r, from: f)
        case "pending": guard let c = l.count else { return nil }; return .pendingRequests(count: c)
        case "vote": guard let v = l.view, let d = digest(l.digest) else { return nil }; return .voted(view: v, digest: d)
        case "certified": guard let v = l.view, let d = digest(l.digest), let h = l.height else { return nil }; return .blockCertified(view: v, digest: d, height: h)
        case "block-commit": guard let h = l.height, let d = digest(l.digest), let p = digest(l.parent) else { return nil }; return .blockCommitted(height: h, digest: d, parent: p)
        case "locked": guard let v = l.view else { return nil }; return .locked(view: v)
        case "high-qc": guard let v = l.view else { return nil }; return .highQC(view: v)
        case "timeout-certified": guard let v = l.view else { return nil }; return .timeoutCertified(view: v)
        case "request": guard let c = l.client, let t = l.ts, let d = digest(l.digest) else { return nil }; return .requestIssued(request: RequestID(client: c, timestamp: t), digest: d)
        case "complete": guard let c = l.client, let t = l.ts, let r = digest(l.result) else { return nil }; return .requestCompleted(request: RequestID(client: c, timestamp: t), result: r)
        default: return nil
        }
    }

    /// Records of one file in file order, plus the number of lines that did not parse (a torn last
    /// line after kill -9 is expected).
    public static func read(path: String) -> (records: [ObservationRecord], bad: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        let dec = JSONDecoder()
        var out: [ObservationRecord] = []
        var bad = 0
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let l = try? dec.decode(Line.self, from: Data(line)), let src = principal(l.src), let o = observation(l) else {
                bad += 1
                continue
            }
            out.append(ObservationRecord(time: l.t, eventIndex: l.i, source: src, observation: o))
        }
        return (out, bad)
    }
}
