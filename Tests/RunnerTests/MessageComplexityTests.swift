import BFTCore
import Runner
import ScenarioFormat
import Testing

@Suite("Message complexity")
struct MessageComplexityTests {
    @Test("replica messages per committed block grow linearly for HotStuff and quadratically for PBFT (n = 4, 7, 16, 31)")
    func slopes() throws {
        // Proves the protocols have the complexity the papers claim: a HotStuff that broadcast votes,
        // or a PBFT that skipped all-to-all phases, would move the log-log slope out of its band.
        let sizes = [4, 7, 16, 31]
        let pbft = try MessageComplexity.curve(.pbft, sizes: sizes, requests: 5)
        let chained = try MessageComplexity.curve(.hotstuff, sizes: sizes, requests: 5)
        let twoChain = try MessageComplexity.curve(.hotstuffTwoChain, sizes: sizes, requests: 5)
        #expect(pbft.slope > 1.8 && pbft.slope < 2.3, "PBFT slope \(pbft.slope): \(pbft.points.map(\.messagesPerBlock))")
        #expect(chained.slope > 0.8 && chained.slope < 1.3, "chained HotStuff slope \(chained.slope): \(chained.points.map(\.messagesPerBlock))")
        #expect(twoChain.slope > 0.8 && twoChain.slope < 1.3, "two-chain HotStuff slope \(twoChain.slope): \(twoChain.points.map(\.messagesPerBlock))")
        // PBFT at n=4: PRE-PREPARE 3 + PREPARE 3·3 + COMMIT 4·3 = 24 per batch (Specs/PBFT.md N1–N4).
        #expect(pbft.points[0].messagesPerBlock >= 24 && pbft.points[0].messagesPerBlock < 26)
    }

    @Test("the slope fit recovers known exponents")
    func slopeFit() {
        #expect(abs(MessageComplexity.slope([(1, 3), (2, 6), (4, 12)]) - 1) < 1e-9)
        #expect(abs(MessageComplexity.slope([(1, 1), (2, 4), (4, 16), (8, 64)]) - 2) < 1e-9)
    }
}
