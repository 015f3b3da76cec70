import RunRecords
import Foundation
import Simulation

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
