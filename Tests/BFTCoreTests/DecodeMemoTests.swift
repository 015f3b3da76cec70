import BFTCore
import Testing

@Suite("DecodeMemo: one decode per shared buffer")
struct DecodeMemoTests {
    @Test("the same buffer decodes once; a written copy, a new buffer with equal bytes and garbage decode afresh")
    func identity() {
        let memo = DecodeMemo<Int>()
        var calls = 0
        func decode(_ b: [UInt8]) -> Int? {
            calls += 1
            return b.first == 0xFF ? nil : b.reduce(0) { $0 &* 31 &+ Int($1) }
        }
        let bytes: [UInt8] = [1, 2, 3, 4]
        let first = memo.decoded(bytes, decode)
        for _ in 0..<3 { #expect(memo.decoded(bytes, decode) == first) }
        #expect(calls == 1)
        #expect(memo.hits == 3)
        // Writing to a copy of a buffer the memo holds gives the writer its own buffer (copy on write):
        // the memo must not answer for it with the old bytes' value.
        var written = bytes
        written[0] = 9
        #expect(memo.decoded(written, decode) == decode(written))
        #expect(calls == 3)
        // Equal bytes in another buffer are simply decoded again (same value).
        var equal: [UInt8] = []
        equal.append(contentsOf: bytes)
        #expect(memo.decoded(equal, decode) == first)
        #expect(calls == 4)
        // Undecodable bytes are not remembered: each attempt decodes (and fails) again.
        let garbage: [UInt8] = [0xFF, 0]
        #expect(memo.decoded(garbage, decode) == nil)
        #expect(memo.decoded(garbage, decode) == nil)
        #expect(calls == 6)
        #expect(memo.decoded([], decode) == 0)
    }
}
