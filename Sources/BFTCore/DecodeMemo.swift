/// Decoded forms of received buffers, shared by the machines of one simulated run (issue 19).
///
/// The simulator hands every receiver of a broadcast the same buffer, so the n−1 receivers of a
/// proposal each decode the same bytes — and for a HotStuff block that includes hashing the whole block
/// (BLAKE2b), the largest single cost per event at n = 64. Decoding is a pure function of the bytes, so
/// one result serves every receiver. An entry holds its buffer: while it exists no other array can own
/// that address, and nobody can write into it (Swift copies a shared array before writing), so the same
/// address and length mean the same bytes. Undecodable bytes are not remembered.
///
/// Direct-mapped, 16 slots (the proposals or PRE-PREPAREs whose deliveries overlap): a collision only
/// evicts, which changes speed, never a result. One memo belongs to one run and is used from that run's
/// thread only (`Keyring.shared`); a live replica's memo sees each frame in its own buffer, so there it
/// only ever misses.
public final class DecodeMemo<Value>: @unchecked Sendable {
    private static var slots: Int { 16 }
    private var addresses = [UInt](repeating: 0, count: DecodeMemo.slots)
    private var counts = [Int](repeating: 0, count: DecodeMemo.slots)
    private var held = [[UInt8]](repeating: [], count: DecodeMemo.slots)
    private var values = [Value?](repeating: nil, count: DecodeMemo.slots)
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init() {}

    /// `decode(bytes)`, or the value it returned for this very buffer before.
    public func decoded(_ bytes: [UInt8], _ decode: ([UInt8]) -> Value?) -> Value? {
        let address = bytes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        guard address != 0, !bytes.isEmpty else { return decode(bytes) }
        // The slot comes from the bytes (a signed message ends in its signature), not the address, so
        // which entries collide is the same in every process.
        let tail = bytes.count >= 8 ? bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: $0.count - 8, as: UInt64.self) } : 0
        let slot = Int(truncatingIfNeeded: (tail ^ UInt64(bytes.count)) & UInt64(Self.slots - 1))
        if addresses[slot] == address, counts[slot] == bytes.count, let value = values[slot] {
            hits += 1
            return value
        }
        misses += 1
        guard let value = decode(bytes) else { return nil }
        addresses[slot] = address
        counts[slot] = bytes.count
        held[slot] = bytes
        values[slot] = value
        return value
    }
}
