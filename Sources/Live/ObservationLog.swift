import BFTCore
import Foundation

/// Writes a process's `ObservationRecord`s to `observations.bin`: a 5-byte header (`BFTO`, version),
/// then one record per observation, each a big-endian u32 length and `ObservationRecord.encode`.
///
/// Binary because a JSON line per observation cost a live replica more CPU than executing the request
/// it described; `bftsim check` reads these (and the JSON lines of older logs). `time` is wall-clock
/// nanoseconds since the Unix epoch (so logs of separate processes merge on one time axis; `bftsim
/// check` rebases them to the earliest record). Records are buffered and written (no fsync) when the
/// buffer fills and on `flush()`. Replica shells flush before every store sync and send, so a kill -9
/// never loses an observation whose effects left the process or reached the durable store; a record
/// torn by kill -9 mid-write is the last one and the reader counts it as unreadable.
public final class ObservationLog {
    public static let fileName = "observations.bin"
    public static let magic: [UInt8] = Array("BFTO".utf8) + [1]
    /// Longest record accepted by the reader; a larger length is corruption.
    static let recordMax = 1 << 16
    private let fd: Int32
    private var buffer = ByteWriter(capacity: ObservationLog.bufferMax + 1024)
    private var index: UInt64 = 0
    public static let bufferMax = 1 << 16

    private let path: String

    public init(path: String) throws(LiveError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw .storage("cannot open \(path): \(String(cString: strerror(errno))) (errno \(errno))") }
        if lseek(fd, 0, SEEK_END) == 0 { buffer.raw(ObservationLog.magic) }
    }

    deinit {
        flush()
        close(fd)
    }

    public func append(time: Nanoseconds, source: Principal, _ o: Observation) {
        index += 1
        let at = buffer.count
        buffer.u32(0)
        ObservationRecord(time: time, eventIndex: index, source: source, observation: o).encode(into: &buffer)
        buffer.setU32(UInt32(buffer.count - at - 4), at: at)
        if buffer.count >= ObservationLog.bufferMax { flush() }
    }

    /// Writes the buffer out and fsyncs the file (orderly shutdown). False when either failed.
    @discardableResult
    public func flushAndSync() -> Bool {
        flush()
        return failure == nil && fsync(fd) == 0
    }

    /// Records lost to failed writes, and what failed first (nil while every write succeeded).
    public private(set) var failedWrites = 0
    public private(set) var failure: String?

    /// Writes the buffer out (no fsync). A failed write is never dropped silently (issue 13: the audit
    /// trail stopped early while the replica ran on): it is counted in `failedWrites`, `failure` names
    /// the errno, and the replica host stops on it. Interrupted writes are retried.
    public func flush() {
        guard buffer.count > 0 else { return }
        var err: Int32 = 0
        buffer.bytes.withUnsafeBytes { all in
            var off = 0
            while off < all.count {
                let p = all.baseAddress! + off, k = all.count - off
                let n = Foundation.write(fd, p, k)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    err = n == 0 ? EIO : errno
                    break
                }
                off += n
            }
        }
        if err != 0 {
            failedWrites += 1
            if failure == nil { failure = "cannot write \(path): \(String(cString: strerror(err))) (errno \(err))" }
        }
        buffer.reset()
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

    /// Records of one file in file order, plus the number of records or lines that did not parse (a
    /// torn last record after kill -9 is expected). Reads `observations.bin` and JSON-lines logs.
    public static func read(path: String) -> (records: [ObservationRecord], bad: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        let bytes = [UInt8](data)
        if bytes.starts(with: ObservationLog.magic.prefix(4)) { return readBinary(bytes) }
        return readLines(data)
    }

    public static func readBinary(_ bytes: [UInt8]) -> (records: [ObservationRecord], bad: Int) {
        guard bytes.count >= ObservationLog.magic.count, bytes[4] == ObservationLog.magic[4] else { return ([], 1) }
        var r = ByteReader(bytes, offset: ObservationLog.magic.count)
        var out: [ObservationRecord] = []
        var bad = 0
        while !r.isAtEnd {
            // A bad length cannot be resynchronised past (a torn tail): the rest counts as one bad
            // record. A record that does not decode is skipped by its length.
            guard let length = try? r.u32("record length"), Int(length) <= ObservationLog.recordMax,
                  Int(length) <= r.remaining else { return (out, bad + 1) }
            let end = r.offset + Int(length)
            if let record = try? ObservationRecord.decode(from: &r), r.offset == end {
                out.append(record)
            } else {
                bad += 1
                r = ByteReader(bytes, offset: end)
            }
        }
        return (out, bad)
    }

    static func readLines(_ data: Data) -> (records: [ObservationRecord], bad: Int) {
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
