import BFTCore
import Foundation

/// A replica's durable key → value store: an append-only log of `.persist` records in `DIR/durable.log`,
/// made durable by `sync()` (fdatasync). Recovery replays the log, the last value of a key wins, and a
/// torn tail (a crash mid-append) is ignored: only records followed by their checksum count.
///
/// The shell appends every persist of a batch, then syncs once, then lets the batch's sends leave
/// (persist-before-send, `ReplicaAction`). When the log outgrows `compactionBytes` it is rewritten as
/// one record per live key (written to a temporary file, synced, renamed, directory synced).
public final class DurableStore {
    public static let compactionBytes = 64 << 20
    /// Longest key or value accepted from the log; a larger length means corruption.
    static let recordFieldMax = 256 << 20

    private let directory: String
    private let path: String
    private var fd: Int32
    private var bytesWritten = 0
    private var values: [String: [UInt8]] = [:]
    private var buffer: [UInt8] = []
    public private(set) var dirty = false
    public private(set) var syncs = 0

    public init(directory: String) throws(LiveError) {
        self.directory = directory
        path = directory + "/durable.log"
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(directory)")
        }
        if let data = FileManager.default.contents(atPath: path) {
            values = DurableStore.replay([UInt8](data))
        }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { throw .io("cannot open \(path)") }
        bytesWritten = Int(lseek(fd, 0, SEEK_END))
    }

    deinit { close(fd) }

    /// What was durable when the process started.
    public var recovered: [String: [UInt8]] { values }

    static func replay(_ bytes: [UInt8]) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        var r = ByteReader(bytes)
        while r.remaining > 0 {
            let start = r.offset
            guard let key = try? r.lengthPrefixed("key", max: recordFieldMax),
                  let value = try? r.lengthPrefixed("value", max: recordFieldMax),
                  let sum = try? r.u64("checksum") else { break }
            let check = Digest.of(Array(bytes[start..<(r.offset - 8)]))
            guard sum == check.words[0] else { break }
            out[String(decoding: key, as: UTF8.self)] = value
        }
        return out
    }

    /// Buffers a record; durable after the next `sync()`.
    public func put(_ key: String, _ value: [UInt8]) {
        values[key] = value
        var w = ByteWriter(capacity: key.utf8.count + value.count + 16)
        w.lengthPrefixed(Array(key.utf8))
        w.lengthPrefixed(value)
        let sum = Digest.of(w.bytes).words[0]
        buffer.append(contentsOf: w.bytes)
        var t = ByteWriter(capacity: 8)
        t.u64(sum)
        buffer.append(contentsOf: t.bytes)
        dirty = true
    }

    /// Writes buffered records and fdatasyncs. Fatal on IO failure: a replica that cannot persist must
    /// not send what depends on it.
    public func sync() {
        guard dirty else { return }
        if bytesWritten + buffer.count > DurableStore.compactionBytes {
            compact()
        } else {
            writeAll(fd, buffer)
            bytesWritten += buffer.count
            precondition(fdatasync(fd) == 0, "fdatasync failed on \(path)")
        }
        buffer.removeAll(keepingCapacity: true)
        dirty = false
        syncs += 1
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + off, $0.count - off) }
            precondition(n > 0, "write failed on \(path)")
            off += n
        }
    }

    private func compact() {
        var w = ByteWriter(capacity: 1 << 16)
        for key in values.keys.sorted() {
            var rec = ByteWriter()
            rec.lengthPrefixed(Array(key.utf8))
            rec.lengthPrefixed(values[key]!)
            let sum = Digest.of(rec.bytes).words[0]
            w.raw(rec.bytes)
            w.u64(sum)
        }
        let tmp = path + ".tmp"
        let tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(tfd >= 0, "cannot create \(tmp)")
        writeAll(tfd, w.bytes)
        precondition(fsync(tfd) == 0, "fsync failed on \(tmp)")
        close(tfd)
        precondition(rename(tmp, path) == 0, "rename failed on \(tmp)")
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
        close(fd)
        fd = open(path, O_WRONLY | O_APPEND, 0o600)
        precondition(fd >= 0, "cannot reopen \(path)")
        bytesWritten = w.bytes.count
    }
}
