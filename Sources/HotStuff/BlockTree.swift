import BFTCore

/// The block store: every block a replica accepted, connected to the root (Specs/HotStuff.md B2–B3).
///
/// Invariant B2: every stored block other than `root` has its parent stored, so walking parent links
/// from any block reaches the root. The root is the lowest retained committed block; the committed
/// chain above it is kept (`blockRetention` blocks) to serve block sync to laggards.
public struct BlockTree: Sendable {
    private(set) var blocks: [Digest: Block]
    private(set) var root: Block
    /// The last committed block (the commit frontier).
    public private(set) var committed: Block

    public init(root: Block = .genesis) {
        self.root = root
        committed = root
        blocks = [root.digest: root]
    }

    public var count: Int { blocks.count }
    public func block(_ digest: Digest) -> Block? { blocks[digest] }
    public func contains(_ digest: Digest) -> Bool { blocks[digest] != nil }

    /// Inserts a block whose parent is stored (B2). Returns false if the parent is missing or the
    /// height is not the parent's plus one or the view does not grow.
    mutating func insert(_ block: Block) -> Bool {
        if blocks[block.digest] != nil { return true }
        guard let parent = blocks[block.parent] else { return false }
        guard block.height == parent.height + 1 else { return false }
        guard block.view > parent.view else { return false }
        blocks[block.digest] = block
        return true
    }

    /// Whether `descendant` extends `ancestor` (or is it), walking parent links. Nil if the walk
    /// leaves the stored tree before reaching `ancestor`'s height.
    func extends(_ descendant: Digest, _ ancestor: Digest) -> Bool? {
        guard let target = blocks[ancestor] else { return nil }
        var cursor = blocks[descendant]
        while let b = cursor {
            if b.height == target.height { return b.digest == target.digest }
            if b.height < target.height { return false }
            cursor = blocks[b.parent]
        }
        return nil
    }

    /// The blocks from just above the committed block up to `head`, oldest first; nil if `head` does
    /// not extend the committed block (a conflicting fork, possible only beyond f faults or with mutations).
    func uncommittedChain(to head: Digest) -> [Block]? {
        var chain: [Block] = []
        var cursor = blocks[head]
        while let b = cursor, b.height > committed.height {
            chain.append(b)
            cursor = blocks[b.parent]
        }
        guard let bottom = cursor, bottom.digest == committed.digest else { return nil }
        return chain.reversed()
    }

    /// Whether a block of `uncommittedChain(to: head)` carries requests; nil where that chain is nil.
    /// Walks the same links without collecting blocks (asked on every request and vote: `hasWork`).
    func uncommittedChainHasRequests(to head: Digest) -> Bool? {
        var any = false
        var cursor = head
        while let b = blocks[cursor] {
            if b.height <= committed.height { return b.digest == committed.digest ? any : nil }
            if !b.requests.isEmpty { any = true }
            cursor = b.parent
        }
        return nil
    }

    /// Up to `max` blocks from `digest` downwards, stopping above `stopHeight` (S2).
    func ancestry(from digest: Digest, above stopHeight: UInt64, max: Int) -> [Block] {
        var out: [Block] = []
        var cursor = blocks[digest]
        while let b = cursor, b.height > stopHeight, out.count < max {
            out.append(b)
            cursor = blocks[b.parent]
        }
        return out
    }

    /// Moves the commit frontier to `block`, which must extend the current one.
    mutating func markCommitted(_ block: Block) {
        precondition(block.height > committed.height, "commit frontier only moves up")
        committed = block
    }

    /// B3: drops forks that can no longer commit and committed blocks more than `retention` below the frontier.
    mutating func prune(retention: Int) {
        var keep: [Digest: Block] = [:]
        // The committed chain from the frontier down to the retention horizon.
        var cursor: Block? = committed
        var newRoot = committed
        var kept = 0
        while let b = cursor, kept <= retention {
            keep[b.digest] = b
            newRoot = b
            kept += 1
            cursor = b.height > root.height ? blocks[b.parent] : nil
        }
        // Everything above the frontier that descends from it.
        for (digest, b) in blocks where b.height > committed.height && keep[digest] == nil {
            if extends(digest, committed.digest) == true { keep[digest] = b }
        }
        blocks = keep
        root = newRoot
    }

    /// Restores a tree whose only block is a recovered committed block.
    init(recoveredCommitted block: Block) {
        self.init(root: block)
    }
}
