import BFTCore
import Foundation
import Live
import Testing

@Suite("live shell pieces")
struct LiveUnitTests {
    @Test("durable store: the last value of each key survives reopening and a torn tail is ignored")
    func durableStoreRecovery() throws {
        // Proves recovery reads back exactly what was synced, even after a crash mid-append.
        let dir = LiveSupport.tempDir("store")
        do {
            let s = try DurableStore(directory: dir)
            s.put("view", [1])
            s.put("vote/1", [2, 3])
            s.put("view", [4])
            try s.sync()
        }
        // A record cut off mid-key at the log's end: three records of 21, 24 and 21 bytes (u32 key
        // length, key, u32 value length, value, u64 checksum) precede it.
        let h = FileHandle(forWritingAtPath: dir + "/durable.log")!
        h.seek(toFileOffset: 66)
        h.write(Data([0, 0, 0, 4, 0x76, 0x69]))
        h.closeFile()
        do {
            let reopened = try DurableStore(directory: dir)
            #expect(reopened.recovered == ["view": [4], "vote/1": [2, 3]])
            // Writing after a torn tail: the new record replaces the torn bytes, so it is replayed.
            reopened.put("view", [5])
            try reopened.sync()
        }
        let again = try DurableStore(directory: dir)
        #expect(again.recovered == ["view": [5], "vote/1": [2, 3]])
        // The file is preallocated in whole extents and written in place.
        let size = try FileManager.default.attributesOfItem(atPath: dir + "/durable.log")[.size] as? Int
        #expect(size == DurableStore.extentBytes)
    }

    @Test("durable store: compaction keeps the last value of every key and shrinks the log")
    func durableStoreCompaction() throws {
        // Proves the rewrite past the compaction threshold loses nothing and leaves one record per key.
        let dir = LiveSupport.tempDir("store-compact")
        let value = [UInt8](repeating: 7, count: 1000)
        do {
            let s = try DurableStore(directory: dir, compactionBytes: 256 << 10)
            for i in 0..<1000 {
                s.put("k\(i % 10)", value + [UInt8(i % 251)])
                if i % 7 == 0 { try s.sync() }
            }
            try s.sync()
        }
        let reopened = try DurableStore(directory: dir, compactionBytes: 256 << 10)
        #expect(reopened.recovered.count == 10)
        for k in 0..<10 {
            let last = (0..<1000).last { $0 % 10 == k }!
            #expect(reopened.recovered["k\(k)"] == value + [UInt8(last % 251)])
        }
        let size = try FileManager.default.attributesOfItem(atPath: dir + "/durable.log")[.size] as? Int
        #expect(size == DurableStore.extentBytes, "the compacted log should fit one extent")
        #expect(!FileManager.default.fileExists(atPath: dir + "/durable.log.tmp"))
    }

    @Test("observation log: every observation kind round-trips through JSONL")
    func observationRoundTrip() throws {
        // Proves bftsim check reads back exactly what replicas and clients wrote.
        let d = Digest.of([1, 2, 3]), e = Digest.of([4])
        let req = RequestID(client: 3, timestamp: 9)
        let all: [Observation] = [
            .viewEntered(view: 2, leader: 1), .viewChangeStarted(view: 3),
            .committed(sequence: 5, view: 2, digest: d, requestCount: 4),
            .executed(sequence: 5, index: 1, request: req, requestDigest: d, result: e),
            .checkpointStable(sequence: 128, stateDigest: d), .stateTransferred(sequence: 128, stateDigest: e),
            .rejected(reason: .badSignature, from: .client(7)), .pendingRequests(count: 3),
            .voted(view: 4, digest: d), .blockCertified(view: 4, digest: d, height: 9),
            .blockCommitted(height: 9, digest: d, parent: e), .locked(view: 3), .highQC(view: 4), .timeoutCertified(view: 5),
            .requestIssued(request: req, digest: d), .requestCompleted(request: req, result: e), .restarted,
        ]
        let path = LiveSupport.tempDir("obs") + "/" + ObservationLog.fileName
        do {
            let log = try ObservationLog(path: path)
            for (i, o) in all.enumerated() { log.append(time: Int64(i) * 10, source: .replica(2), o) }
        }
        let (records, bad) = ObservationLogReader.read(path: path)
        #expect(bad == 0)
        #expect(records.map(\.observation) == all)
        #expect(records.map(\.time) == all.indices.map { Int64($0) * 10 })
        #expect(records.allSatisfy { $0.source == .replica(2) })

        // A reopened log appends without a second header; a torn last record (kill -9 mid-write) is
        // counted as unreadable and every record before it survives.
        do {
            let log = try ObservationLog(path: path)
            log.append(time: 999, source: .client(4), .requestCompleted(request: req, result: e))
        }
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        #expect(ObservationLogReader.readBinary(bytes).records.count == all.count + 1)
        bytes.removeLast(7)
        let torn = ObservationLogReader.readBinary(bytes)
        #expect(torn.records.map(\.observation) == all)
        #expect(torn.bad == 1)
        // A record whose body is garbage is skipped by its length; the next one is still read.
        var corrupt = bytes
        corrupt[ObservationLog.magic.count + 4 + 8 + 8 + 5] = 0xEE  // first record's observation tag
        let skipped = ObservationLogReader.readBinary(corrupt)
        #expect(skipped.bad == 2)
        #expect(skipped.records.map(\.observation) == Array(all.dropFirst()))
    }

    @Test("observation log: the JSON lines of older logs are still read")
    func observationLogJSONLines() throws {
        let path = LiveSupport.tempDir("obs-jsonl") + "/observations.jsonl"
        let line = #"{"t":5,"i":1,"src":"r1","kind":"view-entered","view":3,"leader":3}"# + "\n" + "{\"t\":6,"
        try Data(line.utf8).write(to: URL(fileURLWithPath: path))
        let (records, bad) = ObservationLogReader.read(path: path)
        #expect(records == [ObservationRecord(time: 5, eventIndex: 1, source: .replica(1), observation: .viewEntered(view: 3, leader: 3))])
        #expect(bad == 1)
    }

    @Test("handshake: replica, client-range and admin handshakes round-trip; junk does not parse")
    func handshake() {
        for h in [Handshake.replica(3), .clients(first: 10, count: 700), .admin] {
            #expect(Handshake(bytes: h.bytes) == h)
        }
        #expect(Handshake(bytes: [1, 2, 3]) == nil)
        #expect(Handshake(bytes: Array("BFTL".utf8) + [1, 9, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
    }

    @Test("transport calibration: a loopback ping-pong over the live framing gives a per-message CPU cost and a one-way latency")
    func transportCalibration() throws {
        // Proves `bftsim calibrate`'s transport figures come from real round trips: both are positive and
        // the round trips completed (nil means the loopback connection or a frame failed).
        let r = try #require(TransportCalibration.measure(roundTrips: 200))
        #expect(r.cpuPerMessage > 0)
        #expect(r.cpuPerMessagePipelined > 0)
        #expect(r.oneWay > 0)
    }

    @Test("transport calibration: a thread hand-off round trip (loop → pool thread → loop) costs CPU and takes time")
    func handoffCalibration() throws {
        let h = try #require(TransportCalibration.measureHandoff(rounds: 200))
        #expect(h.cpuPerRoundTrip > 0)
        #expect(h.roundTrip > 0)
    }
}
