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
            s.sync()
        }
        let h = FileHandle(forWritingAtPath: dir + "/durable.log")!
        h.seekToEndOfFile()
        h.write(Data([0, 0, 0, 4, 0x76, 0x69]))  // a record cut off mid-key
        h.closeFile()
        let reopened = try DurableStore(directory: dir)
        #expect(reopened.recovered == ["view": [4], "vote/1": [2, 3]])
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
            .requestIssued(request: req, digest: d), .requestCompleted(request: req, result: e),
        ]
        let path = LiveSupport.tempDir("obs") + "/observations.jsonl"
        do {
            let log = try ObservationLog(path: path)
            for (i, o) in all.enumerated() { log.append(time: Int64(i) * 10, source: .replica(2), o) }
        }
        let (records, bad) = ObservationLogReader.read(path: path)
        #expect(bad == 0)
        #expect(records.map(\.observation) == all)
        #expect(records.allSatisfy { $0.source == .replica(2) })
    }

    @Test("handshake: replica, client-range and admin handshakes round-trip; junk does not parse")
    func handshake() {
        for h in [Handshake.replica(3), .clients(first: 10, count: 700), .admin] {
            #expect(Handshake(bytes: h.bytes) == h)
        }
        #expect(Handshake(bytes: [1, 2, 3]) == nil)
        #expect(Handshake(bytes: Array("BFTL".utf8) + [1, 9, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
    }
}
