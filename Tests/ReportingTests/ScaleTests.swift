import Foundation
import Reporting
import Testing

@Suite("Report scale")
struct ScaleTests {
    /// Writes a synthetic n=64 run: `views` views per replica entered quickly (as HotStuff does), a
    /// crash, a partition, many messages and completed requests.
    static func syntheticRun(n: Int, steps: Int) throws -> String {
        let dir = Fixture.temporaryDirectory("synthetic-\(n)-\(steps)")
        let end = Int64(steps) * 1_000_000
        let summary: [String: Any] = [
            "scenario": "synthetic", "file": "synthetic.yaml", "protocolName": "hotstuff", "replicas": n, "f": (n - 1) / 3,
            "seed": 1, "status": "as expected", "exitCode": 0, "expect": ["safety": "holds", "liveness": "holds"],
            "safety": "holds", "liveness": "holds",
            "checks": [["name": "agreement", "verdict": "holds"]],
            "requestsIssued": steps, "requestsCompleted": steps, "batchesCommitted": steps, "simDurationNs": end,
            "throughputPerSimSecond": 1000.0, "messages": [["type": "PROPOSAL", "sent": steps * n, "delivered": steps * n]],
            "messagesSent": steps * n, "messagesDelivered": steps * n, "messagesDropped": [String: Int](),
            "viewChanges": 0, "highestView": steps, "events": steps * (n + 2), "traceHash": "00", "diagnosis": [String](),
            "replay": "bftsim run synthetic.yaml --seed 1",
        ]
        try JSONSerialization.data(withJSONObject: summary).write(to: URL(fileURLWithPath: dir + "/summary.json"))
        var text = ""
        var i = 0, msg = 0
        _ = FileManager.default.createFile(atPath: dir + "/trace.jsonl", contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/trace.jsonl"))
        text += "{\"action\":\"partition\",\"groups\":[[0,1,2],[3,4]],\"i\":0,\"kind\":\"fault\",\"t\":1000}\n"
        for step in 0..<steps {
            let t = Int64(step) * 1_000_000
            text += "{\"i\":\(i),\"kind\":\"observe\",\"node\":\"c0\",\"obs\":\"request\",\"request\":\"c0/t\(step)\",\"t\":\(t)}\n"
            for r in 0..<n {
                text += "{\"from\":\"r\(step % n)\",\"i\":\(i),\"kind\":\"send\",\"msg\":\(msg),\"to\":\"r\(r)\",\"t\":\(t),\"type\":\"PROPOSAL\",\"view\":\(step)}\n"
                text += "{\"from\":\"r\(step % n)\",\"i\":\(i + 1),\"kind\":\"deliver\",\"msg\":\(msg),\"to\":\"r\(r)\",\"t\":\(t + 400_000),\"type\":\"PROPOSAL\",\"view\":\(step)}\n"
                text += "{\"i\":\(i + 1),\"kind\":\"observe\",\"leader\":\(step % n),\"node\":\"r\(r)\",\"obs\":\"view-entered\",\"t\":\(t + 400_000),\"view\":\(step)}\n"
                text += "{\"i\":\(i + 1),\"kind\":\"observe\",\"node\":\"r\(r)\",\"obs\":\"commit\",\"seq\":\(step),\"t\":\(t + 500_000),\"view\":\(step)}\n"
                msg += 1
            }
            text += "{\"i\":\(i + 2),\"kind\":\"observe\",\"node\":\"c0\",\"obs\":\"complete\",\"request\":\"c0/t\(step)\",\"t\":\(t + 900_000 + Int64(step % 7) * 50_000)}\n"
            if step == steps / 2 { text += "{\"action\":\"crash\",\"i\":\(i + 2),\"kind\":\"fault\",\"node\":\"r5\",\"t\":\(t + 900_000)}\n" }
            if step == steps / 3 { text += "{\"action\":\"heal\",\"i\":\(i + 2),\"kind\":\"fault\",\"t\":\(t + 900_000)}\n" }
            i += 3
            if text.utf8.count > 1 << 20 {
                handle.write(Data(text.utf8))
                text = ""
            }
        }
        handle.write(Data(text.utf8))
        try handle.close()
        return dir
    }

    @Test("n=64 with 600 views per replica: marks are aggregated and capped, and the page stays small")
    func legibleAtScale() throws {
        // Proves the report draws a bounded number of marks however many events the trace holds.
        let dir = try Self.syntheticRun(n: 64, steps: 600)
        let report = try RunAnalysis.analyze(try RunDirectory(path: dir))
        #expect(report.timeline.lanes.count == 64)
        for lane in report.timeline.lanes {
            #expect(lane.views.count <= RunAnalysis.timelineBuckets)
            #expect(lane.commits.count <= RunAnalysis.timelineBuckets)
        }
        #expect(report.timeline.lanes[5].crashedAtNs != nil)
        #expect(report.timeline.faults.first?.action == "partition")
        #expect(report.timeline.faults.first?.replicas == [3, 4])
        #expect(report.timeline.faults.first?.toNs != nil, "the heal closes the partition")
        #expect(report.spaceTime.arrows.count <= RunAnalysis.arrowsMax(replicas: 64))
        #expect(report.spaceTime.lanes.count == 65)
        #expect(report.latency?.count == 600)
        let html = HTMLRenderer(report: report).render()
        #expect(Markup.tagBalance(html).isEmpty)
        #expect(html.utf8.count < 1_500_000, "page is \(html.utf8.count) bytes")
        #expect(html.contains("64 lanes"))
    }
}
