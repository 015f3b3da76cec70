/// One message a `script` Byzantine replica sends, as the scenario's `script:` entry spells it and as
/// `PBFTScript` and `HotStuffScript` play it: at `at` (from the replica's start), message `send` for
/// (`view`, `sequence`) carrying `value`, to the replicas `to`, signed with the Byzantine replica's own key.
///
/// Values name client requests as the SPIN models do (Specs/pbft.pml): 0 is the null request, k >= 1
/// the k-th distinct client request this replica received, -k that request with its operation altered
/// after the client signed it (a forged request, R1). A step whose request has not arrived yet waits
/// for it. Honest replicas' signatures stay unforgeable: a script only speaks for its own replica.
/// A VIEW-CHANGE step asks for `view` from the genesis checkpoint; its `value` 0 carries no prepared
/// certificate, k one for request k (the replica's own PRE-PREPARE of it for `view` - 1 and the PREPAREs of
/// others it received for that slot, whatever their digest).
/// A NEW-VIEW step (the replica must be `view`'s primary) carries the latest VIEW-CHANGEs for `view`
/// of the replicas in `viewChanges` (its own made as a VIEW-CHANGE step with value 0 makes it; others as
/// received: the step waits for them) and O = one PRE-PREPARE of `value` at `sequence` (0: O empty).
/// HotStuff takes PROPOSAL steps only: block `value` (a label, >= 1) of `view` on block `parent` (a label,
/// 0 genesis), justified by the parent's QC the script assembles from the votes it receives.
public struct ScriptStep: Sendable, Equatable, Codable {
    /// Message types a script may send.
    public static let messages = ["PRE-PREPARE", "PREPARE", "COMMIT", "VIEW-CHANGE", "NEW-VIEW", "PROPOSAL"]
    public var at: Nanoseconds
    public var send: String
    public var view: UInt64
    public var sequence: UInt64
    public var value: Int
    public var to: [Int]
    /// NEW-VIEW only: whose VIEW-CHANGEs its V carries.
    public var viewChanges: [Int]?
    /// PROPOSAL only: the parent block's label (0: genesis).
    public var parent: Int?
    public init(at: Nanoseconds, send: String, view: UInt64, sequence: UInt64 = 1, value: Int, to: [Int], viewChanges: [Int]? = nil,
                parent: Int? = nil) {
        self.viewChanges = viewChanges
        self.parent = parent
        self.at = at
        self.send = send
        self.view = view
        self.sequence = sequence
        self.value = value
        self.to = to
    }
}
