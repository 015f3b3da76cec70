import Foundation
import Simulation

/// Buffered JSONL trace file. Lines are flushed in 1 MiB chunks and on `close()`.
public final class FileTraceSink: TraceSink {
    private let handle: UnsafeMutablePointer<FILE>
    private var buffer: [UInt8] = []

    public init(path: String) throws(RunError) {
        guard let h = fopen(path, "w") else { throw .io("cannot write \(path): \(String(cString: strerror(errno)))") }
        handle = h
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { flush() }
    }

    private func flush() {
        buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() {
        flush()
        fflush(handle)
        fsync(fileno(handle))
        fclose(handle)
    }
}

/// Writes `summary.json`, `summary.md` (the trace is streamed by `FileTraceSink`).
public enum RunOutputs {
    public static func prepare(directory: String) throws(RunError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create output directory \(directory): \(error.localizedDescription)")
        }
    }

    public static func write(_ summary: RunSummary, to directory: String) throws(RunError) {
        try writeFile(summary.json(), to: directory + "/summary.json")
        try writeFile(summary.markdown(), to: directory + "/summary.md")
    }

    static func writeFile(_ text: String, to path: String) throws(RunError) {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw .io("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
