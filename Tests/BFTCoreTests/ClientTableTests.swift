import Testing
@testable import BFTCore

@Suite("ClientTable")
struct ClientTableTests {
    @Test("same contents as a [ClientID: Value] under random inserts, updates and removals, dense and sparse ids")
    func matchesDictionary() {
        // Proves the array-indexed table PBFT's reply cache and HotStuff's client table use answers exactly
        // as the dictionary it replaced: every lookup, the count and the sorted client list.
        var rng = DeterministicRNG(seed: 19)
        var table = ClientTable<UInt64>()
        var reference: [ClientID: UInt64] = [:]
        let ids = [0, 1, 2, 7, 63, ClientTable<UInt64>.denseMax - 1, ClientTable<UInt64>.denseMax, 1 << 20, -3]
        for step in 0..<2_000 {
            let client = ids[Int(rng.below(UInt64(ids.count)))]
            switch rng.below(3) {
            case 0, 1:
                table[client] = UInt64(step)
                reference[client] = UInt64(step)
            default:
                let threshold = UInt64(step / 2)
                table.removeValue(for: client) { $0 < threshold }
                if let v = reference[client], v < threshold { reference[client] = nil }
            }
            #expect(table[client] == reference[client])
        }
        #expect(table.count == reference.count)
        #expect(table.sortedClients == reference.keys.sorted())
        for id in ids { #expect(table[id] == reference[id]) }
        #expect(Dictionary(table) == reference)
    }

    @Test("equality compares contents, not how the dense part grew")
    func equality() {
        var grown = ClientTable<Int>()
        grown[40] = 1
        grown[3] = 2
        grown[40] = nil
        let direct: ClientTable<Int> = [3: 2]
        #expect(grown == direct)
        #expect(grown != [3: 5])
        #expect(grown != [3: 2, 4: 1])
    }
}
