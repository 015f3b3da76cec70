import Foundation

/// Input of a fuzz-campaign report: a directory holding `campaign.json` (written by `bftsim fuzz`).
///
/// Not implemented yet: `bftsim fuzz` and its output format do not exist. The intended shape,
/// parallel to `RunDirectory` → `RunAnalysis` → `RunReport`:
/// `CampaignDirectory(path:)` decodes `campaign.json` (runs, runs/s, failures by kind, coverage
/// samples per strategy, shrunk failures with their run directories), `CampaignReport` holds the
/// figures, and the HTML renderer gains sections `campaign`, `coverage` and `failures` (each shrunk
/// failure drawn with a mini timeline from its run directory and its replay command).
public struct CampaignDirectory: Sendable {
    public var path: String

    /// Whether `path` looks like a campaign directory (has `campaign.json`).
    public static func isCampaign(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/campaign.json")
    }

    public init(path: String) throws(ReportError) {
        self.path = path
        throw ReportError(file: path + "/campaign.json", "fuzz campaign reports are not implemented yet (bftsim fuzz does not exist); report a run directory instead")
    }
}

/// Entry points used by the CLI and tests.
public enum Reports {
    /// Reads `directory` (summary.json and trace.jsonl) and renders it in `format`.
    public static func render(directory: String, format: ReportFormat, byzantine: [ByzantineReplica] = [], windowAt: Int64? = nil) throws(ReportError) -> String {
        if CampaignDirectory.isCampaign(directory) { _ = try CampaignDirectory(path: directory) }
        let run = try RunDirectory(path: directory)
        let report = try RunAnalysis.analyze(run, byzantine: byzantine, windowAt: windowAt)
        return format.render(report)
    }

    /// Renders and writes the report; returns the path written.
    @discardableResult
    public static func write(directory: String, format: ReportFormat, to out: String? = nil, byzantine: [ByzantineReplica] = [], windowAt: Int64? = nil) throws(ReportError) -> String {
        let text = try render(directory: directory, format: format, byzantine: byzantine, windowAt: windowAt)
        let path = out ?? directory + "/report." + format.fileExtension
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError(file: path, "cannot write: \(error.localizedDescription)")
        }
        return path
    }
}
