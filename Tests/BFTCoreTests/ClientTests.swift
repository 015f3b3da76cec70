import Testing
import BFTCore
import BFTCrypto

@Suite("Client state machine")
struct ClientTests {
    let ring = Keyring(scheme: .fast, seed: 11, replicas: 4, clients: 1)

    func makeClient(targeting: Client.Targeting = .leader) -> Client {
        Client(id: 0, quorum: QuorumMath(n: 4), workload: WorkloadSpec(clients: 1, requestsPerClient: 2),
               targeting: targeting, signer: ring.signer(for: .client(0)), verifier: ring.verifier,
               rng: DeterministicRNG(seed: 1, stream: "client/0"))
    }

    func reply(to bytes: [UInt8], from replica: Int, result: [UInt8], view: UInt64 = 0) -> [UInt8] {
        let req = try! ClientRequest(decoding: bytes)
        return ClientReply(view: view, client: req.client, timestamp: req.timestamp, result: result,
                           signer: ring.signer(for: .replica(replica))).bytes
    }

    func sentRequest(_ actions: [ReplicaAction]) -> [UInt8]? {
        for a in actions { if case .send(let b, _) = a { return b } }
        return nil
    }

    @Test("rule C1/C2: a signed request goes to the primary and completes on f+1 matching replies")
    func completesOnWeakQuorum() throws {
        var c = makeClient()
        var out: [ReplicaAction] = []
        c.handle(.start, into: &out)
        guard case .send(let bytes, to: .replica(0)) = out.first(where: { if case .send = $0 { return true }; return false }) else {
            Issue.record("no request sent to primary"); return
        }
        let req = try ClientRequest(decoding: bytes)
        #expect(req.verify(ring.verifier))
        out.removeAll()
        c.handle(.message(from: .replica(1), bytes: reply(to: bytes, from: 1, result: [1])), into: &out)
        #expect(c.completed == 0)
        // A different result from another replica does not match.
        c.handle(.message(from: .replica(2), bytes: reply(to: bytes, from: 2, result: [2])), into: &out)
        #expect(c.completed == 0)
        // The same replica twice counts once.
        c.handle(.message(from: .replica(1), bytes: reply(to: bytes, from: 1, result: [1])), into: &out)
        #expect(c.completed == 0)
        c.handle(.message(from: .replica(3), bytes: reply(to: bytes, from: 3, result: [1], view: 1)), into: &out)
        #expect(c.completed == 1)
        #expect(out.contains { if case .observe(.requestCompleted(let id, _)) = $0 { return id == req.id }; return false })
        // Next request goes to the primary of view 1 learned from the replies.
        #expect(out.contains { if case .send(_, to: .replica(1)) = $0 { return true }; return false })
    }

    @Test("rule C2: a reply with a bad signature is rejected and counted")
    func badSignature() throws {
        var c = makeClient()
        var out: [ReplicaAction] = []
        c.handle(.start, into: &out)
        let bytes = sentRequest(out)!
        var forged = reply(to: bytes, from: 2, result: [1])
        forged[forged.count - 1] ^= 0xFF
        out.removeAll()
        c.handle(.message(from: .replica(2), bytes: forged), into: &out)
        #expect(out.contains { if case .observe(.rejected(.badSignature, _)) = $0 { return true }; return false })
    }

    @Test("rule C3: on timeout the request is retransmitted to all replicas with a doubled timeout")
    func retransmit() {
        var c = makeClient()
        var out: [ReplicaAction] = []
        c.handle(.start, into: &out)
        out.removeAll()
        c.handle(.timer(Client.retryTimer), into: &out)
        let targets = out.compactMap { a -> Principal? in if case .send(_, let to) = a { return to }; return nil }
        #expect(targets == [.replica(0), .replica(1), .replica(2), .replica(3)])
        #expect(out.contains { if case .setTimer(Client.retryTimer, let after) = $0 { return after == 1_000_000_000 }; return false })
    }
}
