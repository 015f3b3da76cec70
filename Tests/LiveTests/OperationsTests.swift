import BFTCore
import Foundation
@testable import Live
import Logging
import Testing

/// Helpers for operating a live cluster in tests: metrics scrapes and Chromium screenshots.
enum Ops {
    static func metrics(port: Int) throws -> [PrometheusText.Sample] {
        let (code, body) = try HTTPGet.fetch(host: "127.0.0.1", port: port, path: "/metrics")
        precondition(code == 200, "metrics HTTP \(code)")
        return PrometheusText.parse(body)
    }

    static func value(_ s: [PrometheusText.Sample], _ name: String, _ labels: [String: String] = [:]) -> Double {
        PrometheusText.value(s, name, labels: labels) ?? -1
    }

    static func metricsPort(_ c: TestCluster, _ id: Int) -> Int {
        (try? ClusterConfig.load(path: c.config).replicas[id].metricsPort ?? 0) ?? 0
    }

    static let chromiumCandidates = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell"]

    /// The first Chromium on PATH (as the report tests find it), or nil (also when BFTSIM_NO_CHROMIUM is set).
    static var chromium: String? {
        if ProcessInfo.processInfo.environment["BFTSIM_NO_CHROMIUM"] != nil { return nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in chromiumCandidates {
            for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }

    /// Screenshots `url` in headless Chromium; returns the PNG (nil when none was written).
    static func screenshot(_ binary: String, url: String, png: String, width: Int = 1200, height: Int = 500) throws -> Data? {
        try? FileManager.default.removeItem(atPath: png)
        let profile = "\(NSTemporaryDirectory())/bftsim-ops-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["60", binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                       "--user-data-dir=\(profile)", "--screenshot=\(png)", "--window-size=\(width),\(height)", url]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return FileManager.default.contents(atPath: png)
    }

    /// Every byte of every file under `dir` except `keys/`, with the file's path.
    static func outputs(under dir: String) -> [(String, Data)] {
        var out: [(String, Data)] = []
        let e = FileManager.default.enumerator(atPath: dir)
        while let rel = e?.nextObject() as? String {
            guard !rel.hasPrefix("keys") else { continue }
            let path = dir + "/" + rel
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                  let d = FileManager.default.contents(atPath: path) else { continue }
            out.append((rel, d))
        }
        return out
    }
}

@Suite("Operating a live cluster", .serialized)
struct OperationsTests {
    @Test("/metrics on a running replica returns live counters: commits, views, messages by type, timings, queues")
    func metricsEndpointHasLiveValues() throws {
        // Proves the Prometheus endpoint reports what the replica did: after a short load the commit,
        // message, byte, verification, store-sync and commit-latency series are non-zero; the client's
        // own endpoint counts its completed requests; `cluster status` reads every replica.
        let c = try TestCluster(name: "metrics", protocolName: "pbft")
        try c.up()
        defer { c.stop() }
        let clientPort = c.basePort + 18
        let load = try LiveSupport.start(["client", "--config", c.config, "--clients", "2", "--duration", "2",
                                          "--metrics-port", String(clientPort)], output: c.dir + "/client.log")
        var clientSeen = -1.0
        _ = LiveSupport.waitUntil(seconds: 4) {
            guard let s = try? Ops.metrics(port: clientPort) else { return false }
            clientSeen = Ops.value(s, "bftsim_client_requests_completed_total")
            return clientSeen > 0
        }
        load.waitUntilExit()
        #expect(load.terminationStatus == 0)
        #expect(clientSeen > 0, "the load client's /metrics never showed a completed request")

        let m = try Ops.metrics(port: Ops.metricsPort(c, 0))
        #expect(Ops.value(m, "bftsim_committed_requests_total") > 0)
        #expect(Ops.value(m, "bftsim_committed_batches_total") > 0)
        #expect(Ops.value(m, "bftsim_executed_requests_total") > 0)
        #expect(Ops.value(m, "bftsim_last_committed_sequence") > 0)
        #expect(Ops.value(m, "bftsim_view") == 0)
        #expect(Ops.value(m, "bftsim_view_changes_total") == 0)
        #expect(Ops.value(m, "bftsim_messages_received_total", ["type": "prepare"]) > 0)
        #expect(Ops.value(m, "bftsim_messages_received_total", ["type": "request"]) > 0)
        #expect(Ops.value(m, "bftsim_messages_sent_total", ["type": "pre-prepare"]) > 0)
        #expect(Ops.value(m, "bftsim_received_bytes_total") > 0)
        #expect(Ops.value(m, "bftsim_sent_bytes_total") > 0)
        #expect(Ops.value(m, "bftsim_verification_seconds_count") > 0)
        #expect(Ops.value(m, "bftsim_store_sync_seconds_count") > 0)
        #expect(Ops.value(m, "bftsim_commit_latency_seconds_count") > 0)
        #expect(Ops.value(m, "bftsim_peers_connected") == 3)
        #expect(Ops.value(m, "bftsim_queue_depth", ["queue": "held-sends"]) >= 0)
        #expect(Ops.value(m, "bftsim_rejected_frames_total", ["reason": "bad-signature"]) == 0)

        let status = try LiveSupport.run(["cluster", "status", c.dir, "--json"])
        #expect(status.status == 0, "\(status.out)")
        let rows = try JSONDecoder().decode([ReplicaStatus].self, from: Data(status.out.utf8))
        #expect(rows.count == 4)
        #expect(rows.allSatisfy { $0.reachable && $0.lastCommittedSequence > 0 && $0.peersConnected.count == 3 })
    }

    @Test("rejected-frame counters rise when bad frames are sent, and the log aggregates them")
    func rejectedFramesAreCounted() throws {
        // Proves the `reason` labels track attacks: forged signatures raise `bad-signature`, a frame
        // declaring 8 MiB before its handshake raises `oversize`; and the flood leaves a handful of
        // summary lines in the log, not one per frame.
        let c = try TestCluster(name: "rejects", protocolName: "pbft")
        try c.up()
        defer { c.stop() }
        let port = Ops.metricsPort(c, 0)
        let before = try Ops.metrics(port: port)
        #expect(Ops.value(before, "bftsim_rejected_frames_total", ["reason": "bad-signature"]) == 0)

        // First the oversize frame (the flood gets 127.0.0.1 banned for a while).
        let cfg = try ClusterConfig.load(path: c.config)
        let raw = try #require(Socket(host: "127.0.0.1", port: cfg.replicas[0].port))
        _ = raw.send([0x00, 0x80, 0x00, 0x00, 0x01, 0x02])  // a header declaring 8 MiB before any handshake
        usleep(300_000)
        let flood = try Flood.run(configPath: c.config, target: 0, kind: "expensive", seconds: 1, connections: 1)
        #expect(flood.framesSent > 0)

        var after: [PrometheusText.Sample] = []
        let rose = LiveSupport.waitUntil(seconds: 5) {
            after = (try? Ops.metrics(port: port)) ?? []
            return Ops.value(after, "bftsim_rejected_frames_total", ["reason": "bad-signature"]) > 0
                && Ops.value(after, "bftsim_rejected_frames_total", ["reason": "oversize"]) > 0
        }
        #expect(rose, "bad-signature \(Ops.value(after, "bftsim_rejected_frames_total", ["reason": "bad-signature"])), oversize \(Ops.value(after, "bftsim_rejected_frames_total", ["reason": "oversize"]))")
        #expect(Ops.value(after, "bftsim_bans_total") >= 1)
        #expect(Ops.value(after, "bftsim_connections_refused_total", ["reason": "banned"]) > 0)
        usleep(1_200_000)  // the next summary line
        let log = String(decoding: FileManager.default.contents(atPath: c.dir + "/logs/r0.log") ?? Data(), as: UTF8.self)
        let summaries = log.split(separator: "\n").filter { $0.contains("frames rejected in the last second") }
        let rejected = Int(Ops.value(after, "bftsim_rejected_frames_total"))
        #expect(summaries.count >= 1, "no rejection summary in the log")
        #expect(summaries.count <= 6, "\(summaries.count) summary lines for \(rejected) rejected frames")
        #expect(rejected > summaries.count * 10, "\(rejected) rejected frames")
    }

    @Test("killing the PBFT primary: view change started/completed and peer lost are logged, bftsim_view rises")
    func viewChangeIsLoggedAndMeasured() throws {
        // Proves the events an operator needs show up: after kill -9 of replica 0 under load, replica 1
        // logs `peer lost`, `view change started` and `view change completed`, and its /metrics shows a
        // higher view, view changes counted and commits continuing.
        let c = try TestCluster(name: "viewchange", protocolName: "pbft")
        try c.up()
        defer { c.stop() }
        let load = try LiveSupport.start(["client", "--config", c.config, "--clients", "2", "--duration", "6"], output: c.dir + "/client.log")
        defer { load.waitUntilExit() }
        usleep(1_000_000)
        _ = try LiveSupport.run(["cluster", "kill", c.dir, "--id", "0"])
        let port = Ops.metricsPort(c, 1)
        var m: [PrometheusText.Sample] = []
        let moved = LiveSupport.waitUntil(seconds: 8) {
            m = (try? Ops.metrics(port: port)) ?? []
            return Ops.value(m, "bftsim_view") >= 1 && Ops.value(m, "bftsim_view_changes_total") >= 1
        }
        #expect(moved, "view \(Ops.value(m, "bftsim_view")), view changes \(Ops.value(m, "bftsim_view_changes_total"))")
        let log = String(decoding: FileManager.default.contents(atPath: c.dir + "/logs/r1.log") ?? Data(), as: UTF8.self)
        let lines = log.split(separator: "\n")
        #expect(lines.contains { $0.contains("warning peer lost") && $0.contains("peer=0") }, "\(log.suffix(800))")
        #expect(lines.contains { $0.contains("info view change started") && $0.contains("view=1") }, "\(log.suffix(800))")
        #expect(lines.contains { $0.contains("info view change completed") && $0.contains("leader=1") && $0.contains("view=1") })
        #expect(Ops.value(m, "bftsim_peer_connected", ["peer": "0"]) == 0)
    }

    @Test("a restarted PBFT replica logs its state transfer and counts it in /metrics")
    func stateTransferIsLoggedAndCounted() throws {
        // Proves the catch-up events: a replica killed with -9 and restarted behind a checkpoint logs
        // `recovered durable state`, `state transfer started` and `state transfer completed`, and its
        // `bftsim_state_transfers_total` is at least 1.
        let c = try TestCluster(name: "statetransfer", protocolName: "pbft")
        try c.up()
        defer { c.stop() }
        #expect(try c.load(clients: 2, outstanding: 1, duration: 1).status == 0)
        _ = try LiveSupport.run(["cluster", "kill", c.dir, "--id", "1"])
        _ = try LiveSupport.run(["cluster", "restart", c.dir, "--id", "1"])
        // Load until the others pass a checkpoint the restarted replica must fetch (bounded: 15 s).
        let load = try LiveSupport.start(["client", "--config", c.config, "--clients", "2", "--duration", "15", "--first-client", "8"],
                                         output: c.dir + "/client2.log")
        defer {
            kill(load.processIdentifier, SIGKILL)  // SIGTERM may be ignored in the test runner's children
            load.waitUntilExit()
        }
        let port = Ops.metricsPort(c, 1)
        var m: [PrometheusText.Sample] = []
        let transferred = LiveSupport.waitUntil(seconds: 15) {
            m = (try? Ops.metrics(port: port)) ?? []
            return Ops.value(m, "bftsim_state_transfers_total") >= 1
        }
        #expect(transferred, "bftsim_state_transfers_total \(Ops.value(m, "bftsim_state_transfers_total"))")
        let log = String(decoding: FileManager.default.contents(atPath: c.dir + "/logs/r1.log") ?? Data(), as: UTF8.self)
        #expect(log.contains("notice recovered durable state"))
        #expect(log.contains("notice state transfer started"), "\(log.suffix(600))")
        #expect(log.contains("notice state transfer completed"))
    }

    @Test("SIGTERM (and SIGINT): a replica stops accepting, flushes its observation log, syncs and exits 0")
    func sigtermShutsDownCleanly() throws {
        // Proves the shutdown path: a replica under load gets SIGTERM, exits with status 0 within a few
        // seconds, logs `shutdown complete` with its log flushed and store synced, and its observation
        // log holds every commit its stats counted (nothing left in the buffer).
        let c = try TestCluster(name: "sigterm", protocolName: "pbft")
        var procs: [Process] = []
        defer { for p in procs where p.isRunning { p.terminate(); p.waitUntilExit() } }
        for i in 0..<4 {
            try FileManager.default.createDirectory(atPath: "\(c.dir)/data/r\(i)", withIntermediateDirectories: true)
            procs.append(try LiveSupport.start(["replica", "--config", c.config, "--id", String(i), "--data", "\(c.dir)/data/r\(i)",
                                                "--log-format", "json"], output: "\(c.dir)/r\(i).log"))
        }
        let listening = LiveSupport.waitUntil(seconds: 10) {
            (0..<4).allSatisfy { i in (try? String(contentsOfFile: "\(c.dir)/r\(i).log", encoding: .utf8))?.contains("listening on") ?? false }
        }
        try #require(listening)
        let load = try LiveSupport.run(["client", "--config", c.config, "--clients", "2", "--duration", "1"])
        #expect(load.status == 0, "\(load.out)")

        let started = Date()
        procs[0].terminate()  // SIGTERM
        procs[0].waitUntilExit()
        #expect(procs[0].terminationReason == .exit)
        #expect(procs[0].terminationStatus == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        let log = try String(contentsOfFile: "\(c.dir)/r0.log", encoding: .utf8)
        let last = try #require(log.split(separator: "\n").last(where: { $0.contains("shutdown complete") }))
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(fields["observation_log"] as? String == "flushed")
        #expect(fields["store"] as? String == "synced")
        let stats = try #require(LiveSupport.stats(c.dir, 0))
        let records = ObservationLogReader.read(path: "\(c.dir)/data/r0/\(ObservationLog.fileName)").records
        let commits = records.filter { if case .committed = $0.observation { return true } else { return false } }.count
        #expect(stats.committed > 0)
        #expect(commits == stats.committed, "log holds \(commits) commits, stats counted \(stats.committed)")
        procs[1].interrupt()  // SIGINT takes the same path
        procs[1].waitUntilExit()
        #expect(procs[1].terminationReason == .exit && procs[1].terminationStatus == 0)
        let log1 = try String(contentsOfFile: "\(c.dir)/r1.log", encoding: .utf8)
        #expect(log1.contains("shutdown complete"))
    }

    @Test("no secret key appears in any log, metric, status page, report, stats or observation file of a live run")
    func noSecretKeyInOutputs() throws {
        // Proves secrets stay in keys/: after a run with JSON and text logs, metrics scrapes, the status
        // page and a load report, no file outside keys/ contains any replica's or client's key seed, as
        // hex (either case), base64, or raw bytes.
        let c = try TestCluster(name: "secrets", protocolName: "hotstuff", clients: 8)
        try c.up(["--log-level", "debug", "--log-format", "json"])
        defer { c.stop() }
        let load = try LiveSupport.run(["client", "--config", c.config, "--clients", "2", "--duration", "1",
                                        "--out", c.dir + "/load.json", "--log-level", "debug"])
        #expect(load.status == 0, "\(load.out)")
        for i in 0..<4 {
            let port = Ops.metricsPort(c, i)
            for path in ["/metrics", "/", "/status.json"] {
                let (_, body) = try HTTPGet.fetch(host: "127.0.0.1", port: port, path: path)
                try body.write(toFile: "\(c.dir)/scrape-r\(i)\(path.replacingOccurrences(of: "/", with: "-")).txt", atomically: true, encoding: .utf8)
            }
        }
        _ = try LiveSupport.run(["cluster", "status", c.dir, "--html", c.dir + "/status.html"])
        try load.out.write(toFile: c.dir + "/client.out", atomically: true, encoding: .utf8)
        c.stop()
        let check = try c.check()
        try check.out.write(toFile: c.dir + "/check.out", atomically: true, encoding: .utf8)

        var secrets: [[UInt8]] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: c.dir + "/keys") {
            let text = try String(contentsOfFile: "\(c.dir)/keys/\(file)", encoding: .utf8)
            for line in text.split(whereSeparator: \.isNewline) {
                let hex = line.trimmingCharacters(in: .whitespaces)
                guard let seed = [UInt8](hex: hex), seed.count >= 16 else { continue }
                secrets.append(seed)
            }
        }
        #expect(secrets.count >= 4 + 8)
        let outputs = Ops.outputs(under: c.dir)
        #expect(outputs.contains { $0.0.hasPrefix("logs/") } && outputs.contains { $0.0.hasSuffix("stats.json") }
                && outputs.contains { $0.0.hasSuffix("metrics.txt") } && outputs.contains { $0.0.hasSuffix("observations.bin") })
        for seed in secrets {
            let hex = seed.map { String(format: "%02x", $0) }.joined()
            let needles: [(String, [UInt8])] = [("hex", Array(hex.utf8)), ("HEX", Array(hex.uppercased().utf8)),
                                               ("base64", Array(Data(seed).base64EncodedString().utf8)), ("raw", seed)]
            for (file, data) in outputs {
                let bytes = [UInt8](data)
                for (kind, needle) in needles {
                    #expect(!contains(bytes, needle), "\(file) contains a secret key seed (\(kind))")
                }
            }
        }
    }

