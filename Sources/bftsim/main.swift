import BFTCore
var rng = DeterministicRNG(seed: 42)
print((0..<4).map { _ in rng.next() })
var sub = DeterministicRNG(seed: 42, stream: "network")
print(sub.next())
var b = DeterministicRNG(seed: 7)
print((0..<6).map { _ in b.below(10) })