    private func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        Data(hay).range(of: Data(needle)) != nil
    }

    @Test("the status page renders in headless Chromium, from a live replica and for the whole cluster",
          .enabled(if: Ops.chromium != nil, "no Chromium on PATH (or BFTSIM_NO_CHROMIUM set)"))
    func statusPageRendersInChromium() throws {
        // Proves a real browser draws the replica's `/` (fetched over 127.0.0.1) and the cluster page of
        // `cluster status --html`: screenshots of the requested size holding far more than a blank page.
        guard let chromium = Ops.chromium else { return }
        let c = try TestCluster(name: "status-page", protocolName: "pbft")
        try c.up()
        defer { c.stop() }
        _ = try LiveSupport.run(["client", "--config", c.config, "--clients", "1", "--duration", "1"])
        let port = Ops.metricsPort(c, 0)
        let (code, body) = try HTTPGet.fetch(host: "127.0.0.1", port: port, path: "/")
        #expect(code == 200)
        #expect(body.contains("<table") && body.contains("r0") && body.contains("3/3"))
        _ = try LiveSupport.run(["cluster", "status", c.dir, "--html", c.dir + "/status.html"])
        let page = try String(contentsOfFile: c.dir + "/status.html", encoding: .utf8)
        #expect((0..<4).allSatisfy { page.contains(">r\($0)<") })

        let blankPath = c.dir + "/blank.html"
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: blankPath, atomically: true, encoding: .utf8)
        let blank = try #require(try Ops.screenshot(chromium, url: "file://\(blankPath)", png: c.dir + "/blank.png"))
        let live = try #require(try Ops.screenshot(chromium, url: "http://127.0.0.1:\(port)/", png: c.dir + "/replica.png"))
        let cluster = try #require(try Ops.screenshot(chromium, url: "file://\(c.dir)/status.html", png: c.dir + "/cluster.png"))
        for png in [live, cluster] {
            #expect(png.count > 5 * blank.count, "screenshot \(png.count) bytes vs blank \(blank.count)")
            let b = [UInt8](png.prefix(24))
            #expect(b.count == 24 && b[16..<20].reduce(0) { $0 << 8 | Int($1) } == 1200)
        }
    }

    @Test("JSON log lines are valid JSON with sorted metadata; text lines carry key=value; levels filter")
    func logHandlerFormats() throws {
        // Proves the hand-written JSON handler escapes what it must and numbers stay numbers.
        let line = LiveLogHandler.render(time: Date(timeIntervalSince1970: 0), level: .warning, label: "bftsim.replica",
                                         message: "peer \"lost\"\n", metadata: ["peer": "3", "address": "127.0.0.1:7001"], format: .json)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(obj["message"] as? String == "peer \"lost\"\n")
        #expect(obj["peer"] as? Int == 3)
        #expect(obj["address"] as? String == "127.0.0.1:7001")
        #expect(obj["time"] as? String == "1970-01-01T00:00:00.000Z")
        let text = LiveLogHandler.render(time: Date(timeIntervalSince1970: 0), level: .info, label: "x", message: "view change started",
                                         metadata: ["view": "2"], format: .text)
        #expect(text == "1970-01-01T00:00:00.000Z info view change started view=2")
        let bad = try LiveSupport.run(["replica", "--config", "/nonexistent", "--id", "0", "--log-format", "xml"])
        #expect(bad.status != 0 && bad.out.contains("--log-format must be text or json"))
    }

    @Test("metrics ports that clash with a protocol port are refused with the reason; status of a stopped cluster exits 2")
    func metricsPortClashesAreRefused() throws {
        // Proves bad operator input gets a clear error and exit 3 (invalid input), not a bind failure later.
        let dir = LiveSupport.tempDir("metrics-clash")
        let clash = try LiveSupport.run(["keygen", "--replicas", "4", "--clients", "1", "--out", dir, "--base-port", "15000",
                                         "--metrics-base-port", "15002"])
        #expect(clash.status == 3)
        #expect(clash.out.contains("metricsPort 15002 is replica 2's protocol port"), "\(clash.out)")
        let bad = try LiveSupport.run(["replica", "--config", dir + "/cluster.json", "--id", "0", "--metrics-port", "70000"])
        #expect(bad.status != 0 && bad.out.contains("--metrics-port must be"), "\(bad.out)")
        let ok = try LiveSupport.run(["keygen", "--replicas", "4", "--clients", "1", "--out", dir, "--base-port", "15000"])
        #expect(ok.status == 0 && ok.out.contains("metrics ports 15010...15013"), "\(ok.out)")
        let down = try LiveSupport.run(["cluster", "status", dir, "--timeout", "0.5"])
        #expect(down.status == 2, "cluster status with no replica running must exit 2")
        #expect(down.out.split(separator: "\n").filter { $0.contains("unreachable") }.count == 4, "\(down.out)")
    }

    @Test("sweep --live refuses a spec whose points are charged as a scheme live clusters do not sign with")
    func liveSweepNeedsEd25519() throws {
        // Proves a live validation cannot silently compare Ed25519 clusters with points charged as `fast`.
        let dir = LiveSupport.tempDir("sweep-live-scheme")
        let spec = dir + "/fast.yaml"
        try """
            name: fast-live
            protocols: [pbft]
            n: [4]
            batch: [10]
            clients: [1]
            latency: [30us]
            crypto: fast
            duration: 100ms
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let refused = try LiveSupport.run(["sweep", spec, "--live", "--out", dir + "/out"])
        #expect(refused.status == 3)
        #expect(refused.out.contains("--live runs real clusters, which sign with Ed25519"), "\(refused.out)")
        #expect(refused.out.contains("'fast'"), "\(refused.out)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/sweep.json"))
    }

    @Test("Prometheus text is parsed into samples with labels")
    func prometheusTextParses() {
        // Proves `cluster status` reads exactly the series it needs from an exposition.
        let s = PrometheusText.parse("""
        # TYPE bftsim_view gauge
        bftsim_view 3.0
        bftsim_peer_connected{peer="1"} 1.0
        bftsim_peer_connected{peer="2"} 0.0
        bftsim_rejected_frames_total{reason="oversize"} 4
        bftsim_rejected_frames_total{reason="stale"} 2
        """)
        #expect(PrometheusText.value(s, "bftsim_view") == 3)
        #expect(PrometheusText.value(s, "bftsim_peer_connected", labels: ["peer": "2"]) == 0)
        #expect(PrometheusText.value(s, "bftsim_rejected_frames_total") == 6)
        let st = ClusterStatus.status(id: 0, address: "a", n: 3, metrics: s)
        #expect(st.view == 3 && st.peersConnected == [1] && st.rejectedFrames == 6)
    }
}
